"""What the sweep picks up and when (D-16, ARCHITECTURE §4): retries only once their back-off is over, stalled
orders after two minutes, and reminders/escalations of both stages of a private commission."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from catalog.model import RoleName
from kernel.outbox import OutboxMail
from provisioning import decisions, sweeping
from provisioning.models import OrderState
from provisioning.routing import due_at, remind_at
from tests.provisioning.builders import make_order
from tests.provisioning.conftest import NOW
from tests.provisioning.test_ordering import load, order_commission
from tests.world import World

US = dt.timedelta(microseconds=1)
S = OrderState


@pytest.mark.parametrize("state", [S.PROVISIONING, S.SUBMITTED, S.APPROVED, S.WAITING_FOR_COMMISSION])
def test_a_retry_waits_for_its_back_off(sessions, state: OrderState) -> None:  # type: ignore[no-untyped-def]
    retry_at = NOW + dt.timedelta(minutes=5)
    with sessions() as session:
        order_id = make_order(session, state=state, since=NOW - dt.timedelta(hours=1), attempts=1,
                              next_attempt_at=retry_at).id
    with sessions() as session:
        assert order_id not in sweeping.stalled_orders(session, now=retry_at - US)  # not early, although stalled
        assert order_id in sweeping.stalled_orders(session, now=retry_at)
        assert order_id in sweeping.stalled_orders(session, now=retry_at + US)


def test_an_order_without_a_retry_is_stalled_after_two_minutes(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        order_id = make_order(session, state=S.APPROVED, since=NOW).id
    with sessions() as session:
        assert order_id not in sweeping.stalled_orders(session, now=NOW + sweeping.STALLED_AFTER - US)
        assert order_id in sweeping.stalled_orders(session, now=NOW + sweeping.STALLED_AFTER)


@pytest.mark.parametrize("state", [S.AWAITING_CATALOG_ADMIN, S.PROVISIONING_FAILED, S.PROVISIONED, S.REJECTED])
def test_orders_waiting_for_a_person_or_finished_are_never_re_advanced(sessions, state: OrderState) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        order_id = make_order(session, state=state, since=NOW - dt.timedelta(days=30), next_attempt_at=NOW).id
    with sessions() as session:
        later = NOW + dt.timedelta(days=1)
        assert order_id not in sweeping.stalled_orders(session, now=later)


def test_the_second_stage_of_a_private_commission_gets_its_own_deadline_and_is_escalated(  # type: ignore[no-untyped-def]
        world: World, sessions, actor, advance) -> None:
    order_id = order_commission(world, sessions, actor, world.private_manager, world.private_unit.hsa_id,
                                care_agreement_reference="HVS-2024-117")
    advance(order_id)
    first = load(sessions, order_id)
    assert first.state is S.AWAITING_CONTRACT_MANAGER and first.due_at == due_at(NOW)

    def sweep(now: dt.datetime) -> tuple[int, int]:
        with sessions() as session:
            return sweeping.remind_overdue(session=session, directory=world.directory, config=world.config, now=now)

    assert sweep(remind_at(NOW)) == (1, 0)  # the contract manager is reminded on stage 1
    approved = NOW + dt.timedelta(days=3)  # Friday 27 Nov: stage 1 decided after its reminder
    with sessions() as session:
        decisions.decide(session=session, directory=world.directory, config=world.config,
                         actor=actor(world.contract_manager), order_id=order_id, approve=True, reason=None,
                         now=approved)
    second = load(sessions, order_id)
    assert (second.state, second.queue, second.state_since) == (S.AWAITING_CATALOG_ADMIN,
                                                                RoleName.VARDGIVARSERVICE.value, approved)
    assert (second.due_at, second.reminded_at, second.escalated_at) == (due_at(approved), None, None)
    assert second.due_at == dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)  # five business days later, same time
    assert sweep(remind_at(approved) - US) == (0, 0)
    assert sweep(remind_at(approved)) == (1, 0)  # stage 2 is reminded again, on its own clock
    assert sweep(second.due_at - US) == (0, 0)
    assert sweep(second.due_at) == (0, 1)
    assert sweep(second.due_at + dt.timedelta(days=1)) == (0, 0)  # once
    with sessions() as session:
        escalation = session.exec(select(OutboxMail).where(
            OutboxMail.order_id == order_id, OutboxMail.dedupe_key.startswith("escalate"))).one()  # type: ignore[attr-defined]
    assert "vardgivarservice@skane.example" in escalation.recipients
    assert "npo-forvaltning@skane.example" in escalation.recipients


def test_no_reminder_follows_an_escalation(world: World, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    # the sweep was down for a week: its first run after the deadline escalates, and later runs stay quiet
    order_id = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    advance(order_id)

    def sweep(now: dt.datetime) -> tuple[int, int]:
        with sessions() as session:
            return sweeping.remind_overdue(session=session, directory=world.directory, config=world.config, now=now)

    overdue = due_at(NOW) + dt.timedelta(hours=1)
    assert sweep(overdue) == (0, 1)
    assert sweep(overdue + dt.timedelta(minutes=5)) == (0, 0)
    with sessions() as session:
        mails = session.exec(select(OutboxMail.dedupe_key).where(OutboxMail.order_id == order_id)).all()
    assert [key.split(":")[0] for key in mails if key.startswith(("remind", "escalate"))] == ["escalate"]
