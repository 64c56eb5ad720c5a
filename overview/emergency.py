"""Nödåtkomst (emergency access): open it with a reason for a limited time; open blocked data in two steps.

Step 1 (``reveal_blocked_providers``) tells the user which vårdgivare hold blocked data; step 2
(``open_blocked_data``) opens the data of the vårdgivare the user picks. Both steps, and the opening itself, are
logged as ``Nödöppning`` (DOMAIN §1.2; Socialstyrelsen's two active steps).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from catalog import Directory
from kernel import clock
from kernel.hsaid import HsaId
from overview import accesslog, inputs
from overview.access import Gatekeeper, entry, gatekeeper, relation_kind, require
from overview.accesslog import Action, Resource
from overview.errors import InvalidInput, NotAllowed
from overview.gate import Check, CommissionFacts
from overview.models import EmergencyOpening, EmergencyProviderOpening

DEFAULT_DURATION = dt.timedelta(hours=2)
MAX_DURATION = dt.timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class BlockedProvider:
    """A vårdgivare holding blocked data about the patient (shown only after step 1)."""

    hsa_id: str
    name: str


def open_emergency(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                   commission_hsa_id: str | None, personnummer: str, reason: str,
                   duration: dt.timedelta | None = None, now: dt.datetime | None = None) -> EmergencyOpening:
    """Open nödåtkomst for this user at the commission's unit: reason required, time-boxed, logged."""
    pnr = inputs.personnummer(personnummer)
    text = inputs.reason(reason, what="skäl till nödåtkomsten")
    duration = DEFAULT_DURATION if duration is None else duration
    if not dt.timedelta(0) < duration <= MAX_DURATION:
        raise InvalidInput("duration", f"Nödåtkomst kan gälla i högst {MAX_DURATION.seconds // 3600} timmar.")
    now = now or clock.now()
    _facts, decision = gatekeeper(directory).evaluate(session=session, user_hsa_id=user_hsa_id,
                                                      commission_hsa_id=commission_hsa_id, now=now, personnummer=pnr)
    commission = require(decision, through=Check.RELATION)
    opening = EmergencyOpening(
        id=str(uuid.uuid4()), personnummer=pnr, employee_hsa_id=user_hsa_id, commission_hsa_id=commission.hsa_id,
        care_provider_hsa_id=commission.provider_hsa_id, care_unit_hsa_id=commission.unit_hsa_id or "",
        reason=text, opened_at=now, expires_at=now + duration)
    session.add(opening)
    accesslog.append(session, entry(user_hsa_id=user_hsa_id, commission=commission, now=now, personnummer=pnr,
                                    action=Action.EMERGENCY, resource=Resource.OVERVIEW,
                                    basis=[f"emergency:{opening.id}"], relation=relation_kind(decision),
                                    detail=text))
    return opening


def reveal_blocked_providers(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                             commission_hsa_id: str | None, personnummer: str, now: dt.datetime | None = None
                             ) -> tuple[BlockedProvider, ...]:
    """Step 1: which vårdgivare hold blocked data about the patient (needs an open nödåtkomst)."""
    pnr = inputs.personnummer(personnummer)
    now = now or clock.now()
    keeper = gatekeeper(directory)
    _facts, decision = keeper.evaluate(session=session, user_hsa_id=user_hsa_id,
                                       commission_hsa_id=commission_hsa_id, now=now, personnummer=pnr)
    commission = require(decision, through=Check.RELATION)
    opening = _active(session, pnr, user_hsa_id, commission, now)
    if opening.providers_revealed_at is None:
        opening.providers_revealed_at = now
        session.add(opening)
        session.flush()
    _facts, decision = keeper.evaluate(session=session, user_hsa_id=user_hsa_id,
                                       commission_hsa_id=commission_hsa_id, now=now, personnummer=pnr)
    providers = decision.blocked_providers
    accesslog.append(session, entry(user_hsa_id=user_hsa_id, commission=commission, now=now, personnummer=pnr,
                                    action=Action.EMERGENCY, resource=Resource.BLOCK,
                                    basis=[f"emergency:{opening.id}"], source_providers=providers,
                                    relation=relation_kind(decision), detail="steg 1: var finns spärrade uppgifter"))
    return tuple(BlockedProvider(p, _provider_name(keeper.directory, p)) for p in providers)


def open_blocked_data(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                      commission_hsa_id: str | None, personnummer: str, providers: Iterable[str],
                      now: dt.datetime | None = None) -> EmergencyOpening:
    """Step 2: open the blocked data of the chosen vårdgivare (after step 1); logged as Nödöppning."""
    pnr = inputs.personnummer(personnummer)
    chosen = sorted({p.strip() for p in providers if p and p.strip()})
    if not chosen:
        raise InvalidInput("providers", "Välj minst en vårdgivare vars spärrade uppgifter ska öppnas.")
    now = now or clock.now()
    _facts, decision = gatekeeper(directory).evaluate(session=session, user_hsa_id=user_hsa_id,
                                                      commission_hsa_id=commission_hsa_id, now=now, personnummer=pnr)
    commission = require(decision, through=Check.RELATION)
    opening = _active(session, pnr, user_hsa_id, commission, now)
    if opening.providers_revealed_at is None:
        raise NotAllowed("Se först vilka vårdgivare som har spärrade uppgifter (steg 1), välj sedan vilka som ska "
                         "öppnas (steg 2).")
    revealed = {HsaId(p): p for p in decision.blocked_providers}
    unknown = [p for p in chosen if HsaId(p) not in revealed]
    if unknown:
        raise InvalidInput("providers", f"{', '.join(unknown)} har inga spärrade uppgifter om patienten.")
    done = {o.care_provider_hsa_id for o in session.exec(select(EmergencyProviderOpening).where(
        EmergencyProviderOpening.emergency_id == opening.id)).all()}
    targets = [revealed[HsaId(p)] for p in chosen]
    session.add_all(EmergencyProviderOpening(emergency_id=opening.id, care_provider_hsa_id=p, opened_at=now)
                    for p in targets if HsaId(p) not in done)
    session.flush()
    accesslog.append(session, entry(user_hsa_id=user_hsa_id, commission=commission, now=now, personnummer=pnr,
                                    action=Action.EMERGENCY, resource=Resource.BLOCK,
                                    basis=[f"emergency_block_opened:{opening.id}"], source_providers=targets,
                                    relation=relation_kind(decision), detail=f"steg 2: {opening.reason}"))
    return opening


def _active(session: Session, pnr: str, user_hsa_id: str, commission: CommissionFacts,
            now: dt.datetime) -> EmergencyOpening:
    opening = session.exec(select(EmergencyOpening).where(
        EmergencyOpening.personnummer == pnr, EmergencyOpening.employee_hsa_id == user_hsa_id,
        EmergencyOpening.care_unit_hsa_id == (commission.unit_hsa_id or ""), EmergencyOpening.expires_at > now)
        .order_by(col(EmergencyOpening.opened_at).desc())).first()
    if opening is None:
        raise NotAllowed("Öppna nödåtkomst med ett skäl först; spärrade uppgifter kan bara öppnas vid nödåtkomst.")
    return opening


def _provider_name(directory: Directory, hsa_id: str) -> str:
    provider = directory.provider(hsa_id)
    return provider.name if provider else hsa_id
