"""The log follow-up's figure on the operations dashboard (driftöversikt): per unit, how many of the picked
accesses of its rounds of the last 90 days have been judged.

A round reviews one day of a unit's log (overview.logreview.rounds); its tasks are the accesses picked for review.
A task is *done* once judged (any outcome but open), *open* while its round's deadline lies ahead, *missed* when the
deadline passed with the task still open. Counted in SQL, one row per unit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import case, func, select
from sqlmodel import Session, col

from kernel.clock import local_date
from kernel.figures import WINDOW_DAYS, UnitCompletion
from overview.logreview.models import LogReviewRound, LogReviewTask
from overview.logreview.rules import Outcome


def completion_per_unit(session: Session, *, now: dt.datetime, units: Collection[str] | None = None,
                        days: int = WINDOW_DAYS) -> list[UnitCompletion]:
    """Per unit (all, or those in ``units``), its rounds for the last ``days`` days: tasks judged, open, missed;
    the units least done first."""
    if units is not None and not units:
        return []
    first_day = local_date(now) - dt.timedelta(days=days)
    task = LogReviewTask
    is_open = col(task.outcome) == Outcome.OPEN.value
    rounds = select(col(LogReviewRound.id)).where(col(LogReviewRound.day) >= first_day,
                                                 col(LogReviewRound.opened_at) <= now)
    if units is not None:
        rounds = rounds.where(col(LogReviewRound.unit_hsa_id).in_(sorted(units)))
    rows = session.execute(
        select(col(LogReviewRound.unit_hsa_id), func.max(col(LogReviewRound.unit_name)),
               func.count(func.distinct(col(LogReviewRound.id))), func.count(col(task.id)),
               func.sum(case((is_open, 0), else_=1)),
               func.sum(case((is_open & (col(LogReviewRound.deadline) > now), 1), else_=0)),
               func.sum(case((is_open & (col(LogReviewRound.deadline) <= now), 1), else_=0)))
        .join(task, col(task.round_id) == LogReviewRound.id)
        .where(col(LogReviewRound.id).in_(rounds))
        .group_by(col(LogReviewRound.unit_hsa_id))).all()
    found = [UnitCompletion(unit, name or unit, rounds_, total, int(done or 0), int(open_ or 0), int(missed or 0))
             for unit, name, rounds_, total, done, open_, missed in rows]
    return sorted(found, key=lambda u: (u.share if u.share is not None else 101, u.unit_name))
