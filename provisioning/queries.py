"""Read models for the pages and the JSON API: my orders, queues with counts and age, one order in full."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlmodel import Session, select

from catalog.clock import business_days_between
from catalog.model import RoleName
from provisioning.authz import Actor
from provisioning.automation import lines_of, planned_writes
from provisioning.models import AuditEvent, Decision, Order, OrderLine, OrderState
from provisioning.routing import QUEUE_LABELS, REMIND_AFTER_BUSINESS_DAYS
from provisioning.states import AWAITING_PERSON, STATE_LABELS

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
class OrderView:
    """Everything one order page shows, precomputed (templates get no sessions)."""

    order: Order
    state_label: str
    lines: list[OrderLine]
    timeline: list[AuditEvent]
    decisions: list[Decision]
    planned: list[str]
    can_decide: bool
    can_withdraw: bool
    can_retry: bool
    overdue: bool
    age_days: int


def my_orders(session: Session, actor: Actor, *, limit: int = MAX_ROWS) -> list[Order]:
    """Orders the actor placed, or placed for units they manage or order for."""
    units = actor.orderable_units()
    query = select(Order).where(or_(Order.requested_by == actor.hsa_id, Order.on_behalf_of == actor.hsa_id,
                                    Order.unit_hsa_id.in_(units)))  # type: ignore[attr-defined]
    return list(session.exec(query.order_by(Order.submitted_at.desc()).limit(limit)).all())  # type: ignore[attr-defined]


def _queue_filter(role: RoleName, scope: str | None):  # type: ignore[no-untyped-def]
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
            _queue_filter(role, scope), Order.state.in_([s.value for s in AWAITING_PERSON] + [  # type: ignore[union-attr]
                OrderState.PROVISIONING_FAILED.value]))).all()
        label = QUEUE_LABELS[role] + (f" – {scope}" if scope else "")
        out.append(QueueSummary(role, scope, label, len(rows),
                                sum(1 for _s, due in rows if due is not None and due <= now),
                                max((business_days_between(since, now) for since, _d in rows), default=0)))
    return out


def queue_orders(session: Session, actor: Actor, *, role: RoleName | None = None, scope: str | None = None,
                 text: str = "", state: OrderState | None = None, overdue_only: bool = False,
                 now: dt.datetime, limit: int = MAX_ROWS) -> list[Order]:
    """Orders in the actor's queues (one queue when given), filtered by free text, state and overdue."""
    queues = [(r, s) for r, s in actor.queues if role is None or (r is role and (scope is None or s == scope))]
    if not queues:
        return []
    condition = or_(*[_queue_filter(r, s) for r, s in queues])
    query = select(Order).where(condition)
    if state is not None:
        query = query.where(Order.state == state)
    else:
        query = query.where(Order.state.in_([s.value for s in AWAITING_PERSON] + [  # type: ignore[union-attr]
            OrderState.PROVISIONING_FAILED.value]))
    if overdue_only:
        query = query.where(Order.due_at <= now)  # type: ignore[operator]
    needle = text.strip()[:100]
    if needle:
        like = f"%{needle.lower()}%"
        columns = (Order.reference, Order.unit_name, Order.unit_hsa_id, Order.requested_by_name)
        query = query.where(or_(*[func.lower(column).like(like) for column in columns]))
    return list(session.exec(query.order_by(Order.state_since).limit(limit)).all())


def order_view(session: Session, actor: Actor, order: Order, *, now: dt.datetime) -> OrderView:
    """One order with its timeline, lines, decisions and what the actor may do with it."""
    lines = lines_of(session, order)
    timeline = list(session.exec(select(AuditEvent).where(AuditEvent.order_id == order.id).order_by(AuditEvent.id)))
    decisions = list(session.exec(select(Decision).where(Decision.order_id == order.id).order_by(Decision.id)))
    age = business_days_between(order.state_since, now)
    return OrderView(
        order=order, state_label=STATE_LABELS[order.state], lines=lines, timeline=timeline, decisions=decisions,
        planned=planned_writes(order, lines),
        can_decide=actor.may_decide(order, [line.person_hsa_id for line in lines]),
        can_withdraw=actor.may_withdraw(order) and not decisions and order.state in {
            OrderState.SUBMITTED, OrderState.WAITING_FOR_COMMISSION, *AWAITING_PERSON},
        can_retry=actor.may_retry(order),
        overdue=order.state in AWAITING_PERSON and order.due_at is not None and order.due_at <= now,
        age_days=age if order.state in AWAITING_PERSON else 0)


def reminder_threshold_days() -> int:
    """After how many business days the queue is reminded (shown on the dashboard)."""
    return REMIND_AFTER_BUSINESS_DAYS
