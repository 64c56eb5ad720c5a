"""Skånekatalogen in this process: where the application binds, the embedded slapd, and the one `Directory`.

Built from the settings (`kernel.settings`); the Directory is a per-process resource of `kernel.runtime`, so
`runtime.configure` (tests, the shell) closes it with the rest.
"""

from __future__ import annotations

from catalog.directory import Directory
from catalog.ldapconn import DirectoryConfig
from catalog.slapd import ManagedSlapd
from kernel import runtime
from kernel.settings import Settings


def embedded_slapd(settings: Settings) -> ManagedSlapd:
    """The managed slapd of the embedded stack (under the settings' var/)."""
    return ManagedSlapd(settings.var_dir / "ldap", port=settings.ldap_port, base=settings.ldap_base)


def directory_config(settings: Settings) -> DirectoryConfig:
    """Where the application binds: the configured directory, or the embedded slapd's app account."""
    if settings.ldap_url:
        if not (settings.ldap_bind_dn and settings.ldap_password):
            raise ValueError("NPO_LDAP_URL is set, so NPO_LDAP_BIND_DN and NPO_LDAP_PASSWORD must be set too")
        return DirectoryConfig(url=settings.ldap_url, base=settings.ldap_base, bind_dn=settings.ldap_bind_dn,
                               password=settings.ldap_password)
    return embedded_slapd(settings).app_config()


def directory() -> Directory:
    """The Directory of this process (connections are reused per thread)."""
    return runtime.resource(
        "directory", lambda settings: Directory(directory_config(settings), cache_seconds=settings.ldap_cache_seconds))
