"""Log review rounds on a real database and the real slapd: opening, idempotence, Swedish days, deadlines, reminders.

The helpers here (a unit with a verksamhetschef, log rows at Swedish local times) are shared with the other log
review tests of this folder.
"""

from __future__ import annotations

import datetime as dt
import os
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from catalog.model import Person
from kernel.clock import STOCKHOLM
from kernel.review import last_day
from npo.db import current_heads
from overview import accesslog
from overview.accesslog import Action, LogEntry, Outcome, Resource
from overview.logreview import rounds
from overview.logreview.models import LogReviewRound, LogReviewTask
from overview.logreview.rules import ReviewConfig, Why, pick
from overview.models import AccessLog
from tests.overview.conftest import Clinic, new_personnummer

CONFIG = ReviewConfig(sample_share=0.1, sample_min=2, sample_max=5, deadline_business_days=5, sample_key="k",
                      risk_rules=frozenset())  # the fixed rules and the sample; the risk signals: test_logreview_risk
TUESDAY = dt.date(2026, 11, 24)


def local(day: dt.date, hour: int, minute: int = 0, *, fold: int = 0) -> dt.datetime:
    """An instant given as Swedish wall-clock time (``fold=1``: the second 02:30 of the autumn DST change)."""
    return dt.datetime.combine(day, dt.time(hour, minute, fold=fold), STOCKHOLM).astimezone(dt.UTC)


def after(day: dt.date, hour: int = 1, minute: int = 30) -> dt.datetime:
    """A time on the next day, when the flow runs."""
    return local(day + dt.timedelta(days=1), hour, minute)


def add_manager(clinic: Clinic, *, local_id: str = "CHEF", given: str = "Maria") -> Person:
    """A verksamhetschef of unit A, with a mail address."""
    org = clinic.org
    person = clinic.directory.create_person(Person(
        hsa_id=org.hsa(local_id), dn="", given_name=given, surname="Chef", title="Verksamhetschef",
        mail=f"{local_id.lower()}.{org.org_no}@vard.example", unit_hsa_id=org.unit_a.hsa_id))
    clinic.directory.set_unit_manager(org.unit_a.hsa_id, person.hsa_id)
    return person


def log(session: Session, clinic: Clinic, at: dt.datetime, *, user: str | None = None, action: Action = Action.READ,
        relation: str | None = "care_contact", patient: str | None = "196004011232", unit: str | None = None,
        outcome: Outcome = Outcome.GRANTED, detail: str = "") -> AccessLog:
    """One access-log row written the way the overview writes it."""
    return accesslog.append(session, LogEntry(
        at=at, user_hsa_id=user or clinic.user.hsa_id, action=action, resource_type=Resource.OVERVIEW,
        commission_hsa_id=clinic.commission.hsa_id, care_unit_hsa_id=unit or clinic.unit,
        care_unit_name="Vårdcentralen Testa", care_provider_hsa_id=clinic.provider, care_provider_name="Testvårdgivare",
        patient_personnummer=patient, basis=["own_provider"], source_providers=[clinic.provider], item_count=2,
        relation=relation, outcome=outcome, detail=detail))


def busy_day(session: Session, clinic: Clinic, day: dt.date = TUESDAY, *, reads: int = 40) -> dict[str, AccessLog]:
    """A working day at unit A: daytime reads, one of each kind that must be reviewed, and rows that do not count."""
    for n in range(reads):
        log(session, clinic, local(day, 8 + n % 9, n % 60), patient=new_personnummer())
    special = {
        "emergency": log(session, clinic, local(day, 11), action=Action.EMERGENCY, detail="Medvetslös patient"),
        "asserted": log(session, clinic, local(day, 12), relation="asserted", detail="Patienten ringde"),
        "late": log(session, clinic, local(day, 22, 15), user=clinic.colleague.hsa_id),
        "refused": log(session, clinic, local(day, 13), outcome=Outcome.REFUSED, relation=None),
    }
    accesslog.append(session, LogEntry(at=local(day, 9), user_hsa_id=clinic.user.hsa_id, action=Action.WRITE,
                                       resource_type=Resource.INFORMATION, detail="version 1"))  # no patient
    accesslog.append(session, LogEntry(  # a reviewer reading the log about a patient: not an access to the record
        at=local(day, 14), user_hsa_id=clinic.colleague.hsa_id, action=Action.READ, resource_type=Resource.LOG_REVIEW,
        purpose="Logguppföljning", care_unit_hsa_id=clinic.unit, patient_personnummer="196004011232"))
    log(session, clinic, local(day, 10), unit=clinic.org.unit_b.hsa_id)  # another unit
    session.commit()
    return special


def open_round(session: Session, clinic: Clinic, day: dt.date = TUESDAY, *, now: dt.datetime | None = None,
               config: ReviewConfig = CONFIG) -> tuple[LogReviewRound | None, bool]:
    made = rounds.open_round(session=session, directory=clinic.directory, unit_hsa_id=clinic.unit, day=day,
                             config=config, now=now or after(day))
    session.commit()
    return made


def tasks_of(session: Session, round_id: int | None) -> list[LogReviewTask]:
    return list(session.exec(select(LogReviewTask).where(LogReviewTask.round_id == round_id)
                             .order_by(LogReviewTask.log_seq)).all())


# ---------------------------------------------------------------------- schema
def test_the_migration_builds_exactly_the_log_review_models(db_url: str, engine: Engine) -> None:
    tables = {"log_review_round", "log_review_task", "log_review_decision", "log_review_delegation",
              "log_review_summary", "patient_access_flag"}
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        found = [d for d in compare_metadata(context, SQLModel.metadata) if any(t in str(d) for t in tables)]
    assert found == [] and set(inspect(engine).get_table_names()) >= tables
    assert "o0010" in current_heads(db_url)


# ---------------------------------------------------------------------- opening
def test_a_round_takes_the_sample_plus_every_emergency_asserted_and_out_of_hours_access(session: Session,
                                                                                        clinic: Clinic) -> None:
    manager = add_manager(clinic)
    special = busy_day(session, clinic)
    round_, created = open_round(session, clinic)
    assert created and round_ is not None
    assert (round_.unit_hsa_id, round_.day, round_.manager_hsa_id, round_.population) == (
        clinic.unit, TUESDAY, manager.hsa_id, 44)  # 40 reads + 4 special; no patient / other unit left out
    assert (round_.emergency_count, round_.asserted_count, round_.out_of_hours_count, round_.random_count) == (
        1, 1, 1, 5)
    tasks = tasks_of(session, round_.id)
    by_seq = {t.log_seq: t.reasons for t in tasks}
    assert by_seq[special["emergency"].seq] == Why.EMERGENCY
    assert by_seq[special["asserted"].seq] == Why.ASSERTED
    assert by_seq[special["late"].seq] == Why.OUT_OF_HOURS
    assert len(tasks) == 8 and all(t.outcome == "open" for t in tasks)
    assert "slumpvis 10 %" in round_.sample_rule and round_.reference == f"LG-{round_.id}"


def test_opening_again_returns_the_same_round_and_a_killed_run_leaves_nothing(session: Session,
                                                                             clinic: Clinic) -> None:
    busy_day(session, clinic)
    made = rounds.open_round(session=session, directory=clinic.directory, unit_hsa_id=clinic.unit, day=TUESDAY,
                             config=CONFIG, now=after(TUESDAY))
    assert made[1]
    session.rollback()  # the process died before the commit
    assert session.exec(select(func.count()).select_from(LogReviewTask)).one() == 0
    first, created = open_round(session, clinic)
    again, created_again = open_round(session, clinic, now=after(TUESDAY, 9))
    assert created and not created_again and first is not None and again is not None and again.id == first.id
    assert len(tasks_of(session, first.id)) == 8
    assert session.exec(select(func.count()).select_from(LogReviewRound)).one() == 1


def test_the_stored_sample_is_the_one_the_rule_gives(session: Session, clinic: Clinic) -> None:
    busy_day(session, clinic)
    first, _ = open_round(session, clinic)
    picked = [t.log_seq for t in tasks_of(session, first.id)]  # type: ignore[union-attr]
    population = rounds.accesses(session, clinic.unit, TUESDAY)
    assert sorted(pick(population, unit_hsa_id=clinic.unit, day=TUESDAY, config=CONFIG)) == picked


def test_a_day_without_accesses_gets_no_round_and_a_day_not_over_is_refused(session: Session,
                                                                           clinic: Clinic) -> None:
    assert open_round(session, clinic) == (None, False)
    with pytest.raises(ValueError, match="not over"):
        open_round(session, clinic, now=local(TUESDAY, 23, 59))


@pytest.mark.skipif(not os.environ.get("NPO_TEST_DATABASE_URL"), reason="row-level races need PostgreSQL")
def test_of_two_runs_at_once_one_opens_the_round_and_the_other_rolls_back(db_backend: str, engine: Engine,
                                                                           session: Session, clinic: Clinic) -> None:
    if db_backend != "postgresql":
        pytest.skip("SQLite serialises writers; the race is PostgreSQL's")
    busy_day(session, clinic)
    barrier, created, lost = threading.Barrier(2), [], []

    def run() -> None:
        with Session(engine) as own:
            try:
                barrier.wait()
                made, fresh = rounds.open_round(session=own, directory=clinic.directory, unit_hsa_id=clinic.unit,
                                                day=TUESDAY, config=CONFIG, now=after(TUESDAY))
                own.commit()
                created.append(fresh)
            except IntegrityError:
                own.rollback()
                lost.append(True)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert created.count(True) == 1 and len(created) + len(lost) == 2
    assert session.exec(select(func.count()).select_from(LogReviewRound)).one() == 1
    assert session.exec(select(func.count()).select_from(LogReviewTask)).one() == 8


# ---------------------------------------------------------------------- Swedish days
def test_pending_pairs_cover_every_unit_and_ended_day_of_the_window(session: Session, clinic: Clinic) -> None:
    monday = TUESDAY - dt.timedelta(days=1)
    log(session, clinic, local(monday, 10))
    log(session, clinic, local(TUESDAY, 10), unit=clinic.org.unit_b.hsa_id)
    log(session, clinic, local(TUESDAY, 10))
    log(session, clinic, local(TUESDAY + dt.timedelta(days=1), 10))  # today: not over
    session.commit()
    now = after(TUESDAY)
    assert rounds.pending(session, now=now, config=CONFIG) == [
        (clinic.unit, monday), (clinic.unit, TUESDAY), (clinic.org.unit_b.hsa_id, TUESDAY)]
    open_round(session, clinic, monday)
    assert (clinic.unit, monday) not in rounds.pending(session, now=now, config=CONFIG)
    assert rounds.pending(session, now=now, config=ReviewConfig(lookback_days=1)) == [
        (clinic.unit, TUESDAY), (clinic.org.unit_b.hsa_id, TUESDAY)]


def test_the_day_ends_at_swedish_midnight(session: Session, clinic: Clinic) -> None:
    before = log(session, clinic, local(TUESDAY, 23, 59))
    past = log(session, clinic, local(TUESDAY + dt.timedelta(days=1), 0, 1))
    session.commit()
    assert rounds.pending(session, now=local(TUESDAY + dt.timedelta(days=1), 0, 20), config=CONFIG) == []
    assert rounds.pending(session, now=local(TUESDAY + dt.timedelta(days=1), 0, 40), config=CONFIG) == [
        (clinic.unit, TUESDAY)]
    round_, _ = open_round(session, clinic)
    assert [t.log_seq for t in tasks_of(session, round_.id)] == [before.seq]  # type: ignore[union-attr]
    assert past.seq not in [a.seq for a in rounds.accesses(session, clinic.unit, TUESDAY)]


@pytest.mark.parametrize(("day", "hours"), [(dt.date(2026, 3, 29), 23), (dt.date(2026, 10, 25), 25)])
def test_a_dst_day_holds_its_23_or_25_hours(session: Session, clinic: Clinic, day: dt.date, hours: int) -> None:
    start = local(day, 0)
    inside = [start + dt.timedelta(minutes=30 + 60 * n) for n in range(hours)]
    for at in [start - dt.timedelta(minutes=1), *inside, start + dt.timedelta(hours=hours, minutes=1)]:
        log(session, clinic, at)
    session.commit()
    assert [a.at for a in rounds.accesses(session, clinic.unit, day)] == inside


def test_both_half_past_two_of_the_autumn_change_belong_to_the_day(session: Session, clinic: Clinic) -> None:
    day = dt.date(2026, 10, 25)
    first, second = log(session, clinic, local(day, 2, 30)), log(session, clinic, local(day, 2, 30, fold=1))
    session.commit()
    assert second.at - first.at == dt.timedelta(hours=1)
    round_, _ = open_round(session, clinic, day)
    assert {t.log_seq: t.reasons for t in tasks_of(session, round_.id)} == {  # type: ignore[union-attr]
        first.seq: Why.OUT_OF_HOURS, second.seq: Why.OUT_OF_HOURS}


# ---------------------------------------------------------------------- deadlines and reminders
def test_the_deadline_counts_swedish_business_days_over_easter(session: Session, clinic: Clinic) -> None:
    wednesday = dt.date(2026, 4, 1)
    log(session, clinic, local(wednesday, 10))
    good_friday = log(session, clinic, local(dt.date(2026, 4, 3), 10))  # a weekday, but a public holiday
    session.commit()
    round_, _ = open_round(session, clinic, wednesday)  # opened Thursday 2 April
    # Fri 3 (långfredagen) and Mon 6 (annandag påsk) do not count: 7, 8, 9, 10, 13 April
    assert round_ is not None and last_day(round_.deadline) == dt.date(2026, 4, 13)
    assert round_.deadline == local(dt.date(2026, 4, 14), 0)
    friday, _ = open_round(session, clinic, dt.date(2026, 4, 3), now=after(dt.date(2026, 4, 3)))
    assert [t.reasons for t in tasks_of(session, friday.id) if t.log_seq == good_friday.seq] == [  # type: ignore[union-attr]
        Why.OUT_OF_HOURS]


def test_the_deadline_over_the_spring_dst_change(session: Session, clinic: Clinic) -> None:
    friday = dt.date(2026, 3, 26)
    log(session, clinic, local(friday, 10))
    session.commit()
    round_, _ = open_round(session, clinic, friday)  # opened Friday 27 March 01:30 CET
    # 30 and 31 March, 1 and 2 April, then Easter (3 and 6 April) is skipped: the fifth is Tuesday 7 April
    assert round_ is not None and last_day(round_.deadline) == dt.date(2026, 4, 7)
    assert round_.deadline == dt.datetime(2026, 4, 7, 22, 0, tzinfo=dt.UTC)  # midnight CEST, no longer CET


def test_overdue_rounds_are_reminded_on_business_days_once_a_day(session: Session, clinic: Clinic) -> None:
    wednesday = dt.date(2026, 4, 1)
    log(session, clinic, local(wednesday, 10))
    session.commit()
    round_, _ = open_round(session, clinic, wednesday)
    assert round_ is not None
    assert rounds.reminders_due(session, now=local(dt.date(2026, 4, 13), 12)) == []  # the last day: not late yet
    late = local(dt.date(2026, 4, 14), 6)
    [due] = rounds.reminders_due(session, now=late)
    assert (due.unit_hsa_id, due.round_ids, due.days, due.open_tasks) == (clinic.unit, (round_.id,), (wednesday,), 1)
    assert rounds.record_reminder(session, due.round_ids, now=late) == 1
    session.commit()
    assert rounds.reminders_due(session, now=late + dt.timedelta(hours=8)) == []
    assert rounds.record_reminder(session, due.round_ids, now=late + dt.timedelta(hours=8)) == 0
    assert rounds.reminders_due(session, now=local(dt.date(2026, 4, 18), 10)) == []  # a Saturday
    assert len(rounds.reminders_due(session, now=local(dt.date(2026, 4, 20), 10))) == 1
    session.refresh(round_)
    assert round_.reminder_count == 1 and round_.last_reminded_at == late
