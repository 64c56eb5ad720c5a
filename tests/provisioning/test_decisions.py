"""The decision service's own rules, message for message (what the approver and the orderer read): who sees an
order, what a late or second decision is told, reasons, withdrawal and retry bookkeeping."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from kernel.outbox import OutboxMail
from provisioning import decisions, sweeping
from provisioning.errors import Conflict, InvalidInput, NotAllowed, NotFound
from provisioning.models import AuditEvent, Decision, OrderState, Outcome
from tests.provisioning.conftest import NOW
from tests.provisioning.test_ordering import decide, load, order_commission, order_members
from tests.provisioning.test_remediation import cancel, failed_commission_order
from tests.world import World

S = OrderState


def private_order(world: World, sessions, actor, advance) -> int:  # type: ignore[no-untyped-def]
    order_id = order_commission(world, sessions, actor, world.private_manager, world.private_unit.hsa_id,
                                care_agreement_reference="HVS-2024-117")
    advance(order_id)
    return order_id


def audit(sessions, order_id: int) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.order_id == order_id).order_by(AuditEvent.id)).all()
        return [(row.event, row.reason) for row in rows]


def test_an_order_is_found_by_its_reference_and_a_wrong_one_is_not(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    reference = load(sessions, order_id).reference
    manager = actor(world.contract_manager)
    with sessions() as session:
        assert decisions.get_order(session, manager, reference).id == order_id
        with pytest.raises(NotFound, match="^Beställningen NPO-X finns inte eller är inte synlig för dig.$"):
            decisions.get_order(session, manager, "NPO-X")


def test_having_decided_one_order_shows_that_order_only(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    public = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    advance(public)
    decide(world, sessions, actor, world.skf, public)
    world.directory.ensure_commission(world.private_unit.hsa_id)
    staff = order_members(world, sessions, actor, world.private_manager, world.private_unit.hsa_id,
                          world.private_staff[:1])  # IT Kundtjänst Privata's queue, not Skåneförvaltningen's
    skf = actor(world.skf)
    with sessions() as session:
        assert decisions.get_order(session, skf, public).id == public
        with pytest.raises(NotFound):
            decisions.get_order(session, skf, staff)


def test_a_decision_on_an_order_that_waits_for_none_is_told_to_reload(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    order_id = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)  # submitted
    reference = load(sessions, order_id).reference
    with pytest.raises(Conflict, match=f"^Beställningen {reference} väntar inte på något beslut nu; ladda om sidan.$"):
        decide(world, sessions, actor, world.skf, order_id)


def test_a_late_decision_is_told_who_decided_which_stage_and_when(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    reference = load(sessions, order_id).reference
    decide(world, sessions, actor, world.contract_manager, order_id)  # stage 1, Tuesday 10:00 in Sweden
    later = NOW + dt.timedelta(days=1, hours=2, minutes=5)
    with sessions() as session:
        decisions.decide(session=session, directory=world.directory, config=world.config, actor=actor(world.vgs),
                         order_id=order_id, approve=False, reason="Avtalet har löpt ut", now=later)
    stage_one = f"^Beställningen {reference} är redan godkänd av Per Avtal 2026-11-24 10:00.$"
    with pytest.raises(Conflict, match=stage_one):  # the stage the approver looked at, not the latest one
        decide(world, sessions, actor, world.contract_manager, order_id, expected_stage=S.AWAITING_CONTRACT_MANAGER)
    with pytest.raises(Conflict, match=f"^Beställningen {reference} är redan avslagen av Eva Vårdgivarservice "
                                       "2026-11-25 12:05.$"):
        decide(world, sessions, actor, world.vgs, order_id)  # no stage named: the latest decision


def test_a_stale_stage_is_refused_even_while_the_order_waits_for_the_next(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    decide(world, sessions, actor, world.contract_manager, order_id)
    with pytest.raises(Conflict, match="är redan godkänd av Per Avtal"):
        decide(world, sessions, actor, world.vgs, order_id, expected_stage=S.AWAITING_CONTRACT_MANAGER)
    assert load(sessions, order_id).state is S.AWAITING_CATALOG_ADMIN  # Vårdgivarservice's own stage is untouched


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_rejection_needs_a_reason(world, sessions, actor, advance, reason: str | None) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    with pytest.raises(InvalidInput, match="^Ange en motivering när du avslår en beställning.$") as caught:
        decide(world, sessions, actor, world.contract_manager, order_id, approve=False, reason=reason)
    assert caught.value.field == "reason"


def test_a_reason_may_have_a_thousand_characters(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    with pytest.raises(InvalidInput, match=r"^Motiveringen får vara högst 1000 tecken \(nu 1001\).$") as caught:
        decide(world, sessions, actor, world.contract_manager, order_id, approve=False, reason="x" * 1001)
    assert caught.value.field == "reason"
    decide(world, sessions, actor, world.contract_manager, order_id, approve=False, reason=" " + "x" * 1000 + " ")
    assert load(sessions, order_id).state is S.REJECTED


def test_a_rejection_is_recorded_with_its_reason_and_clears_the_queue(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    decide(world, sessions, actor, world.contract_manager, order_id, approve=False, reason="  Inget vårdavtal  ")
    order = load(sessions, order_id)
    assert (order.state, order.queue, order.queue_scope, order.due_at) == (S.REJECTED, None, None, None)
    with sessions() as session:
        [row] = session.exec(select(Decision).where(Decision.order_id == order_id)).all()
        [mail] = session.exec(select(OutboxMail).where(OutboxMail.template == "decision_to_orderer",
                                                       OutboxMail.order_id == order_id)).all()
    assert (row.outcome, row.reason, row.decided_by_name, row.stage) == (
        Outcome.REJECTED, "Inget vårdavtal", "Per Avtal", S.AWAITING_CONTRACT_MANAGER)
    assert audit(sessions, order_id)[-1] == ("reject", "Inget vårdavtal")
    assert "har avslagits av Per Avtal" in mail.text_body and "Motivering: Inget vårdavtal" in mail.text_body


def test_an_approval_without_a_reason_stores_none(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    decide(world, sessions, actor, world.contract_manager, order_id)
    with sessions() as session:
        [row] = session.exec(select(Decision).where(Decision.order_id == order_id)).all()
        [mail] = session.exec(select(OutboxMail).where(OutboxMail.template == "decision_to_orderer",
                                                       OutboxMail.order_id == order_id)).all()
    assert (row.outcome, row.reason) == (Outcome.APPROVED, None) and audit(sessions, order_id)[-1] == ("approve", None)
    assert "har godkänts av Per Avtal" in mail.text_body and "Motivering" not in mail.text_body


def test_not_on_a_queue_is_said_plainly(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    with pytest.raises(NotAllowed, match="^Beställningen ligger inte i någon av dina köer.$"):
        decide(world, sessions, actor, world.vgs, order_id)


def test_a_withdrawal_is_audited_clears_the_queue_and_happens_once(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    reference = load(sessions, order_id).reference
    with sessions() as session, pytest.raises(
            NotAllowed, match="^Bara beställaren eller enhetens verksamhetschef kan återkalla beställningen.$"):
        decisions.withdraw(session=session, actor=actor(world.vgs), order_id=order_id, now=NOW)
    with sessions() as session:
        decisions.withdraw(session=session, actor=actor(world.private_manager), order_id=order_id, now=NOW)
    order = load(sessions, order_id)
    assert (order.state, order.queue, order.queue_scope, order.due_at) == (S.WITHDRAWN, None, None, None)
    assert audit(sessions, order_id)[-1] == ("withdraw", "Återkallad av beställaren")
    with sessions() as session, pytest.raises(
            Conflict, match=f"^{reference} kan inte återkallas i läget den är i nu.$"):
        decisions.withdraw(session=session, actor=actor(world.private_manager), order_id=order_id, now=NOW)


def test_a_retry_resets_the_attempts_and_only_a_failed_order_is_retried(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    reference = load(sessions, order_id).reference
    with sessions() as session, pytest.raises(Conflict, match=f"^{reference} väntar inte på åtgärd.$"):
        decisions.retry(session=session, actor=actor(world.sysadmin), order_id=order_id, now=NOW)
    with sessions() as session, pytest.raises(
            NotAllowed, match="^Bara NPÖ-förvaltningen kan starta om en misslyckad uppläggning.$"):
        decisions.retry(session=session, actor=actor(world.contract_manager), order_id=order_id, now=NOW)


def test_a_retry_sends_a_failed_order_back_with_fresh_attempts(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    from tests.provisioning.builders import make_order

    with sessions() as session:
        order_id = make_order(session, state=S.PROVISIONING_FAILED, since=NOW, attempts=48, queue="npo-forvaltning",
                              queue_scope="SE2321000255-V1", next_attempt_at=NOW, last_error="LDAP nere").id
    sysadmin = actor(world.sysadmin)
    with sessions() as session:
        decisions.retry(session=session, actor=sysadmin, order_id=order_id, now=NOW + dt.timedelta(hours=1))
    order = load(sessions, order_id)
    assert (order.state, order.attempts, order.next_attempt_at, order.last_error, order.queue, order.queue_scope) == (
        S.PROVISIONING, 0, None, None, None, None)
    assert audit(sessions, order_id) == [("retry", "Startad om efter åtgärd")]


def test_deciding_is_personal_others_do_not_see_the_order_because_of_it(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    public = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    advance(public)
    decide(world, sessions, actor, world.skf, public)
    itkp = actor(world.itkp)  # IT Kundtjänst Privata: neither on the route nor a decider
    with sessions() as session, pytest.raises(NotFound):
        decisions.get_order(session, itkp, public)


def test_withdrawing_a_scoped_order_clears_its_scope(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    world.directory.ensure_commission(world.public_unit.hsa_id)
    order_id = order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                             world.public_staff[:1])
    advance(order_id)
    assert load(sessions, order_id).queue_scope == world.public_unit.hsa_id  # the unit's catalog administrator
    manager = actor(world.public_manager)
    with sessions() as session:
        decisions.withdraw(session=session, actor=manager, order_id=order_id, now=NOW)
    order = load(sessions, order_id)
    assert (order.state, order.queue, order.queue_scope, order.due_at) == (S.WITHDRAWN, None, None, None)


def decide_on_what_was_read(world: World, sessions, stale, who, *, approve: bool, reason: str | None,  # type: ignore[no-untyped-def]
                            now: dt.datetime) -> None:
    """Decide in a session whose order is the one read earlier: the state check sees what the approver saw, as when
    two requests race past it (deterministic on SQLite too, which serialises writers: D-25)."""
    with sessions() as session:
        session.add(stale)
        decisions.decide(session=session, directory=world.directory, config=world.config, actor=who,
                         order_id=stale.id, approve=approve, reason=reason, now=now)


def test_a_decision_on_a_stage_decided_meanwhile_names_that_stages_decision(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    stale = load(sessions, order_id)  # the contract manager's second tab, at stage 1
    manager, vgs = actor(world.contract_manager), actor(world.vgs)
    decide(world, sessions, actor, world.contract_manager, order_id)  # stage 1 in the first tab, 10:00
    with sessions() as session:  # and stage 2, later: the latest decision is not stage 1's
        decisions.decide(session=session, directory=world.directory, config=world.config, actor=vgs,
                         order_id=order_id, approve=False, reason="Avtalet har löpt ut",
                         now=NOW + dt.timedelta(hours=3))
    with pytest.raises(Conflict, match=f"^Beställningen {stale.reference} är redan godkänd av Per Avtal "
                                       "2026-11-24 10:00.$"):  # the unique key on (order, stage) refuses the row
        decide_on_what_was_read(world, sessions, stale, manager, approve=False, reason="Fel", now=NOW)
    with sessions() as session:
        rows = session.exec(select(Decision).where(Decision.order_id == order_id).order_by(Decision.id)).all()
    assert [(r.stage, r.outcome, r.decided_by_name) for r in rows] == [
        (S.AWAITING_CONTRACT_MANAGER, Outcome.APPROVED, "Per Avtal"),
        (S.AWAITING_CATALOG_ADMIN, Outcome.REJECTED, "Eva Vårdgivarservice")]


def test_a_decision_on_an_order_withdrawn_meanwhile_is_told_to_reload(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    stale = load(sessions, order_id)
    manager = actor(world.contract_manager)
    with sessions() as session:
        decisions.withdraw(session=session, actor=actor(world.private_manager), order_id=order_id, now=NOW)
    with pytest.raises(Conflict, match=f"^Beställningen {stale.reference} väntar inte på något beslut nu; "
                                       "ladda om sidan.$"):  # not "already approved by" the loser themselves
        decide_on_what_was_read(world, sessions, stale, manager, approve=True, reason=None, now=NOW)
    order = load(sessions, order_id)
    assert (order.state, order.version) == (S.WITHDRAWN, 3)  # submitted, routed, withdrawn
    with sessions() as session:
        assert session.exec(select(Decision).where(Decision.order_id == order_id)).all() == []
    assert audit(sessions, order_id)[-1] == ("withdraw", "Återkallad av beställaren")


def test_a_decision_that_loses_the_version_to_a_reminder_leaves_no_decision(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    decide(world, sessions, actor, world.contract_manager, order_id)  # stage 1, 10:00
    stale = load(sessions, order_id)  # Vårdgivarservice opens stage 2 ...
    vgs = actor(world.vgs)
    thursday = NOW + dt.timedelta(days=2)
    with sessions() as session:  # ... the sweep reminds the queue meanwhile (a new row version) ...
        assert sweeping.remind_overdue(session=session, directory=world.directory, config=world.config,
                                       now=thursday) == (1, 0)
    with pytest.raises(Conflict, match=f"^Beställningen {stale.reference} väntar inte på något beslut nu; "
                                       "ladda om sidan.$"):  # ... so the move fails, and with it the decision row
        decide_on_what_was_read(world, sessions, stale, vgs, approve=True, reason=None, now=thursday)
    order = load(sessions, order_id)
    assert (order.state, order.version, order.reminded_at) == (S.AWAITING_CATALOG_ADMIN, 4, thursday)
    with sessions() as session:
        rows = session.exec(select(Decision).where(Decision.order_id == order_id)).all()
    assert [(r.stage, r.decided_by_name) for r in rows] == [(S.AWAITING_CONTRACT_MANAGER, "Per Avtal")]


def test_a_reason_with_control_characters_is_refused_with_its_field(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    order_id = private_order(world, sessions, actor, advance)
    with pytest.raises(InvalidInput, match="^Motiveringen innehåller otillåtna styrtecken; skriv om den med vanliga "
                                           "tecken.$") as caught:
        decide(world, sessions, actor, world.contract_manager, order_id, approve=False, reason="Inget\x00 avtal")
    assert caught.value.field == "reason" and load(sessions, order_id).state is S.AWAITING_CONTRACT_MANAGER


def test_cancelling_needs_the_system_administrator_and_a_plain_reason_of_at_most_a_thousand_characters(  # type: ignore[no-untyped-def]
        world, sessions, actor, advance) -> None:
    order_id = failed_commission_order(world, sessions, actor, advance)
    reference = load(sessions, order_id).reference
    with pytest.raises(NotAllowed, match="^Bara NPÖ-förvaltningen kan avbryta en misslyckad uppläggning.$"):
        cancel(world, sessions, actor, world.skf, order_id, "Enheten läggs ned")
    refusals = [(None, "^Ange varför beställningen avbryts; motiveringen skickas till beställaren.$"),
                (" \n ", "^Ange varför beställningen avbryts; motiveringen skickas till beställaren.$"),
                (" " + "x" * 1001, r"^Motiveringen får vara högst 1000 tecken \(nu 1001\).$")]
    refusals += [(f"Enheten{c} läggs ned", "^Motiveringen innehåller otillåtna styrtecken.$")
                 for c in ("\x00", "\x1f", "\x7f")]
    for reason, says in refusals:
        with pytest.raises(InvalidInput, match=says) as caught:
            cancel(world, sessions, actor, world.sysadmin, order_id, reason)
        assert caught.value.field == "reason"
    text = "Enheten läggs ned.\n\tSe beslutet\r\n" + "x" * 967  # tab, newline and return are plain text
    assert len(text) == 1000
    cancel(world, sessions, actor, world.sysadmin, order_id, f"  {text}  ")
    order = load(sessions, order_id)
    assert (order.state, order.queue, order.queue_scope, order.next_attempt_at, order.due_at) == (
        S.CANCELLED, None, None, None, None)
    with sessions() as session:
        [row] = session.exec(select(AuditEvent).where(AuditEvent.order_id == order_id,
                                                      AuditEvent.event == "cancel")).all()
        [mail] = session.exec(select(OutboxMail).where(OutboxMail.order_id == order_id,
                                                       OutboxMail.template == "order_cancelled")).all()
    assert (row.reason, row.actor, row.actor_name, row.at) == (text, world.sysadmin.hsa_id, "Lena Förvaltning",
                                                               NOW + dt.timedelta(hours=1))
    assert "Lena Förvaltning" in mail.text_body and "Enheten läggs ned." in mail.text_body
    with pytest.raises(Conflict, match=f"^{reference} väntar inte på åtgärd och kan inte avbrytas.$"):
        cancel(world, sessions, actor, world.sysadmin, order_id, "En gång till")


def test_cancelling_clears_every_workflow_column_and_tells_the_orderer_when(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    from tests.provisioning.builders import make_order

    with sessions() as session:
        order_id = make_order(session, state=S.PROVISIONING_FAILED, since=NOW, queue="npo-forvaltning",
                              queue_scope="SE2321000255-V1", next_attempt_at=NOW, due_at=NOW).id
    later = NOW + dt.timedelta(hours=1)
    cancel(world, sessions, actor, world.sysadmin, order_id, "Enheten läggs ned.")
    order = load(sessions, order_id)
    assert (order.state, order.queue, order.queue_scope, order.next_attempt_at, order.due_at, order.state_since) == (
        S.CANCELLED, None, None, None, None, later)
    with sessions() as session:
        [mail] = session.exec(select(OutboxMail).where(OutboxMail.order_id == order_id)).all()
    assert (mail.template, mail.created_at, mail.recipients) == ("order_cancelled", later, "maria@vard.example")
    assert audit(sessions, order_id) == [("cancel", "Enheten läggs ned.")]


def test_a_reference_with_a_control_character_names_no_order(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    skf = actor(world.skf)
    with sessions() as session, pytest.raises(NotFound, match="^Beställningen finns inte.$"):
        decisions.get_order(session, skf, "NPO-261124-\x00")  # PostgreSQL could not even compare it
