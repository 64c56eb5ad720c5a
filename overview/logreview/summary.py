"""The monthly summary per unit: a month of rounds counted on the first Swedish business day of the next month.

The summary is a snapshot (rounds of the month's last days may still be open; it says how many), kept under the
unique key (unit, month) as it was mailed. A month whose summary was missed (the flow was down) is made by the
next run, for every month before the current one that has rounds and no summary.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlmodel import Session, col, select

from kernel.clock import is_business_day, local_date
from overview.logreview.models import LogReviewRound, LogReviewSummary, LogReviewTask
from overview.logreview.rules import Outcome, Why


def month_of(day: dt.date) -> dt.date:
    """The first day of the day's month."""
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    """The first day of the following month."""
    return (month + dt.timedelta(days=32)).replace(day=1)


def first_business_day(month: dt.date) -> dt.date:
    """The month's first Swedish business day."""
    day = month_of(month)
    while not is_business_day(day):
        day += dt.timedelta(days=1)
    return day


def due(session: Session, *, now: dt.datetime) -> list[tuple[str, dt.date]]:
    """(unit, month) pairs with rounds and no summary, whose next month's first business day has come."""
    today = local_date(now)
    rounds = session.exec(select(col(LogReviewRound.unit_hsa_id), col(LogReviewRound.day)).where(
        LogReviewRound.day < month_of(today))).all()
    months = {(unit, month_of(day)) for unit, day in rounds}
    done = {(unit, month) for unit, month in session.exec(select(col(LogReviewSummary.unit_hsa_id),
                                                                 col(LogReviewSummary.month)))}
    return sorted(p for p in months - done if first_business_day(next_month(p[1])) <= today)


def summary_of(session: Session, unit_hsa_id: str, month: dt.date) -> LogReviewSummary | None:
    """The unit's summary of that month, if made."""
    return session.exec(select(LogReviewSummary).where(LogReviewSummary.unit_hsa_id == unit_hsa_id,
                                                       LogReviewSummary.month == month_of(month))).first()


def make(*, session: Session, unit_hsa_id: str, month: dt.date, now: dt.datetime) -> tuple[LogReviewSummary, bool]:
    """Count the unit's month of rounds into its summary unless it exists; (summary, created)."""
    month = month_of(month)
    existing = summary_of(session, unit_hsa_id, month)
    if existing is not None:
        return existing, False
    rounds = list(session.exec(select(LogReviewRound).where(
        LogReviewRound.unit_hsa_id == unit_hsa_id, LogReviewRound.day >= month,
        col(LogReviewRound.day) < next_month(month)).order_by(col(LogReviewRound.day))
        .execution_options(populate_existing=True)).all())
    tasks = list(session.exec(select(LogReviewTask).where(
        col(LogReviewTask.round_id).in_([r.id for r in rounds])).execution_options(populate_existing=True)).all()
    ) if rounds else []
    reasons = Counter(why for t in tasks for why in t.reasons.split(",") if why)
    outcomes = Counter(t.outcome for t in tasks)
    open_rounds = {t.round_id for t in tasks if t.outcome == Outcome.OPEN}
    summary = LogReviewSummary(
        unit_hsa_id=unit_hsa_id, unit_name=rounds[-1].unit_name if rounds else "", month=month, created_at=now,
        rounds=len(rounds), population=sum(r.population for r in rounds), tasks=len(tasks),
        emergency=reasons[Why.EMERGENCY], asserted=reasons[Why.ASSERTED], out_of_hours=reasons[Why.OUT_OF_HOURS],
        random=reasons[Why.RANDOM], justified=outcomes[Outcome.JUSTIFIED],
        not_justified=outcomes[Outcome.NOT_JUSTIFIED], needs_follow_up=outcomes[Outcome.FOLLOW_UP],
        open_tasks=outcomes[Outcome.OPEN],
        overdue_rounds=sum(1 for r in rounds if r.id in open_rounds and r.deadline <= now),
        late_rounds=sum(1 for r in rounds if r.completed_at is not None and r.completed_at > r.deadline),
        reminders=sum(r.reminder_count for r in rounds),
        reviewers=", ".join(sorted({t.decided_by_name for t in tasks if t.decided_by_name})))
    session.add(summary)
    session.flush()  # a concurrent run that made it first: IntegrityError on the unique key; roll back
    return summary, True


def summaries_of(session: Session, unit_hsa_id: str, *, limit: int = 24) -> list[LogReviewSummary]:
    """The unit's latest monthly summaries, newest first."""
    return list(session.exec(select(LogReviewSummary).where(LogReviewSummary.unit_hsa_id == unit_hsa_id)
                             .order_by(col(LogReviewSummary.month).desc()).limit(limit)).all())
