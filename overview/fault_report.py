"""Felanmälan from Felsökning: the gate's checks 1–5 explained check by check (the diagnosis), and the fault report
that mails that diagnosis with the user's description to the service desk through the outbox (D3).

The diagnosis never carries patient data: checks 1–5 are about the user, the commission and the vårdgivare.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlmodel import Session

from kernel import outbox
from kernel.clock import STOCKHOLM
from overview.gate import Check, CommissionFacts, Decision, GateFacts, Reason, commission_problem

ACCESS_CHECKS = (Check.CERTIFICATE, Check.USER, Check.COMMISSION, Check.CONSUMER, Check.ACKNOWLEDGEMENT)
COMMISSION_STATES = {None: "kan användas för NPÖ", "commission.not_yet_valid": "gäller inte ännu",
                     "commission.expired": "har gått ut", "commission.purpose": "har fel ändamål",
                     "commission.right_missing": "saknar rättigheten Läsa;Alla;SJF",
                     "commission.no_unit": "hör inte till någon vårdenhet"}
TEMPLATE = "felanmalan"


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


class Reporter(Protocol):
    """Who reports: the SITHS identity of the request (the mail names the person and the card)."""

    @property
    def hsa_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def serial(self) -> str: ...
    @property
    def issuer(self) -> str: ...
    @property
    def not_after(self) -> dt.datetime: ...
    @property
    def transport(self) -> str: ...


@dataclass(frozen=True)
class FaultReport:
    """What the user wrote: what happened (required) and a phone number the service desk can call (optional)."""

    description: str
    phone: str


def diagnose(facts: GateFacts, decision: Decision, *, names: dict[Check, str], at: dt.datetime) -> Diagnosis:
    """The diagnosis of checks 1–5 from the gate's facts and decision, with each check's name as the page shows it."""
    reasons = {r.check: r for r in decision.reasons}
    rows = [CheckRow(n, names[check], reasons.get(check)) for n, check in enumerate(ACCESS_CHECKS, 1)]
    held = [(c, COMMISSION_STATES.get(commission_problem(c, at), "")) for c in facts.commissions]
    return Diagnosis(rows, decision.allowed, held, at)


def report_fault(*, session: Session, reporter: Reporter, diagnosis: Diagnosis, report: FaultReport,
                 service_desk: str, user_agent: str, listener: str, now: dt.datetime) -> str:
    """Queue the felanmälan to the service desk (delivered after the commit) and return its reference, FEL-XXXXXXXX,
    which the user quotes when they call."""
    reference = f"FEL-{uuid.uuid4().hex[:8].upper()}"
    context: dict[str, object] = {
        "reference": reference, "identity": reporter, "diagnosis": diagnosis, "report": report,
        "user_agent": user_agent[:300], "listener": listener, "at": now.astimezone(STOCKHOLM),
        "service_desk": service_desk}
    outbox.enqueue(session, template=TEMPLATE, to=[service_desk], context=context,
                   dedupe_key=f"felanmalan:{reference}", now=now)
    return reference
