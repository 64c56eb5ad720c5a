"""After a failed provisioning: retry starts afresh, NPÖ-förvaltningen may cancel with a reason (audited, the orderer
told), and the people who ordered read Swedish sentences instead of the directory's error text."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from sqlmodel import select

from catalog import Directory
from kernel.outbox import OutboxMail
from provisioning import automation, decisions, queries
from provisioning.errors import Conflict, InvalidInput, NotAllowed
from provisioning.models import AuditEvent, Order, OrderState
from provisioning.ordering import open_commission_order
from tests.conftest import free_port
from tests.provisioning.conftest import NOW
from tests.provisioning.test_ordering import COMMISSION_START, decide, load, order_commission, order_members
from tests.world import World


def fail(world: World, sessions, order_id: int) -> Order:  # type: ignore[no-untyped-def]
    """Drive an approved order into provisioning_failed with the directory down (max_attempts is 3)."""
    down = Directory(replace(world.directory.config, url=f"ldap://127.0.0.1:{free_port()}"), cache_seconds=0)
    for attempt in range(1, 5):
        with sessions() as session:
            automation.advance_one(session=session, directory=down, config=world.config, order_id=order_id,
                                   now=NOW + dt.timedelta(minutes=attempt), information="")
    order = load(sessions, order_id)
    assert order.state is OrderState.PROVISIONING_FAILED
    return order


def failed_commission_order(world: World, sessions, actor, advance) -> int:  # type: ignore[no-untyped-def]
    order_id = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    advance(order_id)
    decide(world, sessions, actor, world.skf, order_id)
    fail(world, sessions, order_id)
    return order_id


def cancel(world: World, sessions, actor, who, order_id: int, reason: str | None) -> Order:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return decisions.cancel(session=session, directory=world.directory, config=world.config, actor=actor(who),
                                order_id=order_id, reason=reason, now=NOW + dt.timedelta(hours=1))


def view(sessions, actor, who, order_id: int) -> queries.OrderView:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return queries.order_view(session, actor(who), session.get(Order, order_id), now=NOW)


def test_retry_forgets_the_last_error_but_the_timeline_keeps_it(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = failed_commission_order(world, sessions, actor, advance)
    assert "cannot be reached" in view(sessions, actor, world.sysadmin, order_id).error
    with sessions() as session:
        decisions.retry(session=session, actor=actor(world.sysadmin), order_id=order_id, now=NOW)
    order = load(sessions, order_id)
    assert order.state is OrderState.PROVISIONING and order.last_error is None and order.attempts == 0
    seen = view(sessions, actor, world.sysadmin, order_id)
    assert seen.error is None  # no "(försök 0)" with the old text
    assert any(e.event == "fail" and "cannot be reached" in (e.reason or "") for e in seen.timeline)


def test_a_failed_order_is_cancelled_with_a_reason_audited_and_the_orderer_is_told(world, sessions, actor,  # type: ignore[no-untyped-def]
                                                                                   advance) -> None:
    order_id = failed_commission_order(world, sessions, actor, advance)
    assert view(sessions, actor, world.sysadmin, order_id).can_cancel
    assert not view(sessions, actor, world.public_manager, order_id).can_cancel
    with pytest.raises(InvalidInput, match="Ange varför") as caught:
        cancel(world, sessions, actor, world.sysadmin, order_id, "  ")
    assert caught.value.field == "reason"
    with pytest.raises(InvalidInput, match="styrtecken"):
        cancel(world, sessions, actor, world.sysadmin, order_id, "Enheten\x00 läggs ned")
    with pytest.raises(NotAllowed, match="^Bara NPÖ-förvaltningen kan avbryta en misslyckad uppläggning.$"):
        cancel(world, sessions, actor, world.skf, order_id, "Enheten läggs ned")
    cancel(world, sessions, actor, world.sysadmin, order_id, "Enheten läggs ned vid årsskiftet.")
    order = load(sessions, order_id)
    assert order.state is OrderState.CANCELLED and order.queue is None
    with sessions() as session:
        audit = session.exec(select(AuditEvent).where(AuditEvent.order_id == order_id,
                                                      AuditEvent.event == "cancel")).one()
        mail = session.exec(select(OutboxMail).where(OutboxMail.order_id == order_id,
                                                     OutboxMail.template == "order_cancelled")).one()
        assert open_commission_order(session, world.public_unit.hsa_id) is None  # the unit may order anew
    assert (audit.from_state, audit.to_state, audit.actor) == (OrderState.PROVISIONING_FAILED, OrderState.CANCELLED,
                                                               world.sysadmin.hsa_id)
    assert audit.reason == "Enheten läggs ned vid årsskiftet."
    assert "maria@vard.example" in mail.recipients and "Enheten läggs ned vid årsskiftet." in mail.text_body
    assert "avbruten" in mail.subject
    with pytest.raises(Conflict, match="kan inte avbrytas"):
        cancel(world, sessions, actor, world.sysadmin, order_id, "En gång till")


def test_membership_orders_waiting_for_a_cancelled_commission_order_are_rejected(world, sessions, actor,  # type: ignore[no-untyped-def]
                                                                                  advance) -> None:
    commission_id = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    members_id = order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                               world.public_staff[:1], valid_from=str(COMMISSION_START))
    advance(members_id)
    advance(commission_id)
    decide(world, sessions, actor, world.skf, commission_id)
    fail(world, sessions, commission_id)
    assert advance(members_id) == ["waiting_for_commission"]  # a failed commission may still be retried
    cancel(world, sessions, actor, world.sysadmin, commission_id, "Enheten läggs ned.")
    assert advance(members_id) == ["rejected"]


def test_unit_managers_read_a_swedish_sentence_not_the_directorys_error(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = failed_commission_order(world, sessions, actor, advance)
    manager = view(sessions, actor, world.public_manager, order_id)
    assert manager.error is not None and "NPÖ-förvaltningen har fått ärendet" in manager.error
    assert not any("cannot be reached" in (e.reason or "") or "ldap://" in (e.reason or "") for e in manager.timeline)
    assert "cannot be reached" in view(sessions, actor, world.sysadmin, order_id).error


def test_the_status_names_who_holds_the_order_once(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    private = order_commission(world, sessions, actor, world.private_manager, world.private_unit.hsa_id,
                               care_agreement_reference="HVS-1")
    advance(private)
    first = view(sessions, actor, world.private_manager, private)
    assert first.state_label == "Väntar på avtalsförvaltaren (Koncernkontoret)" and first.queue_label is None
    decide(world, sessions, actor, world.contract_manager, private)
    second = view(sessions, actor, world.private_manager, private)
    assert second.state_label == "Väntar på katalogförvaltningen" and second.queue_label == "Vårdgivarservice"
