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
from overview.blocks import EXCEPTION_NAMES, RequestedBy
from overview.errors import InvalidInput, InvalidInputs
from overview.fault_report import FaultReport
from overview.gate import BlockKind, ConsentScope

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


# ---------------------------------------------------------------------- blocks (spärr) and temporary revokes
BLOCK_KINDS = ((BlockKind.OUTER.value, "Yttre spärr",
                "Uppgifterna från hela vårdgivaren visas inte för andra vårdgivare."),
               (BlockKind.INNER.value, "Inre spärr",
                "Uppgifterna från en vårdenhet visas inte utanför den vårdenheten, inte heller hos andra vårdenheter "
                "hos samma vårdgivare."))
REQUESTERS = ((RequestedBy.PATIENT.value, "Patienten själv"),
              (RequestedBy.GUARDIAN.value, "Vårdnadshavare för ett barn"))
EXCEPTION_CHOICES = tuple(EXCEPTION_NAMES.items())
BLOCK_REASON_FIELD = Field("reason", "Patientens skäl (valfritt)",
                           "Det patienten vill få antecknat. Loggas med spärren.", "textarea", inputs.REASON_MAX,
                           required=False)
VOID_REASON_FIELD = Field("reason", "Varför spärren makuleras", "T.ex. registrerad på fel patient.", "textarea",
                          inputs.REASON_MAX)
REVOKE_DURATIONS = (("dag", "Ett dygn", 1), ("vecka", "En vecka", 7), ("datum", "Till och med ett datum", None))


@dataclass(frozen=True)
class BlockRequest:
    """What the block form asks to register."""

    kind: BlockKind
    care_unit_hsa_id: str | None
    info_start: dt.date | None
    info_end: dt.date | None
    excluded_types: tuple[str, ...]
    requested_by: str
    reason: str


def block_defaults(unit_hsa_id: str | None) -> dict[str, object]:
    """A fresh block form: an outer block on the patient's own request."""
    return {"kind": BlockKind.OUTER.value, "requested_by": RequestedBy.PATIENT.value,
            "care_unit_hsa_id": unit_hsa_id or ""}


def parse_block(raw: Mapping[str, object]) -> BlockRequest:
    """The block form's values (what the service checks itself, it names by the same fields)."""
    errors: dict[str, str] = {}
    kind = _text(raw, "kind")
    if kind not in {value for value, _label, _help in BLOCK_KINDS}:
        errors["kind"] = "Välj yttre spärr (hela vårdgivaren) eller inre spärr (en vårdenhet)."
    requested_by = _text(raw, "requested_by")
    if requested_by not in {value for value, _label in REQUESTERS}:
        errors["requested_by"] = "Ange vem som begär spärren."
    start, end = _date(raw, "info_start", errors), _date(raw, "info_end", errors)
    if start is not None and end is not None and end < start:
        errors["info_end"] = "Periodens sista dag måste vara samma dag som den första eller senare."
    unit = _text(raw, "care_unit_hsa_id")
    if len(unit) > 64:
        errors["care_unit_hsa_id"] = "Välj en vårdenhet i listan."
    if errors:
        raise FormInvalid(errors)
    kept = tuple(t for t in EXCEPTION_NAMES if _text(raw, f"keep_{t}") == "1")
    return BlockRequest(BlockKind(kind), unit if kind == BlockKind.INNER.value and unit else None, start, end, kept,
                        requested_by, _text(raw, "reason"))


@dataclass(frozen=True)
class RevokeRequest:
    """What the temporary revoke form asks: for the whole unit or only me, until when, why in words."""

    employee_only: bool
    end: dt.datetime
    reason_text: str


def parse_temporary_revoke(raw: Mapping[str, object], *, now: dt.datetime) -> RevokeRequest:
    """The temporary revoke form's values: the period runs from now for the chosen duration, or through a date."""
    errors: dict[str, str] = {}
    scope = _text(raw, "scope")
    if scope not in {value for value, _label, _help in SCOPES}:
        errors["scope"] = "Välj om hävningen gäller hela vårdenheten eller bara dig."
    end = _until(raw, REVOKE_DURATIONS, now, errors, what="spärren ska vara hävd", last="hävningen gäller",
                 past_refused=True)
    if errors:
        raise FormInvalid(errors)
    assert end is not None
    return RevokeRequest(scope == ConsentScope.EMPLOYEE.value, end, _text(raw, "reason_text"))


def _until(raw: Mapping[str, object], durations: tuple[tuple[str, str, int | None], ...], now: dt.datetime,
           errors: dict[str, str], *, what: str, last: str, past_refused: bool = False) -> dt.datetime | None:
    """The end of a period from ``now`` for the chosen ``duration`` (days), or through the date of "datum"; a
    message per field in ``errors`` when the choice or the date is wrong (None then)."""
    duration = _text(raw, "duration")
    days = {value: count for value, _label, count in durations}
    if duration not in days:
        errors["duration"] = f"Välj hur länge {what}."
    last_day = _date(raw, "end", errors) if duration == "datum" else None
    if duration == "datum" and last_day is None and "end" not in errors:
        errors["end"] = f"Ange sista dagen {last} (ÅÅÅÅ-MM-DD)."
    if past_refused and last_day is not None and last_day < local_date(now):
        errors["end"] = "Sista dagen kan inte ha passerat; ange dagens datum eller senare."
    if "duration" in errors or "end" in errors:
        return None
    return local_midnight(last_day + dt.timedelta(days=1)) if last_day is not None \
        else now + dt.timedelta(days=days[duration] or 0)


# ---------------------------------------------------------------------- publication rules
PUBLICATION_COMMENT_FIELD = Field("comment", "Varför reglerna ändras",
                                  "T.ex. ”Hässleholms sjukhus ansluten till Melior 2026-11-01”. Sparas med versionen.",
                                  "text", 300)


def parse_publication_comment(raw: Mapping[str, object]) -> str:
    """The reason for a new version of the publication rules (required: the history says why)."""
    try:
        return inputs.reason(_text(raw, "comment"), "comment", what="varför reglerna ändras", max_length=300)
    except InvalidInput as exc:
        raise FormInvalid({exc.field: exc.message}) from None


# ---------------------------------------------------------------------- a patient who cannot decide
INCAPACITY_DURATIONS = (("manad", "En månad", 30), ("halvar", "Ett halvår", 182), ("ar", "Ett år", 365),
                        ("datum", "Till och med ett datum", None))
ATTITUDE_FIELD = Field("attitude_clarified", "Hur patientens inställning har klarlagts",
                       "Vad du gjort för att ta reda på patientens inställning, t.ex. samtal med patienten och "
                       "närstående, tidigare uttalanden i journalen.", "textarea", inputs.REASON_MAX)
NO_OBJECTION_FIELD = Field("no_objection", "Varför det inte finns anledning att anta att patienten skulle motsätta sig",
                           "Det som talar för att patienten inte skulle ha något emot att uppgifterna används.",
                           "textarea", inputs.REASON_MAX)


@dataclass(frozen=True)
class IncapacityRequest:
    lasting: bool
    attitude_clarified: str
    no_objection: str
    end: dt.datetime


def incapacity_defaults() -> dict[str, object]:
    return {"duration": "manad"}


def parse_incapacity(raw: Mapping[str, object], *, now: dt.datetime) -> IncapacityRequest:
    """The dialog's values; the texts are checked by the service (named by the same fields)."""
    errors: dict[str, str] = {}
    lasting = _text(raw, "lasting")
    if lasting not in {"varaktigt", "tillfalligt"}:
        errors["lasting"] = "Ange om patienten varaktigt eller bara tillfälligt saknar förmåga att ta ställning."
    end = _until(raw, INCAPACITY_DURATIONS, now, errors, what="bedömningen gäller", last="bedömningen gäller")
    if errors:
        raise FormInvalid(errors)
    assert end is not None
    return IncapacityRequest(lasting == "varaktigt", _text(raw, "attitude_clarified"), _text(raw, "no_objection"), end)
