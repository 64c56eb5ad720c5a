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


def last_day(end: dt.datetime) -> dt.date:
    """The last Swedish date a half-open period ending at ``end`` still covers: what "till och med" shows (D-9)."""
    return local_date(end - dt.timedelta(microseconds=1))


def years_later(day: dt.date, years: int) -> dt.date:
    """The same date ``years`` later (28 February for a 29 February that does not exist), as a period of years is
    counted (lag 1930:173 om beräkning av lagstadgad tid)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _ends_a_day(end: dt.datetime) -> bool:
    return end.astimezone(STOCKHOLM).time() == dt.time()


def end_text(end: dt.datetime) -> str:
    """An exclusive end as a "till och med" column shows it: the last day ("2027-06-30") for an end at local
    midnight (a typed last day), else the moment ("2026-12-02 14:30": a period of hours, or one ended early)."""
    return last_day(end).isoformat() if _ends_a_day(end) else f"{end.astimezone(STOCKHOLM):%Y-%m-%d %H:%M}"


def until_text(end: dt.datetime) -> str:
    """An exclusive end in a sentence: "till och med 2027-06-30", or "till 2026-12-02 14:30" (see end_text)."""
    return f"{'till och med' if _ends_a_day(end) else 'till'} {end_text(end)}"


@lru_cache(maxsize=64)
def _swedish_holidays(year: int) -> frozenset[dt.date]:
    """Helgdagar and the de facto non-working eves (midsommarafton, julafton, nyårsafton), as the `holidays`
    package lists them for Sweden (categories public and de_facto)."""
    return frozenset(holidays.country_holidays("SE", years=year, categories=(holidays.PUBLIC, holidays.DE_FACTO)))


def is_business_day(day: dt.date) -> bool:
    """Monday–Friday and not a Swedish public holiday (helgdag), nor midsommarafton, julafton or nyårsafton (days
    Swedish public administration is closed though they are not helgdagar by law; D-20)."""
    return day.weekday() < 5 and day not in _swedish_holidays(day.year)


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
