"""The clock hands out aware UTC instants (D-9), whatever the machine's own time zone."""

from __future__ import annotations

import datetime as dt

from freezegun import freeze_time

from kernel import clock


@freeze_time("2026-06-01 12:00:00")
def test_now_is_an_aware_utc_instant() -> None:
    assert clock.now() == dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC) and clock.now().tzinfo is dt.UTC


def test_local_dates_and_deadlines_come_back_in_utc() -> None:
    midnight = clock.local_midnight(dt.date(2026, 6, 1))
    assert midnight == dt.datetime(2026, 5, 31, 22, tzinfo=dt.UTC) and midnight.tzinfo is dt.UTC
    later = clock.add_business_days(dt.datetime(2026, 6, 1, 7, tzinfo=dt.UTC), 1)
    assert later == dt.datetime(2026, 6, 2, 7, tzinfo=dt.UTC) and later.tzinfo is dt.UTC
