"""Felsökning: "Why can't I get in?" is the gate's own decision explained for the signed-in user, check by check,
with what to do and whom to contact (the seed's Felsökning list), and a fault report that mails the diagnosis to the
service desk through the outbox (D3). The diagnosis never carries patient data."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response

from api.routes.overview_base import CHECK_NAMES, access, certified_form, gatekeeper, page
from api.siths import CertificateRejected, IdentityOrRefusal, SithsIdentity
from flows.steps import deliver
from forms import overview as F
from kernel import outbox, runtime
from kernel.clock import STOCKHOLM, now
from overview.facts import load_facts
from overview.gate import Check, CommissionFacts, Decision, GateFacts, Reason, commission_problem, decide

router = APIRouter()

ACCESS_CHECKS = (Check.CERTIFICATE, Check.USER, Check.COMMISSION, Check.CONSUMER, Check.ACKNOWLEDGEMENT)
COMMISSION_STATES = {None: "kan användas för NPÖ", "commission.not_yet_valid": "gäller inte ännu",
                     "commission.expired": "har gått ut", "commission.purpose": "har fel ändamål",
                     "commission.right_missing": "saknar rättigheten Läsa;Alla;SJF",
                     "commission.no_unit": "hör inte till någon vårdenhet"}
SENT_KEY = "fault_report_sent"


@dataclass(frozen=True)
class CheckRow:
    """One check of the diagnosis: its name, and the gate's reason (None: not checked because an earlier failed)."""

    number: int
    name: str
    reason: Reason | None


@dataclass(frozen=True)
class Diagnosis:
    """Checks 1–5 for this request, and the commissions the user holds."""

    rows: list[CheckRow]
    allowed: bool
    commissions: list[tuple[CommissionFacts, str]]
    at: dt.datetime


def diagnose(request: Request, who: SithsIdentity | CertificateRejected) -> Diagnosis:
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
    reasons = {r.check: r for r in decision.reasons}
    rows = [CheckRow(n, CHECK_NAMES[check], reasons.get(check)) for n, check in enumerate(ACCESS_CHECKS, 1)]
    held = [(c, COMMISSION_STATES.get(commission_problem(c, at), "")) for c in facts.commissions]
    return Diagnosis(rows, decision.allowed, held, at)


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
async def overview_fault_report(request: Request, who: IdentityOrRefusal, background: BackgroundTasks) -> Response:
    """Felanmälan: the diagnosis and the user's description, mailed to the service desk (needs a SITHS identity)."""
    form = await certified_form(request, who)
    if isinstance(form, Response):
        return form
    assert isinstance(who, SithsIdentity)  # certified_form answered a rejected certificate
    raw = F.raw_values(form)
    try:
        report = F.parse_fault_report(raw)
    except F.FormInvalid as exc:
        return _help_page(request, who, values=raw, errors=exc.errors, status_code=422)
    reference = f"FEL-{uuid.uuid4().hex[:8].upper()}"
    context = {"reference": reference, "identity": who, "diagnosis": diagnose(request, who), "report": report,
               "user_agent": request.headers.get("user-agent", "")[:300], "listener": request.url.netloc,
               "at": now().astimezone(STOCKHOLM), "service_desk": runtime.settings().service_desk_mail}
    with runtime.session_scope() as session:
        outbox.enqueue(session, template="felanmalan", to=[runtime.settings().service_desk_mail], context=context,
                       dedupe_key=f"felanmalan:{reference}", now=now())
    background.add_task(deliver)
    request.session[SENT_KEY] = reference
    return RedirectResponse("/oversikt/felsokning", status_code=303)
