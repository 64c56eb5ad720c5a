"""Felsökning: "Why can't I get in?" is the gate's own decision explained for the signed-in user, check by check,
with what to do and whom to contact (the seed's Felsökning list), and a fault report that mails the diagnosis to the
service desk through the outbox (D3). The diagnosis never carries patient data."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response

from api.routes.overview_base import CHECK_NAMES, CertifiedForm, access, gatekeeper, page
from api.siths import CertificateRejected, CurrentIdentity, IdentityOrRefusal, SithsIdentity
from flows.trigger import deliver_later
from forms import overview as F
from kernel import runtime
from kernel.clock import now
from overview import fault_report
from overview.facts import load_facts
from overview.gate import Decision, GateFacts, decide

router = APIRouter()

SENT_KEY = "fault_report_sent"


def diagnose(request: Request, who: SithsIdentity | CertificateRejected) -> fault_report.Diagnosis:
    """The gate's checks 1–5 for this request's certificate (refused too: check 1 then explains why)."""
    at = now()
    if isinstance(who, CertificateRejected):
        keeper = gatekeeper()
        with runtime.session_scope() as session:
            facts: GateFacts = load_facts(session=session, directory=keeper.directory, user_hsa_id=None,
                                          commission_hsa_id=None, now=at, production=keeper.production,
                                          certificate_error=None if who.code == "missing" else who.message)
        decision: Decision = decide(facts, at)
    else:
        facts, decision = access(request, who)
    return fault_report.diagnose(facts, decision, names=CHECK_NAMES, at=at)


def _help_page(request: Request, who: SithsIdentity | CertificateRejected, *, values: dict[str, object] | None = None,
               errors: dict[str, str] | None = None, sent: str = "", status_code: int | None = None) -> Response:
    identity = None if isinstance(who, CertificateRejected) else who
    diagnosis = diagnose(request, who)
    status = status_code or (who.status if isinstance(who, CertificateRejected) else 200)
    return page(request, "overview/help.html", identity=identity, status_code=status, diagnosis=diagnosis,
                refusal=who if identity is None else None, fields=F.FAULT_FIELDS, values=values or {},
                errors=errors or {}, sent=sent)


@router.get("/oversikt/felsokning", name="overview_help")
def overview_help(request: Request, who: IdentityOrRefusal) -> Response:
    """Felsökning: check by check, what to do, whom to contact; the fault-report form (and, once, the reference of
    the report just sent: kept in the session, so nobody can put a reference of their own in the green box)."""
    return _help_page(request, who, sent=str(request.session.pop(SENT_KEY, "")))


@router.post("/oversikt/felsokning", name="overview_fault_report")
def overview_fault_report(request: Request, who: CurrentIdentity, form: CertifiedForm,
                          background: BackgroundTasks) -> Response:
    """Felanmälan: the diagnosis and the user's description, mailed to the service desk (needs a SITHS identity)."""
    raw = F.raw_values(form)
    try:
        report = F.parse_fault_report(raw)
    except F.FormInvalid as exc:
        return _help_page(request, who, values=raw, errors=exc.errors, status_code=422)
    diagnosis = diagnose(request, who)
    with runtime.session_scope() as session:
        reference = fault_report.report_fault(
            session=session, reporter=who, diagnosis=diagnosis, report=report,
            service_desk=runtime.settings().service_desk_mail, user_agent=request.headers.get("user-agent", ""),
            listener=request.url.netloc, now=now())
    background.add_task(deliver_later)
    request.session[SENT_KEY] = reference
    return RedirectResponse("/oversikt/felsokning", status_code=303)
