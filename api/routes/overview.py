"""The gated overview's pages (Swedish): choose commission, Information innan start, patient search, the overview by
category and as a timeline (the relation and consent dialogs: overview_consent; emergency access: overview_emergency;
Felsökning: overview_help; the log extract: overview_admin).

Every page takes the identity from this request's SITHS certificate (overview_base). Reading patient data goes only
through ``overview.service.read_overview``, which asks the gate and logs the read in the same transaction; the
transaction commits before the page is rendered, so nothing leaves without its log row (D6).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.routes import (
    overview_admin,
    overview_blocks,
    overview_consent,
    overview_emergency,
    overview_help,
    overview_incapacity,
    overview_publication,
)
from api.routes.overview_base import (
    CertifiedForm,
    access,
    format_pnr,
    gatekeeper,
    is_admin,
    page,
    pop_flash,
    remember,
    state,
    usable_commissions,
)
from api.routes.overview_timeline import timeline
from api.routes.overview_view import overview_view
from api.siths import CurrentIdentity, SithsIdentity
from catalog import runtime as catalog_runtime
from forms import overview as F
from kernel import runtime
from kernel.hsaid import HsaId
from overview import info, service
from overview.errors import InvalidInput
from overview.gate import Check, Decision, GateFacts

router = APIRouter()


def _see_start() -> RedirectResponse:
    return RedirectResponse("/oversikt", status_code=303)


def start_page(request: Request, identity: SithsIdentity, facts: GateFacts, decision: Decision, *,
               values: dict[str, object] | None = None, errors: dict[str, str] | None = None,
               status_code: int = 200) -> Response:
    """The search page, or what stands in the way (with the way to Felsökning)."""
    return page(request, "overview/start.html", identity=identity, status_code=status_code, decision=decision,
                problems=[r for r in decision.reasons if not r.passed], commission=decision.commission,
                several=len(usable_commissions(facts)) > 1, field=F.SEARCH_FIELD, values=values or {},
                errors=errors or {}, flash=pop_flash(request, identity), admin=is_admin(identity))


# ---------------------------------------------------------------------- start, commission, information
@router.get("/oversikt", name="overview_start")
def overview_start(request: Request, who: CurrentIdentity) -> Response:
    """Start: what the gate says about the signed-in user, then the patient search."""
    facts, decision = access(request, who)
    if decision.needs_choice:
        return RedirectResponse("/oversikt/uppdrag", status_code=303)
    if decision.failed is Check.ACKNOWLEDGEMENT and all(r.passed or r.check is Check.ACKNOWLEDGEMENT
                                                        for r in decision.reasons):
        return RedirectResponse("/oversikt/information", status_code=303)
    return start_page(request, who, facts, decision, status_code=200 if decision.allowed else 403)


def _choose_page(request: Request, identity: SithsIdentity, facts: GateFacts, *, error: str = "",
                 status_code: int = 200) -> Response:
    chosen = state(request, identity).get("commission")
    return page(request, "overview/choose.html", identity=identity, status_code=status_code,
                commissions=usable_commissions(facts), chosen=chosen, error=error)


@router.get("/oversikt/uppdrag", name="overview_choose")
def overview_choose(request: Request, who: CurrentIdentity) -> Response:
    """Välj medarbetaruppdrag: the unit where the patient is cared for now."""
    facts, _decision = access(request, who)
    return _choose_page(request, who, facts)


@router.post("/oversikt/uppdrag", name="overview_choose_submit")
def overview_choose_submit(request: Request, who: CurrentIdentity, form: CertifiedForm) -> Response:
    """Use the chosen commission from now on (the patient is chosen again under it)."""
    facts, _decision = access(request, who)
    wanted = HsaId(str(form.get("commission", "")).strip()[:64])
    match = next((c for c in usable_commissions(facts) if c.hsa_id == wanted), None)
    if match is None:
        return _choose_page(request, who, facts, status_code=422,
                            error="Välj ett av dina medarbetaruppdrag i listan.")
    remember(request, who, commission=match.hsa_id, patient=None)
    return _see_start()


def _information_page(request: Request, identity: SithsIdentity, *, error: str = "",
                      status_code: int = 200) -> Response:
    _facts, decision = access(request, identity)
    done = any(r.check is Check.ACKNOWLEDGEMENT and r.passed for r in decision.reasons)
    return page(request, "overview/information.html", identity=identity, status_code=status_code,
                information=info.current(), done=done, error=error)


@router.get("/oversikt/information", name="overview_information")
def overview_information(request: Request, who: CurrentIdentity) -> Response:
    """Information innan start med NPÖ, with the acknowledgement."""
    return _information_page(request, who)


@router.post("/oversikt/information", name="overview_acknowledge")
def overview_acknowledge(request: Request, who: CurrentIdentity, form: CertifiedForm) -> Response:
    """Record that the user has read this version (logged)."""
    if str(form.get("read", "")) != "1":
        return _information_page(request, who, status_code=422,
                                 error="Kryssa i att du har läst informationen innan du bekräftar.")
    version = str(form.get("version", ""))[:6]
    try:
        with runtime.session_scope() as session:
            service.acknowledge_information(session=session, user_hsa_id=who.hsa_id,
                                            version=int(version) if version.isascii() and version.isdigit() else -1)
    except InvalidInput as exc:
        return _information_page(request, who, status_code=422, error=exc.message)
    return _see_start()


# ---------------------------------------------------------------------- the patient
@router.post("/oversikt/patient", name="overview_search")
def overview_search(request: Request, who: CurrentIdentity, form: CertifiedForm) -> Response:
    """Search a patient by personnummer (kept in this browser's session, never in the URL)."""
    raw = F.raw_values(form)
    try:
        personnummer = F.parse_personnummer(raw)
    except F.FormInvalid as exc:
        facts, decision = access(request, who)
        return start_page(request, who, facts, decision, values=raw, errors=exc.errors, status_code=422)
    remember(request, who, patient=personnummer)
    return RedirectResponse("/oversikt/patient", status_code=303)


def _read(request: Request, identity: SithsIdentity, view: str) -> Response:
    """Read the overview through the gate (logged, committed), then show it or what stands in the way."""
    chosen = state(request, identity)
    personnummer = chosen.get("patient")
    if not personnummer:
        return _see_start()
    with runtime.session_scope() as session:
        result = service.read_overview(session=session, directory=gatekeeper(), user_hsa_id=identity.hsa_id,
                                       commission_hsa_id=chosen.get("commission"), personnummer=personnummer)
    decision = result.decision
    if decision.failed is Check.PATIENT:
        remember(request, identity, patient=None)
        facts, access_decision = access(request, identity)
        message = next(f"{r.message} {r.remedy}" for r in decision.reasons if r.check is Check.PATIENT)
        return start_page(request, identity, facts, access_decision, status_code=404,
                          values={"personnummer": format_pnr(personnummer)}, errors={"personnummer": message})
    if decision.failed is Check.RELATION:
        return overview_consent.relation_page(request, identity, decision.commission, personnummer, status_code=403)
    if not decision.allowed or result.patient is None:
        return _see_start()
    shown = overview_view(result, catalog_runtime.directory())
    return page(request, "overview/patient.html", identity=identity, view=view, patient=result.patient,
                pnr=format_pnr(personnummer), overview=shown,
                timeline=timeline(shown) if view == "tidslinje" and shown.count else None, consents=result.consents,
                flash=pop_flash(request, identity), emergency=result.emergency,
                log_seq=result.log_seq)


@router.get("/oversikt/patient", name="overview_patient")
def overview_patient(request: Request, who: CurrentIdentity) -> Response:
    """The patient's overview by category."""
    return _read(request, who, "kategori")


@router.get("/oversikt/patient/tidslinje", name="overview_timeline")
def overview_timeline(request: Request, who: CurrentIdentity) -> Response:
    """The patient's overview as a timeline."""
    return _read(request, who, "tidslinje")


@router.post("/oversikt/patient/stang", name="overview_close")
def overview_close(request: Request, who: CurrentIdentity, _form: CertifiedForm) -> Response:
    """Close the patient (this browser forgets the personnummer)."""
    remember(request, who, patient=None)
    return _see_start()


# The relation and consent, block, emergency, Felsökning, log-extract and publication-rule pages are part of this
# router (one entry in api/app.py).
for _module in (overview_consent, overview_blocks, overview_incapacity, overview_emergency, overview_help,
                overview_admin, overview_publication):
    router.include_router(_module.router)
