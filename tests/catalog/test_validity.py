"""Validity periods are half-open [from, to) (D-9): in force from the first instant, no longer at the end."""

from __future__ import annotations

import datetime as dt

import pytest

from catalog import Directory
from catalog.model import Validity
from tests.conftest import Org

START = dt.datetime(2026, 11, 24, 23, 0, tzinfo=dt.UTC)  # local midnight of 25 November
END = dt.datetime(2026, 12, 31, 23, 0, tzinfo=dt.UTC)  # local midnight after 31 December
US = dt.timedelta(microseconds=1)


@pytest.mark.parametrize(("at", "inside"), [
    (START - US, False), (START, True), (START + US, True), (END - US, True), (END, False), (END + US, False)])
def test_a_closed_period_contains_its_start_but_not_its_end(at: dt.datetime, inside: bool) -> None:
    assert Validity(START, END).contains(at) is inside


def test_an_open_ended_period_starts_exactly_and_never_ends() -> None:
    period = Validity(START)
    assert not period.contains(START - US)
    assert period.contains(START) and period.contains(dt.datetime(9999, 1, 1, tzinfo=dt.UTC))


def test_the_directory_grants_a_membership_exactly_within_its_period(org: Org, directory: Directory) -> None:
    person = org.person()
    commission, _ = directory.ensure_commission(org.unit_a.hsa_id, valid_from=START - dt.timedelta(days=30))
    directory.ensure_membership(commission.hsa_id, person.hsa_id, Validity(START, END))
    second = dt.timedelta(seconds=1)  # the directory stores whole seconds (GeneralizedTime)
    assert directory.commissions_of(person.hsa_id, at=START - second) == []
    assert [g.commission.hsa_id for g in directory.commissions_of(person.hsa_id, at=START)] == [commission.hsa_id]
    assert len(directory.commissions_of(person.hsa_id, at=END - second)) == 1
    assert directory.commissions_of(person.hsa_id, at=END) == []


def test_a_commission_not_yet_in_force_grants_nothing(org: Org, directory: Directory) -> None:
    person = org.person()
    commission, _ = directory.ensure_commission(org.unit_a.hsa_id, valid_from=END)
    directory.ensure_membership(commission.hsa_id, person.hsa_id, Validity(START))
    assert directory.commissions_of(person.hsa_id, at=END - dt.timedelta(seconds=1)) == []
    assert len(directory.commissions_of(person.hsa_id, at=END)) == 1
