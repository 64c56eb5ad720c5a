"""What a deployment's schedule means in time: when it was last due, and whether a run is overdue (pure).

The Prefect scheduler turns a cron expression into instants in the schedule's time zone; these rules follow the
same policy (D-44): a wall-clock time in a spring-forward gap runs the gap's length later, a time that happens
twice in the autumn runs once, at the first. Nothing here talks to a server: the callers hand in what Prefect said.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from croniter import croniter  # Prefect's scheduler uses its vendored copy of the same library

MIN_GRACE = dt.timedelta(minutes=1)
MAX_GRACE = dt.timedelta(hours=1)
# The scheduler creates a new deployment's first runs a few seconds after it was deployed: a time due in its
# first minute may have had no run created for it.
SCHEDULER_SLACK = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Schedule:
    """One schedule of a deployment: a cron expression in a time zone, or a fixed interval from an anchor."""

    cron: str | None = None
    timezone: str = "UTC"
    interval: dt.timedelta | None = None
    anchor: dt.datetime | None = None

    def describe(self) -> str:
        """The schedule in plain Swedish ("dagligen kl. 02:30 (Stockholmstid)", "var 5:e minut")."""
        if self.interval is not None:
            return _every(self.interval)
        zone = "Stockholmstid" if self.timezone == "Europe/Stockholm" else self.timezone
        fields = (self.cron or "").split()
        if len(fields) == 5 and fields[2:] == ["*", "*", "*"] and fields[0].isdigit() and fields[1].isdigit():
            return f"dagligen kl. {int(fields[1]):02d}:{int(fields[0]):02d} ({zone})"
        return f"enligt cron «{self.cron}» ({zone})"


def _ordinal(n: int) -> str:
    """Swedish short ordinal: 2:a, 3:e, 21:a, 11:e."""
    return f"{n}:{'a' if n % 10 in (1, 2) and n % 100 not in (11, 12) else 'e'}"


def _every(interval: dt.timedelta) -> str:
    seconds = int(interval.total_seconds())
    for unit, size in (("dag", 86400), ("timme", 3600), ("minut", 60), ("sekund", 1)):
        if seconds % size == 0:
            count = seconds // size
            return f"varje {unit}" if count == 1 else f"var {_ordinal(count)} {unit}"
    return f"var {seconds}:e sekund"


def last_due(schedule: Schedule, at: dt.datetime) -> dt.datetime | None:
    """The latest instant at or before ``at`` when the schedule had a run due (None: never yet)."""
    if schedule.interval is not None:
        anchor = schedule.anchor or at
        if at < anchor:
            return None
        return anchor + schedule.interval * ((at - anchor) // schedule.interval)
    assert schedule.cron is not None  # a schedule without an interval has a cron expression
    zone = ZoneInfo(schedule.timezone)
    wall = at.astimezone(zone).replace(tzinfo=None) + dt.timedelta(seconds=1)  # a run due at `at` counts
    times = croniter(schedule.cron, wall)
    for _ in range(4):  # a gap (or the second added above) can put it after `at`: step back
        instant = times.get_prev(dt.datetime).replace(tzinfo=zone, fold=0).astimezone(dt.UTC)
        if instant <= at:
            return instant
    return None


def period(schedule: Schedule, at: dt.datetime) -> dt.timedelta:
    """How far apart the schedule's runs are around ``at`` (the last two due times)."""
    if schedule.interval is not None:
        return schedule.interval
    latest = last_due(schedule, at)
    before = last_due(schedule, latest - dt.timedelta(microseconds=1)) if latest else None
    return (latest - before) if latest and before else dt.timedelta(days=1)


def grace(schedule: Schedule, at: dt.datetime) -> dt.timedelta:
    """How long a due run may take to complete: one period, at least a minute and at most an hour."""
    return max(MIN_GRACE, min(MAX_GRACE, period(schedule, at)))


def overdue_since(schedule: Schedule, *, since: dt.datetime, last_completed: dt.datetime | None,
                  now: dt.datetime) -> dt.datetime | None:
    """When a run was due that no completed run answers for (None: not overdue).

    The due time judged is the latest one whose grace has passed, so a run still going within its grace is not
    overdue, and neither is a due time before ``since`` (the deployment's creation): a nightly deployment on a fresh
    stack is not overdue before its first night. ``last_completed`` is when the last completed run was scheduled
    or ended, whichever is later.
    """
    due = last_due(schedule, now - grace(schedule, now))
    if due is None or due < since + SCHEDULER_SLACK:
        return None
    return due if last_completed is None or last_completed < due else None
