"""The log follow-up's pure rules: what is always picked, the hash-ranked random sample, the outcome transitions."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.clock import STOCKHOLM
from overview.logreview.rules import (
    DECISIONS,
    OUTCOME_LABELS,
    TRANSITIONS,
    Access,
    InvalidTransition,
    Outcome,
    ReviewConfig,
    Why,
    always_reasons,
    day_is_over,
    days_to_review,
    next_outcome,
    pick,
    sample_size,
)

UNIT = "SE5591234567-V0001"
DAY = dt.date(2026, 11, 24)  # a Tuesday
CONFIG = ReviewConfig(sample_share=0.1, sample_min=2, sample_max=5, sample_key="test-key")


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), STOCKHOLM).astimezone(dt.UTC)


def access(seq: int, hour: int = 10, *, action: str = "Läsa", relation: str | None = "care_contact",
           day: dt.date = DAY) -> Access:
    return Access(seq, local(day, hour), action, relation)


def test_emergency_asserted_and_out_of_hours_accesses_are_always_picked_with_their_reasons() -> None:
    rows = [access(1, action="Nödöppning"), access(2, relation="asserted"), access(3, hour=22),
            access(4, hour=6, action="Nödöppning", relation="asserted"), access(5)]
    assert always_reasons(rows[0], CONFIG) == (Why.EMERGENCY,)
    assert always_reasons(rows[1], CONFIG) == (Why.ASSERTED,)
    assert always_reasons(rows[2], CONFIG) == (Why.OUT_OF_HOURS,)
    assert always_reasons(rows[3], CONFIG) == (Why.EMERGENCY, Why.ASSERTED, Why.OUT_OF_HOURS)
    assert always_reasons(rows[4], CONFIG) == ()
    picked = pick(rows, unit_hsa_id=UNIT, day=DAY, config=CONFIG)
    assert picked == {1: (Why.EMERGENCY,), 2: (Why.ASSERTED,), 3: (Why.OUT_OF_HOURS,),
                      4: (Why.EMERGENCY, Why.ASSERTED, Why.OUT_OF_HOURS), 5: (Why.RANDOM,)}


def test_out_of_hours_can_be_left_to_the_random_sample() -> None:
    config = ReviewConfig(include_out_of_hours=False, sample_min=0, sample_max=0, sample_share=0)
    assert pick([access(1, hour=23)], unit_hsa_id=UNIT, day=DAY, config=config) == {}


@pytest.mark.parametrize(("when", "office"), [
    (local(DAY, 6, 59), False), (local(DAY, 7), True), (local(DAY, 17, 59), True), (local(DAY, 18), False),
    (local(dt.date(2026, 11, 28), 10), False),  # a Saturday
    (local(dt.date(2026, 4, 3), 10), False),  # långfredagen
    (local(dt.date(2026, 12, 24), 10), False),  # julafton
])
def test_office_hours_are_seven_to_six_on_swedish_business_days(when: dt.datetime, office: bool) -> None:
    assert (Why.OUT_OF_HOURS in always_reasons(Access(1, when, "Läsa", None), CONFIG)) is (not office)


@pytest.mark.parametrize(("population", "size"), [(0, 2), (10, 2), (30, 3), (41, 5), (1000, 5)])
def test_the_sample_size_is_a_share_between_a_floor_and_a_cap(population: int, size: int) -> None:
    assert sample_size(population, CONFIG) == size


def test_the_same_unit_and_day_give_the_same_sample_and_another_day_or_key_another() -> None:
    rows = [access(n) for n in range(1, 201)]
    first = pick(rows, unit_hsa_id=UNIT, day=DAY, config=CONFIG)
    assert pick(list(reversed(rows)), unit_hsa_id=UNIT, day=DAY, config=CONFIG) == first
    assert pick(rows, unit_hsa_id=UNIT.lower(), day=DAY, config=CONFIG) == first
    assert len(first) == 5 and set(first.values()) == {(Why.RANDOM,)}
    assert pick(rows, unit_hsa_id=UNIT, day=DAY + dt.timedelta(days=1), config=CONFIG) != first
    other_key = ReviewConfig(sample_share=0.1, sample_min=2, sample_max=5, sample_key="another")
    assert pick(rows, unit_hsa_id=UNIT, day=DAY, config=other_key) != first


def test_a_late_row_does_not_reshuffle_the_sample_it_can_only_displace_one_pick() -> None:
    rows = [access(n) for n in range(1, 101)]
    before = set(pick(rows, unit_hsa_id=UNIT, day=DAY, config=CONFIG))
    after = set(pick([*rows, access(101)], unit_hsa_id=UNIT, day=DAY, config=CONFIG))
    assert len(before - after) <= 1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 23), st.sampled_from(["Läsa", "Skriva", "Nödöppning"]),
                          st.sampled_from([None, "care_contact", "booking", "asserted"])), max_size=80),
       st.floats(0, 1), st.integers(0, 10), st.integers(0, 10))
def test_every_access_that_must_be_reviewed_is_picked_and_the_sample_obeys_its_size(
        rows: list[tuple[int, str, str | None]], share: float, low: int, extra: int) -> None:
    config = ReviewConfig(sample_share=share, sample_min=low, sample_max=low + extra, sample_key="k")
    accesses = [access(n + 1, hour, action=action, relation=relation)
                for n, (hour, action, relation) in enumerate(rows)]
    picked = pick(accesses, unit_hsa_id=UNIT, day=DAY, config=config)
    must = {a.seq for a in accesses if always_reasons(a, config)}
    random = {seq for seq, why in picked.items() if why == (Why.RANDOM,)}
    assert must <= set(picked) and must.isdisjoint(random)
    assert len(random) == min(len(accesses) - len(must), sample_size(len(accesses), config))
    assert picked == pick(accesses, unit_hsa_id=UNIT, day=DAY, config=config)


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match=r"sample_share must lie in \[0, 1\]"):
        ReviewConfig(sample_share=1.5)
    with pytest.raises(ValueError, match=r"0 <= sample_min <= sample_max"):
        ReviewConfig(sample_min=10, sample_max=5)
    with pytest.raises(ValueError, match="deadline_business_days and lookback_days must be at least 1"):
        ReviewConfig(deadline_business_days=0)


@pytest.mark.parametrize("current", list(Outcome))
@pytest.mark.parametrize("wanted", list(Outcome))
def test_every_outcome_transition(current: Outcome, wanted: Outcome) -> None:
    allowed = current in (Outcome.OPEN, Outcome.FOLLOW_UP) and wanted in DECISIONS
    assert (wanted in TRANSITIONS[current]) is allowed
    if allowed:
        assert next_outcome(current, wanted) is wanted
    else:
        message = ("Välj en bedömning: befogad, ej befogad eller behöver utredas vidare." if wanted not in DECISIONS
                   else f"Åtkomsten är redan bedömd som {OUTCOME_LABELS[current].lower()}; en slutlig bedömning "
                        "kan inte ändras.")
        with pytest.raises(InvalidTransition) as refused:
            next_outcome(current, wanted)
        assert str(refused.value) == message


def test_a_day_is_reviewed_once_it_has_ended_and_settled_in_swedish_time() -> None:
    assert not day_is_over(DAY, local(DAY + dt.timedelta(days=1), 0, 29))
    assert day_is_over(DAY, local(DAY + dt.timedelta(days=1), 0, 30))
    now = local(DAY + dt.timedelta(days=1), 0, 10)  # ten past midnight: yesterday has not settled yet
    assert days_to_review(now, 3) == [DAY - dt.timedelta(days=2), DAY - dt.timedelta(days=1)]
    assert days_to_review(now + dt.timedelta(hours=1), 3) == [DAY - dt.timedelta(days=2), DAY - dt.timedelta(days=1),
                                                             DAY]


def test_the_day_of_a_dst_change_is_23_or_25_hours_long() -> None:
    spring = dt.date(2026, 3, 29)
    assert not day_is_over(spring, local(spring + dt.timedelta(days=1), 0, 20))
    # 02:30 happens twice on the autumn day; both belong to it and both are out of office hours
    first = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)  # 02:30 CEST
    second = dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)  # 02:30 CET
    assert all(Why.OUT_OF_HOURS in always_reasons(Access(1, at, "Läsa", None), CONFIG) for at in (first, second))
