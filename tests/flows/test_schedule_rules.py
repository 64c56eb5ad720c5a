"""The schedule rules (flows/schedules.py): due times in Stockholm time across DST, the Swedish description, and
the overdue rule over (schedule, since, last completed run, now), table-driven."""

from __future__ import annotations

import datetime as dt

import pytest

from flows.schedules import Schedule, grace, last_due, overdue_since

UTC = dt.UTC
NIGHTLY = Schedule(cron="30 2 * * *", timezone="Europe/Stockholm")  # catalog-sync
SWEEP = Schedule(interval=dt.timedelta(minutes=5), anchor=dt.datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC))


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("at", "due"), [
    ("2026-12-01 09:00", "2026-12-01 01:30"),  # winter: 02:30 CET
    ("2026-12-01 01:30", "2026-12-01 01:30"),  # exactly at the due time
    ("2026-12-01 01:29", "2026-11-30 01:30"),
    ("2027-06-15 12:00", "2027-06-15 00:30"),  # summer: 02:30 CEST
    ("2027-03-28 01:10", "2027-03-27 01:30"),  # spring forward: 02:30 does not exist, it runs at 03:30 CEST ...
    ("2027-03-28 01:30", "2027-03-28 01:30"),  # ... which is 01:30 UTC
    ("2027-10-31 00:30", "2027-10-31 00:30"),  # fall back: the first 02:30 (CEST) ...
    ("2027-10-31 01:45", "2027-10-31 00:30"),  # ... and not the second one (02:30 CET)
])
def test_last_due_of_a_nightly_cron_in_stockholm_time(at: str, due: str) -> None:
    assert last_due(NIGHTLY, utc(at)) == utc(due)


def test_last_due_of_an_interval_counts_from_its_anchor() -> None:
    assert last_due(SWEEP, utc("2026-12-01 09:12")) == utc("2026-12-01 09:10")
    assert last_due(SWEEP, utc("2026-12-01 08:59")) is None


@pytest.mark.parametrize(("schedule", "text"), [
    (NIGHTLY, "dagligen kl. 02:30 (Stockholmstid)"),
    (Schedule(cron="0 6 * * *", timezone="Europe/Stockholm"), "dagligen kl. 06:00 (Stockholmstid)"),
    (Schedule(cron="0 6 * * 1-5", timezone="UTC"), "enligt cron «0 6 * * 1-5» (UTC)"),
    (SWEEP, "var 5:e minut"),
    (Schedule(interval=dt.timedelta(hours=1)), "varje timme"),
    (Schedule(interval=dt.timedelta(minutes=2)), "var 2:a minut"),
    (Schedule(interval=dt.timedelta(days=1)), "varje dag"),
    (Schedule(interval=dt.timedelta(seconds=90)), "var 90:e sekund"),
])
def test_describe_in_swedish(schedule: Schedule, text: str) -> None:
    assert schedule.describe() == text


def test_grace_is_one_period_between_a_minute_and_an_hour() -> None:
    assert grace(SWEEP, utc("2026-12-01 10:00")) == dt.timedelta(minutes=5)
    assert grace(NIGHTLY, utc("2026-12-01 10:00")) == dt.timedelta(hours=1)
    assert grace(Schedule(interval=dt.timedelta(seconds=10)), utc("2026-12-01 10:00")) == dt.timedelta(minutes=1)


CREATED_LONG_AGO = "2026-11-01 12:00"


@pytest.mark.parametrize(("case", "schedule", "since", "completed", "now", "overdue"), [
    ("fresh stack before its first night", NIGHTLY, "2026-12-01 09:00", None, "2026-12-01 23:59", None),
    ("fresh stack, first night within grace", NIGHTLY, "2026-12-01 09:00", None, "2026-12-02 02:00", None),
    ("fresh stack, first night missed", NIGHTLY, "2026-12-01 09:00", None, "2026-12-02 02:31", "2026-12-02 01:30"),
    ("ran last night", NIGHTLY, CREATED_LONG_AGO, "2026-12-01 01:34", "2026-12-01 18:00", None),
    ("last run the night before", NIGHTLY, CREATED_LONG_AGO, "2026-11-30 01:34", "2026-12-01 18:00",
     "2026-12-01 01:30"),
    ("never ran, long deployed", NIGHTLY, CREATED_LONG_AGO, None, "2026-12-01 18:00", "2026-12-01 01:30"),
    ("a manual run after the due time counts", NIGHTLY, CREATED_LONG_AGO, "2026-12-01 08:00", "2026-12-01 18:00",
     None),
    ("spring-forward night ran at 03:30 CEST", NIGHTLY, CREATED_LONG_AGO, "2027-03-28 01:31", "2027-03-28 09:00",
     None),
    ("sweep ran five minutes ago", SWEEP, "2026-12-01 09:00", "2026-12-01 09:55", "2026-12-01 10:01", None),
    ("sweep silent for a quarter of an hour", SWEEP, "2026-12-01 09:00", "2026-12-01 09:45", "2026-12-01 10:01",
     "2026-12-01 09:55"),
    ("sweep's anchor is its deployment time, not a due run", SWEEP, "2026-12-01 09:00", None, "2026-12-01 09:06",
     None),
    ("sweep's first run not done within grace", SWEEP, "2026-12-01 09:00", None, "2026-12-01 09:11",
     "2026-12-01 09:05"),
])
def test_overdue_rule(case: str, schedule: Schedule, since: str, completed: str | None, now: str,
                      overdue: str | None) -> None:
    found = overdue_since(schedule, since=utc(since), last_completed=utc(completed) if completed else None,
                          now=utc(now))
    assert found == (utc(overdue) if overdue else None), case
