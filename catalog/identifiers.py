"""Identifiers of the Swedish health-care directory: HSA-ID, personnummer, samordningsnummer, organisationsnummer.

Validation follows DOMAIN §2.4 (Inera's HsaIdValidator): ``SE`` + organisationsnummer (10 digits with a valid
Luhn check digit, optionally prefixed by ``16``) + ``-`` + a local part of PrintableString characters, at most 31
characters in all. Messages are in Swedish because they are shown to the people who typed the value.
"""

from __future__ import annotations

import datetime as dt
import re

from stdnum import luhn
from stdnum.exceptions import ValidationError
from stdnum.se import orgnr

from kernel.hsaid import HsaId, hsa_id_or_none
from kernel.text import has_control_characters

__all__ = ["HsaId", "hsa_id_or_none"]  # the value type lives on the ground floor; validation lives here

HSA_ID_MAX_LENGTH = 31
_PRINTABLE = re.compile(r"[0-9A-Za-z '()+,\-./:=?]+")
_ORG_FORM = re.compile(r"(16)?[0-9]{6}-?[0-9]{4}")  # Skatteverket's forms; the hyphen only before the last four
_HSA_SHAPE = re.compile(r"SE(16)?([0-9]{10})-(.*)", re.DOTALL)


class InvalidIdentifier(ValueError):
    """A malformed HSA-ID, personnummer or organisationsnummer; the message says what is wrong."""

    def __init__(self, value: str, message: str):
        super().__init__(message)
        self.value = value
        self.message = message


def validate_org_number(value: str) -> str:
    """Return the organisationsnummer as 10 digits, or raise :class:`InvalidIdentifier`."""
    digits = value.strip().replace("-", "")
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidIdentifier(value, f"Organisationsnumret {value!r} får bara innehålla siffror och bindestreck.")
    if len(digits) == 12 and digits.startswith("16"):
        digits = digits[2:]
    if len(digits) != 10:
        raise InvalidIdentifier(value, f"Organisationsnumret {value!r} ska ha 10 siffror (eller 12 med prefixet 16).")
    if not _ORG_FORM.fullmatch(value.strip()):
        raise InvalidIdentifier(value, f"Organisationsnumret {value!r} skrivs NNNNNN-NNNN eller med 10 siffror "
                                       "utan bindestreck.")
    if not orgnr.is_valid(digits):
        raise InvalidIdentifier(value, f"Organisationsnumret {value!r} har fel kontrollsiffra.")
    return digits


def validate_hsa_id(value: str) -> HsaId:
    """Return ``value`` as an `HsaId` if it is a well-formed HSA-ID, else raise :class:`InvalidIdentifier` saying
    why (the messages quote the value as the person typed it)."""
    if not isinstance(value, str) or not value:
        raise InvalidIdentifier(str(value), "HSA-id saknas.")
    if has_control_characters(value):
        raise InvalidIdentifier(value, "HSA-id innehåller otillåtna styrtecken; skriv det med vanliga tecken.")
    if value != value.strip():
        raise InvalidIdentifier(value, "HSA-id får inte börja eller sluta med mellanslag.")
    if len(value) > HSA_ID_MAX_LENGTH:
        raise InvalidIdentifier(value, f"HSA-id är {len(value)} tecken långt; högst {HSA_ID_MAX_LENGTH} är tillåtet.")
    if not value.startswith("SE"):
        raise InvalidIdentifier(value, f"HSA-id {value!r} ska börja med landskoden SE.")
    match = _HSA_SHAPE.fullmatch(value)
    if match is None:
        raise InvalidIdentifier(
            value,
            f"HSA-id {value!r} ska ha formen SE + organisationsnummer (10 siffror, ev. med prefixet 16) "
            "+ bindestreck + lokal del, t.ex. SE2321000255-ABC1.",
        )
    org, local = match.group(2), match.group(3)
    if not orgnr.is_valid(org):
        raise InvalidIdentifier(value, f"Organisationsnumret {org} i HSA-id {value!r} har fel kontrollsiffra.")
    if not local:
        raise InvalidIdentifier(value, f"HSA-id {value!r} saknar lokal del efter bindestrecket.")
    if not _PRINTABLE.fullmatch(local):
        bad = sorted({c for c in local if not _PRINTABLE.fullmatch(c)})
        shown = " ".join(repr(c) for c in bad)
        raise InvalidIdentifier(
            value,
            f"HSA-id {value!r} innehåller otillåtna tecken ({shown}); tillåtna är A–Z, a–z, 0–9, "
            "mellanslag och ' ( ) + , - . / : = ?",
        )
    return HsaId(value)


def is_hsa_id(value: str) -> bool:
    """True when ``value`` is a well-formed HSA-ID."""
    try:
        validate_hsa_id(value)
    except InvalidIdentifier:
        return False
    return True


def hsa_org_number(hsa_id: str) -> str:
    """The organisationsnummer (10 digits) embedded in a valid HSA-ID."""
    match = _HSA_SHAPE.fullmatch(validate_hsa_id(hsa_id))
    assert match is not None
    return match.group(2)


def validate_personnummer(value: str) -> str:
    """Return a personnummer or samordningsnummer as 12 digits (YYYYMMDDNNNN), or raise saying why.

    Accepts 10 or 12 digits with or without ``-``/``+``. Samordningsnummer have 60 added to the day.
    A 10-digit number gets its century from the separator (``+`` = 100 years or older), as Skatteverket writes it.
    """
    raw = value.strip() if isinstance(value, str) else ""
    if not raw:
        raise InvalidIdentifier(str(value), "Personnummer saknas.")
    compact = raw.replace(" ", "")
    sep = "+" if "+" in compact else "-"
    digits = compact.replace("-", "").replace("+", "")
    if not (digits.isascii() and digits.isdigit()):  # str.isdigit also holds for ² and other scripts' digits
        raise InvalidIdentifier(value, f"Personnumret {value!r} får bara innehålla siffror och bindestreck.")
    if len(digits) == 10:
        digits = _with_century(digits, plus=(sep == "+"))
    elif len(digits) != 12:
        raise InvalidIdentifier(value, f"Personnumret {value!r} ska ha 12 siffror (ÅÅÅÅMMDD-NNNN) eller 10 siffror.")
    year, month, day = int(digits[0:4]), int(digits[4:6]), int(digits[6:8])
    if day > 60:
        day -= 60  # samordningsnummer
    try:
        dt.date(year, month, day)
    except ValueError:
        raise InvalidIdentifier(value, f"Personnumret {value!r} innehåller inget giltigt datum.") from None
    try:
        luhn.validate(digits[2:])
    except ValidationError:
        raise InvalidIdentifier(value, f"Personnumret {value!r} har fel kontrollsiffra.") from None
    return digits


def is_samordningsnummer(personnummer: str) -> bool:
    """True when a validated 12-digit number is a samordningsnummer (day + 60)."""
    return int(personnummer[6:8]) > 60


def format_personnummer(personnummer: str) -> str:
    """Show a 12-digit personnummer as YYYYMMDD-NNNN."""
    return f"{personnummer[:8]}-{personnummer[8:]}"


def _with_century(ten: str, *, plus: bool) -> str:
    today = dt.date.today()
    century = today.year // 100
    if int(ten[0:2]) > today.year % 100:
        century -= 1
    if plus:
        century -= 1
    return f"{century:02d}{ten}"


def make_hsa_id(org_number: str, local: str) -> str:
    """Build and validate an HSA-ID from an organisationsnummer and a local part."""
    return validate_hsa_id(f"SE{validate_org_number(org_number)}-{local}")
