"""Recertification on the real slapd and database (SQLite, and PostgreSQL in CI): rounds after 12 months, the
manager's decisions, reminders and lapses in Swedish business days, and runs killed halfway that converge."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from sqlmodel import select

from catalog.model import Validity
from kernel.clock import STOCKHOLM, local_midnight
from kernel.outbox import OutboxMail
from kernel.review import business_days_left, deadline_after, last_day
from provisioning.errors import Conflict, InvalidInputs, NotAllowed
from provisioning.recertification import decisions, delegations
from provisioning.recertification import rounds as recertification
from provisioning.recertification.common import ReviewConfig
from provisioning.recertification.models import (
    CommissionReviewEvent,
    ItemDecision,
    RecertificationItem,
    RecertificationRound,
    ReviewEventKind,
    RoundState,
)
from tests.world import World

CONFIG = ReviewConfig(public_base_url="http://npo.test")
COMMISSION_START = local_midnight(dt.date(2025, 11, 24))
OPENS = dt.datetime(2026, 11, 24, 6, 0, tzinfo=STOCKHOLM)  # 12 months later, the flow's 06:00 run (a Tuesday)
D = ItemDecision


class Crash(Exception):
    """Stands in for a worker killed before its commit."""


def at(day: dt.date, hour: int = 6, minute: int = 0, second: int = 0) -> dt.datetime:
    """A Swedish wall-clock time."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=STOCKHOLM)


def unit_with_members(world: World, start: dt.datetime = COMMISSION_START) -> str:
    """The public unit's VoB SJF (started at ``start``) with the three nurses as members; its HSA-ID."""
    commission, _ = world.directory.ensure_commission(world.public_unit.hsa_id, valid_from=start)
    for nurse in world.public_staff:
        world.directory.ensure_membership(commission.hsa_id, nurse.hsa_id, Validity(start))
    return commission.hsa_id


def open_due(world: World, sessions, commission: str, now: dt.datetime,  # type: ignore[no-untyped-def]
             config: ReviewConfig = CONFIG) -> int | None:
    with sessions() as session:
        opened = recertification.open_due_round(session=session, directory=world.directory, config=config,
                                                unit_hsa_id=world.public_unit.hsa_id, commission_hsa_id=commission,
                                                now=now)
        return opened.id if opened else None


def items(sessions, round_id: int) -> list[RecertificationItem]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return recertification.items_of(session, round_id)


def load_round(sessions, round_id: int) -> RecertificationRound:  # type: ignore[no-untyped-def]
    with sessions() as session:
        found = session.get(RecertificationRound, round_id)
        assert found is not None
        return found


def events(sessions, kind: ReviewEventKind | None = None) -> list[CommissionReviewEvent]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        rows = session.exec(select(CommissionReviewEvent).order_by(CommissionReviewEvent.id)).all()
    return [e for e in rows if kind is None or e.kind is kind]


def templates(sessions) -> list[str]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return [m.template for m in session.exec(select(OutboxMail).order_by(OutboxMail.id)).all()]


def decide(world: World, sessions, actor, who, round_id: int, choices: list[decisions.Choice],  # type: ignore[no-untyped-def]
           now: dt.datetime) -> decisions.DecisionReport:
    with sessions() as session:
        return decisions.decide(session=session, directory=world.directory, config=CONFIG, actor=actor(who),
                                round_id=round_id, choices=choices, now=now)


def lapse_all(world: World, sessions, now: dt.datetime) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """What the flow's lapse task does: every overdue round, one transaction per member, then close."""
    counts: dict[str, int] = {}
    with sessions() as session:
        overdue = recertification.open_rounds(session, overdue_at=now)
    for round_id in overdue:
        with sessions() as session:
            pending = recertification.pending_items(session, round_id)
        for item_id in pending:
            with sessions() as session:
                decision = recertification.lapse_item(session=session, directory=world.directory, item_id=item_id,
                                                      now=now)
            counts[decision.value] = counts.get(decision.value, 0) + 1
        with sessions() as session:
            recertification.close_round(session=session, directory=world.directory, config=CONFIG,
                                        round_id=round_id, now=now)
    return counts


# ---------------------------------------------------------------------- calendar
@pytest.mark.parametrize(("opened", "last", "deadline"), [
    (at(dt.date(2026, 11, 24)), dt.date(2026, 12, 8), dt.datetime(2026, 12, 8, 23, 0, tzinfo=dt.UTC)),
    # Christmas and New Year: 24–26 Dec, 31 Dec, 1 Jan and 6 Jan are not business days
    (at(dt.date(2026, 12, 18)), dt.date(2027, 1, 8), dt.datetime(2027, 1, 8, 23, 0, tzinfo=dt.UTC)),
    # summer time starts 29 March, Easter 3–6 April: the deadline is midnight in CEST
    (at(dt.date(2026, 3, 20)), dt.date(2026, 4, 7), dt.datetime(2026, 4, 7, 22, 0, tzinfo=dt.UTC)),
    # summer time ends 25 October: opened in CEST, the deadline is midnight in CET
    (at(dt.date(2026, 10, 16)), dt.date(2026, 10, 30), dt.datetime(2026, 10, 30, 23, 0, tzinfo=dt.UTC)),
])
def test_the_deadline_is_the_end_of_the_tenth_swedish_business_day(opened: dt.datetime, last: dt.date,
                                                                   deadline: dt.datetime) -> None:
    assert deadline_after(opened, 10) == deadline and last_day(deadline) == last
    assert business_days_left(deadline - dt.timedelta(seconds=1), deadline) == 1
    assert business_days_left(deadline, deadline) == 0


# ---------------------------------------------------------------------- opening
def test_a_round_opens_twelve_months_after_the_commission_started_and_only_once(world: World, sessions,  # type: ignore[no-untyped-def]
                                                                                actor) -> None:
    commission = unit_with_members(world)
    d = world.directory
    d.ensure_membership(commission, world.public_admin.hsa_id, Validity(COMMISSION_START, OPENS - dt.timedelta(
        days=3)))  # already ended: not listed
    d.ensure_membership(commission, world.public_manager.hsa_id, Validity(OPENS + dt.timedelta(days=3)))  # not begun
    with sessions() as session:  # the manager's documented delegate gets the mails too
        delegations.grant(session=session, directory=d, actor=actor(world.public_manager),
                          unit_hsa_id=world.public_unit.hsa_id, delegate_hsa_id=world.public_staff[0].hsa_id,
                          valid_to=dt.date(2027, 6, 30), now=OPENS - dt.timedelta(days=10))
    assert open_due(world, sessions, commission, at(dt.date(2026, 11, 23), 23, 59)) is None
    round_id = open_due(world, sessions, commission, at(dt.date(2026, 11, 24), 0, 0, 1))
    assert round_id is not None
    assert open_due(world, sessions, commission, OPENS) is None  # a second run the same day opens nothing
    assert open_due(world, sessions, commission, OPENS + dt.timedelta(days=1)) is None
    round_ = load_round(sessions, round_id)
    assert round_.state is RoundState.OPEN and round_.manager_hsa_id == world.public_manager.hsa_id
    assert last_day(round_.deadline) == dt.date(2026, 12, 8)
    listed = items(sessions, round_id)
    assert sorted(i.person_hsa_id for i in listed) == sorted(n.hsa_id for n in world.public_staff)
    assert {i.decision for i in listed} == {D.PENDING}
    assert templates(sessions) == ["recert_request"]
    with sessions() as session:
        [mail] = session.exec(select(OutboxMail)).all()
    assert set(mail.recipients.split(",")) == {world.public_manager.mail, world.public_staff[0].mail}
    assert "den årliga behörighetskontrollen" in mail.text_body and "senast 2026-12-08" in mail.text_body
    assert [e.kind for e in events(sessions)] == [ReviewEventKind.ROUND_OPENED]


def test_the_next_round_comes_twelve_months_after_the_previous_one(world: World, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    commission = unit_with_members(world)
    first = open_due(world, sessions, commission, OPENS)
    assert first is not None
    decide(world, sessions, actor, world.public_manager, first,
           [decisions.Choice(i.id, True) for i in items(sessions, first)], OPENS + dt.timedelta(days=1))
    assert load_round(sessions, first).state is RoundState.CLOSED
    assert open_due(world, sessions, commission, at(dt.date(2027, 11, 23))) is None
    second = open_due(world, sessions, commission, at(dt.date(2027, 11, 24)))
    assert second is not None and second != first
    quarterly = ReviewConfig(public_base_url="http://npo.test", interval_months=3)
    assert open_due(world, sessions, commission, at(dt.date(2028, 2, 24)), quarterly) is None  # one open at a time


def test_a_killed_opening_leaves_nothing_and_the_rerun_opens_one_round(world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    commission = unit_with_members(world)
    with pytest.raises(Crash), sessions() as session:
        recertification.open_due_round(session=session, directory=world.directory, config=CONFIG,
                                       unit_hsa_id=world.public_unit.hsa_id, commission_hsa_id=commission, now=OPENS)
        raise Crash()
    with sessions() as session:
        assert session.exec(select(RecertificationRound)).all() == []
    assert templates(sessions) == [] and events(sessions) == []
    assert open_due(world, sessions, commission, OPENS) is not None
    assert open_due(world, sessions, commission, OPENS) is None
    assert templates(sessions) == ["recert_request"] and len(events(sessions)) == 1


def test_two_runs_opening_the_same_round_at_once_make_one(world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    commission = unit_with_members(world)
    barrier = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def run(index: int) -> None:
        try:
            with sessions() as session:
                barrier.wait()
                opened = recertification.open_due_round(session=session, directory=world.directory, config=CONFIG,
                                                        unit_hsa_id=world.public_unit.hsa_id,
                                                        commission_hsa_id=commission, now=OPENS)
                outcomes[index] = opened.id if opened else None
        except Exception as exc:  # noqa: BLE001 - the test inspects what each run got
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes, key=lambda o: o is None)[1] is None, outcomes  # one run opened, the other found it
    assert [type(o) for o in outcomes].count(int) == 1, outcomes
    with sessions() as session:
        assert len(session.exec(select(RecertificationRound)).all()) == 1
        assert len(session.exec(select(RecertificationItem)).all()) == 3
    assert templates(sessions) == ["recert_request"]


# ---------------------------------------------------------------------- the manager's decisions
def test_the_manager_confirms_and_removes_and_every_decision_is_recorded(world: World, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    commission = unit_with_members(world)
    round_id = open_due(world, sessions, commission, OPENS)
    assert round_id is not None
    by_person = {i.person_hsa_id: i for i in items(sessions, round_id)}
    keep, leave, later = (by_person[n.hsa_id] for n in world.public_staff)
    when = OPENS + dt.timedelta(days=2)
    with pytest.raises(InvalidInputs) as caught:  # a removal needs a reason; nothing is written
        decide(world, sessions, actor, world.public_manager, round_id,
               [decisions.Choice(keep.id, True), decisions.Choice(leave.id, False, "  ")], when)
    assert "Ange varför" in caught.value.errors[f"motivering-{leave.id}"]
    assert {i.decision for i in items(sessions, round_id)} == {D.PENDING} and events(sessions)[1:] == []
    report = decide(world, sessions, actor, world.public_manager, round_id,
                    [decisions.Choice(keep.id, True), decisions.Choice(leave.id, False, "Har slutat")], when)
    assert (report.decided, report.closed) == (2, False)
    after = {i.id: i for i in items(sessions, round_id)}
    assert after[keep.id].decision is D.CONFIRMED and after[leave.id].decision is D.REMOVED
    assert after[leave.id].decided_by == world.public_manager.hsa_id and after[leave.id].decided_at == when
    assert after[leave.id].reason == "Har slutat" and after[later.id].decision is D.PENDING
    memberships = {m.person_hsa_id: m for m in world.directory.memberships(commission)}
    assert memberships[leave.person_hsa_id].validity.end == when
    assert f"BK-{round_id}" in (memberships[leave.person_hsa_id].ended_reason or "")
    assert memberships[keep.person_hsa_id].validity.end is None
    assert [e.kind for e in events(sessions)][1:] == [ReviewEventKind.CONFIRMED, ReviewEventKind.REMOVED]
    assert templates(sessions) == ["recert_request", "recert_ended_member"]
    report = decide(world, sessions, actor, world.public_manager, round_id, [decisions.Choice(later.id, True)],
                    when + dt.timedelta(hours=1))
    assert report.closed and load_round(sessions, round_id).state is RoundState.CLOSED
    assert templates(sessions)[-1] == "recert_closed"
    closed = events(sessions, ReviewEventKind.ROUND_CLOSED)[0]
    assert "bekräftad: 2" in (closed.detail or "") and "borttagen: 1" in (closed.detail or "")
    with pytest.raises(Conflict, match="redan avslutad"):
        decide(world, sessions, actor, world.public_manager, round_id, [decisions.Choice(keep.id, False, "x")], when)


def test_delegates_decide_on_behalf_of_the_manager_but_not_about_themselves(world: World, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    commission = unit_with_members(world)
    delegate = world.public_staff[0]
    with sessions() as session:
        delegations.grant(session=session, directory=world.directory, actor=actor(world.public_manager),
                          unit_hsa_id=world.public_unit.hsa_id, delegate_hsa_id=delegate.hsa_id,
                          valid_to=dt.date(2027, 6, 30), now=OPENS - dt.timedelta(days=10))
    round_id = open_due(world, sessions, commission, OPENS)
    assert round_id is not None
    by_person = {i.person_hsa_id: i for i in items(sessions, round_id)}
    own, other = by_person[delegate.hsa_id], by_person[world.public_staff[1].hsa_id]
    with pytest.raises(InvalidInputs) as caught:
        decide(world, sessions, actor, delegate, round_id, [decisions.Choice(own.id, True)], OPENS)
    assert "verksamhetschefen" in caught.value.errors[f"beslut-{own.id}"]
    decide(world, sessions, actor, delegate, round_id, [decisions.Choice(other.id, True)], OPENS)
    decided = {i.id: i for i in items(sessions, round_id)}[other.id]
    assert (decided.decided_by, decided.on_behalf_of) == (delegate.hsa_id, world.public_manager.hsa_id)
    decide(world, sessions, actor, world.public_manager, round_id, [decisions.Choice(own.id, True)], OPENS)
    for outsider in (world.public_staff[2], world.skf, world.private_manager, world.public_admin):
        with pytest.raises(NotAllowed, match="görs av vårdenhetens verksamhetschef|Du är inte verksamhetschef för"):
            decide(world, sessions, actor, outsider, round_id, [decisions.Choice(own.id, False, "x")], OPENS)


def test_two_reviewers_deciding_the_same_member_at_once_give_one_decision(world: World, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    commission = unit_with_members(world)
    delegate = world.public_staff[0]
    with sessions() as session:
        delegations.grant(session=session, directory=world.directory, actor=actor(world.public_manager),
                          unit_hsa_id=world.public_unit.hsa_id, delegate_hsa_id=delegate.hsa_id,
                          valid_to=dt.date(2027, 6, 30), now=OPENS - dt.timedelta(days=10))
    round_id = open_due(world, sessions, commission, OPENS)
    assert round_id is not None
    target = next(i for i in items(sessions, round_id) if i.person_hsa_id == world.public_staff[1].hsa_id)
    reviewers = [actor(world.public_manager), actor(delegate)]
    barrier = threading.Barrier(2)
    reports: list[object] = [None, None]

    def run(index: int) -> None:
        try:
            with sessions() as session:
                barrier.wait()
                choice = decisions.Choice(target.id, index == 0, None if index == 0 else "Slutat")
                reports[index] = decisions.decide(session=session, directory=world.directory, config=CONFIG,
                                                  actor=reviewers[index], round_id=round_id, choices=[choice],
                                                  now=OPENS)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each reviewer got
            reports[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(r, decisions.DecisionReport) for r in reports), reports
    assert sorted(r.decided for r in reports) == [0, 1]  # type: ignore[union-attr]
    assert sum(len(r.already) for r in reports) == 1  # type: ignore[union-attr]
    assert len([e for e in events(sessions) if e.person_hsa_id == target.person_hsa_id]) == 1


def test_after_the_deadline_the_page_refuses_decisions(world: World, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    commission = unit_with_members(world)
    round_id = open_due(world, sessions, commission, OPENS)
    assert round_id is not None
    deadline = load_round(sessions, round_id).deadline
    [first, *_rest] = items(sessions, round_id)
    with pytest.raises(Conflict, match="Tidsgränsen"):
        decide(world, sessions, actor, world.public_manager, round_id, [decisions.Choice(first.id, True)], deadline)


# ---------------------------------------------------------------------- reminders and lapses
def test_reminders_go_out_with_three_and_one_business_days_left_once_each(world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    commission = unit_with_members(world)
    round_id = open_due(world, sessions, commission, OPENS)
    assert round_id is not None
    reminded = []
    day = OPENS.date()
    while day <= dt.date(2026, 12, 9):
        for hour in (6, 14):  # two runs a day: the second never repeats the first
            with sessions() as session:
                if recertification.remind(session=session, directory=world.directory, config=CONFIG,
                                          round_id=round_id, now=at(day, hour)):
                    reminded.append(day)
        day += dt.timedelta(days=1)
    assert reminded == [dt.date(2026, 12, 4), dt.date(2026, 12, 8)]  # Friday with 4, 7, 8 left; the last day
    assert templates(sessions) == ["recert_request"] * 3
    with sessions() as session:
        last = session.exec(select(OutboxMail).order_by(OutboxMail.id.desc())).first()  # type: ignore[union-attr]
    assert last is not None and last.subject.startswith("Påminnelse:") and "1 arbetsdagar" in last.text_body


def test_unconfirmed_members_lapse_at_midnight_after_the_last_day_across_christmas(world: World, sessions,  # type: ignore[no-untyped-def]
                                                                                   actor) -> None:
    opened = at(dt.date(2026, 12, 18))
    commission = unit_with_members(world, start=local_midnight(dt.date(2025, 12, 18)))
    round_id = open_due(world, sessions, commission, opened)
    assert round_id is not None
    by_person = {i.person_hsa_id: i for i in items(sessions, round_id)}
    kept = by_person[world.public_staff[0].hsa_id]
    decide(world, sessions, actor, world.public_manager, round_id, [decisions.Choice(kept.id, True)],
           at(dt.date(2026, 12, 23), 10))
    deadline = at(dt.date(2027, 1, 9), 0, 0)  # the tenth business day after 18 Dec is 8 Jan 2027
    assert lapse_all(world, sessions, deadline - dt.timedelta(seconds=1)) == {}  # 23:59:59 on the last day
    assert lapse_all(world, sessions, deadline) == {"lapsed": 2}
    assert lapse_all(world, sessions, deadline + dt.timedelta(days=1)) == {}
    after = {i.person_hsa_id: i for i in items(sessions, round_id)}
    assert after[kept.person_hsa_id].decision is D.CONFIRMED
    memberships = {m.person_hsa_id: m for m in world.directory.memberships(commission)}
    for nurse in world.public_staff[1:]:
        assert after[nurse.hsa_id].decision is D.LAPSED and after[nurse.hsa_id].decided_by == "system"
        assert memberships[nurse.hsa_id].validity.end == deadline
        assert memberships[nurse.hsa_id].ended_reason == f"Ej bekräftad vid behörighetskontroll BK-{round_id} " \
                                                         "(senast 2027-01-08)"
    assert memberships[kept.person_hsa_id].validity.end is None
    assert load_round(sessions, round_id).state is RoundState.CLOSED
    assert templates(sessions).count("recert_ended_member") == 2 and templates(sessions)[-1] == "recert_closed"
    assert len(events(sessions, ReviewEventKind.LAPSED)) == 2


def test_a_lapse_run_killed_halfway_converges_without_double_lapses(world: World, sessions,  # type: ignore[no-untyped-def]
                                                                    actor: Callable) -> None:
    commission = unit_with_members(world)
    round_id = open_due(world, sessions, commission, OPENS)
    assert round_id is not None
    deadline = load_round(sessions, round_id).deadline
    first, second, third = items(sessions, round_id)
    # the third member's access ended another way before the deadline (e.g. a removal order)
    world.directory.end_membership(commission, third.person_hsa_id, reason="Borttagen enligt NPO-X",
                                   at=deadline - dt.timedelta(days=2))
    killed_at = deadline + dt.timedelta(hours=6)
    with pytest.raises(Crash), sessions() as session:  # the LDAP write happened, the commit did not
        recertification.lapse_item(session=session, directory=world.directory, item_id=first.id, now=killed_at)
        raise Crash()
    ended_first = {m.person_hsa_id: m for m in world.directory.memberships(commission)}[first.person_hsa_id]
    assert ended_first.validity.end == killed_at
    assert {i.decision for i in items(sessions, round_id)} == {D.PENDING}
    rerun = killed_at + dt.timedelta(days=1)
    assert lapse_all(world, sessions, rerun) == {"lapsed": 2, "ended": 1}
    assert lapse_all(world, sessions, rerun + dt.timedelta(days=1)) == {}
    after = {i.id: i for i in items(sessions, round_id)}
    assert (after[first.id].decision, after[second.id].decision, after[third.id].decision) == (D.LAPSED, D.LAPSED,
                                                                                               D.ENDED)
    memberships = {m.person_hsa_id: m for m in world.directory.memberships(commission)}
    assert memberships[first.person_hsa_id].validity.end == killed_at  # not re-ended by the rerun
    assert memberships[second.person_hsa_id].validity.end == rerun
    assert memberships[third.person_hsa_id].ended_reason == "Borttagen enligt NPO-X"
    assert len(events(sessions, ReviewEventKind.LAPSED)) == 2 and len(events(sessions, ReviewEventKind.ENDED)) == 1
    assert templates(sessions).count("recert_ended_member") == 2  # nobody told twice, the third not at all
    assert templates(sessions).count("recert_closed") == 1
