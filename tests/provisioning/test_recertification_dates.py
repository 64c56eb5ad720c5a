"""Month and year arithmetic of the review rounds and the order forms: month ends clamp, 29 February included, and
deadlines end exactly at their instant (the recertification flow itself: test_review_recertification.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from kernel.clock import local_midnight, years_later
from kernel.review import business_days_left, deadline_after, delegation_end_error
from provisioning.errors import InvalidInputs
from provisioning.inputs import parse_commission_order, parse_membership_order
from provisioning.recertification.common import ReviewConfig
from provisioning.recertification.rounds import add_months
from tests.provisioning.test_review_recertification import at, open_due, unit_with_members
from tests.world import World

US = dt.timedelta(microseconds=1)


@pytest.mark.parametrize(("day", "months", "expected"), [
    (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),  # no 29 February in 2025: the month's last day
    (dt.date(2024, 2, 29), 48, dt.date(2028, 2, 29)),  # a leap year again
    (dt.date(2024, 2, 29), 1, dt.date(2024, 3, 29)),
    (dt.date(2025, 1, 31), 1, dt.date(2025, 2, 28)),
    (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),
    (dt.date(2026, 8, 31), 3, dt.date(2026, 11, 30)),
    (dt.date(2026, 11, 30), 3, dt.date(2027, 2, 28)),  # across the year end
    (dt.date(2026, 12, 15), 1, dt.date(2027, 1, 15)),
    (dt.date(2026, 12, 15), 12, dt.date(2027, 12, 15)),
    (dt.date(2026, 12, 15), 13, dt.date(2028, 1, 15)),
    (dt.date(2026, 6, 10), 0, dt.date(2026, 6, 10)),
    (dt.date(2026, 3, 31), -1, dt.date(2026, 2, 28)),
])
def test_add_months_clamps_at_the_end_of_the_month(day: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(("day", "years", "expected"), [
    (dt.date(2024, 2, 29), 1, dt.date(2025, 2, 28)),
    (dt.date(2024, 2, 29), 4, dt.date(2028, 2, 29)),
    (dt.date(2024, 2, 29), 5, dt.date(2029, 2, 28)),
    (dt.date(2026, 3, 1), 1, dt.date(2027, 3, 1)),
    (dt.date(2026, 12, 31), 5, dt.date(2031, 12, 31)),
])
def test_years_later_clamps_29_february(day: dt.date, years: int, expected: dt.date) -> None:
    assert years_later(day, years) == expected


@pytest.mark.parametrize(("today", "last_allowed"), [
    (dt.date(2026, 12, 1), dt.date(2027, 12, 1)),  # a year as the law counts it: 366 days later is one day too many
    (dt.date(2027, 3, 1), dt.date(2028, 3, 1)),  # across a 29 February: still the same date, not 365 days
    (dt.date(2028, 2, 29), dt.date(2029, 2, 28)),  # no 29 February in 2029: the month's last day
])
def test_a_delegation_lasts_at_most_a_year_to_the_same_date(today: dt.date, last_allowed: dt.date) -> None:
    assert delegation_end_error(last_allowed, today) is None
    assert delegation_end_error(today, today) is None
    assert delegation_end_error(last_allowed + dt.timedelta(days=1), today) == (
        "En delegering kan gälla högst ett år; förnya den vid behov.")
    assert delegation_end_error(today - dt.timedelta(days=1), today) == "Slutdatumet kan inte ligga bakåt i tiden."
    assert delegation_end_error(None, today) == "Ange till och med vilket datum delegeringen gäller."


def test_a_round_anchored_on_29_february_comes_on_28_february(world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    commission = unit_with_members(world, start=local_midnight(dt.date(2024, 2, 29)))
    yearly = ReviewConfig(public_base_url="http://npo.test", interval_months=12)
    assert open_due(world, sessions, commission, at(dt.date(2025, 2, 27), 23, 59, 59), yearly) is None
    assert open_due(world, sessions, commission, at(dt.date(2025, 2, 28), 0, 0, 0), yearly) is not None


def test_a_deadline_ends_exactly_at_its_instant() -> None:
    deadline = deadline_after(at(dt.date(2026, 11, 24)), 10)  # Tuesday 8 December 2026 is the last day
    assert deadline == dt.datetime(2026, 12, 8, 23, 0, tzinfo=dt.UTC)
    assert business_days_left(deadline - US, deadline) == 1
    assert business_days_left(deadline, deadline) == 0
    assert business_days_left(deadline + US, deadline) == 0
    assert business_days_left(at(dt.date(2026, 12, 7), 9), deadline) == 2  # Monday and Tuesday
    assert business_days_left(at(dt.date(2026, 12, 5), 9), deadline) == 2  # a Saturday counts nothing itself
    noon = at(dt.date(2026, 12, 8), 12)  # an end inside a business day is over at its instant too
    assert business_days_left(noon - US, noon) == 1
    assert business_days_left(noon, noon) == 0


def commission_form(start: dt.date) -> dict[str, str]:
    return {"unit_hsa_id": "SE2321000255-V1", "justification": "Patienter från andra regioner.",
            "contact_name": "Maria Chef", "contact_phone": "040-123 45 67", "contact_email": "maria@vard.example",
            "requested_start": start.isoformat(), "care_agreement_reference": ""}


def test_a_commission_may_start_at_most_one_year_ahead() -> None:
    today = dt.date(2024, 2, 29)
    assert parse_commission_order(commission_form(dt.date(2025, 2, 28)), today=today).requested_start == dt.date(
        2025, 2, 28)
    with pytest.raises(InvalidInputs) as caught:
        parse_commission_order(commission_form(dt.date(2025, 3, 1)), today=today)
    assert caught.value.errors == {"requested_start": "Önskat startdatum får ligga högst ett år framåt."}
    with pytest.raises(InvalidInputs) as caught:
        parse_commission_order(commission_form(today - dt.timedelta(days=1)), today=today)
    assert caught.value.errors == {"requested_start": "Önskat startdatum kan inte ligga bakåt i tiden."}
    assert parse_commission_order(commission_form(today), today=today).requested_start == today


def test_a_membership_is_ordered_for_at_most_five_years() -> None:
    today = dt.date(2024, 2, 29)
    raw = {"unit_hsa_id": "SE2321000255-V1", "action": "add", "person_hsa_ids": ["SE2321000255-P1"],
           "valid_from": today.isoformat()}
    assert parse_membership_order({**raw, "valid_to": "2029-02-28"}, today=today).valid_to == dt.date(2029, 2, 28)
    with pytest.raises(InvalidInputs) as caught:
        parse_membership_order({**raw, "valid_to": "2029-03-01"}, today=today)
    assert caught.value.errors == {"valid_to": "En behörighet kan beställas för högst 5 år i taget."}
