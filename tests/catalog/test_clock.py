"""Swedish time and business days: helgdagar and the eves the region closes on, the same under every hash seed;
local dates across daylight saving time; inclusive end dates shown to people are the day before a half-open
period's end, in Swedish time (D-9)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernel.clock import (
    STOCKHOLM,
    add_business_days,
    business_days_between,
    end_of_day,
    end_text,
    is_business_day,
    is_office_hours,
    last_day,
    local_date,
    local_midnight,
    local_minute,
    until_text,
)

ROOT = Path(__file__).resolve().parents[2]
# Midsommarafton is the Friday between 19 and 25 June; in 2026 and 2037 Nationaldagen (6 June) is a Saturday too.
MIDSUMMER_EVES = {2024: 21, 2025: 20, 2026: 19, 2027: 25, 2028: 23, 2031: 20, 2037: 19}


@pytest.mark.parametrize(("year", "day"), sorted(MIDSUMMER_EVES.items()))
def test_midsommarafton_is_the_friday_between_19_and_25_june(year: int, day: int) -> None:
    eve = dt.date(year, 6, day)
    assert eve.weekday() == 4
    assert not is_business_day(eve)
    assert is_business_day(eve - dt.timedelta(days=1)) or eve.day - 1 == 6  # the Thursday before works
    assert is_business_day(eve - dt.timedelta(days=14)) or (eve - dt.timedelta(days=14)).day == 6


def test_the_answer_does_not_depend_on_the_hash_seed() -> None:
    """The bug: the eve was taken from a frozenset of holidays, so its iteration order (the hash seed) decided."""
    script = ("import datetime as dt; from kernel.clock import is_business_day; "
              "print([is_business_day(dt.date(y, 6, d)) for y, d in "
              f"{sorted(MIDSUMMER_EVES.items())!r}], is_business_day(dt.date(2026, 6, 5)))")
    answers = set()
    for seed in ("0", "1", "2", "3", "7", "42", "12345"):
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        answers.add(done.stdout.strip())
    assert answers == {f"{[False] * len(MIDSUMMER_EVES)} True"}


@pytest.mark.parametrize(("day", "working"), [
    (dt.date(2026, 12, 24), False),  # julafton (Thursday)
    (dt.date(2026, 12, 31), False),  # nyårsafton (Thursday)
    (dt.date(2026, 12, 23), True),  # the day before julafton is a working day
    (dt.date(2026, 12, 25), False),  # juldagen
    (dt.date(2027, 1, 6), False),  # trettondedag jul (Wednesday)
    (dt.date(2027, 1, 5), True),  # trettondagsafton is not an eve the region closes on
    (dt.date(2026, 4, 3), False),  # långfredagen
    (dt.date(2026, 4, 6), False),  # annandag påsk
    (dt.date(2026, 5, 1), False),  # första maj
    (dt.date(2026, 5, 14), False),  # Kristi himmelsfärd
    (dt.date(2026, 5, 15), True),  # klämdag: still a working day
    (dt.date(2026, 6, 6), False),  # nationaldagen (a Saturday in 2026)
    (dt.date(2026, 6, 5), True),  # the Friday before it
    (dt.date(2026, 11, 30), True),  # an ordinary Monday
    (dt.date(2026, 11, 28), False),  # an ordinary Saturday
])
def test_business_days(day: dt.date, working: bool) -> None:
    assert is_business_day(day) is working


def test_easter_monday_2027_falls_the_day_after_dst_begins() -> None:
    assert add_business_days(dt.datetime(2027, 3, 26, 9, 0, tzinfo=STOCKHOLM), 1).astimezone(STOCKHOLM).date() == \
        dt.date(2027, 3, 30)


def test_adding_business_days_skips_the_christmas_week_and_keeps_the_clock_time() -> None:
    start = dt.datetime(2026, 12, 22, 14, 30, tzinfo=STOCKHOLM)  # Tuesday
    later = add_business_days(start, 3)  # 23 Dec, then 28 and 29 Dec (24–27 closed)
    assert later.astimezone(STOCKHOLM) == dt.datetime(2026, 12, 29, 14, 30, tzinfo=STOCKHOLM)
    assert business_days_between(start, later) == 3
    assert business_days_between(later, start) == 0
    assert add_business_days(start, 0) == start


def test_a_deadline_across_the_spring_dst_change_keeps_the_local_time() -> None:
    start = dt.datetime(2026, 3, 27, 9, 0, tzinfo=STOCKHOLM)  # Friday; DST begins on Sunday 29 March
    later = add_business_days(start, 1)
    assert later.astimezone(STOCKHOLM).replace(tzinfo=None) == dt.datetime(2026, 3, 30, 9, 0)
    assert later - start == dt.timedelta(days=3) - dt.timedelta(hours=1)


@pytest.mark.parametrize(("day", "utc_hour"), [(dt.date(2026, 1, 15), 23), (dt.date(2026, 7, 15), 22)])
def test_a_date_begins_at_swedish_midnight(day: dt.date, utc_hour: int) -> None:
    begins = local_midnight(day)
    assert begins.tzinfo == dt.UTC and begins.hour == utc_hour and local_date(begins) == day
    assert local_date(begins - dt.timedelta(microseconds=1)) == day - dt.timedelta(days=1)
    assert end_of_day(day) == local_midnight(day + dt.timedelta(days=1))


def test_the_day_dst_ends_is_25_hours_long() -> None:
    day = dt.date(2026, 10, 25)
    assert end_of_day(day) - local_midnight(day) == dt.timedelta(hours=25)


@pytest.mark.parametrize(("local", "office"), [
    (dt.datetime(2026, 12, 1, 7, 0), True), (dt.datetime(2026, 12, 1, 6, 59), False),
    (dt.datetime(2026, 12, 1, 17, 59), True), (dt.datetime(2026, 12, 1, 18, 0), False),
    (dt.datetime(2026, 6, 19, 10, 0), False),  # midsommarafton
])
def test_office_hours_boundaries(local: dt.datetime, office: bool) -> None:
    assert is_office_hours(local.replace(tzinfo=STOCKHOLM)) is office


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


def test_an_end_one_microsecond_after_midnight_still_covers_that_day() -> None:
    # A half-open period that ends a microsecond into 2 December covered the first moment of 2 December.
    end = local_midnight(dt.date(2026, 12, 2)) + dt.timedelta(microseconds=1)
    assert last_day(end) == dt.date(2026, 12, 2)
    assert last_day(end - dt.timedelta(microseconds=1)) == dt.date(2026, 12, 1)


@pytest.mark.parametrize(("instant", "shown"), [
    (dt.datetime(2026, 12, 1, 22, 59, 59, tzinfo=dt.UTC), "2026-12-01 23:59"),  # winter: UTC+1, seconds cut
    (dt.datetime(2026, 12, 1, 23, 0, tzinfo=dt.UTC), "2026-12-02 00:00"),  # the Swedish date, not UTC's
    (dt.datetime(2027, 7, 5, 6, 7, tzinfo=dt.UTC), "2027-07-05 08:07"),  # summer: UTC+2
])
def test_local_minute_is_swedish_wall_time_to_the_minute(instant: dt.datetime, shown: str) -> None:
    assert local_minute(instant) == shown
