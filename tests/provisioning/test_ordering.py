"""Ordering end to end at the service layer: real slapd, real database, the flows' steps run as the flow does."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace

import pytest
from sqlmodel import select

from catalog import Directory
from catalog.model import VOB_PURPOSE, RoleName
from kernel.outbox import OutboxMail
from provisioning import decisions, queries, sweeping
from provisioning.errors import Conflict, InvalidInput, InvalidInputs, NotAllowed, NotFound
from provisioning.inputs import parse_commission_order, parse_membership_order
from provisioning.models import AuditEvent, Decision, ImmutableOrder, Order, OrderState
from provisioning.ordering import submit_commission_order, submit_membership_order
from provisioning.recertification import delegations
from tests.conftest import free_port
from tests.provisioning.conftest import NOW
from tests.world import World

TODAY = NOW.date()
COMMISSION_START = TODAY + dt.timedelta(days=7)  # what commission_form asks for


def commission_form(unit: str, **overrides: str) -> dict[str, str]:
    form = {"unit_hsa_id": unit, "justification": "Vi behöver NPÖ för patienter från andra regioner.",
            "contact_name": "Maria Chef", "contact_phone": "040-123 45 67", "contact_email": "maria@vard.example",
            "requested_start": str(COMMISSION_START), "care_agreement_reference": ""}
    return {**form, **overrides}


def order_commission(world: World, sessions, actor, manager, unit: str, **overrides: str) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session:
        order = submit_commission_order(session=session, directory=world.directory, config=world.config,
                                        actor=actor(manager), data=parse_commission_order(
                                            commission_form(unit, **overrides), today=TODAY), now=NOW)
        return order.id


def order_members(world: World, sessions, actor, manager, unit: str, people, **extra: object) -> int:  # type: ignore[no-untyped-def]
    raw = {"unit_hsa_id": unit, "action": "add", "person_hsa_ids": [p.hsa_id for p in people],
           "valid_from": str(TODAY), "valid_to": str(TODAY + dt.timedelta(days=365)), **extra}
    with sessions() as session:
        order = submit_membership_order(session=session, directory=world.directory, config=world.config,
                                        actor=actor(manager), data=parse_membership_order(raw, today=TODAY), now=NOW)
        return order.id


def decide(world: World, sessions, actor, who, order_id: int, approve: bool = True, reason: str | None = None,  # type: ignore[no-untyped-def]
           **kwargs: object) -> Order:
    with sessions() as session:
        return decisions.decide(session=session, directory=world.directory, config=world.config, actor=actor(who),
                                order_id=order_id, approve=approve, reason=reason, now=NOW, **kwargs)


def load(sessions, order_id: int) -> Order:  # type: ignore[no-untyped-def]
    with sessions() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order


def outbox_templates(sessions, order_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return [m.template for m in session.exec(select(OutboxMail).where(OutboxMail.order_id == order_id)
                                                 .order_by(OutboxMail.id))]


def test_public_commission_order_goes_to_skaneforvaltningen_then_into_the_directory(world, sessions, actor,  # type: ignore[no-untyped-def]
                                                                                      advance) -> None:
    order_id = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    assert advance(order_id) == ["awaiting_catalog_admin"]
    order = load(sessions, order_id)
    assert (order.queue, order.queue_scope) == (RoleName.SKANEFORVALTNINGEN.value, None)
    assert order.due_at is not None and order.due_at > NOW
    decide(world, sessions, actor, world.skf, order_id)
    assert advance(order_id) == ["provisioning", "provisioned"]
    order = load(sessions, order_id)
    commission = world.directory.find_commission(order.commission_hsa_id)
    assert commission is not None and commission.purpose == VOB_PURPOSE and commission.order_reference == \
        order.reference and commission.unit_hsa_id == world.public_unit.hsa_id
    assert outbox_templates(sessions, order_id) == ["order_to_queue", "decision_to_orderer", "provisioned_to_orderer"]
    with sessions() as session:
        audit = session.exec(select(AuditEvent).where(AuditEvent.order_id == order_id).order_by(AuditEvent.id)).all()
    assert [(a.from_state, a.to_state, a.actor) for a in audit] == [
        (None, OrderState.SUBMITTED, world.public_manager.hsa_id),
        (OrderState.SUBMITTED, OrderState.AWAITING_CATALOG_ADMIN, "system"),
        (OrderState.AWAITING_CATALOG_ADMIN, OrderState.APPROVED, world.skf.hsa_id),
        (OrderState.APPROVED, OrderState.PROVISIONING, "system"),
        (OrderState.PROVISIONING, OrderState.PROVISIONED, "system")]


def test_private_commission_order_needs_the_contract_manager_then_vardgivarservice(world, sessions, actor,  # type: ignore[no-untyped-def]
                                                                                  advance) -> None:
    with pytest.raises(InvalidInputs) as caught:  # a private unit must name its care agreement
        order_commission(world, sessions, actor, world.private_manager, world.private_unit.hsa_id)
    assert "vårdavtalets referens" in caught.value.errors["care_agreement_reference"]
    order_id = order_commission(world, sessions, actor, world.private_manager, world.private_unit.hsa_id,
                                care_agreement_reference="HVS-2024-117")
    assert advance(order_id) == ["awaiting_contract_manager"]
    with pytest.raises(NotAllowed, match="inte i någon av dina köer"):  # Vårdgivarservice acts second
        decide(world, sessions, actor, world.vgs, order_id)
    decide(world, sessions, actor, world.contract_manager, order_id)
    order = load(sessions, order_id)
    assert order.state is OrderState.AWAITING_CATALOG_ADMIN and order.queue == RoleName.VARDGIVARSERVICE.value
    decide(world, sessions, actor, world.vgs, order_id)
    assert advance(order_id)[-1] == "provisioned"
    assert outbox_templates(sessions, order_id) == ["order_to_queue", "decision_to_orderer", "order_to_queue",
                                                    "decision_to_orderer", "provisioned_to_orderer"]


def test_membership_orders_add_staff_with_validity(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    commission, _ = world.directory.ensure_commission(world.private_unit.hsa_id)
    order_id = order_members(world, sessions, actor, world.private_manager, world.private_unit.hsa_id,
                             world.private_staff[:2])
    assert advance(order_id) == ["awaiting_user_admin"]
    assert load(sessions, order_id).queue == RoleName.IT_KUNDTJANST_PRIVATA.value
    decide(world, sessions, actor, world.itkp, order_id)
    advance(order_id)
    held = {m.person_hsa_id: m for m in world.directory.memberships(commission.hsa_id)}
    assert set(held) == {p.hsa_id for p in world.private_staff[:2]}
    member = held[world.private_staff[0].hsa_id]
    assert member.validity.start.date() <= TODAY and member.validity.end is not None
    assert world.directory.commissions_of(world.private_staff[0].hsa_id, NOW + dt.timedelta(days=1))
    assert outbox_templates(sessions, order_id).count("access_ready") == 2


def test_public_membership_order_goes_to_the_units_catalog_administrator(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    world.directory.ensure_commission(world.public_unit.hsa_id)
    order_id = order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                             world.public_staff[:1])
    advance(order_id)
    order = load(sessions, order_id)
    assert (order.queue, order.queue_scope) == (RoleName.UNIT_CATALOG_ADMIN.value, world.public_unit.hsa_id)
    with pytest.raises(NotFound, match="finns inte eller är inte synlig för dig"):
        decide(world, sessions, actor, world.itkp, order_id)  # the private queue has no say, nor sees the order
    decide(world, sessions, actor, world.public_admin, order_id)
    assert advance(order_id)[-1] == "provisioned"


def test_membership_order_waits_for_the_commission_and_moves_on_when_it_is_provisioned(world, sessions, actor,  # type: ignore[no-untyped-def]
                                                                                       advance) -> None:
    commission_id = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    members_id = order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                               world.public_staff[:2], valid_from=str(COMMISSION_START))
    assert advance(members_id) == ["waiting_for_commission", "waiting_for_commission"]
    assert advance(members_id) == ["waiting_for_commission"]  # nothing happens while the commission is on order
    advance(commission_id)
    decide(world, sessions, actor, world.skf, commission_id)
    states = advance(commission_id)  # provisioning the commission lets the waiting order move on
    assert states[-1] == "awaiting_user_admin"
    waiting = load(sessions, members_id)
    assert waiting.state is OrderState.AWAITING_USER_ADMIN
    assert waiting.commission_hsa_id == load(sessions, commission_id).commission_hsa_id


def test_a_waiting_membership_order_is_rejected_when_the_commission_is(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    commission_id = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    members_id = order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                               world.public_staff[:1], valid_from=str(COMMISSION_START))
    advance(commission_id)
    advance(members_id)
    decide(world, sessions, actor, world.skf, commission_id, approve=False, reason="Enheten ska läggas ned.")
    assert advance(members_id) == ["rejected"]


def test_who_may_order_for_a_unit(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotAllowed, match="delegering"):  # a nurse is no manager
        order_commission(world, sessions, actor, world.public_staff[0], world.public_unit.hsa_id)
    with pytest.raises(InvalidInputs) as caught:  # a manager of another unit may not order for this one
        order_commission(world, sessions, actor, world.private_manager, world.public_unit.hsa_id)
    assert "verksamhetschef" in caught.value.errors["unit_hsa_id"]
    with pytest.raises(InvalidInputs, match="Du kan bara beställa för vårdenheter där du är verksamhetschef"):
        order_commission(world, sessions, actor, world.private_manager, world.public_unit.hsa_id)
    with sessions() as session:
        delegations.grant(session=session, directory=world.directory, actor=actor(world.public_manager),
                          unit_hsa_id=world.public_unit.hsa_id, delegate_hsa_id=world.public_staff[0].hsa_id,
                          valid_to=TODAY + dt.timedelta(days=30), now=NOW - dt.timedelta(hours=1))
    order_id = order_commission(world, sessions, actor, world.public_staff[0], world.public_unit.hsa_id)
    order = load(sessions, order_id)
    assert order.requested_by == world.public_staff[0].hsa_id and order.on_behalf_of == world.public_manager.hsa_id


def test_delegation_rules(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    grant = {"unit_hsa_id": world.public_unit.hsa_id, "now": NOW}
    with sessions() as session, pytest.raises(NotAllowed, match="Bara enhetens verksamhetschef kan delegera"):
        delegations.grant(session=session, directory=world.directory, actor=actor(world.public_staff[0]),
                          delegate_hsa_id=world.public_staff[1].hsa_id, valid_to=TODAY, **grant)
    for delegate, valid_to, field_name in ((world.public_manager.hsa_id, TODAY, "delegate_hsa_id"),
                                           ("SE2321000255-Å", TODAY, "delegate_hsa_id"),
                                           (world.public_staff[1].hsa_id, None, "valid_to"),
                                           (world.public_staff[1].hsa_id, TODAY.replace(year=TODAY.year + 2),
                                            "valid_to")):
        with sessions() as session, pytest.raises(InvalidInputs) as caught:
            delegations.grant(session=session, directory=world.directory, actor=actor(world.public_manager),
                              delegate_hsa_id=delegate, valid_to=valid_to, **grant)
        assert field_name in caught.value.errors
    with sessions() as session:
        granted = delegations.grant(session=session, directory=world.directory, actor=actor(world.public_manager),
                                    delegate_hsa_id=world.public_staff[1].hsa_id, valid_to=TODAY, **grant)
    assert world.public_unit.hsa_id in actor(world.public_staff[1]).orderable_units()
    with sessions() as session:
        delegations.revoke(session=session, actor=actor(world.public_manager), delegation_id=granted.id, now=NOW)
    assert actor(world.public_staff[1]).orderable_units() == []


def test_nobody_decides_their_own_order(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    world.directory.ensure_commission(world.public_unit.hsa_id)
    with sessions() as session:  # the unit's catalog administrator gets the ordering right too
        delegations.grant(session=session, directory=world.directory, actor=actor(world.public_manager),
                          unit_hsa_id=world.public_unit.hsa_id, delegate_hsa_id=world.public_admin.hsa_id,
                          valid_to=TODAY + dt.timedelta(days=3), now=NOW - dt.timedelta(hours=1))
    order_id = order_members(world, sessions, actor, world.public_admin, world.public_unit.hsa_id,
                             world.public_staff[:1])
    advance(order_id)
    with pytest.raises(NotAllowed, match="själv"):
        decide(world, sessions, actor, world.public_admin, order_id)


def test_rejecting_needs_a_reason_and_tells_the_orderer(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    advance(order_id)
    with pytest.raises(InvalidInput, match="motivering"):
        decide(world, sessions, actor, world.skf, order_id, approve=False, reason="  ")
    with pytest.raises(InvalidInput, match="högst 1000"):
        decide(world, sessions, actor, world.skf, order_id, approve=False, reason="x" * 1001)
    decide(world, sessions, actor, world.skf, order_id, approve=False, reason="Fel enhet <script>")
    order = load(sessions, order_id)
    assert order.state is OrderState.REJECTED and order.queue is None
    with sessions() as session:
        mail = session.exec(select(OutboxMail).where(OutboxMail.template == "decision_to_orderer",
                                                     OutboxMail.order_id == order_id)).one()
    assert "Fel enhet <script>" in mail.text_body and "&lt;script&gt;" in mail.html_body
    assert "maria@vard.example" in mail.recipients


def test_orders_are_immutable_after_submission(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    order_id = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    with pytest.raises(ImmutableOrder, match="justification"), sessions() as session:
        order = session.get(Order, order_id)
        order.justification = "ändrad i efterhand"
        session.flush()
    assert load(sessions, order_id).justification.startswith("Vi behöver")


def test_withdraw_only_before_a_decision(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    first = order_commission(world, sessions, actor, world.private_manager, world.private_unit.hsa_id,
                             care_agreement_reference="HVS-1")
    advance(first)
    with sessions() as session, pytest.raises(NotAllowed, match="Bara beställaren eller enhetens verksamhetschef"):
        decisions.withdraw(session=session, actor=actor(world.vgs), order_id=first, now=NOW)
    decide(world, sessions, actor, world.contract_manager, first)
    with sessions() as session, pytest.raises(Conflict, match="redan beslutats"):
        decisions.withdraw(session=session, actor=actor(world.private_manager), order_id=first, now=NOW)
    second = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    with sessions() as session:
        decisions.withdraw(session=session, actor=actor(world.public_manager), order_id=second, now=NOW)
    assert load(sessions, second).state is OrderState.WITHDRAWN


def test_ldap_down_while_provisioning_waits_then_completes(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    advance(order_id)
    decide(world, sessions, actor, world.skf, order_id)
    down = Directory(replace(world.directory.config, url=f"ldap://127.0.0.1:{free_port()}"), cache_seconds=0)
    from provisioning import automation

    def step(directory: Directory, now: dt.datetime):  # type: ignore[no-untyped-def]
        with sessions() as session:
            return automation.advance_one(session=session, directory=directory, config=world.config,
                                          order_id=order_id, now=now, information="")

    assert step(down, NOW).state is OrderState.PROVISIONING  # APPROVED → PROVISIONING needs no LDAP
    result = step(down, NOW)
    order = load(sessions, order_id)
    assert result.note == "retry later" and order.state is OrderState.PROVISIONING and order.attempts == 1
    assert "cannot be reached" in order.last_error and order.next_attempt_at == NOW + dt.timedelta(seconds=60)
    with sessions() as session:  # the sweep finds it when its retry is due, not before
        assert order_id not in sweeping.stalled_orders(session, now=NOW)
        assert order_id in sweeping.stalled_orders(session, now=NOW + dt.timedelta(seconds=61))
    assert step(world.directory, NOW + dt.timedelta(minutes=2)).state is OrderState.PROVISIONED


def test_failing_after_the_last_attempt_lands_in_remediation_and_can_be_retried(world, sessions, actor,  # type: ignore[no-untyped-def]
                                                                                advance) -> None:
    order_id = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    advance(order_id)
    decide(world, sessions, actor, world.skf, order_id)
    down = Directory(replace(world.directory.config, url=f"ldap://127.0.0.1:{free_port()}"), cache_seconds=0)
    from provisioning import automation

    for attempt in range(1, 5):
        with sessions() as session:
            result = automation.advance_one(session=session, directory=down, config=world.config, order_id=order_id,
                                            now=NOW + dt.timedelta(minutes=attempt), information="")
    assert result.state is OrderState.PROVISIONING_FAILED
    order = load(sessions, order_id)
    assert order.queue == RoleName.SYSTEM_ADMIN.value and order.attempts == 3
    assert "provisioning_failed" in outbox_templates(sessions, order_id)
    with sessions() as session, pytest.raises(NotAllowed, match="Bara NPÖ-förvaltningen kan starta om"):
        decisions.retry(session=session, actor=actor(world.skf), order_id=order_id, now=NOW)
    with sessions() as session:
        decisions.retry(session=session, actor=actor(world.sysadmin), order_id=order_id, now=NOW)
    assert advance(order_id) == ["provisioned"]


def test_a_crash_between_the_ldap_write_and_the_commit_converges(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    world.directory.ensure_commission(world.public_unit.hsa_id)
    order_id = order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                             world.public_staff[:2])
    advance(order_id)
    decide(world, sessions, actor, world.public_admin, order_id)
    from provisioning import automation

    with sessions() as session:
        automation.advance_one(session=session, directory=world.directory, config=world.config, order_id=order_id,
                               now=NOW, information="")  # APPROVED → PROVISIONING, committed

    class Crash(Exception):
        pass

    with pytest.raises(Crash), sessions() as session:  # the LDAP writes happen, then the process dies
        step = automation.advance_one(session=session, directory=world.directory, config=world.config,
                                      order_id=order_id, now=NOW, information="")
        assert step.state is OrderState.PROVISIONED
        raise Crash
    assert load(sessions, order_id).state is OrderState.PROVISIONING  # nothing of the step was committed
    commission = load(sessions, order_id).commission_hsa_id
    assert len(world.directory.memberships(commission)) == 2  # but the directory has the members
    assert advance(order_id) == ["provisioned"]  # re-running converges
    assert len(world.directory.memberships(commission)) == 2  # no duplicates
    with sessions() as session:
        finals = session.exec(select(AuditEvent).where(AuditEvent.order_id == order_id,
                                                       AuditEvent.to_state == OrderState.PROVISIONED)).all()
        access_mails = session.exec(select(OutboxMail).where(OutboxMail.order_id == order_id,
                                                             OutboxMail.template == "access_ready")).all()
    assert len(finals) == 1 and len(access_mails) == 2


def test_two_approvers_at_the_same_moment_one_decision(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    second = world.directory.create_person(replace(world.skf, hsa_id=world.region.hsa("SKF2"), dn="",
                                                   given_name="Kristina"))
    world.directory.add_role_member(RoleName.SKANEFORVALTNINGEN, second.hsa_id)
    order_id = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    advance(order_id)
    approvers = [actor(world.skf), actor(second)]
    barrier = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def run(index: int) -> None:
        try:
            barrier.wait()  # both start together (SQLite then queues the second writer; PostgreSQL runs both)
            with sessions() as session:
                order = decisions.get_order(session, approvers[index], order_id)
                decisions.decide(session=session, directory=world.directory, config=world.config,
                                 actor=approvers[index], order_id=order.id, approve=index == 0,
                                 reason=None if index == 0 else "Avslag", now=NOW,
                                 expected_stage=OrderState.AWAITING_CATALOG_ADMIN)
            outcomes[index] = "ok"
        except Exception as exc:  # noqa: BLE001 - the test inspects what each approver got
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [o for o in outcomes if o == "ok"]
    losers = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert "redan" in losers[0].message and ("Karin" in losers[0].message or "Kristina" in losers[0].message)
    with sessions() as session:
        assert len(session.exec(select(Decision).where(Decision.order_id == order_id)).all()) == 1


def test_staff_must_belong_to_the_unit(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    world.directory.ensure_commission(world.public_unit.hsa_id)
    for people, says in (([world.private_staff[0]], "tillhör inte"),):
        with pytest.raises(InvalidInputs) as caught:
            order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id, people)
        assert says in caught.value.errors["person_hsa_ids"]
    with pytest.raises(InvalidInputs) as caught:
        order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id, [],
                      extra_hsa_ids=world.region.hsa("NOBODY"))
    assert "finns inte" in caught.value.errors["person_hsa_ids"]
    with pytest.raises(InvalidInputs) as caught:  # removing someone who holds nothing
        order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                      world.public_staff[:1], action="remove")
    assert "ingen behörighet" in caught.value.errors["person_hsa_ids"]


def test_no_membership_order_without_a_commission_or_one_on_order(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputs) as caught:
        order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id, world.public_staff[:1])
    assert "Beställ uppdraget först" in caught.value.errors["unit_hsa_id"]


def test_reminder_after_two_and_escalation_after_five_business_days(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    advance(order_id)  # enters the queue on Tuesday 24 Nov 2026 09:00 UTC

    def sweep(now: dt.datetime) -> tuple[int, int]:
        with sessions() as session:
            return sweeping.remind_overdue(session=session, directory=world.directory, config=world.config, now=now)

    assert sweep(NOW + dt.timedelta(days=1)) == (0, 0)  # Wednesday: 1 business day
    assert sweep(NOW + dt.timedelta(days=2)) == (1, 0)  # Thursday: 2 business days → reminder
    assert sweep(NOW + dt.timedelta(days=2, hours=1)) == (0, 0)  # once
    assert sweep(NOW + dt.timedelta(days=6)) == (0, 0)  # Monday 30 Nov: 4 business days
    assert sweep(NOW + dt.timedelta(days=7)) == (0, 1)  # Tuesday 1 Dec: 5 business days → escalation
    assert sweep(NOW + dt.timedelta(days=8)) == (0, 0)
    templates = outbox_templates(sessions, order_id)
    assert templates.count("reminder_to_queue") == 2
    with sessions() as session:
        escalation = session.exec(select(OutboxMail).where(OutboxMail.dedupe_key.startswith("escalate"))).one()  # type: ignore[attr-defined]
    assert "Eskalering" in escalation.subject and "npo-forvaltning@skane.example" in escalation.recipients


def test_nobody_decides_an_order_that_changes_their_own_access(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    # The unit's catalog administrator is also on the unit's staff; the manager orders access for them.
    world.directory.ensure_commission(world.public_unit.hsa_id)
    order_id = order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                             [world.public_admin, world.public_staff[0]])
    advance(order_id)
    assert load(sessions, order_id).state is OrderState.AWAITING_USER_ADMIN
    with pytest.raises(NotAllowed, match="din egen behörighet"):
        decide(world, sessions, actor, world.public_admin, order_id)
    with sessions() as session:
        view = queries.order_view(session, actor(world.public_admin), decisions.get_order(
            session, actor(world.public_admin), order_id), now=NOW)
    assert view.can_decide is False
    assert load(sessions, order_id).state is OrderState.AWAITING_USER_ADMIN  # nothing was decided


def test_the_manager_cannot_decide_what_their_delegate_ordered_for_them(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    world.directory.ensure_commission(world.public_unit.hsa_id)
    world.directory.add_role_member(RoleName.UNIT_CATALOG_ADMIN, world.public_manager.hsa_id,
                                    scope=world.public_unit.hsa_id)
    with sessions() as session:
        delegations.grant(session=session, directory=world.directory, actor=actor(world.public_manager),
                          unit_hsa_id=world.public_unit.hsa_id, delegate_hsa_id=world.public_staff[2].hsa_id,
                          valid_to=TODAY + dt.timedelta(days=3), now=NOW - dt.timedelta(hours=1))
    order_id = order_members(world, sessions, actor, world.public_staff[2], world.public_unit.hsa_id,
                             world.public_staff[:1])
    advance(order_id)
    assert load(sessions, order_id).on_behalf_of == world.public_manager.hsa_id
    with pytest.raises(NotAllowed, match="gjorts åt dig"):
        decide(world, sessions, actor, world.public_manager, order_id)
    decide(world, sessions, actor, world.public_admin, order_id)  # a colleague in the queue can
    assert load(sessions, order_id).state is OrderState.APPROVED


def test_approvers_see_only_orders_on_their_queues_route_or_that_they_decided(world, sessions, actor,  # type: ignore[no-untyped-def]
                                                                              advance) -> None:
    public_commission = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    world.directory.ensure_commission(world.public_unit.hsa_id)
    private_commission = order_commission(world, sessions, actor, world.private_manager, world.private_unit.hsa_id,
                                          care_agreement_reference="Hälsoval 1234")
    public_members = order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                                   world.public_staff[:1])
    for order_id in (public_commission, private_commission, public_members):
        advance(order_id)
    other_admin = world.region.person(world.region.unit_b)
    world.directory.add_role_member(RoleName.UNIT_CATALOG_ADMIN, other_admin.hsa_id, scope=world.region.unit_b.hsa_id)
    expected = {  # who sees which order (NotFound otherwise: existence is not revealed)
        "skf": {public_commission},
        "contract_manager": {private_commission},
        "vgs": {private_commission},
        "itkp": set(),
        "public_admin": {public_members},
        "other_admin": set(),
        "sysadmin": {public_commission, private_commission, public_members},
    }
    people = {**{name: getattr(world, name) for name in expected if name != "other_admin"}, "other_admin": other_admin}
    for name, visible in expected.items():
        seen = set()
        for order_id in (public_commission, private_commission, public_members):
            with sessions() as session:
                try:
                    decisions.get_order(session, actor(people[name]), order_id)
                    seen.add(order_id)
                except NotFound:
                    pass
        assert seen == visible, name
    decide(world, sessions, actor, world.contract_manager, private_commission)
    world.directory.remove_role_member(RoleName.CONTRACT_MANAGER, world.contract_manager.hsa_id)
    with sessions() as session:  # no longer in the queue, but still sees what they decided
        assert decisions.get_order(session, actor(world.contract_manager), private_commission).id == private_commission
