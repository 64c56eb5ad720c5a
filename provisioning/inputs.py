"""What a person submits, parsed from form fields or JSON into typed values, with a Swedish message per field.

The web forms and the JSON API *read* a submission (``read_*``: every field's message collected, nothing raised) and
hand it to the service, which adds the problems that need the directory or the database (may this person order for
this unit, does the staff member belong to it, does the period lie within the commission's) and refuses the
submission with all of them at once. ``parse_*`` is the strict form for callers with typed data (flows, tests): it
raises InvalidInputs at once when a field is wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from catalog.identifiers import InvalidIdentifier, validate_hsa_id
from kernel.clock import years_later
from kernel.text import has_control_characters
from provisioning.errors import InvalidInputs
from provisioning.models import LineAction

MAX_JUSTIFICATION = 2000
MIN_JUSTIFICATION = 10
MAX_COMMENT = 1000
MAX_NAME = 120
MAX_PERSONS = 100
MAX_EXTRA = 2000  # the typed HSA-IDs, as the form's field allows
MAX_YEARS_AHEAD = 1
MAX_MEMBERSHIP_YEARS = 5
_PHONE = re.compile(r"^\+?[0-9 ()\-]{6,24}$")
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.\-]{1,189}\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class CommissionOrderInput:
    """Beställ medarbetaruppdrag VoB SJF. ``errors``: the fields that could not be read (their values are then
    empty or None); the service refuses an input with errors, adding its own."""

    unit_hsa_id: str
    justification: str
    contact_name: str
    contact_phone: str
    contact_email: str
    requested_start: dt.date | None
    care_agreement_reference: str | None
    errors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MembershipOrderInput:
    """Beställning av behörigheter: staff to add to / remove from / change on the unit's commission.

    ``person_hsa_ids`` holds the well-formed HSA-IDs even when others were malformed, so that the service can say
    what is wrong with those too; ``errors`` as for CommissionOrderInput."""

    unit_hsa_id: str
    action: LineAction
    person_hsa_ids: tuple[str, ...]
    valid_from: dt.date | None
    valid_to: dt.date | None
    comment: str
    errors: Mapping[str, str] = field(default_factory=dict)


class _Reader:
    """Collects one message per field while reading a mapping of raw values."""

    def __init__(self, raw: Mapping[str, object]):
        self.raw = raw
        self.errors: dict[str, str] = {}

    def text(self, field: str, label: str, *, required: bool = True, max_length: int = MAX_NAME,
             min_length: int = 0) -> str:
        value = self.raw.get(field)
        text = "" if value is None else str(value).strip()
        if has_control_characters(text):
            self.errors[field] = f"{label} innehåller otillåtna styrtecken."
        elif required and not text:
            self.errors[field] = f"{label} måste fyllas i."
        elif len(text) > max_length:
            self.errors[field] = f"{label} får vara högst {max_length} tecken (nu {len(text)})."
        elif text and len(text) < min_length:
            self.errors[field] = f"{label} behöver vara minst {min_length} tecken."
        return text

    def date(self, field: str, label: str, *, required: bool = True) -> dt.date | None:
        text = self.text(field, label, required=required, max_length=10)
        if not text or field in self.errors:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            self.errors[field] = f"{label} ska vara ett datum på formen ÅÅÅÅ-MM-DD."
            return None

    def hsa_id(self, field: str, label: str) -> str:
        text = self.text(field, label, max_length=64)
        if text and field not in self.errors:
            try:
                return validate_hsa_id(text)
            except InvalidIdentifier as exc:
                self.errors[field] = exc.message
        return text



_Input = TypeVar("_Input", CommissionOrderInput, MembershipOrderInput)


def _strict(data: _Input) -> _Input:
    if data.errors:
        raise InvalidInputs(dict(data.errors))
    return data


def parse_commission_order(raw: Mapping[str, object], *, today: dt.date) -> CommissionOrderInput:
    """Parse and check the commission order form; raises InvalidInputs with every field's message."""
    return _strict(read_commission_order(raw, today=today))


def parse_membership_order(raw: Mapping[str, object], *, today: dt.date) -> MembershipOrderInput:
    """Parse and check the membership order form; raises InvalidInputs with every field's message."""
    return _strict(read_membership_order(raw, today=today))


def read_commission_order(raw: Mapping[str, object], *, today: dt.date) -> CommissionOrderInput:
    """Read the commission order form: what could be read, and every field's message (never raises)."""
    r = _Reader(raw)
    unit = r.hsa_id("unit_hsa_id", "Vårdenhet")
    justification = r.text("justification", "Motivering", max_length=MAX_JUSTIFICATION, min_length=MIN_JUSTIFICATION)
    name = r.text("contact_name", "Kontaktperson")
    phone = r.text("contact_phone", "Telefon", max_length=24)
    if phone and "contact_phone" not in r.errors and not _PHONE.match(phone):
        r.errors["contact_phone"] = "Telefon ska bestå av siffror (och + - ( ) mellanslag), t.ex. 040-123 45 67."
    email = r.text("contact_email", "E-post", max_length=254)
    if email and "contact_email" not in r.errors and not _EMAIL.match(email):
        r.errors["contact_email"] = "E-post ska vara en adress som namn@exempel.se."
    start = r.date("requested_start", "Önskat startdatum")
    if start and start < today:
        r.errors["requested_start"] = "Önskat startdatum kan inte ligga bakåt i tiden."
    elif start and start > years_later(today, MAX_YEARS_AHEAD):
        r.errors["requested_start"] = "Önskat startdatum får ligga högst ett år framåt."
    agreement = r.text("care_agreement_reference", "Vårdavtal (referens)", required=False) or None
    return CommissionOrderInput(unit, justification, name, phone, email, start, agreement, r.errors)


def _hsa_ids(raw: Mapping[str, object], r: _Reader) -> tuple[str, ...]:
    chosen = raw.get("person_hsa_ids") or []
    if not isinstance(chosen, str | list | tuple):  # JSON may send a number, an object, true …
        r.errors["person_hsa_ids"] = "Ange medarbetarna som en lista av HSA-id."
        return ()
    values = [chosen] if isinstance(chosen, str) else [str(v) for v in chosen]
    extra = r.text("extra_hsa_ids", "HSA-id", required=False, max_length=MAX_EXTRA)
    if "extra_hsa_ids" in r.errors:
        return ()
    values += [v for v in re.split(r"[\s,;]+", extra) if v]
    found: list[str] = []
    bad: list[str] = []
    for value in values:
        try:
            hsa = validate_hsa_id(value.strip())
        except InvalidIdentifier as exc:
            bad.append(exc.message)
            continue
        if hsa not in found:
            found.append(hsa)
    if bad:
        r.errors["extra_hsa_ids"] = " ".join(bad[:3]) + (f" (och {len(bad) - 3} till)" if len(bad) > 3 else "")
    if not found and not bad:
        r.errors["person_hsa_ids"] = "Välj minst en medarbetare eller ange ett HSA-id."
    elif len(found) > MAX_PERSONS:
        r.errors["person_hsa_ids"] = f"Högst {MAX_PERSONS} medarbetare per beställning."
    return tuple(found)


def read_membership_order(raw: Mapping[str, object], *, today: dt.date) -> MembershipOrderInput:
    """Read the membership order form: what could be read, and every field's message (never raises)."""
    r = _Reader(raw)
    unit = r.hsa_id("unit_hsa_id", "Vårdenhet")
    action_text = r.text("action", "Åtgärd", required=False, max_length=20) or LineAction.ADD.value
    try:
        action = LineAction(action_text)
    except ValueError:
        r.errors["action"] = "Välj lägg till, ta bort eller ändra giltighetstid."
        action = LineAction.ADD
    persons = _hsa_ids(raw, r)
    valid_from = r.date("valid_from", "Giltig från")
    valid_to = r.date("valid_to", "Giltig till och med", required=action is LineAction.CHANGE_VALIDITY)
    if valid_from and valid_from < today and action is not LineAction.REMOVE:
        r.errors["valid_from"] = "Giltig från kan inte ligga bakåt i tiden."
    if valid_from and valid_to and valid_to < valid_from:
        r.errors["valid_to"] = "Giltig till och med måste vara samma dag som eller efter giltig från."
    if valid_from and valid_to and valid_to > years_later(valid_from, MAX_MEMBERSHIP_YEARS):
        r.errors["valid_to"] = f"En behörighet kan beställas för högst {MAX_MEMBERSHIP_YEARS} år i taget."
    comment = r.text("comment", "Kommentar", required=False, max_length=MAX_COMMENT)
    return MembershipOrderInput(unit, action, persons, valid_from, valid_to, comment, r.errors)
