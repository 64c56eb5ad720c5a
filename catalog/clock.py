"""Swedish time: Europe/Stockholm, local dates as instants, and business days (Swedish public holidays).

A shared primitive of the domain, kept in the bottom layer so that every package uses the same rules
(docs/decisions.md D-9). ``now()`` reads the system clock, which tests freeze with freezegun.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def now() -> dt.datetime:
    """The current instant, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def local_midnight(day: dt.date) -> dt.datetime:
    """The instant a date begins in Sweden (aware, UTC)."""
    return dt.datetime.combine(day, dt.time(), STOCKHOLM).astimezone(dt.UTC)


def local_date(instant: dt.datetime) -> dt.date:
    """The Swedish calendar date of an instant."""
    return instant.astimezone(STOCKHOLM).date()


def local_minute(instant: dt.datetime) -> str:
    """An instant as Swedish local time to the minute (YYYY-MM-DD HH:MM), as the pages and the CLI show it."""
    return instant.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def end_of_day(day: dt.date) -> dt.datetime:
    """The exclusive end of a date typed as 'to and including' (midnight after it, Swedish time)."""
    return local_midnight(day + dt.timedelta(days=1))


@lru_cache(maxsize=64)
def _swedish_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("SE", years=year))


def is_business_day(day: dt.date) -> bool:
    """Monday–Friday and not a Swedish public holiday (helgdag), nor midsommarafton, julafton or nyårsafton."""
    if day.weekday() >= 5 or day in _swedish_holidays(day.year):
        return False
    # De facto non-working eves in Swedish public administration (not helgdagar by law).
    if (day.month, day.day) in {(12, 24), (12, 31)}:
        return False
    midsummer_eve = next(d for d in _swedish_holidays(day.year) if d.month == 6 and d.weekday() == 5)
    return day != midsummer_eve - dt.timedelta(days=1)


def add_business_days(start: dt.datetime, days: int) -> dt.datetime:
    """The instant ``days`` Swedish business days after ``start`` (same local clock time)."""
    local = start.astimezone(STOCKHOLM)
    day = local.date()
    remaining = days
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    return dt.datetime.combine(day, local.time(), STOCKHOLM).astimezone(dt.UTC)


def business_days_between(start: dt.datetime, end: dt.datetime) -> int:
    """Whole Swedish business days from ``start`` to ``end`` (0 when end is before or on the same day)."""
    first, last = local_date(start), local_date(end)
    count = 0
    day = first
    while day < last:
        day += dt.timedelta(days=1)
        if is_business_day(day):
            count += 1
    return count


def is_office_hours(instant: dt.datetime) -> bool:
    """07:00–18:00 Swedish time on a business day (log follow-up samples accesses outside it)."""
    local = instant.astimezone(STOCKHOLM)
    return is_business_day(local.date()) and dt.time(7) <= local.time() < dt.time(18)
