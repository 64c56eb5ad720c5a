"""The arithmetic of the operations figures (driftöversikt) that the order and review packages share: percentiles,
the ISO weeks of a look-back, and one unit's completion of a review.

Ordering (provisioning.metrics), recertification and log follow-up (overview.logreview.metrics) count different
rows but report the same shapes; they may not import each other, so the shapes live here (as kernel.review does
for the reviews' deadlines). Everything here is pure.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from kernel.clock import local_date, local_midnight

WINDOW_DAYS = 90  # lead times and log-review rounds: the last 90 days
WEEKS = 13  # weekly counts: this ISO week and the twelve before it


def median(values: Sequence[float]) -> float:
    """The median (the mean of the two middle values for an even count); raises ValueError when empty."""
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


def nearest_rank(values: Sequence[float], percent: float) -> float:
    """The ``percent``-th percentile by the nearest-rank method: the smallest value with at least ``percent`` % of
    the values at or below it (the ⌈p·n/100⌉-th smallest). Always one of the values, so a p90 of 10 lead times is
    the 9th longest, never an interpolation nobody waited."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(percent * len(ordered) / 100) - 1)])


@dataclass(frozen=True, slots=True)
class Week:
    """One ISO week of a look-back: its label (``2026-V48``) and where it begins and ends (local midnights, UTC)."""

    label: str
    start: dt.datetime
    end: dt.datetime


def iso_weeks(now: dt.datetime, count: int = WEEKS) -> list[Week]:
    """The ``count`` Swedish ISO weeks up to and including the one ``now`` lies in, oldest first."""
    today = local_date(now)
    monday = today - dt.timedelta(days=today.weekday())
    weeks = []
    for back in range(count - 1, -1, -1):
        first = monday - dt.timedelta(weeks=back)
        year, number, _ = first.isocalendar()
        weeks.append(Week(f"{year}-V{number:02d}", local_midnight(first),
                          local_midnight(first + dt.timedelta(days=7))))
    return weeks


def week_of(weeks: Sequence[Week], at: dt.datetime) -> int | None:
    """The index of the week ``at`` lies in, or None outside the look-back."""
    return next((i for i, week in enumerate(weeks) if week.start <= at < week.end), None)


@dataclass(frozen=True, slots=True)
class UnitCompletion:
    """How far one unit has come with a review: ``done`` of ``total`` decided, ``open`` still within the deadline,
    ``missed`` past the deadline without a decision (so done + open + missed = total)."""

    unit_hsa_id: str
    unit_name: str
    rounds: int
    total: int
    done: int
    open: int
    missed: int

    @property
    def share(self) -> float | None:
        """Decided, in per cent of the total (None when the review had nothing to decide)."""
        return 100 * self.done / self.total if self.total else None
