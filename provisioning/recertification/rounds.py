"""Commission review, part 2: recertification (behörighetskontroll) of a unit's VoB SJF members: the rounds.

Every ``interval_months`` a round lists the unit's current members. The verksamhetschef, or a person they delegated
the ordering right for the unit to (recertification.delegations: recorded and time-boxed), confirms or removes each
member within ``deadline_business_days`` Swedish business days (deadline and reminders: kernel.review); a removal
ends the membership in the directory at once. Members nobody decided on by the deadline lapse: the flow ends their
membership with a reason. A decision is a conditional UPDATE of the item (pending → decided, exactly once) plus a
review-log row, in the caller's transaction.
"""

from __future__ import annotations

import calendar
import datetime as dt

from sqlalchemy import update
from sqlmodel import Session, col, select

from catalog import Directory
from catalog.model import CareUnit, Commission, Membership
from kernel import outbox
from kernel.clock import local_date
from kernel.hsaid import HsaId
from kernel.review import business_days_left, deadline_after, last_day, reminder_threshold
from kernel.sqltypes import rowcount, stored_id, stored_ids
from provisioning.automation import SYSTEM, SYSTEM_NAME
from provisioning.errors import NotFound
from provisioning.recertification.common import (
    ReviewConfig,
    delegate_addresses,
    insert_once,
    manager_addresses,
    record,
)
from provisioning.recertification.models import (
    ItemDecision,
    RecertificationItem,
    RecertificationRound,
    ReviewEventKind,
    RoundState,
    RoundTrigger,
)

D = ItemDecision
EVENT_OF = {D.CONFIRMED: ReviewEventKind.CONFIRMED, D.REMOVED: ReviewEventKind.REMOVED,
            D.LAPSED: ReviewEventKind.LAPSED, D.ENDED: ReviewEventKind.ENDED}
DECISION_LABELS = {D.PENDING: "Väntar på beslut", D.CONFIRMED: "Bekräftad", D.REMOVED: "Borttagen",
                   D.LAPSED: "Ej bekräftad i tid – borttagen", D.ENDED: "Behörigheten hade redan upphört"}


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (the month's last day when it has no such day)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def lapse_reason(round_: RecertificationRound) -> str:
    """npoEndedReason of a lapse; fixed per round, so that a re-run recognises its own earlier write."""
    return f"Ej bekräftad vid behörighetskontroll {round_.reference} (senast {last_day(round_.deadline)})"


# ---------------------------------------------------------------------- reads
def open_round_of(session: Session, unit_hsa_id: str) -> RecertificationRound | None:
    """The unit's open round, if any."""
    return session.exec(select(RecertificationRound).where(
        RecertificationRound.open_unit == unit_hsa_id)).first()  # HsaIdColumns: the values are normalised


def latest_round_of(session: Session, unit_hsa_id: str) -> RecertificationRound | None:
    """The unit's most recently opened round."""
    return session.exec(select(RecertificationRound).where(
        RecertificationRound.unit_hsa_id == unit_hsa_id)
        .order_by(col(RecertificationRound.opened_at).desc())).first()


def items_of(session: Session, round_id: int) -> list[RecertificationItem]:
    """A round's members, by name."""
    return list(session.exec(select(RecertificationItem).where(RecertificationItem.round_id == round_id)
                             .order_by(col(RecertificationItem.person_name), col(RecertificationItem.id))).all())


def pending_items(session: Session, round_id: int) -> list[int]:
    """IDs of a round's members nobody decided on yet."""
    return stored_ids(session.exec(select(RecertificationItem.id).where(
        RecertificationItem.round_id == round_id, RecertificationItem.decision == D.PENDING)
        .order_by(col(RecertificationItem.id))).all())


def open_rounds(session: Session, *, overdue_at: dt.datetime | None = None) -> list[int]:
    """IDs of open rounds (only those past their deadline at ``overdue_at`` when given)."""
    query = select(RecertificationRound.id).where(RecertificationRound.state == RoundState.OPEN)
    if overdue_at is not None:
        query = query.where(RecertificationRound.deadline <= overdue_at)
    return stored_ids(session.exec(query.order_by(col(RecertificationRound.id))).all())


def current_members(directory: Directory, commission_hsa_id: str, now: dt.datetime) -> list[Membership]:
    """The commission's memberships in force now."""
    return sorted((m for m in directory.memberships(commission_hsa_id) if m.is_valid_at(now)),
                  key=lambda m: m.person_hsa_id)


def _membership(directory: Directory, commission_hsa_id: str, person_hsa_id: str) -> Membership | None:
    return next((m for m in directory.memberships_of(person_hsa_id)
                 if m.commission_hsa_id == HsaId(commission_hsa_id)), None)


# ---------------------------------------------------------------------- opening
def next_due(session: Session, unit_hsa_id: str, commission: Commission, members: list[Membership],
             config: ReviewConfig) -> dt.date | None:
    """The date the unit's next scheduled round is due: an interval after the last round, else after the start."""
    last = latest_round_of(session, unit_hsa_id)
    if last is not None:
        anchor = last.opened_at
    elif commission.validity is not None:
        anchor = commission.validity.start
    elif members:
        anchor = min(m.validity.start for m in members)
    else:
        return None
    return add_months(local_date(anchor), config.interval_months)


def open_due_round(*, session: Session, directory: Directory, config: ReviewConfig, unit_hsa_id: str,
                   commission_hsa_id: str, now: dt.datetime) -> RecertificationRound | None:
    """Open the unit's scheduled round when it is due; None when not due, already open or nobody to check."""
    if open_round_of(session, unit_hsa_id) is not None:
        return None
    commission = directory.require_commission(commission_hsa_id)
    members = current_members(directory, commission_hsa_id, now)
    due = next_due(session, unit_hsa_id, commission, members, config)
    if not members or due is None or local_date(now) < due:
        return None
    return open_round(session, directory, config, directory.require_unit(unit_hsa_id), commission, members, now=now,
                 trigger=RoundTrigger.SCHEDULE, by=SYSTEM, by_name=SYSTEM_NAME)


def open_round(session: Session, directory: Directory, config: ReviewConfig, unit: CareUnit,
               commission: Commission, members: list[Membership], *, now: dt.datetime, trigger: RoundTrigger,
               by: str, by_name: str) -> RecertificationRound | None:
    """List ``members`` on a new open round and mail the reviewers; None when the unit has an open round."""
    round_id = insert_once(
        session, RecertificationRound, "open_unit", unit_hsa_id=unit.hsa_id, unit_name=unit.name,
        commission_hsa_id=commission.hsa_id, manager_hsa_id=unit.manager_hsa_id, trigger=trigger, opened_by=by,
        opened_by_name=by_name, opened_at=now, deadline=deadline_after(now, config.deadline_business_days),
        state=RoundState.OPEN, open_unit=unit.hsa_id)
    if round_id is None:
        return None  # another run opened the unit's round first
    round_ = session.get(RecertificationRound, round_id)
    assert round_ is not None
    for membership in members:
        person = directory.find_person(membership.person_hsa_id)
        session.add(RecertificationItem(
            round_id=stored_id(round_), person_hsa_id=membership.person_hsa_id,
            person_name=person.name if person else membership.person_hsa_id, person_mail=person.mail if person else
            None, valid_from=membership.validity.start, valid_to=membership.validity.end, decision=D.PENDING))
    session.flush()
    record(session, key=f"round-opened:{round_.id}", kind=ReviewEventKind.ROUND_OPENED, now=now,
           unit_hsa_id=unit.hsa_id, commission_hsa_id=commission.hsa_id, round_id=round_.id, actor=by,
           actor_name=by_name, detail=f"{len(members)} medarbetare att kontrollera senast "
                                      f"{last_day(round_.deadline)}")
    _mail_reviewers(session, directory, config, round_, unit, now=now, key=f"recert-opened:{round_.id}",
                    reminder=False)
    return round_


def _mail_reviewers(session: Session, directory: Directory, config: ReviewConfig, round_: RecertificationRound,
                    unit: CareUnit, *, now: dt.datetime, key: str, reminder: bool) -> None:
    items = items_of(session, stored_id(round_))
    pending = [i.person_name for i in items if i.decision is D.PENDING]
    outbox.enqueue(session, template="recert_request",
                   to=manager_addresses(directory, unit) + delegate_addresses(session, directory, unit, now=now),
                   context={"unit_name": round_.unit_name, "reference": round_.reference, "reminder": reminder,
                            "scheduled": round_.trigger is RoundTrigger.SCHEDULE,
                            "last_day": last_day(round_.deadline).isoformat(), "pending": pending,
                            "total": len(items), "days_left": business_days_left(now, round_.deadline),
                            "link": config.link(round_.id)},
                   dedupe_key=key, now=now)


# ---------------------------------------------------------------------- reminders
def remind(*, session: Session, directory: Directory, config: ReviewConfig, round_id: int,
           now: dt.datetime) -> bool:
    """Remind the reviewers when few business days are left and members wait; True when a reminder was written."""
    round_ = session.get(RecertificationRound, round_id)
    if round_ is None or round_.state is RoundState.CLOSED or now >= round_.deadline:
        return False
    if local_date(now) == local_date(round_.opened_at):
        return False  # the opening mail was today
    left = business_days_left(now, round_.deadline)
    threshold = reminder_threshold(left, config.reminder_business_days)
    waiting = len(pending_items(session, round_id))
    if threshold is None or not waiting:
        return False
    row = record(session, key=f"round-reminder:{round_id}:{threshold}", kind=ReviewEventKind.REMINDER, now=now,
                 unit_hsa_id=round_.unit_hsa_id, commission_hsa_id=round_.commission_hsa_id, round_id=round_id,
                 detail=f"{waiting} medarbetare väntar på beslut; {left} arbetsdagar kvar")
    if row is None:
        return False
    unit = directory.require_unit(round_.unit_hsa_id)
    _mail_reviewers(session, directory, config, round_, unit, now=now, key=row.key, reminder=True)
    return True


# ---------------------------------------------------------------------- settling items: decide, lapse, close
def settle(session: Session, item: RecertificationItem, decision: ItemDecision, *, by: str, by_name: str,
           now: dt.datetime, reason: str | None, on_behalf_of: str | None = None) -> bool:
    """Decide a pending item (a conditional UPDATE: exactly one decision wins); True when this call decided."""
    done = session.execute(update(RecertificationItem).where(
        col(RecertificationItem.id) == item.id, col(RecertificationItem.decision) == D.PENDING).values(
        decision=decision, decided_by=by, decided_by_name=by_name, decided_at=now, reason=reason,
        on_behalf_of=on_behalf_of).execution_options(synchronize_session=False))
    session.refresh(item)
    return rowcount(done) == 1


def record_decision(session: Session, round_: RecertificationRound, item: RecertificationItem,
                    *, now: dt.datetime) -> None:
    """The review-log row of a settled item."""
    detail = f"{item.person_name}: {DECISION_LABELS[item.decision]}" + (f" – {item.reason}" if item.reason else "")
    record(session, key=f"item-{item.decision.value}:{item.id}", kind=EVENT_OF[item.decision], now=now,
           unit_hsa_id=round_.unit_hsa_id, commission_hsa_id=round_.commission_hsa_id,
           person_hsa_id=item.person_hsa_id, round_id=round_.id, actor=item.decided_by or SYSTEM,
           actor_name=item.decided_by_name or SYSTEM_NAME, detail=detail)


def mail_member_ended(session: Session, round_: RecertificationRound, item: RecertificationItem, *,
                      now: dt.datetime) -> None:
    """Tell a member their access was removed (or lapsed) in the round."""
    outbox.enqueue(session, template="recert_ended_member", to=[item.person_mail],
                   context={"person_name": item.person_name, "unit_name": round_.unit_name,
                            "lapsed": item.decision is D.LAPSED, "decided_by": item.decided_by_name,
                            "reference": round_.reference, "last_day": last_day(round_.deadline).isoformat()},
                   dedupe_key=f"recert-ended:{item.id}", now=now)


def lapse_item(*, session: Session, directory: Directory, item_id: int, now: dt.datetime) -> ItemDecision:
    """End the membership of a member nobody decided on by the deadline (idempotent); the item's decision."""
    item = session.get(RecertificationItem, item_id)
    if item is None:
        raise NotFound(f"Raden {item_id} finns inte.")
    round_ = session.get(RecertificationRound, item.round_id)
    assert round_ is not None
    if item.decision is not D.PENDING or now < round_.deadline:
        return item.decision
    reason = lapse_reason(round_)
    membership = _membership(directory, round_.commission_hsa_id, item.person_hsa_id)
    running = membership is not None and (membership.validity.end is None or membership.validity.end > now)
    ours = membership is not None and membership.ended_reason == reason  # a killed run's own write
    decision = D.LAPSED if running or ours else D.ENDED
    note = "Ej bekräftad före tidsgränsen" if decision is D.LAPSED else "Behörigheten hade upphört före tidsgränsen"
    if not settle(session, item, decision, by=SYSTEM, by_name=SYSTEM_NAME, now=now, reason=note):
        return item.decision  # a concurrent run settled it
    if running:
        directory.end_membership(round_.commission_hsa_id, item.person_hsa_id, reason=reason, at=now)
    record_decision(session, round_, item, now=now)
    if decision is D.LAPSED:
        mail_member_ended(session, round_, item, now=now)
    return decision


def close_round(*, session: Session, directory: Directory, config: ReviewConfig, round_id: int,
                now: dt.datetime) -> bool:
    """Close a round whose members are all decided, with a summary to the reviewers; True when it closed now."""
    if pending_items(session, round_id):
        return False
    done = session.execute(update(RecertificationRound).where(
        col(RecertificationRound.id) == round_id, col(RecertificationRound.state) == RoundState.OPEN).values(
        state=RoundState.CLOSED, closed_at=now, open_unit=None).execution_options(synchronize_session=False))
    if rowcount(done) != 1:
        return False
    round_ = session.get(RecertificationRound, round_id)
    assert round_ is not None
    session.refresh(round_)
    counts = decision_counts(items_of(session, round_id))
    summary = ", ".join(f"{DECISION_LABELS[d].lower()}: {n}" for d, n in counts.items() if n)
    record(session, key=f"round-closed:{round_id}", kind=ReviewEventKind.ROUND_CLOSED, now=now,
           unit_hsa_id=round_.unit_hsa_id, commission_hsa_id=round_.commission_hsa_id, round_id=round_id,
           detail=summary)
    unit = directory.unit(round_.unit_hsa_id)
    to = (manager_addresses(directory, unit) + delegate_addresses(session, directory, unit, now=now)) if unit else []
    outbox.enqueue(session, template="recert_closed", to=to, dedupe_key=f"recert-closed:{round_id}", now=now,
                   context={"unit_name": round_.unit_name, "reference": round_.reference,
                            "counts": [(DECISION_LABELS[d], n) for d, n in counts.items() if n],
                            "link": config.link(round_id)})
    return True


def decision_counts(items: list[RecertificationItem]) -> dict[ItemDecision, int]:
    """How many items have each decision (every decision present, in a fixed order)."""
    return {d: sum(1 for i in items if i.decision is d) for d in D}
