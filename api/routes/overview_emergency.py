"""Nödåtkomst (emergency access) pages: open it with a reason for a few hours; open blocked data in two explicit
steps, first which vårdgivare hold it, then the data of the ones the user picks (DOMAIN §1.2). Every step is logged
as Nödöppning by overview.emergency in the same transaction."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.routes.overview_base import PatientPosted, dialog_page, gatekeeper, remember, state
from api.siths import CurrentIdentity, SithsIdentity
from forms import overview as F
from kernel import runtime
from kernel.clock import STOCKHOLM
from overview import service
from overview.errors import InvalidInput, NotAllowed

router = APIRouter()


def emergency_page(request: Request, identity: SithsIdentity, personnummer: str, *,
                   values: dict[str, object] | None = None, errors: dict[str, str] | None = None,
                   notice: str = "", status_code: int = 200) -> Response:
    """The form: reason and how long."""
    return dialog_page(request, "overview/emergency.html", identity=identity, personnummer=personnummer,
                       dialog="nödåtkomstdialogen", status_code=status_code, field=F.EMERGENCY_FIELD,
                       hours=F.EMERGENCY_HOURS, values=values or {"hours": str(F.DEFAULT_EMERGENCY_HOURS)},
                       errors=errors or {}, notice=notice)


@router.get("/oversikt/patient/nodatkomst", name="overview_emergency_form")
def overview_emergency_form(request: Request, who: CurrentIdentity) -> Response:
    """Nödåtkomst: the form."""
    personnummer = state(request, who).get("patient")
    if not personnummer:
        return RedirectResponse("/oversikt", status_code=303)
    return emergency_page(request, who, personnummer)


@router.post("/oversikt/patient/nodatkomst", name="overview_emergency")
def overview_emergency(request: Request, who: CurrentIdentity, post: PatientPosted) -> Response:
    """Open emergency access (reason required, time-boxed, logged as Nödöppning)."""
    form, chosen, personnummer = post.form, post.chosen, post.personnummer
    raw = F.raw_values(form)
    try:
        duration = F.parse_emergency_hours(raw)
        with runtime.session_scope() as session:
            opening = service.open_emergency(session=session, directory=gatekeeper(), user_hsa_id=who.hsa_id,
                                             commission_hsa_id=chosen.get("commission"),
                                             personnummer=personnummer, reason=str(raw.get("reason", "")),
                                             duration=duration)
            until = opening.expires_at.astimezone(STOCKHOLM)
    except F.FormInvalid as exc:
        return emergency_page(request, who, personnummer, values=raw, errors=exc.errors, status_code=422)
    except InvalidInput as exc:
        return emergency_page(request, who, personnummer, values=raw, errors={exc.field: exc.message},
                              status_code=422)
    remember(request, who, flash=f"Nödåtkomst öppnad till {until:%H:%M}. Allt du läser loggas som nödöppning och "
                                 "granskas alltid vid loggkontrollen.")
    return RedirectResponse("/oversikt/patient", status_code=303)


def _step2_page(request: Request, identity: SithsIdentity, personnummer: str, providers: tuple, *,
                error: str = "", status_code: int = 200) -> Response:
    return dialog_page(request, "overview/blocked.html", identity=identity, personnummer=personnummer,
                       dialog="nödöppning steg 2", status_code=status_code, providers=providers, error=error)


def _reveal(identity: SithsIdentity, chosen: dict, personnummer: str) -> tuple:
    with runtime.session_scope() as session:
        return service.reveal_blocked_providers(session=session, directory=gatekeeper(), user_hsa_id=identity.hsa_id,
                                                commission_hsa_id=chosen.get("commission"),
                                                personnummer=personnummer)


@router.post("/oversikt/patient/sparrat/steg1", name="overview_blocked_where")
def overview_blocked_where(request: Request, who: CurrentIdentity, post: PatientPosted) -> Response:
    """Step 1: which vårdgivare hold blocked data (needs an open emergency access; logged)."""
    chosen, personnummer = post.chosen, post.personnummer
    try:
        providers = _reveal(who, chosen, personnummer)
    except NotAllowed as exc:
        return emergency_page(request, who, personnummer, notice=exc.message, status_code=403)
    return _step2_page(request, who, personnummer, providers)


@router.post("/oversikt/patient/sparrat/steg2", name="overview_blocked_open")
def overview_blocked_open(request: Request, who: CurrentIdentity, post: PatientPosted) -> Response:
    """Step 2: open the blocked data of the vårdgivare the user picked (logged as Nödöppning)."""
    form, chosen, personnummer = post.form, post.chosen, post.personnummer
    picked = [str(p)[:64] for p in form.getlist("providers")][:50]
    try:
        with runtime.session_scope() as session:
            service.open_blocked_data(session=session, directory=gatekeeper(), user_hsa_id=who.hsa_id,
                                      commission_hsa_id=chosen.get("commission"), personnummer=personnummer,
                                      providers=picked)
    except InvalidInput as exc:
        try:
            providers = _reveal(who, chosen, personnummer)
        except NotAllowed as refusal:
            return emergency_page(request, who, personnummer, notice=refusal.message, status_code=403)
        return _step2_page(request, who, personnummer, providers, error=exc.message, status_code=422)
    except NotAllowed as exc:
        return emergency_page(request, who, personnummer, notice=exc.message, status_code=403)
    remember(request, who, flash="De spärrade uppgifterna från de valda vårdgivarna är öppnade (nödöppning, loggad).")
    return RedirectResponse("/oversikt/patient", status_code=303)
