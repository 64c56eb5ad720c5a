"""Read models for the pages and the JSON API: my orders, queues with counts and age, one order in full."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from catalog.model import RoleName
from kernel.clock import business_days_between, local_minute
from provisioning.authz import Actor
from provisioning.automation import lines_of, planned_writes
from provisioning.models import AuditEvent, Decision, Order, OrderLine, OrderState
from provisioning.routing import QUEUE_LABELS, REMIND_AFTER_BUSINESS_DAYS
from provisioning.states import AUTOMATED, AWAITING_PERSON, STATE_LABELS, Event

MAX_ROWS = 500


@dataclass(frozen=True)
class QueueSummary:
    """One queue the actor works in."""

    role: RoleName
    scope: str | None
    label: str
    count: int
    overdue: int
    oldest_days: int


@dataclass(frozen=True)
class TimelineEntry:
    """One audit row as the viewer may read it (a directory error's text only for NPÖ-förvaltningen)."""

    at: dt.datetime
    event: str
    to_state: OrderState
    actor: str
    actor_name: str
    reason: str | None
    task_run_id: str | None = None  # the Prefect task run of an automated step


@dataclass(frozen=True)
class OrderView:
    """Everything one order page shows, precomputed (templates get no sessions)."""

    order: Order
    state_label: str
    queue_label: str | None  # who holds the order, when the state label does not already say it
    lines: list[OrderLine]
    timeline: list[TimelineEntry]
    decisions: list[Decision]
    planned: list[str]
    can_decide: bool
    can_withdraw: bool
    can_retry: bool
    can_cancel: bool
    error: str | None  # the latest provisioning problem, in words for the viewer
    overdue: bool
    age_days: int
    waiting: str | None = None  # an automated step waiting for a retry, in words

# States whose label already names who acts: "… (Koncernkontoret)" needs no "hos Koncernkontoret" after it.
_LABEL_NAMES_QUEUE = frozenset({OrderState.AWAITING_CONTRACT_MANAGER, OrderState.PROVISIONING_FAILED})
_ERROR_FOR_OTHERS = {  # what a unit manager reads instead of the directory's own (English, technical) text
    OrderState.PROVISIONING: "Skånekatalogen svarade inte vid senaste försöket. Ett nytt försök görs automatiskt; "
                             "du behöver inte göra något.",
    OrderState.PROVISIONING_FAILED: "Uppläggningen i Skånekatalogen misslyckades. NPÖ-förvaltningen har fått "
                                    "ärendet och åtgärdar det; du får e-post när beställningen är klar.",
}
FAILED_FOR_OTHERS = "Uppläggningen i Skånekatalogen misslyckades; ärendet gick till NPÖ-förvaltningen."


def my_orders(session: Session, actor: Actor, *, limit: int = MAX_ROWS) -> list[Order]:
    """Orders the actor placed, or placed for units they manage or order for."""
    units = actor.orderable_units()
    query = select(Order).where(or_(col(Order.requested_by) == actor.hsa_id, col(Order.on_behalf_of) == actor.hsa_id,
                                    col(Order.unit_hsa_id).in_(units)))
    return list(session.exec(query.order_by(col(Order.submitted_at).desc()).limit(limit)).all())


def _queue_filter(role: RoleName, scope: str | None):
    condition = Order.queue == role.value
    if scope is not None:
        condition = condition & (Order.queue_scope == scope)
    return condition


def queue_summaries(session: Session, actor: Actor, *, now: dt.datetime) -> list[QueueSummary]:
    """Counts, overdue counts and the oldest waiting order per queue of the actor."""
    out = []
    for role, scope in actor.queues:
        if role not in QUEUE_LABELS:
            continue
        rows = session.exec(select(Order.state_since, Order.due_at).where(
            _queue_filter(role, scope), col(Order.state).in_([s.value for s in AWAITING_PERSON] + [
                OrderState.PROVISIONING_FAILED.value]))).all()
        label = QUEUE_LABELS[role] + (f" – {scope}" if scope else "")
        out.append(QueueSummary(role, scope, label, len(rows),
                                sum(1 for _s, due in rows if due is not None and due <= now),
                                max((business_days_between(since, now) for since, _d in rows), default=0)))
    return out


def queue_orders(session: Session, actor: Actor, *, role: RoleName | None = None, scope: str | None = None,
                 text: str = "", state: OrderState | None = None, overdue_only: bool = False,
                 now: dt.datetime, limit: int = MAX_ROWS) -> list[Order]:
    """Orders in the actor's queues (one queue when given), filtered by state, overdue and free text (reference,
    unit, orderer, or a staff member's name or HSA-ID on a membership order)."""
    queues = [(r, s) for r, s in actor.queues if role is None or (r is role and (scope is None or s == scope))]
    if not queues:
        return []
    condition = or_(*[_queue_filter(r, s) for r, s in queues])
    query = select(Order).where(condition)
    if state is not None:
        query = query.where(Order.state == state)
    else:
        query = query.where(col(Order.state).in_([s.value for s in AWAITING_PERSON] + [
            OrderState.PROVISIONING_FAILED.value]))
    if overdue_only:
        query = query.where(col(Order.due_at) <= now)
    needle = text.strip()[:100]
    if needle:
        like = f"%{needle.lower()}%"
        columns = (Order.reference, Order.unit_name, Order.unit_hsa_id, Order.requested_by_name)
        staff = select(OrderLine.id).where(OrderLine.order_id == Order.id, or_(
            func.lower(OrderLine.person_name).like(like), func.lower(OrderLine.person_hsa_id).like(like)))
        query = query.where(or_(*[func.lower(column).like(like) for column in columns], staff.exists()))
    return list(session.exec(query.order_by(col(Order.state_since)).limit(limit)).all())


def queue_label(order: Order) -> str | None:
    """The Swedish name of the queue holding the order, unless its state label already names it."""
    if not order.queue or order.state in _LABEL_NAMES_QUEUE:
        return None
    try:
        return QUEUE_LABELS[RoleName(order.queue)]
    except (ValueError, KeyError):
        return order.queue


def shown_error(actor: Actor, order: Order) -> str | None:
    """The latest provisioning problem: the directory's text and the attempt for NPÖ-förvaltningen, a Swedish
    sentence for everyone else (the text stays in the order and the logs)."""
    if not order.last_error or order.state not in _ERROR_FOR_OTHERS:
        return None
    if actor.is_system_admin:
        return f"Senaste försök: {order.last_error} (försök {order.attempts})"
    return _ERROR_FOR_OTHERS[order.state]


def _timeline(session: Session, actor: Actor, order: Order) -> list[TimelineEntry]:
    admin = actor.is_system_admin
    rows = session.exec(select(AuditEvent).where(col(AuditEvent.order_id) == order.id).order_by(col(AuditEvent.id)))
    return [TimelineEntry(e.at, e.event, e.to_state, e.actor, e.actor_name,
                          FAILED_FOR_OTHERS if e.event == Event.FAIL.value and not admin else e.reason,
                          e.task_run_id) for e in rows]


def waiting_for_directory(order: Order) -> str | None:
    """While an automated step waits for a retry because Skånekatalogen did not answer: when it tries again."""
    if order.state not in AUTOMATED or order.next_attempt_at is None:
        return None
    tried = "1 försök" if order.attempts == 1 else f"{order.attempts} försök"
    return f"Väntar på Skånekatalogen ({tried} utan svar). Nästa försök omkring {local_minute(order.next_attempt_at)}."


def order_view(session: Session, actor: Actor, order: Order, *, now: dt.datetime) -> OrderView:
    """One order with its timeline, lines, decisions and what the actor may do with it."""
    lines = lines_of(session, order)
    decisions = list(session.exec(select(Decision).where(Decision.order_id == order.id).order_by(col(Decision.id))))
    age = business_days_between(order.state_since, now)
    return OrderView(
        order=order, state_label=STATE_LABELS[order.state], queue_label=queue_label(order), lines=lines,
        timeline=_timeline(session, actor, order), decisions=decisions, planned=planned_writes(order, lines),
        can_decide=actor.may_decide(order, [line.person_hsa_id for line in lines]),
        can_withdraw=actor.may_withdraw(order) and not decisions and order.state in {
            OrderState.SUBMITTED, OrderState.WAITING_FOR_COMMISSION, *AWAITING_PERSON},
        can_retry=actor.may_retry(order), can_cancel=actor.may_retry(order), error=shown_error(actor, order),
        overdue=order.state in AWAITING_PERSON and order.due_at is not None and order.due_at <= now,
        age_days=age if order.state in AWAITING_PERSON else 0, waiting=waiting_for_directory(order))


def reminder_threshold_days() -> int:
    """After how many business days the queue is reminded (shown on the dashboard)."""
    return REMIND_AFTER_BUSINESS_DAYS
