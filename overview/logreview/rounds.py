"""Review rounds: which (unit, day) pairs need one, opening a round with its tasks, overdue rounds and reminders.

A round and all its tasks are written in the caller's transaction, under the unique key (unit, day): a run killed
halfway has either written a whole round or none, a second run finds the round and writes nothing, and of two
concurrent runs one fails on the unique key and rolls back. The population is every logged action on a patient's
data at the unit that day, granted or refused (a refused attempt still touched the patient: the gate had found them).
The deadline and the reminders' timing (business days, once a day) are the rules recertification shares (kernel.review).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from catalog import Directory
from kernel.clock import local_date
from kernel.review import deadline_after, is_reminder_day, start_of_today
from kernel.sqltypes import rowcount
from overview.logreview import risk, signals
from overview.logreview.models import LogReviewRound, LogReviewTask
from overview.logreview.rules import Access, Outcome, ReviewConfig, Why, day_is_over, days_to_review, pick
from overview.logreview.signals import day_rows
from overview.models import AccessLog


def round_of(session: Session, unit_hsa_id: str, day: dt.date) -> LogReviewRound | None:
    """The unit's round for that day, if it was opened."""
    return session.exec(select(LogReviewRound).where(LogReviewRound.unit_hsa_id == unit_hsa_id,
                                                     LogReviewRound.day == day)).first()


def pending(session: Session, *, now: dt.datetime, config: ReviewConfig) -> list[tuple[str, dt.date]]:
    """(unit, day) pairs of the look-back window that had accesses and have no sampled round yet, oldest first
    (a round holding only patients' flags still needs its sample)."""
    found = []
    for day in days_to_review(now, config.lookback_days):
        table, where = day_rows(day)
        units = session.execute(select(table.c.care_unit_hsa_id).where(*where).distinct()).scalars().all()
        done = set(session.exec(select(LogReviewRound.unit_hsa_id).where(
            LogReviewRound.day == day, col(LogReviewRound.sampled_at).is_not(None))).all())
        found += [(unit, day) for unit in sorted(units) if unit not in done]
    return found


def accesses(session: Session, unit_hsa_id: str, day: dt.date) -> list[Access]:
    """The unit's logged accesses to patient data that day, in log order."""
    table, where = day_rows(day)
    rows = session.execute(table.select().with_only_columns(
        table.c.seq, table.c.at, table.c.action, table.c.relation, table.c.basis, table.c.user_hsa_id,
        table.c.patient_personnummer).where(*where, table.c.care_unit_hsa_id == unit_hsa_id)
        .order_by(table.c.seq)).all()
    return [Access(row.seq, row.at, row.action, row.relation, row.basis, row.user_hsa_id.upper(),
                   row.patient_personnummer) for row in rows]


def open_round(*, session: Session, directory: Directory, unit_hsa_id: str, day: dt.date, config: ReviewConfig,
               now: dt.datetime) -> tuple[LogReviewRound | None, bool]:
    """The unit's round for the day, opened with its tasks unless it exists; (round, created). None: no accesses.

    A round that so far holds only patients' flags (``sampled_at`` None) gets its sample now, into the same round;
    a flagged access the sample also picks keeps one task with both reasons. A concurrent run that opened it first
    makes this raise IntegrityError (unique unit and day), or finds it sampled; roll back.
    """
    existing = round_of(session, unit_hsa_id, day)
    if existing is not None and existing.sampled_at is not None:
        return existing, False
    if not day_is_over(day, now):
        raise ValueError(f"{day} is not over yet; its log may still grow")
    population = accesses(session, unit_hsa_id, day)
    if not population:
        return None, False
    facts = signals.load(session=session, directory=directory, unit_hsa_id=unit_hsa_id, day=day,
                         population=population, config=config)
    flagged = risk.flag(population, facts, unit_hsa_id=unit_hsa_id, day=day, config=config)
    picked = pick(population, unit_hsa_id=unit_hsa_id, day=day, config=config, flagged=flagged)
    counts = Counter(why for reasons in picked.values() for why in reasons)
    numbers = {"population": len(population), "emergency_count": counts[Why.EMERGENCY],
               "asserted_count": counts[Why.ASSERTED], "out_of_hours_count": counts[Why.OUT_OF_HOURS],
               "random_count": counts[Why.RANDOM], "sample_rule": config.rule_text()[:200],
               "rules": ",".join(config.active_rules()), "sampled_at": now}
    if existing is None:
        round_ = _new_round(session, directory, unit_hsa_id, day, population[-1].seq, config, now, **numbers)
        known: dict[int, LogReviewTask] = {}
    else:
        # only one run fills a flag-only round: the first to set sampled_at
        claimed = session.execute(update(LogReviewRound).where(
            col(LogReviewRound.id) == existing.id, col(LogReviewRound.sampled_at).is_(None)).values(
            deadline=max(existing.deadline, deadline_after(now, config.deadline_business_days)), **numbers)
            .execution_options(synchronize_session=False))
        if rowcount(claimed) != 1:
            return existing, False
        session.refresh(existing)
        round_ = existing
        known = {t.log_seq: t for t in session.exec(select(LogReviewTask).where(
            LogReviewTask.round_id == round_.id)).all()}
    assert round_.id is not None
    for seq, reasons in picked.items():
        if seq in known:
            task = known[seq]
            task.reasons = _merged(task.reasons, reasons)
            session.add(task)
        else:
            session.add(LogReviewTask(round_id=round_.id, log_seq=seq, reasons=",".join(reasons)))
    session.flush()
    return round_, True


def _merged(current: str, more: tuple[Why, ...] | list[Why]) -> str:
    """A task's reasons with ``more`` added (each once, the first ones first)."""
    reasons = [r for r in current.split(",") if r]
    return ",".join(reasons + [r for r in more if r not in reasons])[:200]


def _new_round(session: Session, directory: Directory, unit_hsa_id: str, day: dt.date, last_seq: int,
               config: ReviewConfig, now: dt.datetime, **numbers: Any) -> LogReviewRound:
    """A new round of the unit's day (names from the directory, else from the log row ``last_seq``), flushed."""
    unit = directory.unit(unit_hsa_id)
    names = session.execute(select(AccessLog.care_unit_name, AccessLog.care_provider_hsa_id)
                            .where(AccessLog.seq == last_seq)).one()
    round_ = LogReviewRound(
        unit_hsa_id=unit_hsa_id, unit_name=unit.name if unit else names.care_unit_name,
        provider_hsa_id=unit.provider_hsa_id if unit else names.care_provider_hsa_id, day=day,
        manager_hsa_id=unit.manager_hsa_id if unit else None, opened_at=now,
        deadline=deadline_after(now, config.deadline_business_days), **numbers)
    # No savepoint: a concurrent run that opened the round first makes this flush fail on the unique key, and the
    # caller's transaction rolls back whole (with SQLite a savepoint opened first in a transaction would commit).
    session.add(round_)
    session.flush()
    return round_


def flag_task(*, session: Session, directory: Directory, log: AccessLog, config: ReviewConfig,
              now: dt.datetime) -> LogReviewTask:
    """The review task of a patient's flag on ``log`` (a care access at a unit): the access's task with the reason
    patientmarkering added, in its round; a round that does not exist yet (the day is not over, or not yet
    reviewed) is opened holding only the flag, and the daily run draws its sample into it later. An access judged
    before is opened again for a new judgement; the earlier one stays in the decision history (D-76).
    The caller's transaction; IntegrityError when a concurrent run opened the round first (retry)."""
    assert log.care_unit_hsa_id is not None
    day = local_date(log.at)
    task = session.exec(select(LogReviewTask).where(LogReviewTask.log_seq == log.seq)).first()
    if task is None:
        round_ = round_of(session, log.care_unit_hsa_id, day) or _new_round(
            session, directory, log.care_unit_hsa_id, day, log.seq, config, now, sampled_at=None)
        assert round_.id is not None
        task = LogReviewTask(round_id=round_.id, log_seq=log.seq, reasons=Why.PATIENT_FLAG.value)
    else:
        task.reasons = _merged(task.reasons, [Why.PATIENT_FLAG])
    if task.outcome != Outcome.OPEN:  # judged before the patient spoke: judged again (the history keeps the first)
        task.outcome, task.decided_by, task.decided_by_name, task.decided_as, task.decided_at = (
            Outcome.OPEN.value, None, None, None, None)
    session.add(task)
    session.flush()
    reopened = session.get(LogReviewRound, task.round_id)
    if reopened is not None and reopened.completed_at is not None:
        reopened.completed_at = None  # the round has an open question again
        session.add(reopened)
        session.flush()
    return task


# ---------------------------------------------------------------------- overdue rounds and reminders
@dataclass(frozen=True, slots=True)
class Overdue:
    """A unit's rounds past their deadline with tasks still open."""

    unit_hsa_id: str
    unit_name: str
    round_ids: tuple[int, ...]
    days: tuple[dt.date, ...]
    open_tasks: int
    oldest_deadline: dt.datetime


def open_task_counts(session: Session, round_ids: list[int]) -> dict[int, int]:
    """Open tasks per round."""
    if not round_ids:
        return {}
    rows = session.exec(select(LogReviewTask.round_id, func.count()).where(
        col(LogReviewTask.round_id).in_(round_ids), LogReviewTask.outcome == Outcome.OPEN)
        .group_by(col(LogReviewTask.round_id))).all()
    return dict(rows)


def overdue(session: Session, *, now: dt.datetime) -> list[Overdue]:
    """Units with rounds past their deadline that still have open tasks, by unit."""
    rounds = list(session.exec(select(LogReviewRound).where(
        LogReviewRound.deadline <= now, col(LogReviewRound.completed_at).is_(None))
        .order_by(col(LogReviewRound.unit_hsa_id), col(LogReviewRound.day))).all())
    counts = open_task_counts(session, [r.id for r in rounds if r.id is not None])
    by_unit: dict[str, list[LogReviewRound]] = {}
    for round_ in rounds:
        if counts.get(round_.id or 0):
            by_unit.setdefault(round_.unit_hsa_id, []).append(round_)
    return [Overdue(unit, late[-1].unit_name, tuple(r.id for r in late if r.id is not None),
                    tuple(r.day for r in late), sum(counts[r.id or 0] for r in late),
                    min(r.deadline for r in late)) for unit, late in sorted(by_unit.items())]


def reminders_due(session: Session, *, now: dt.datetime) -> list[Overdue]:
    """The overdue units to remind now: on Swedish business days only, at most once a day per unit."""
    if not is_reminder_day(now):
        return []
    today = start_of_today(now)
    return [o for o in overdue(session, now=now) if session.exec(select(func.count()).select_from(LogReviewRound)
            .where(col(LogReviewRound.id).in_(o.round_ids), or_(
                col(LogReviewRound.last_reminded_at).is_(None), col(LogReviewRound.last_reminded_at) < today))).one()]


def record_reminder(session: Session, round_ids: tuple[int, ...], *, now: dt.datetime) -> int:
    """Count today's reminder on each round (once a day, so a re-run does not count it twice); rounds marked."""
    today = start_of_today(now)
    result = session.execute(update(LogReviewRound).where(
        col(LogReviewRound.id).in_(round_ids), or_(col(LogReviewRound.last_reminded_at).is_(None),
                                                   col(LogReviewRound.last_reminded_at) < today))
        .values(reminder_count=LogReviewRound.reminder_count + 1, last_reminded_at=now)
        .execution_options(synchronize_session=False))
    return rowcount(result)
