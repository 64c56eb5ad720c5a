"""The optimistic lock of `states.transition` on a real database (SQLite, and PostgreSQL when configured): an order
object read before someone else moved the order cannot move it again, and leaves no trace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlmodel import Session, select

from provisioning.models import AuditEvent, Order, OrderKind, OrderState
from provisioning.states import Event, InvalidTransition, transition
from tests.provisioning.builders import make_order
from tests.provisioning.conftest import NOW

Sessions = Callable[[], AbstractContextManager[Session]]


def audit_of(session: Session, order_id: int) -> list[tuple[str, str | None, str]]:
    rows = session.exec(select(AuditEvent).where(AuditEvent.order_id == order_id).order_by(AuditEvent.id)).all()
    return [(row.actor, row.from_state, row.to_state) for row in rows]


@pytest.mark.parametrize("event", [Event.APPROVE, Event.REJECT])
def test_a_stale_order_cannot_be_moved_after_someone_else_approved_it(sessions: Sessions, event: Event) -> None:
    with sessions() as session:
        order_id = make_order(session, state=OrderState.AWAITING_CATALOG_ADMIN, since=NOW,
                              queue="skaneforvaltningen").id
    with sessions() as session:  # the second approver opens the order ...
        stale = session.get(Order, order_id)
        assert stale is not None and stale.version == 1
    with sessions() as session:  # ... the first one approves it meanwhile ...
        fresh = session.get(Order, order_id)
        assert fresh is not None
        transition(session, fresh, Event.APPROVE, actor="SE2321000255-SKF", actor_name="Karin", now=NOW)
    later = NOW + dt.timedelta(minutes=1)
    with sessions() as session, pytest.raises(InvalidTransition,
                                              match=r"NPO-T-\d+ was changed concurrently") as caught:
        session.add(stale)  # ... and the second decides on what they saw
        transition(session, stale, event, actor="SE2321000255-SKF2", actor_name="Kristina", now=later,
                   reason="för sent", due_at=later)
    assert (caught.value.kind, caught.value.state, caught.value.event) == (
        OrderKind.COMMISSION, OrderState.AWAITING_CATALOG_ADMIN, event)  # what the loser tried, from where
    with sessions() as session:
        after = session.get(Order, order_id)
        assert after is not None
        assert (after.state, after.version, after.state_since, after.due_at) == (OrderState.APPROVED, 2, NOW, None)
        assert audit_of(session, order_id) == [
            ("SE2321000255-SKF", OrderState.AWAITING_CATALOG_ADMIN, OrderState.APPROVED)]  # no row of the loser


def test_a_current_order_moves_writes_its_audit_row_and_bumps_the_version(sessions: Sessions) -> None:
    with sessions() as session:
        order = make_order(session, state=OrderState.AWAITING_CATALOG_ADMIN, since=NOW, queue="skaneforvaltningen")
        target = transition(session, order, Event.REJECT, actor="SE2321000255-SKF", actor_name="Karin",
                            now=NOW + dt.timedelta(hours=1), reason="Saknar vårdavtal", queue=None)
        assert target is OrderState.REJECTED
        assert (order.state, order.version, order.queue) == (OrderState.REJECTED, 2, None)  # refreshed in place
        assert order.state_since == NOW + dt.timedelta(hours=1)
        [row] = session.exec(select(AuditEvent).where(AuditEvent.order_id == order.id)).all()
        assert (row.event, row.reason, row.actor_name) == ("reject", "Saknar vårdavtal", "Karin")


def test_an_illegal_move_writes_nothing(sessions: Sessions) -> None:
    with sessions() as session:
        order = make_order(session, state=OrderState.PROVISIONED, since=NOW)
        with pytest.raises(InvalidTransition, match="commission order in state provisioned does not accept approve"):
            transition(session, order, Event.APPROVE, actor="x", actor_name="x", now=NOW)
        assert audit_of(session, order.id) == [] and order.version == 1


def test_moving_one_order_leaves_every_other_order_alone(sessions: Sessions) -> None:
    with sessions() as session:  # both at version 1: the UPDATE must name the order, not only the version
        moved = make_order(session, state=OrderState.AWAITING_CATALOG_ADMIN, since=NOW)
        other = make_order(session, state=OrderState.AWAITING_CATALOG_ADMIN, since=NOW)
        transition(session, moved, Event.APPROVE, actor="SE2321000255-SKF", actor_name="Karin",
                   now=NOW + dt.timedelta(hours=1))
        session.expire_all()
        untouched = session.get(Order, other.id)
        assert untouched is not None
        assert (untouched.state, untouched.version, untouched.state_since) == (
            OrderState.AWAITING_CATALOG_ADMIN, 1, NOW)
