"""Log review rounds to the exact value: the names a round keeps, its stored rule and reasons, the day's exact
bounds, open tasks per round, and overdue rounds and reminders across two units and two days at their boundaries."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from kernel.clock import local_midnight
from overview import accesslog
from overview.accesslog import Action, LogEntry, Resource
from overview.logreview import rounds, tasks
from overview.logreview.models import LogReviewRound
from overview.logreview.rules import Outcome, ReviewConfig
from overview.models import AccessLog
from tests.overview.conftest import Clinic
from tests.overview.test_logreview_rounds import CONFIG, TUESDAY, add_manager, after, local, log, tasks_of

WEDNESDAY = TUESDAY + dt.timedelta(days=1)
EVERYTHING = ReviewConfig(sample_share=1, sample_min=0, sample_max=100, sample_key="k")  # every access a task


def named_log(session: Session, clinic: Clinic, at: dt.datetime, *, unit: str, unit_name: str,
              provider: str) -> AccessLog:
    """An access logged under the unit name and vårdgivare the overview knew at the time."""
    return accesslog.append(session, LogEntry(
        at=at, user_hsa_id=clinic.user.hsa_id, action=Action.READ, resource_type=Resource.OVERVIEW,
        commission_hsa_id=clinic.commission.hsa_id, care_unit_hsa_id=unit, care_unit_name=unit_name,
        care_provider_hsa_id=provider, patient_personnummer="196004011232", relation="care_contact"))


def open_for(session: Session, clinic: Clinic, unit: str, day: dt.date, config: ReviewConfig = CONFIG,
             ) -> LogReviewRound:
    made, created = rounds.open_round(session=session, directory=clinic.directory, unit_hsa_id=unit, day=day,
                                      config=config, now=after(day))
    session.commit()
    assert made is not None and created
    return made


# ---------------------------------------------------------------------- what a round records
def test_a_unit_gone_from_the_directory_keeps_the_names_of_its_last_logged_access(session: Session,
                                                                                  clinic: Clinic) -> None:
    gone = clinic.org.hsa("V0099")  # never in the directory (closed down before the round opened)
    named_log(session, clinic, local(TUESDAY, 9), unit=gone, unit_name="Vårdcentralen Gamla", provider="SE1-E0001")
    named_log(session, clinic, local(TUESDAY, 10), unit=gone, unit_name="Vårdcentralen Nya", provider="SE2-E0002")
    session.commit()
    round_ = open_for(session, clinic, gone, TUESDAY)
    assert (round_.unit_hsa_id, round_.unit_name, round_.provider_hsa_id, round_.manager_hsa_id) == (
        gone, "Vårdcentralen Nya", "SE2-E0002", None)


def test_a_unit_in_the_directory_takes_its_names_and_manager_from_there(session: Session, clinic: Clinic) -> None:
    manager = add_manager(clinic)
    named_log(session, clinic, local(TUESDAY, 10), unit=clinic.unit, unit_name="Gamla namnet", provider="SE2-E0002")
    session.commit()
    round_ = open_for(session, clinic, clinic.unit, TUESDAY)
    assert (round_.unit_name, round_.provider_hsa_id, round_.manager_hsa_id) == (
        "Vårdcentralen Testa", clinic.provider, manager.hsa_id)


def test_the_stored_sample_rule_is_cut_at_its_200_characters(session: Session, clinic: Clinic) -> None:
    config = ReviewConfig(sample_share=0.1, sample_min=10 ** 60, sample_max=10 ** 61, sample_key="k")
    assert len(config.rule_text()) == 285
    log(session, clinic, local(TUESDAY, 10))
    session.commit()
    round_ = open_for(session, clinic, clinic.unit, TUESDAY, config)
    assert round_.sample_rule == config.rule_text()[:200] and len(round_.sample_rule) == 200


def test_a_task_picked_for_several_reasons_stores_them_comma_separated(session: Session, clinic: Clinic) -> None:
    log(session, clinic, local(TUESDAY, 22), action=Action.EMERGENCY, relation="asserted", detail="Akut, kväll")
    session.commit()
    round_ = open_for(session, clinic, clinic.unit, TUESDAY)
    assert [t.reasons for t in tasks_of(session, round_.id)] == ["nodoppning,pastadd_relation,utanfor_kontorstid"]


def test_each_unit_has_its_own_round_for_the_day(session: Session, clinic: Clinic) -> None:
    other = clinic.org.unit_b.hsa_id
    log(session, clinic, local(TUESDAY, 10), unit=other)
    log(session, clinic, local(TUESDAY, 11))
    session.commit()
    theirs = open_for(session, clinic, other, TUESDAY)
    assert rounds.round_of(session, clinic.unit, TUESDAY) is None
    ours = open_for(session, clinic, clinic.unit, TUESDAY)
    assert ours.id != theirs.id and rounds.round_of(session, clinic.unit, TUESDAY) == ours
    assert rounds.round_of(session, other, TUESDAY) == theirs


# ---------------------------------------------------------------------- the day's accesses
def test_the_day_starts_at_its_midnight_exactly_and_ends_before_the_next(session: Session, clinic: Clinic) -> None:
    start, end = local_midnight(TUESDAY), local_midnight(WEDNESDAY)
    log(session, clinic, start - dt.timedelta(microseconds=1))
    first = log(session, clinic, start)
    last = log(session, clinic, end - dt.timedelta(microseconds=1))
    log(session, clinic, end)
    session.commit()
    assert [(a.seq, a.at) for a in rounds.accesses(session, clinic.unit, TUESDAY)] == [
        (first.seq, start), (last.seq, end - dt.timedelta(microseconds=1))]


def test_accesses_come_in_log_order_when_a_late_commit_logged_an_earlier_time(session: Session,
                                                                               clinic: Clinic) -> None:
    times = [local(TUESDAY, 15), local(TUESDAY, 9), local(TUESDAY, 12)]
    logged = [log(session, clinic, at) for at in times]
    session.commit()
    assert [(a.seq, a.at) for a in rounds.accesses(session, clinic.unit, TUESDAY)] == [
        (row.seq, at) for row, at in zip(logged, times, strict=True)]


# ---------------------------------------------------------------------- open tasks, overdue rounds, reminders
def two_units_late(session: Session, clinic: Clinic) -> tuple[LogReviewRound, LogReviewRound, LogReviewRound]:
    """Unit A's rounds of Tuesday and Wednesday 24–25 November (the later opened first) and unit B's of Tuesday.

    Tuesday's rounds are due by the end of Wednesday 2 December, Wednesday's by the end of Thursday 3 December.
    """
    other = clinic.org.unit_b.hsa_id
    for hour in (10, 11):
        log(session, clinic, local(TUESDAY, hour))
        log(session, clinic, local(WEDNESDAY, hour))
    log(session, clinic, local(TUESDAY, 12))
    log(session, clinic, local(TUESDAY, 10), unit=other)
    session.commit()
    wednesday = open_for(session, clinic, clinic.unit, WEDNESDAY, EVERYTHING)
    tuesday = open_for(session, clinic, clinic.unit, TUESDAY, EVERYTHING)
    theirs = open_for(session, clinic, other, TUESDAY, EVERYTHING)
    assert (tuesday.deadline, wednesday.deadline, theirs.deadline) == (
        local(dt.date(2026, 12, 3), 0), local(dt.date(2026, 12, 4), 0), local(dt.date(2026, 12, 3), 0))
    return tuesday, wednesday, theirs


def test_open_tasks_are_counted_per_round_asked_for_and_decided_ones_are_not(session: Session,
                                                                             clinic: Clinic) -> None:
    manager = add_manager(clinic)
    tuesday, wednesday, theirs = two_units_late(session, clinic)
    assert rounds.open_task_counts(session, []) == {}
    assert rounds.open_task_counts(session, [tuesday.id, wednesday.id]) == {tuesday.id: 3, wednesday.id: 2}  # type: ignore[list-item,dict-item]
    first = tasks_of(session, tuesday.id)[0]
    tasks.decide(session=session, directory=clinic.directory, task_id=first.id, reviewer_hsa_id=manager.hsa_id,  # type: ignore[arg-type]
                 reviewer_name=manager.name, outcome=Outcome.JUSTIFIED.value, comment="", expected=None,
                 now=after(TUESDAY, 10))
    session.commit()
    assert rounds.open_task_counts(session, [tuesday.id]) == {tuesday.id: 2}  # type: ignore[list-item,dict-item]
    assert rounds.open_task_counts(session, [theirs.id, tuesday.id]) == {theirs.id: 1, tuesday.id: 2}  # type: ignore[list-item,dict-item]


def test_overdue_lists_each_unit_once_with_its_late_rounds_by_day_from_the_deadline_on(session: Session,
                                                                                       clinic: Clinic) -> None:
    tuesday, wednesday, theirs = two_units_late(session, clinic)
    other = clinic.org.unit_b
    assert rounds.overdue(session, now=tuesday.deadline - dt.timedelta(microseconds=1)) == []
    at_the_deadline = [rounds.Overdue(clinic.unit, "Vårdcentralen Testa", (tuesday.id,), (TUESDAY,), 3,  # type: ignore[arg-type]
                                      tuesday.deadline),
                       rounds.Overdue(other.hsa_id, other.name, (theirs.id,), (TUESDAY,), 1, theirs.deadline)]  # type: ignore[arg-type]
    assert rounds.overdue(session, now=tuesday.deadline) == at_the_deadline
    assert rounds.overdue(session, now=wednesday.deadline) == [
        rounds.Overdue(clinic.unit, "Vårdcentralen Testa", (tuesday.id, wednesday.id), (TUESDAY, WEDNESDAY), 5,  # type: ignore[arg-type]
                       tuesday.deadline),
        at_the_deadline[1]]


def test_a_reminder_counts_once_per_day_for_the_rounds_named_only(session: Session, clinic: Clinic) -> None:
    tuesday, wednesday, theirs = two_units_late(session, clinic)
    ours = (tuesday.id, wednesday.id)
    friday = local_midnight(dt.date(2026, 12, 4))  # a business day, from its first instant
    assert [o.round_ids for o in rounds.reminders_due(session, now=friday)] == [ours, (theirs.id,)]
    assert rounds.record_reminder(session, ours, now=friday) == 2  # type: ignore[arg-type]
    session.commit()
    later = friday + dt.timedelta(hours=10)
    assert [o.round_ids for o in rounds.reminders_due(session, now=later)] == [(theirs.id,)]
    assert rounds.record_reminder(session, ours, now=later) == 0  # type: ignore[arg-type]
    monday = local(dt.date(2026, 12, 7), 8)
    assert rounds.record_reminder(session, ours, now=monday) == 2  # type: ignore[arg-type]
    session.commit()
    for round_ in (tuesday, wednesday, theirs):
        session.refresh(round_)
    assert [(r.reminder_count, r.last_reminded_at) for r in (tuesday, wednesday, theirs)] == [
        (2, monday), (2, monday), (0, None)]
