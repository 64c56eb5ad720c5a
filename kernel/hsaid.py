"""The HSA-ID as a value: normalised once where it enters, compared plainly after.

HSA compares identities without regard to case (hsaIdentity is a case-ignoring attribute), and a person may type
one in lower case. Instead of ``.upper()`` at every comparison, an `HsaId` is upper-cased when it is made: by the
directory gateway's values (catalog.model), by validation (catalog.identifiers.validate_hsa_id), by the actor
(provisioning.authz.Actor) and by the SQL columns that hold one (kernel.sqltypes.HsaIdColumn).
"""

from __future__ import annotations


class HsaId(str):
    """An HSA-ID as HSA compares it: without regard to case. Upper-cased once, where it enters the program (the
    directory's values, a validated input, the certificate's serialNumber), so that the code after compares plainly
    with ``==``. This type normalises only; `validate_hsa_id` says whether a value is well-formed."""

    __slots__ = ()

    def __new__(cls, value: str) -> HsaId:
        return str.__new__(cls, value if isinstance(value, HsaId) else value.upper())


def hsa_id_or_none(value: str | None) -> str | None:
    """``value`` as an `HsaId` when it is one; None and the empty string stay as they are."""
    return HsaId(value) if value else value
