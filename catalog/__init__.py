"""Skånekatalogen: the HSA-modelled LDAP directory, its managed slapd, the typed gateway and HR reconciliation.

Imports no other package of this project (ARCHITECTURE §2).
"""

from catalog.directory import Directory
from catalog.identifiers import InvalidIdentifier, validate_hsa_id, validate_personnummer
from catalog.ldapconn import DirectoryConfig, DirectoryError, DirectoryUnavailable, EntryNotFound

__all__ = [
    "Directory",
    "DirectoryConfig",
    "DirectoryError",
    "DirectoryUnavailable",
    "EntryNotFound",
    "InvalidIdentifier",
    "validate_hsa_id",
    "validate_personnummer",
]
