"""The dialog for a patient who cannot decide (issue 13 item 6): register, with the patient relation, that the patient
lacks the capacity to consent and not only temporarily, with how their attitude was clarified and why no objection is
to be expected; the assessments in force at the unit, ended by its staff. overview/incapacity.py asks the gate and
logs each change in the same transaction (D6); reads on this basis are always sampled in log follow-up."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.routes.overview_base import PatientPosted, format_pnr, gatekeeper, in_view, page, remember, state
from api.siths import CurrentIdentity, SithsIdentity
from forms import overview as F
from kernel import runtime
from kernel.clock import now, until_text
from overview import incapacity
from overview.errors import InvalidInput

router = APIRouter()
DIALOG = "/oversikt/patient/beslutsoformogen"


def incapacity_page(request: Request, identity: SithsIdentity, personnummer: str, *,
                    values: dict[str, object] | None = None, errors: dict[str, str] | None = None,
                    status_code: int = 200) -> Response:
    """The dialog: checks 1–6 and a log row first (in_view), then the assessments in force at the unit."""
    shown = in_view(request, identity, personnummer, "dialogen beslutsoförmögen patient")
    with runtime.read_scope() as session:
        in_force = incapacity.assessments_at_unit(session=session, unit_hsa_id=shown.commission.unit_hsa_id or "",
                                                  personnummer=personnummer, now=now())
        for row in in_force:
            session.expunge(row)
    return page(request, "overview/incapacity.html", identity=identity, status_code=status_code,
                pnr=format_pnr(personnummer), patient=shown.header, commission=shown.commission,
                emergency=shown.emergency, values=values or F.incapacity_defaults(), errors=errors or {},
                durations=F.INCAPACITY_DURATIONS, attitude=F.ATTITUDE_FIELD, no_objection=F.NO_OBJECTION_FIELD,
                in_force=in_force)


@router.get(DIALOG, name="overview_incapacity_form")
def overview_incapacity_form(request: Request, who: CurrentIdentity) -> Response:
    """Beslutsoförmögen patient: the dialog."""
    personnummer = state(request, who).get("patient")
    return incapacity_page(request, who, personnummer) if personnummer else RedirectResponse("/oversikt", 303)


@router.post(DIALOG, name="overview_incapacity")
def overview_incapacity(request: Request, who: CurrentIdentity, post: PatientPosted) -> Response:
    """Register the assessment (logged); then the overview, showing what it lets through."""
    raw = F.raw_values(post.form)
    at = now()
    try:
        wanted = F.parse_incapacity(raw, now=at)
        with runtime.session_scope() as session:
            incapacity.register_incapacity(
                session=session, directory=gatekeeper(), user_hsa_id=who.hsa_id,
                commission_hsa_id=post.chosen.get("commission"), personnummer=post.personnummer,
                lasting=wanted.lasting, attitude_clarified=wanted.attitude_clarified,
                no_objection=wanted.no_objection, end=wanted.end, now=at)
    except F.FormInvalid as exc:
        return incapacity_page(request, who, post.personnummer, values=raw, errors=exc.errors, status_code=422)
    except InvalidInput as exc:
        field = exc.field if exc.field != "end" or raw.get("duration") == "datum" else "duration"
        return incapacity_page(request, who, post.personnummer, values=raw, errors={field: exc.message},
                               status_code=422)
    remember(request, who, flash="Bedömningen att patienten är beslutsoförmögen är registrerad och gäller "
                                 f"{until_text(wanted.end)} för vårdenheten. Läsningar med stöd av den granskas "
                                 "alltid vid loggkontroll.")
    return RedirectResponse("/oversikt/patient", status_code=303)


@router.post(f"{DIALOG}/avsluta", name="overview_incapacity_end")
def overview_incapacity_end(request: Request, who: CurrentIdentity, post: PatientPosted) -> Response:
    """End an assessment early (logged)."""
    with runtime.session_scope() as session:
        incapacity.end_incapacity(session=session, directory=gatekeeper(), user_hsa_id=who.hsa_id,
                                  commission_hsa_id=post.chosen.get("commission"),
                                  assessment_id=str(post.form.get("assessment_id", "")),
                                  personnummer=post.personnummer)
    remember(request, who, flash="Bedömningen är avslutad; andra vårdgivares uppgifter visas åter bara med samtycke.")
    return RedirectResponse("/oversikt/patient", status_code=303)

