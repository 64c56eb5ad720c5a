"""What every overview service does first: load the facts, ask the gate, refuse with its reason, build log rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from catalog import Directory
from overview.accesslog import Action, LogEntry, Resource
from overview.errors import NotAllowed, NotFound
from overview.facts import GrantCache, load_facts
from overview.gate import Check, CommissionFacts, Decision, GateFacts, decide
from overview.producers import PublicationRules

_ORDER = list(Check)


@dataclass(frozen=True, slots=True)
class Gatekeeper:
    """How facts are loaded in this process: the directory, production mode, the grant cache, publication rules."""

    directory: Directory
    production: bool = True
    cache: GrantCache | None = None
    publication: PublicationRules | None = None

    def evaluate(self, *, session: Session, user_hsa_id: str, commission_hsa_id: str | None, now: dt.datetime,
                 personnummer: str | None = None) -> tuple[GateFacts, Decision]:
        """Load the facts and decide."""
        facts = load_facts(session=session, directory=self.directory, user_hsa_id=user_hsa_id,
                           commission_hsa_id=commission_hsa_id, now=now, production=self.production,
                           personnummer=personnummer, cache=self.cache, publication=self.publication)
        return facts, decide(facts, now)


def gatekeeper(directory: Directory | Gatekeeper) -> Gatekeeper:
    """A Gatekeeper as given, or one with the defaults (production rules, no cache) for a plain Directory."""
    return directory if isinstance(directory, Gatekeeper) else Gatekeeper(directory)


def require(decision: Decision, *, through: Check) -> CommissionFacts:
    """The commission in use, unless a check up to and including ``through`` failed (NotFound / NotAllowed)."""
    failed = decision.failed
    if failed is not None and _ORDER.index(failed) <= _ORDER.index(through):
        reason = next(r for r in decision.reasons if r.check is failed and not r.passed)
        if failed is Check.PATIENT:
            raise NotFound(reason.message)
        raise NotAllowed(f"{reason.message} {reason.remedy}".strip(), reason)
    if decision.commission is None:
        raise NotAllowed("Välj det medarbetaruppdrag du arbetar i just nu.")
    return decision.commission


def relation_kind(decision: Decision) -> str | None:
    """The kind of patient relation the access rested on (care_contact, booking, asserted), if any."""
    passed = next((r for r in decision.reasons if r.check is Check.RELATION and r.passed), None)
    return passed.code.split(".", 1)[1] if passed else None


def reached_patient(decision: Decision) -> bool:
    """True once the gate found the patient: from there on patient data was touched and the attempt is logged."""
    return any(r.check is Check.PATIENT and r.passed for r in decision.reasons)


def entry(*, user_hsa_id: str, commission: CommissionFacts | None, now: dt.datetime, action: Action,
          resource: Resource, personnummer: str | None = None, **more: Any) -> LogEntry:
    """A log entry carrying the commission, its unit and its vårdgivare."""
    return LogEntry(
        at=now, user_hsa_id=user_hsa_id, action=action, resource_type=resource,
        commission_hsa_id=commission.hsa_id if commission else None,
        care_unit_hsa_id=commission.unit_hsa_id if commission else None,
        care_unit_name=commission.unit_name if commission else "",
        care_provider_hsa_id=commission.provider_hsa_id if commission else None,
        care_provider_name=commission.provider_name if commission else "",
        patient_personnummer=personnummer, **more)
