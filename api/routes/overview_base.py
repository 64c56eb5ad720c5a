"""What every page of the gated overview shares: the SITHS identity of this request, the gate, the browser state.

Identity comes from the client certificate of each request (mTLS, or a trusted proxy's header), never from the
session alone (D7). The server-side session (api.sessions) only remembers what this person chose in this browser
(the commission and the patient), bound to their HSA-ID: another certificate in the same browser starts afresh, and
the gate checks the choice again on every request. The personnummer is never put in a URL (address bars, history
and proxy logs keep URLs) nor in a cookie (the cookie is an opaque token).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from api.auth import check_csrf
from api.pages import SeeOther, render
from api.routes.siths import ADVICE, SERVICE_DESK, SITHS_TEST_URL
from api.siths import CertificateRejected, CurrentIdentity, SithsIdentity
from catalog import runtime as catalog_runtime
from catalog.model import RoleName
from kernel import runtime
from kernel.clock import now
from kernel.settings import Environment
from overview import service
from overview.access import Gatekeeper
from overview.facts import GrantCache
from overview.gate import Check, CommissionFacts, Decision, GateFacts, commission_problem
from overview.service import EmergencyStatus, PatientInView

STATE_KEY = "npo_overview"
CHECK_NAMES = {
    Check.CERTIFICATE: "SITHS-certifikat",
    Check.USER: "Du i Skånekatalogen",
    Check.COMMISSION: "Medarbetaruppdrag (VoB SJF)",
    Check.CONSUMER: "Vårdgivarens anslutning till NPÖ",
    Check.ACKNOWLEDGEMENT: "Information innan start",
    Check.PATIENT: "Patienten",
    Check.RELATION: "Patientrelation",
}


@functools.lru_cache(maxsize=4)
def _grants(seconds: float) -> GrantCache:
    return GrantCache(seconds)


def gatekeeper() -> Gatekeeper:
    """How this process loads the gate's facts: the runtime's directory, production mode, a short grant cache (D4)."""
    settings = runtime.settings()
    return Gatekeeper(catalog_runtime.directory(), production=settings.env is Environment.PRODUCTION,
                      cache=_grants(settings.ldap_cache_seconds))


def is_admin(identity: SithsIdentity) -> bool:
    """True when the person holds the directory role npo-forvaltning (system administration)."""
    return any(role.name is RoleName.SYSTEM_ADMIN and role.scope is None
               for role in catalog_runtime.directory().roles_of(identity.hsa_id))


def _evaluate(session: Session, identity: SithsIdentity, commission: str | None) -> tuple[GateFacts, Decision]:
    return gatekeeper().evaluate(session=session, user_hsa_id=identity.hsa_id, commission_hsa_id=commission,
                                 now=now())


def access(request: Request, identity: SithsIdentity) -> tuple[GateFacts, Decision]:
    """Checks 1–5 under the commission chosen in this browser; a choice that no longer holds is forgotten."""
    chosen = state(request, identity).get("commission")
    with runtime.session_scope() as session:
        facts, decision = _evaluate(session, identity, chosen)
        if chosen and decision.failed is Check.COMMISSION:
            remember(request, identity, commission=None, patient=None)
            facts, decision = _evaluate(session, identity, None)
    return facts, decision


def usable_commissions(facts: GateFacts) -> list[CommissionFacts]:
    """The commissions that can be used for NPÖ right now, once each."""
    at, seen, usable = now(), set(), []
    for commission in facts.commissions:
        if commission_problem(commission, at) is None and commission.hsa_id not in seen:
            seen.add(commission.hsa_id)
            usable.append(commission)
    return usable


# ---------------------------------------------------------------------- browser state, bound to the HSA-ID
def state(request: Request, identity: SithsIdentity) -> dict[str, Any]:
    """What this person chose in this browser (commission, patient); empty for anyone else's certificate."""
    saved = request.session.get(STATE_KEY)
    if not isinstance(saved, dict) or saved.get("hsa_id") != identity.hsa_id:
        return {}
    return dict(saved)


def remember(request: Request, identity: SithsIdentity, **changes: Any) -> None:
    """Store choices (None removes one) in the server-side session."""
    saved = {**state(request, identity), "hsa_id": identity.hsa_id, **changes}
    request.session[STATE_KEY] = {k: v for k, v in saved.items() if v is not None}


def flash(request: Request, identity: SithsIdentity, text: str) -> None:
    """A message for the next page this person sees."""
    remember(request, identity, flash=text)


def pop_flash(request: Request, identity: SithsIdentity) -> str | None:
    """The pending message, once."""
    text = state(request, identity).get("flash")
    if text:
        remember(request, identity, flash=None)
    return text


# ---------------------------------------------------------------------- rendering
def page(request: Request, template: str, *, identity: SithsIdentity | None, status_code: int = 200,
         admin: bool = False, **context: object) -> HTMLResponse:
    """An overview page; never cached by the browser or a proxy (it may carry patient data). While this person's
    nödåtkomst to the patient in view is open, every page says so and until when (``emergency``: a page that asked
    the gate passes what it found)."""
    if identity is not None and "emergency" not in context:
        context["emergency"] = _emergency_in_view(request, identity)
    pnr = state(request, identity).get("patient") if identity is not None and context.get("emergency") else None
    response = render(request, template, actor=None, status_code=status_code, identity=identity, admin=admin,
                      check_names=CHECK_NAMES, emergency_pnr=format_pnr(pnr) if pnr else None, **context)
    response.headers["Cache-Control"] = "no-store"
    return response


def _emergency_in_view(request: Request, identity: SithsIdentity) -> EmergencyStatus | None:
    personnummer = state(request, identity).get("patient")
    if not personnummer:
        return None
    with runtime.session_scope() as session:
        return service.emergency_status(session=session, user_hsa_id=identity.hsa_id, personnummer=personnummer)


def refused(request: Request, rejection: CertificateRejected) -> Response:
    """The page for a request without an acceptable SITHS certificate: what is wrong and what to do."""
    settings = runtime.settings()
    return page(request, "overview/refused.html", identity=None, status_code=rejection.status, refusal=rejection,
                advice=ADVICE.get(rejection.code, []), test_url=SITHS_TEST_URL, service_desk=SERVICE_DESK,
                siths_url=f"https://{settings.web_host}:{settings.overview_port}/oversikt",
                on_tls=request.url.scheme == "https")


def in_view(request: Request, identity: SithsIdentity, personnummer: str, dialog: str) -> PatientInView:
    """The patient on a dialog about them (consent, nödåtkomst, blocked data): the gate's checks 1–6 and a log row
    first (NotFound / NotAllowed otherwise), committed before the page shows their name."""
    with runtime.session_scope() as session:
        return service.patient_in_view(session=session, directory=gatekeeper(), user_hsa_id=identity.hsa_id,
                                       commission_hsa_id=state(request, identity).get("commission"),
                                       personnummer=personnummer, dialog=dialog)


def dialog_page(request: Request, template: str, *, identity: SithsIdentity, personnummer: str, dialog: str,
                status_code: int = 200, **context: Any) -> HTMLResponse:
    """A dialog about the patient in view, with the patient's header and the nödåtkomst banner."""
    shown = in_view(request, identity, personnummer, dialog)
    return page(request, template, identity=identity, status_code=status_code, pnr=format_pnr(personnummer),
                patient=shown.header, commission=shown.commission, emergency=shown.emergency, **context)


def format_pnr(personnummer: str) -> str:
    """ÅÅÅÅMMDD-NNNN."""
    return f"{personnummer[:8]}-{personnummer[8:]}" if len(personnummer) == 12 else personnummer


@dataclass(frozen=True)
class PatientPost:
    """A POST about the patient in view: the form, the remembered choices and the personnummer."""

    form: FormData
    chosen: dict[str, Any]
    personnummer: str


async def certified_form(request: Request, _identity: CurrentIdentity) -> FormData:
    """Dependency, the common start of every overview POST: a verified certificate (otherwise CertificateRejected,
    answered with the refusal page) and the CSRF token (otherwise CsrfRejected); the form."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    return form


CertifiedForm = Annotated[FormData, Depends(certified_form)]


def patient_post(request: Request, identity: CurrentIdentity, form: CertifiedForm) -> PatientPost:
    """Dependency, the common start of every POST about the patient in view: ``certified_form`` and a chosen
    patient (otherwise back to the start)."""
    chosen = state(request, identity)
    personnummer = chosen.get("patient")
    if not personnummer:
        raise SeeOther("/oversikt")
    return PatientPost(form, chosen, personnummer)


PatientPosted = Annotated[PatientPost, Depends(patient_post)]
