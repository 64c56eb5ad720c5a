"""The ordering forms: fields, labels and the choices offered, plus turning posted form data into raw values.

Validation itself lives in provisioning.inputs (shared with the JSON API); a form re-renders with the posted values
and one message beside each field, so nothing typed is lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import cast

from starlette.datastructures import FormData

from catalog import Directory
from catalog.model import CareUnit, Membership, Person
from kernel.clock import local_date, until_text
from provisioning.authz import Actor
from provisioning.periods import Period


@dataclass(frozen=True)
class Field:
    """One form field."""

    name: str
    label: str
    help: str = ""
    kind: str = "text"  # text, textarea, date, email, tel, select
    max_length: int | None = None
    required: bool = True
    autocomplete: str = ""  # the input's purpose (WCAG 1.3.5), for the orderer's own contact details


COMMISSION_FIELDS = (
    Field("unit_hsa_id", "Vårdenhet", "Enheten som ska ha medarbetaruppdraget VoB SJF.", "select"),
    Field("justification", "Motivering", "Varför enheten behöver NPÖ (minst 10 tecken).", "textarea", 2000),
    Field("contact_name", "Kontaktperson", "", "text", 120, autocomplete="name"),
    Field("contact_phone", "Telefon", "T.ex. 040-123 45 67", "tel", 24, autocomplete="tel"),
    Field("contact_email", "E-post", "", "email", 254, autocomplete="email"),
    Field("requested_start", "Önskat startdatum", "ÅÅÅÅ-MM-DD", "date"),
    Field("care_agreement_reference", "Vårdavtal (referens)",
          "Endast privata hälsovalsenheter: hälsovalsavtalets referens.", "text", 120, required=False),
)

MEMBERSHIP_FIELDS = (
    Field("unit_hsa_id", "Vårdenhet", "", "select"),
    Field("action", "Åtgärd", "", "select"),
    Field("person_hsa_ids", "Medarbetare", "Välj medarbetare vid enheten.", "checkboxes", required=False),
    Field("extra_hsa_ids", "Eller ange HSA-id", "Ett eller flera HSA-id, åtskilda med mellanslag eller komma.",
          "text", 2000, required=False),
    Field("valid_from", "Giltig från", "ÅÅÅÅ-MM-DD. Behörigheten måste ligga inom enhetens medarbetaruppdrags "
          "giltighetstid.", "date"),
    Field("valid_to", "Giltig till och med", "Lämna tomt för tills vidare (krävs vid ändrad giltighetstid).",
          "date", required=False),
    Field("comment", "Kommentar", "", "textarea", 1000, required=False),
)

ACTIONS = (("add", "Lägg till behörighet"), ("remove", "Ta bort behörighet"),
           ("change_validity", "Ändra giltighetstid"))


@dataclass
class FormState:
    """What a form page shows: the values (as typed) and one message per field."""

    values: dict[str, object] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def raw_values(form: FormData) -> dict[str, object]:
    """Posted form data as a mapping; multi-valued fields as lists."""
    raw: dict[str, object] = {}
    for key in form:
        values = form.getlist(key)
        raw[key] = values if key == "person_hsa_ids" else (values[-1] if values else "")
    return raw


def orderable_units(directory: Directory, actor: Actor) -> list[CareUnit]:
    """The units the actor may order for, by name."""
    units = [directory.unit(hsa_id) for hsa_id in actor.orderable_units()]
    return sorted((u for u in units if u is not None), key=lambda u: u.name)


def unit_people(directory: Directory, actor: Actor, unit_hsa_id: str | None) -> list[Person]:
    """The unit's active staff, when the actor may order for it."""
    if not unit_hsa_id or not actor.may_order_for(unit_hsa_id):
        return []
    return directory.people_of_unit(unit_hsa_id)


def matching(people: list[Person], search: str) -> list[Person]:
    """The people whose name or HSA-ID contains every word of ``search`` (any case); all when it is empty."""
    words = search.casefold().split()
    return [p for p in people if all(w in f"{p.name} {p.hsa_id}".casefold() for w in words)]


def member_notes(memberships: list[Membership], now: dt.datetime) -> dict[str, str]:
    """Per HSA-ID of a current or coming member, what they hold: "har redan behörighet till och med
    2027-06-30", "får behörighet från och med 2026-12-08 tills vidare"."""
    notes = {}
    for m in memberships:
        end = m.validity.end
        if end is not None and end <= now:
            continue  # ended: not a member any more
        until = until_text(end) if end else "tills vidare"
        notes[m.person_hsa_id] = (f"har redan behörighet {until}" if m.validity.start <= now else
                                          f"får behörighet från och med {local_date(m.validity.start)} {until}")
    return notes


def commission_defaults(actor: Actor, today: dt.date) -> dict[str, object]:
    """A fresh commission form: the orderer as contact, start in a week."""
    return {"contact_name": actor.name, "contact_email": actor.mail or "",
            "requested_start": (today + dt.timedelta(days=7)).isoformat()}


def membership_defaults(today: dt.date, unit_hsa_id: str | None, period: Period | None = None) -> dict[str, object]:
    """A fresh membership form: from today, or from the commission's first day when that is later."""
    first = max(today, period.first) if period is not None and period.first else today
    return {"unit_hsa_id": unit_hsa_id or "", "action": "add", "valid_from": first.isoformat(), "person_hsa_ids": []}


def selected(values: Mapping[str, object], name: str) -> set[str]:
    """The chosen values of a multi-valued field (for re-checking checkboxes)."""
    chosen = values.get(name) or []
    return {chosen} if isinstance(chosen, str) else {str(v) for v in cast("Iterable[object]", chosen)}
