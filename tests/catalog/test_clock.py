"""Inclusive end dates shown to people: the day before a half-open period's end, in Swedish time (D-9)."""

from __future__ import annotations

import datetime as dt

import pytest

from catalog.clock import end_of_day, end_text, last_day, local_midnight, until_text


@pytest.mark.parametrize("day", [dt.date(2027, 6, 30), dt.date(2026, 3, 28), dt.date(2026, 3, 29),
                                 dt.date(2026, 10, 24), dt.date(2026, 10, 25), dt.date(2028, 2, 29)])
def test_a_typed_last_day_comes_back_as_itself(day: dt.date) -> None:
    end = end_of_day(day)  # stored exclusive: the next local midnight (across DST changes too)
    assert last_day(end) == day
    assert end_text(end) == day.isoformat()
    assert until_text(end) == f"till och med {day.isoformat()}"


def test_midnight_utc_is_not_midnight_in_sweden() -> None:
    end = dt.datetime(2027, 7, 1, 0, 0, tzinfo=dt.UTC)  # 02:00 in Stockholm: a period ending during 1 July
    assert last_day(end) == dt.date(2027, 7, 1)
    assert until_text(end) == "till 2027-07-01 02:00"


def test_an_end_during_the_day_names_the_moment() -> None:
    end = dt.datetime(2026, 11, 24, 13, 30, tzinfo=dt.UTC)
    assert last_day(end) == dt.date(2026, 11, 24)
    assert end_text(end) == "2026-11-24 14:30" and until_text(end) == "till 2026-11-24 14:30"


def test_an_end_at_local_midnight_is_the_day_before() -> None:
    assert until_text(local_midnight(dt.date(2026, 11, 25))) == "till och med 2026-11-24"
