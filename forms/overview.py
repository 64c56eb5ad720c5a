"""The gated overview's forms: patient search, consent, relation, emergency access and the fault report.

Each ``parse_*`` turns posted strings into typed values or raises :class:`FormInvalid` with one Swedish message per
field; the page re-renders with the posted values and the messages beside the fields (nothing typed is lost). What
the services check themselves (reasons, the consent period, a guardian's personnummer) is left to them; their
``InvalidInput`` names the field the same way.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.datastructures import FormData

from forms.orders import Field
from kernel.clock import local_date, local_midnight
from overview import inputs
from overview.errors import InvalidInput, InvalidInputs
from overview.fault_report import FaultReport
from overview.gate import ConsentScope

PNR_MAX = 20  # a personnummer is at most 13 characters typed; longer input is refused before it is parsed
TEXT_MAX = 2000  # fault report description
PHONE_MAX = 40
MULTI = {"providers"}  # multi-valued fields

# (value, Swedish label, days) of the consent periods offered; "datum" asks for the last day.
DURATIONS = (("dag", "Ett dygn", 1), ("vecka", "En vecka", 7), ("ar", "Ett år", 365),
             ("datum", "Till och med ett datum", None))
SCOPES = ((ConsentScope.UNIT.value, "Hela vårdenheten",
           "Alla med medarbetaruppdraget på vårdenheten kan se uppgifterna under perioden."),
          (ConsentScope.EMPLOYEE.value, "Bara mig", "Samtycket gäller bara dig."))
EMERGENCY_HOURS = (1, 2, 4, 8, 12)
DEFAULT_EMERGENCY_HOURS = 2

SEARCH_FIELD = Field("personnummer", "Personnummer eller samordningsnummer", "ÅÅÅÅMMDD-NNNN", "text", PNR_MAX)
RELATION_FIELD = Field("reason", "Skäl till patientrelationen",
                       "T.ex. att du deltar i vården utan att besöket är registrerat. Loggas och granskas alltid.",
                       "textarea", inputs.REASON_MAX)
EMERGENCY_FIELD = Field("reason", "Skäl till nödåtkomsten",
                        "Varför uppgifterna behövs för vård som inte kan vänta och patienten inte kan samtycka.",
                        "textarea", inputs.REASON_MAX)
GUARDIAN_FIELD = Field("represented_by", "Vårdnadshavarens personnummer",
                       "Fyll i bara när en vårdnadshavare samtycker för ett barn under 18 år.", "text", PNR_MAX,
                       required=False)
FAULT_FIELDS = (
    Field("description", "Vad hände?", "Beskriv vad du försökte göra och vad som visades.", "textarea", TEXT_MAX),
    Field("phone", "Telefon där servicedesk når dig", "", "tel", PHONE_MAX, required=False, autocomplete="tel"),
)
_PHONE = re.compile(r"[0-9 +\-()]*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class FormInvalid(InvalidInputs):
    """One or more fields of an overview form are wrong; ``errors`` maps field name → Swedish message (a route that
    does not show its form again gets the one answer of api/errors.py for InvalidInputs)."""


def raw_values(form: FormData) -> dict[str, object]:
    """Posted form data as a mapping of strings (lists for multi-valued fields), for parsing and re-rendering."""
    return {key: [str(v) for v in form.getlist(key)] if key in MULTI else str(form.getlist(key)[-1])
            for key in form}


def _text(raw: Mapping[str, object], name: str) -> str:
    value = raw.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def parse_personnummer(raw: Mapping[str, object], name: str = "personnummer") -> str:
    """The personnummer typed, as 12 digits."""
    value = _text(raw, name)
    if len(value) > PNR_MAX:
        raise FormInvalid({name: f"Personnumret är för långt ({len(value)} tecken); skriv det som ÅÅÅÅMMDD-NNNN."})
    try:
        return inputs.personnummer(value, name)
    except InvalidInput as exc:
        raise FormInvalid({name: exc.message}) from None


def _date(raw: Mapping[str, object], name: str, errors: dict[str, str]) -> dt.date | None:
    value = _text(raw, name)
    if not value:
        return None
    if len(value) > 10 or not _DATE.fullmatch(value):
        errors[name] = "Ange datumet som ÅÅÅÅ-MM-DD."
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors[name] = f"{value} är inget giltigt datum."
        return None


@dataclass(frozen=True)
class ConsentRequest:
    """What the consent dialog asks to register: the overview consent, the drug-list consent, or both."""

    overview: bool
    scope: ConsentScope
    drug_list: bool
    start: dt.datetime | None  # None: from now
    end: dt.datetime
    represented_by: str | None


def consent_defaults(today: dt.date) -> dict[str, object]:
    """A fresh consent dialog: the whole unit, one day, from today."""
    return {"overview": "1", "scope": ConsentScope.UNIT.value, "duration": "dag", "start": today.isoformat()}


def parse_consent(raw: Mapping[str, object], *, now: dt.datetime) -> ConsentRequest:
    """The consent dialog's values; the period runs from the start day (today: from now) for the chosen duration."""
    errors: dict[str, str] = {}
    overview, drug_list = _text(raw, "overview") == "1", _text(raw, "drug_list") == "1"
    if not (overview or drug_list):
        errors["overview"] = ("Välj vad patienten samtycker till: andra vårdgivares uppgifter, "
                              "läkemedelsförteckningen eller båda.")
    scope_value = _text(raw, "scope")
    if scope_value not in {value for value, _label, _help in SCOPES}:
        errors["scope"] = "Välj om samtycket gäller hela vårdenheten eller bara dig."
    duration = _text(raw, "duration")
    days = {value: count for value, _label, count in DURATIONS}
    if duration not in days:
        errors["duration"] = "Välj hur länge samtycket gäller."
    today = local_date(now)
    start_day = _date(raw, "start", errors) or (None if "start" in errors else today)
    if start_day is not None and start_day < today:
        errors["start"] = "Ett samtycke kan inte gälla bakåt i tiden; ange dagens datum eller senare."
    last_day = _date(raw, "end", errors) if duration == "datum" else None
    if duration == "datum" and last_day is None and "end" not in errors:
        errors["end"] = "Ange sista dagen samtycket gäller (ÅÅÅÅ-MM-DD)."
    guardian = _text(raw, "represented_by")
    if len(guardian) > PNR_MAX:
        errors["represented_by"] = "Personnumret är för långt; skriv det som ÅÅÅÅMMDD-NNNN."
    if start_day is not None and last_day is not None and last_day < start_day:
        errors["end"] = "Slutdatum måste vara samma dag som startdatum eller senare."
    if errors:
        raise FormInvalid(errors)
    assert start_day is not None
    start = None if start_day == today else local_midnight(start_day)
    begins = start or now
    if last_day is not None:
        end = local_midnight(last_day + dt.timedelta(days=1))  # through the last day
    else:
        end = begins + dt.timedelta(days=days[duration] or 0)
    return ConsentRequest(overview, ConsentScope(scope_value) if scope_value else ConsentScope.UNIT, drug_list, start,
                          end, guardian or None)


def parse_emergency_hours(raw: Mapping[str, object]) -> dt.timedelta:
    """How long the emergency access lasts: one of the offered hours."""
    value = _text(raw, "hours")
    if value not in {str(h) for h in EMERGENCY_HOURS}:
        raise FormInvalid({"hours": "Välj hur länge nödåtkomsten ska gälla."})
    return dt.timedelta(hours=int(value))


def parse_fault_report(raw: Mapping[str, object]) -> FaultReport:
    """The fault report's description (required) and phone (optional)."""
    errors: dict[str, str] = {}
    description, phone = _text(raw, "description"), _text(raw, "phone")
    try:
        description = inputs.reason(description, "description", what="vad som hände", max_length=TEXT_MAX)
    except InvalidInput as exc:
        errors["description"] = exc.message
    if len(phone) > PHONE_MAX or not _PHONE.fullmatch(phone):
        errors["phone"] = "Ange telefonnumret med siffror, t.ex. 040-123 45 67."
    if errors:
        raise FormInvalid(errors)
    return FaultReport(description, phone)
