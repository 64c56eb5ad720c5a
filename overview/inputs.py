"""Checks of what users type into the overview's services, with Swedish messages beside the field.

Free text is stored exactly as typed (after trimming) and is never interpreted: markup such as ``<script>`` stays
text, escaped by the templates. Control characters are refused (PostgreSQL cannot store NUL in text at all).
"""

from __future__ import annotations

import datetime as dt

from catalog import InvalidIdentifier, validate_hsa_id, validate_personnummer
from kernel.text import has_control_characters
from overview.errors import InvalidInput

REASON_MAX = 1024  # the TKBs' reasonText holds at most 1024 characters


def personnummer(value: str, field: str = "personnummer") -> str:
    """A personnummer or samordningsnummer as 12 digits, or InvalidInput saying what is wrong."""
    try:
        return validate_personnummer(value)
    except InvalidIdentifier as exc:
        raise InvalidInput(field, exc.message) from None


def hsa_id(value: str, field: str = "hsa_id") -> str:
    """A well-formed HSA-ID, or InvalidInput."""
    try:
        return validate_hsa_id(value)
    except InvalidIdentifier as exc:
        raise InvalidInput(field, exc.message) from None


def reason(value: str | None, field: str = "reason", *, what: str = "skäl", max_length: int = REASON_MAX) -> str:
    """Required free text (trimmed), at most ``max_length`` characters, without control characters."""
    text = (value or "").strip()
    if not text:
        raise InvalidInput(field, f"Ange {what}; det är obligatoriskt och loggas.")
    if len(text) > max_length:
        raise InvalidInput(field, f"Texten är {len(text)} tecken lång; högst {max_length} tecken är tillåtet.")
    if has_control_characters(text):
        raise InvalidInput(field, "Texten innehåller otillåtna styrtecken; skriv om den med vanliga tecken.")
    return text


def aware(value: dt.datetime, field: str) -> dt.datetime:
    """An aware timestamp (a naive one is a programming error in the caller, named by field)."""
    if value.tzinfo is None:
        raise InvalidInput(field, "Tidpunkten saknar tidszon.")
    return value.astimezone(dt.UTC)


def period(start: dt.datetime, end: dt.datetime | None, *, field: str = "end") -> None:
    """``end`` must lie after ``start``."""
    if end is not None and end <= start:
        raise InvalidInput(field, "Slutdatum måste vara efter startdatum.")

