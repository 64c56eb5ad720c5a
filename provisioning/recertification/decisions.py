"""The manager's side of recertification: who may review, the rounds they see, starting a round, deciding.

Called the same way by the page and by tests. A batch of decisions is validated as a whole before anything is
written (a bad field changes nothing); then each member is settled on its own conditional UPDATE, so two reviewers
deciding the same member at once give one decision and one "already decided" note, never two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from catalog import Directory
from catalog.model import CareUnit
from kernel.clock import STOCKHOLM, local_date
from kernel.review import business_days_left, last_day
from kernel.sqltypes import stored_id
from kernel.text import has_control_characters
from provisioning.authz import Actor
from provisioning.errors import Conflict, InvalidInput, InvalidInputs, NotAllowed, NotFound
from provisioning.ordering import vob_commission
from provisioning.recertification.common import ReviewConfig
from provisioning.recertification.models import (
    ItemDecision,
    RecertificationItem,
    RecertificationRound,
    RoundState,
    RoundTrigger,
)
from provisioning.recertification.rounds import (
    DECISION_LABELS,
    close_round,
    current_members,
    decision_counts,
    items_of,
    mail_member_ended,
    open_round,
    open_round_of,
    record_decision,
    settle,
)

D = ItemDecision
MAX_REASON = 500
MARKED, MARKED_REASON = "markerade", "motivering-markerade"  # the fields of "Ta bort alla markerade"
ROUNDS_SHOWN = 20


@dataclass(frozen=True)
class Choice:
    """One decision on the page: confirm (keep) or remove a member, with a reason for a removal."""

    item_id: int
    confirm: bool
    reason: str | None = None


@dataclass
class DecisionReport:
    """What a batch of decisions did."""

    decided: int = 0
    already: list[str] = field(default_factory=list)  # members someone else decided on first
    closed: bool = False


@dataclass(frozen=True)
class RoundView:
    """A round with everything its page and the list show (precomputed for the templates)."""

    round: RecertificationRound
    items: list[RecertificationItem]
    counts: dict[ItemDecision, int]
    last_day: dt.date
    days_left: int
    past_deadline: bool

    @property
    def total(self) -> int:
        """Members on the round."""
        return len(self.items)

    @property
    def decided(self) -> int:
        """Members decided on."""
        return self.total - self.counts[D.PENDING]

    @staticmethod
    def since(item: RecertificationItem) -> str:
        """The first day of the member's listed period."""
        return local_date(item.valid_from).isoformat()

    @staticmethod
    def until(item: RecertificationItem) -> str:
        """The last day of the member's listed period ("tills vidare" when open-ended)."""
        return last_day(item.valid_to).isoformat() if item.valid_to else "tills vidare"


# ---------------------------------------------------------------------- who may review
def may_review(actor: Actor, unit_hsa_id: str) -> bool:
    """The unit's verksamhetschef and their delegates (the ordering right carries the duty to check, DOMAIN §1.5)."""
    return actor.may_order_for(unit_hsa_id)


def require_reviewer(actor: Actor, unit_hsa_id: str | None = None) -> None:
    """Refuse people who review no unit (or not this one)."""
    if unit_hsa_id is None and not actor.orderable_units():
        raise NotAllowed("Behörighetskontrollen görs av vårdenhetens verksamhetschef, eller av den som har fått "
                         "beställningsrätten delegerad av verksamhetschefen.")
    if unit_hsa_id is not None and not may_review(actor, unit_hsa_id):
        raise NotAllowed(f"Du är inte verksamhetschef för {unit_hsa_id} och har ingen delegering för enheten.")


# ---------------------------------------------------------------------- reads for the pages
def view(session: Session, round_: RecertificationRound, *, now: dt.datetime) -> RoundView:
    """The page's view of a round."""
    items = items_of(session, stored_id(round_))
    return RoundView(round_, items, decision_counts(items), last_day(round_.deadline),
                     business_days_left(now, round_.deadline),
                     round_.state is RoundState.OPEN and now >= round_.deadline)


def get_round(session: Session, actor: Actor, round_id: int) -> RecertificationRound:
    """A round the actor may review; NotFound or NotAllowed otherwise."""
    require_reviewer(actor)
    round_ = session.get(RecertificationRound, round_id)
    if round_ is None:
        raise NotFound(f"Behörighetskontrollen BK-{round_id} finns inte.")
    require_reviewer(actor, round_.unit_hsa_id)
    return round_


def rounds_for(session: Session, actor: Actor, *, now: dt.datetime) -> list[RoundView]:
    """The open rounds of the actor's units, then their latest closed ones."""
    require_reviewer(actor)
    rounds = session.exec(select(RecertificationRound).where(
        col(RecertificationRound.unit_hsa_id).in_(actor.orderable_units()))
        .order_by(col(RecertificationRound.state).desc(), col(RecertificationRound.opened_at).desc())
        .limit(ROUNDS_SHOWN)).all()
    return [view(session, r, now=now) for r in rounds]


def startable_units(session: Session, directory: Directory, actor: Actor, *, now: dt.datetime) -> list[CareUnit]:
    """The actor's units that hold VoB SJF with members and have no open round."""
    found = []
    for unit_hsa_id in actor.orderable_units():
        unit = directory.unit(unit_hsa_id)
        commission = vob_commission(directory, unit_hsa_id) if unit else None
        if unit is None or commission is None or open_round_of(session, unit.hsa_id) is not None:
            continue
        if current_members(directory, commission.hsa_id, now):
            found.append(unit)
    return found


# ---------------------------------------------------------------------- writes
def start_round(*, session: Session, directory: Directory, config: ReviewConfig, actor: Actor, unit_hsa_id: str,
                now: dt.datetime) -> RecertificationRound:
    """Start a round now (the manager's button); the unit's open round when it has one."""
    require_reviewer(actor, unit_hsa_id)
    unit = directory.require_unit(unit_hsa_id)
    existing = open_round_of(session, unit.hsa_id)
    if existing is not None:
        return existing
    commission = vob_commission(directory, unit.hsa_id)
    if commission is None:
        raise InvalidInput("unit_hsa_id", f"{unit.name} har inget medarbetaruppdrag VoB SJF att kontrollera.")
    members = current_members(directory, commission.hsa_id, now)
    if not members:
        raise InvalidInput("unit_hsa_id", f"{unit.name} har ingen medarbetare med behörighet att kontrollera.")
    opened = open_round(session, directory, config, unit, commission, members, now=now,
                        trigger=RoundTrigger.MANUAL, by=actor.hsa_id, by_name=actor.name)
    round_ = opened or open_round_of(session, unit.hsa_id)
    assert round_ is not None  # open_round opens none only when the unit has an open round
    return round_


def removal_reason(round_: RecertificationRound, actor: Actor) -> str:
    """npoEndedReason of a removal."""
    return f"Borttagen vid behörighetskontroll {round_.reference} av {actor.name} ({actor.hsa_id})"


def _reason_problem(reason: str) -> str | None:
    """What makes a typed reason unfit to save (None when it may be saved; whether one is needed is the caller's)."""
    if has_control_characters(reason):
        return "Motiveringen innehåller otillåtna styrtecken."
    if len(reason) > MAX_REASON:
        return f"Motiveringen får vara högst {MAX_REASON} tecken (nu {len(reason)})."
    return None


def removal_of_marked(item_ids: list[int], reason: str | None) -> list[Choice]:
    """"Ta bort alla markerade": one removal with one shared reason for every marked member, as the choices `decide`
    (or a massbeslut) carries out; refused as a whole when nothing is marked or the reason is missing or unfit."""
    text = (reason or "").strip()
    errors: dict[str, str] = {}
    if not item_ids:
        errors[MARKED] = "Markera minst en medarbetare att ta bort."
    problem = _reason_problem(text) or (None if text else "Ange varför de markerade medarbetarna ska tas bort, "
                                        "t.ex. har inte använt NPÖ på länge, har slutat eller har bytt tjänst.")
    if problem:
        errors[MARKED_REASON] = problem
    if errors:
        raise InvalidInputs(errors)
    return [Choice(item_id, False, text) for item_id in dict.fromkeys(item_ids)]


def _validate(actor: Actor, round_: RecertificationRound, items: dict[int, RecertificationItem],
              choices: list[Choice]) -> None:
    if not choices:
        raise InvalidInputs({"beslut": "Välj Bekräfta eller Ta bort för minst en medarbetare."})
    errors: dict[str, str] = {}
    delegate = actor.manager_for(round_.unit_hsa_id) is not None
    for choice in choices:
        item = items.get(choice.item_id)
        if item is None:
            errors["beslut"] = "Sidan är inaktuell: en medarbetare finns inte i kontrollen. Ladda om sidan."
            continue
        reason = (choice.reason or "").strip()
        problem = _reason_problem(reason)
        if problem:
            errors[f"motivering-{item.id}"] = problem
        elif not choice.confirm and not reason:
            errors[f"motivering-{item.id}"] = (f"Ange varför {item.person_name} ska tas bort, t.ex. slutat, bytt "
                                               "tjänst eller behöver inte NPÖ.")
        if choice.confirm and delegate and item.person_hsa_id == actor.hsa_id:
            errors[f"beslut-{item.id}"] = "Din egen behörighet bekräftas av verksamhetschefen, inte av dig som delegat."
    if errors:
        raise InvalidInputs(errors)


def check(*, session: Session, actor: Actor, round_id: int, choices: list[Choice], now: dt.datetime,
          ) -> tuple[RecertificationRound, dict[int, RecertificationItem]]:
    """Refuse a batch of decisions as a whole (round closed or past its deadline, a bad field) before any is written;
    the round and its items by id otherwise."""
    round_ = get_round(session, actor, round_id)
    if round_.state is RoundState.CLOSED:
        raise Conflict(f"Behörighetskontrollen {round_.reference} är redan avslutad.")
    if now >= round_.deadline:
        raise Conflict(f"Tidsgränsen för {round_.reference} gick ut {last_day(round_.deadline)}. Medarbetare som "
                       "inte bekräftades tas bort automatiskt; beställ behörighet på nytt för den som ska ha kvar den.")
    items = {stored_id(i): i for i in items_of(session, round_id)}
    _validate(actor, round_, items, choices)
    return round_, items


def decide(*, session: Session, directory: Directory, config: ReviewConfig, actor: Actor, round_id: int,
           choices: list[Choice], now: dt.datetime) -> DecisionReport:
    """Confirm or remove members of an open round; a removal ends the membership in the directory at once."""
    round_, items = check(session=session, actor=actor, round_id=round_id, choices=choices, now=now)
    report = DecisionReport()
    on_behalf_of = actor.manager_for(round_.unit_hsa_id)
    for choice in choices:
        item = items[choice.item_id]
        decision = D.CONFIRMED if choice.confirm else D.REMOVED
        if not settle(session, item, decision, by=actor.hsa_id, by_name=actor.name, now=now,
                      reason=(choice.reason or "").strip() or None, on_behalf_of=on_behalf_of):
            if item.decision is not decision or item.decided_by != actor.hsa_id:
                report.already.append(_already(item))
            continue
        if decision is D.REMOVED:
            directory.end_membership(round_.commission_hsa_id, item.person_hsa_id,
                                     reason=removal_reason(round_, actor), at=now)
            mail_member_ended(session, round_, item, now=now)
        record_decision(session, round_, item, now=now)
        report.decided += 1
    report.closed = close_round(session=session, directory=directory, config=config, round_id=round_id, now=now)
    return report


def _already(item: RecertificationItem) -> str:
    when = item.decided_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") if item.decided_at else ""
    return f"{item.person_name}: redan {DECISION_LABELS[item.decision].lower()} av {item.decided_by_name} {when}"
