"""The relation and consent dialogs of the gated overview: assert a patient relation with a reason; register the
patient's consent (whole unit or only me, for a day, a week, a year or to a date; the drug list per person; given by
a guardian). Both are logged by overview.service in the same transaction as the change."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.routes.overview_base import (
    PatientPosted,
    access,
    dialog_page,
    format_pnr,
    gatekeeper,
    page,
    remember,
    state,
)
from api.siths import CurrentIdentity, SithsIdentity
from forms import overview as F
from kernel import runtime
from kernel.clock import local_date, now, until_text
from overview import service
from overview.errors import InvalidInput
from overview.gate import TEXTS, CommissionFacts, ConsentPurpose, ConsentScope

router = APIRouter()


def _see_start() -> RedirectResponse:
    return RedirectResponse("/oversikt", status_code=303)


# ---------------------------------------------------------------------- relation
def relation_page(request: Request, identity: SithsIdentity, commission: CommissionFacts | None, personnummer: str,
                  *, values: dict[str, object] | None = None, errors: dict[str, str] | None = None,
                  status_code: int = 403) -> Response:
    """No patient relation at the commission's unit: say so, and offer to assert one with a reason."""
    unit = commission.unit_name if commission else "vårdenheten"
    message, remedy = TEXTS["relation.missing"]
    return page(request, "overview/relation.html", identity=identity, status_code=status_code,
                pnr=format_pnr(personnummer), message=message.format(unit=unit), remedy=remedy,
                commission=commission, field=F.RELATION_FIELD, values=values or {}, errors=errors or {})


@router.post("/oversikt/patient/relation", name="overview_relation")
def overview_relation(request: Request, who: CurrentIdentity, post: PatientPosted) -> Response:
    """Assert a patient relation with a reason (logged, always sampled in log follow-up)."""
    form, chosen = post.form, post.chosen
    raw = F.raw_values(form)
    try:
        with runtime.session_scope() as session:
            service.assert_relation(session=session, directory=gatekeeper(), user_hsa_id=who.hsa_id,
                                    commission_hsa_id=chosen.get("commission"), personnummer=chosen["patient"],
                                    reason=str(raw.get("reason", "")))
    except InvalidInput as exc:
        _facts, decision = access(request, who)
        return relation_page(request, who, decision.commission, chosen["patient"], values=raw,
                             errors={exc.field: exc.message}, status_code=422)
    return RedirectResponse("/oversikt/patient", status_code=303)


# ---------------------------------------------------------------------- consent
def consent_page(request: Request, identity: SithsIdentity, personnummer: str, *,
                 values: dict[str, object] | None = None, errors: dict[str, str] | None = None,
                 status_code: int = 200) -> Response:
    """The consent dialog: overview consent (whole unit or only me, for how long), drug-list consent, guardian."""
    return dialog_page(request, "overview/consent.html", identity=identity, personnummer=personnummer,
                       dialog="samtyckesdialogen", status_code=status_code,
                       values=values or F.consent_defaults(local_date(now())), errors=errors or {}, scopes=F.SCOPES,
                       durations=F.DURATIONS, guardian=F.GUARDIAN_FIELD)


@router.get("/oversikt/patient/samtycke", name="overview_consent_form")
def overview_consent_form(request: Request, who: CurrentIdentity) -> Response:
    """Samtycke: the dialog."""
    personnummer = state(request, who).get("patient")
    return consent_page(request, who, personnummer) if personnummer else _see_start()


@router.post("/oversikt/patient/samtycke", name="overview_consent")
def overview_consent(request: Request, who: CurrentIdentity, post: PatientPosted) -> Response:
    """Register the patient's consent(s) under the commission's unit (logged); then show the overview again."""
    form, chosen, personnummer = post.form, post.chosen, post.personnummer
    raw = F.raw_values(form)
    at = now()
    try:
        wanted = F.parse_consent(raw, now=at)
        with runtime.session_scope() as session:
            for purpose, scope, asked in ((ConsentPurpose.OVERVIEW, wanted.scope, wanted.overview),
                                          (ConsentPurpose.DRUG_LIST, ConsentScope.EMPLOYEE, wanted.drug_list)):
                if asked:
                    service.register_consent(
                        session=session, directory=gatekeeper(), user_hsa_id=who.hsa_id,
                        commission_hsa_id=chosen.get("commission"), personnummer=personnummer, scope=scope,
                        purpose=purpose, start=wanted.start, end=wanted.end, represented_by=wanted.represented_by,
                        now=at)
    except F.FormInvalid as exc:
        return consent_page(request, who, personnummer, values=raw, errors=exc.errors, status_code=422)
    except InvalidInput as exc:
        field = exc.field if exc.field != "end" or raw.get("duration") == "datum" else "duration"
        return consent_page(request, who, personnummer, values=raw, errors={field: exc.message}, status_code=422)
    remember(request, who, flash=_consent_note(wanted))
    return RedirectResponse("/oversikt/patient", status_code=303)


def _consent_note(wanted: F.ConsentRequest) -> str:
    what = []
    if wanted.overview:
        what.append("för hela vårdenheten" if wanted.scope is ConsentScope.UNIT else "för dig")
    if wanted.drug_list:
        what.append("läkemedelsförteckningen för dig")
    return f"Samtycket är registrerat ({' och '.join(what)}) och gäller {until_text(wanted.end)}."


# ---------------------------------------------------------------------- withdraw or void a consent
CONSENT_CHANGES = {"avsluta": (service.end_consent, "Samtycket är avslutat från och med nu."),
                   "makulera": (service.void_consent, "Samtycket är makulerat och räknas inte längre.")}


@router.post("/oversikt/patient/samtycke/andra", name="overview_consent_change")
def overview_consent_change(request: Request, who: CurrentIdentity, post: PatientPosted) -> Response:
    """End a consent the patient withdrew, or void one registered in error (logged); then the overview again,
    without what only that consent let through."""
    change = CONSENT_CHANGES.get(str(post.form.get("action", "")))
    if change is None:
        raise InvalidInput("action", "Välj om samtycket ska avslutas eller makuleras.")
    act, note = change
    with runtime.session_scope() as session:
        act(session=session, directory=gatekeeper(), user_hsa_id=who.hsa_id,
            commission_hsa_id=post.chosen.get("commission"), consent_id=str(post.form.get("consent_id", "")),
            personnummer=post.personnummer)
    remember(request, who, flash=f"{note} Uppgifter som bara visades med stöd av det visas inte längre.")
    return RedirectResponse("/oversikt/patient", status_code=303)
