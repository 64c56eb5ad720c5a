"""What the periodic sweep looks for: stalled automated orders, and approvals due for a reminder or escalation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from catalog import Directory
from kernel.sqltypes import rowcount, stored_ids
from provisioning import notify
from provisioning.config import ProvisioningConfig
from provisioning.models import Order
from provisioning.routing import remind_at
from provisioning.states import AUTOMATED, AWAITING_PERSON

STALLED_AFTER = dt.timedelta(minutes=2)


def stalled_orders(session: Session, *, now: dt.datetime, limit: int = 500) -> list[int]:
    """Orders in an automated state that nobody moved for a while, or whose retry is due."""
    rows = session.exec(select(Order.id).where(
        col(Order.state).in_([s.value for s in AUTOMATED]),
        or_(col(Order.next_attempt_at) <= now,
            col(Order.next_attempt_at).is_(None) & (col(Order.state_since) <= now - STALLED_AFTER)),
    ).order_by(col(Order.id)).limit(limit)).all()
    return stored_ids(rows)


def remind_overdue(*, session: Session, directory: Directory, config: ProvisioningConfig,
                   now: dt.datetime) -> tuple[int, int]:
    """Remind after 2 and escalate after 5 Swedish business days in a person's queue; (reminded, escalated)."""
    reminded = escalated = 0
    waiting = session.exec(select(Order).where(col(Order.state).in_([s.value for s in AWAITING_PERSON]))).all()
    for order in waiting:
        if order.escalated_at is None and order.due_at is not None and now >= order.due_at:
            if _mark(session, order, "escalated_at", now):
                notify.reminder(session, directory, config, order, escalation=True, now=now)
                escalated += 1
        elif (order.reminded_at is None and order.escalated_at is None and now >= remind_at(order.state_since)
              and _mark(session, order, "reminded_at", now)):  # after an escalation a reminder says less, later
            notify.reminder(session, directory, config, order, escalation=False, now=now)
            reminded += 1
    return reminded, escalated


def _mark(session: Session, order: Order, column: str, now: dt.datetime) -> bool:
    """Set a reminder column once (a concurrent sweep that already did it wins)."""
    done = session.execute(update(Order).where(col(Order.id) == order.id, getattr(Order, column).is_(None),
                                               col(Order.version) == order.version)
                           .values({column: now, "version": order.version + 1})
                           .execution_options(synchronize_session=False))
    session.refresh(order)
    return rowcount(done) == 1
