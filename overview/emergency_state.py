"""What the pages say about nödåtkomst (emergency access): whether this user's emergency access to the patient in view
is open and until when, how far the two steps for blocked data have come, and what the box about blocked data says
in that state.

Nothing here decides access: the gate does (``gate.emergency_holds`` is its rule for which openings count). This
module only reads the openings the way the gate counts them, so the pages never offer a step already taken or call
data hidden that the gate has just let through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session

from kernel import clock
from overview import inputs
from overview.facts import load_emergencies
from overview.gate import CommissionFacts, Decision, EmergencyFacts, GateFacts, emergency_holds
from overview.gate_types import hsa_key


class EmergencyStage(StrEnum):
    """How far an open nödåtkomst has come with blocked data."""

    OPEN = "open"  # opened with a reason; blocked data not looked for
    REVEALED = "revealed"  # step 1 done: the vårdgivare holding blocked data are named
    DATA_OPENED = "data_opened"  # step 2 done for at least one vårdgivare


@dataclass(frozen=True, slots=True)
class EmergencyStatus:
    """The user's open nödåtkomst to one patient: until when, which stage, whose blocked data is open."""

    expires_at: dt.datetime
    stage: EmergencyStage
    opened_providers: tuple[str, ...] = ()


def status_of(openings: Iterable[EmergencyFacts]) -> EmergencyStatus | None:
    """One status for the openings that count (a user may have opened more than once): the latest end, the furthest
    stage; as in the gate, step 2 counts only for an opening whose step 1 was done."""
    counted = list(openings)
    if not counted:
        return None
    opened = sorted({p for e in counted if e.blocked_providers_revealed for p in e.blocked_providers_opened})
    if opened:
        stage = EmergencyStage.DATA_OPENED
    elif any(e.blocked_providers_revealed for e in counted):
        stage = EmergencyStage.REVEALED
    else:
        stage = EmergencyStage.OPEN
    return EmergencyStatus(max(e.expires_at for e in counted), stage, tuple(opened))


def status_in_decision(facts: GateFacts, commission: CommissionFacts | None,
                       now: dt.datetime) -> EmergencyStatus | None:
    """The status from the facts the gate just decided on (no further query)."""
    if commission is None:
        return None
    return status_of(e for e in facts.emergencies
                     if emergency_holds(e, user_hsa_id=facts.user.hsa_id, commission=commission, now=now))


def emergency_status(*, session: Session, user_hsa_id: str, personnummer: str,
                     now: dt.datetime | None = None) -> EmergencyStatus | None:
    """For a page that did not ask the gate about the patient: the user's open nödåtkomst to them, if any (the
    commission is not known there; the browser forgets the patient when the user changes commission)."""
    pnr = inputs.personnummer(personnummer)
    now = now or clock.now()
    user = hsa_key(user_hsa_id)
    return status_of(e for e in load_emergencies(session, pnr, now)
                     if hsa_key(e.employee_hsa_id) == user and e.reason.strip() and e.opened_at <= now)


# ---------------------------------------------------------------------- the box about blocked data
class BlockedAction(StrEnum):
    """What the box about blocked data offers next."""

    OPEN_EMERGENCY = "open_emergency"  # no nödåtkomst: open one first
    STEP1 = "step1"  # open: show which vårdgivare hold blocked data
    STEP2 = "step2"  # step 1 done: choose whose data to open
    NONE = "none"  # everything blocked is open


@dataclass(frozen=True, slots=True)
class BlockedNotice:
    """The box about blocked data: its text, the next step, and (after step 1) whose data is still hidden and whose
    is open (HSA-IDs; the page names them)."""

    text: str
    action: BlockedAction
    hidden_providers: tuple[str, ...] = ()
    opened_providers: tuple[str, ...] = ()


TEXTS = {
    BlockedAction.OPEN_EMERGENCY: "Det finns spärrade uppgifter om patienten som inte visas. Vid en nödsituation "
                                  "kan du öppna nödåtkomst med ett skäl; sedan ser du i steg 1 vilka vårdgivare som "
                                  "har spärrade uppgifter och öppnar i steg 2 de uppgifter vården behöver.",
    BlockedAction.STEP1: "Det finns spärrade uppgifter om patienten som inte visas. Nödåtkomsten är öppen: steg 1 "
                         "visar vilka vårdgivare som har spärrade uppgifter, i steg 2 väljer du vilkas uppgifter "
                         "som öppnas.",
    BlockedAction.STEP2: "Spärrade uppgifter från vårdgivarna nedan visas inte. Öppna dem i steg 2 bara om vården "
                         "behöver dem nu.",
    BlockedAction.NONE: "De spärrade uppgifterna är öppnade med nödöppning och visas nedan, märkta "
                        "”Nödöppning av spärrade uppgifter”.",
}


def blocked_notice(decision: Decision, status: EmergencyStatus | None) -> BlockedNotice | None:
    """The box for an allowed read that has blocked data, matching how far nödåtkomst has come; None without
    blocked data."""
    if not decision.allowed or not decision.blocked_exists:
        return None
    opened = {hsa_key(p) for p in status.opened_providers} if status else set()
    hidden = tuple(p for p in decision.blocked_providers if hsa_key(p) not in opened)
    shown_open = tuple(p for p in decision.blocked_providers if hsa_key(p) in opened)
    if not any(item.blocked for item in decision.items):
        action = BlockedAction.NONE
    elif status is None:
        action = BlockedAction.OPEN_EMERGENCY
    elif status.stage is EmergencyStage.OPEN or not decision.blocked_providers:
        action = BlockedAction.STEP1
    else:
        action = BlockedAction.STEP2
    return BlockedNotice(TEXTS[action], action, hidden if action is BlockedAction.STEP2 else (), shown_open)
