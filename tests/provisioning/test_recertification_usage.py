"""Recertification with usage (issue 14 item 3): the idle rule over plain last-read values, and "Ta bort alla
markerade" as one removal with one reason carried out by the round's own decisions on the real slapd and database."""

from __future__ import annotations

import datetime as dt

import pytest

from kernel.clock import STOCKHOLM, local_midnight
from provisioning.errors import InvalidInputs
from provisioning.recertification import decisions
from provisioning.recertification.models import ItemDecision, RecertificationItem
from provisioning.recertification.usage import idle_period, marked_by_default, member_usage
from tests.provisioning.test_review_recertification import CONFIG, items, open_due, unit_with_members
from tests.world import World

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=STOCKHOLM)
DAY = dt.timedelta(days=1)


def item(item_id: int, person: str, since: dt.datetime, decision: ItemDecision = ItemDecision.PENDING,
         ) -> RecertificationItem:
    return RecertificationItem(id=item_id, round_id=1, person_hsa_id=person, person_name=person, valid_from=since,
                               decision=decision)


@pytest.mark.parametrize(("days", "words"), [(183, "6 månader"), (182, "6 månader"), (365, "12 månader"),
                                             (30, "1 månad"), (90, "3 månader"), (45, "45 dagar"), (1, "1 dag"),
                                             (10, "10 dagar")])
def test_the_idle_period_in_words(days: int, words: str) -> None:
    assert idle_period(days) == words


def test_idle_is_no_read_for_the_period_by_someone_who_held_the_commission_that_long() -> None:
    old = NOW - 400 * DAY
    rows = [item(1, "READ-RECENTLY", old), item(2, "READ-LONG-AGO", old), item(3, "NEVER", old),
            item(4, "NEWCOMER", NOW - 30 * DAY), item(5, "EXACTLY", old), item(6, "DECIDED", old, ItemDecision.REMOVED)]
    reads = {"READ-RECENTLY": NOW - 10 * DAY, "READ-LONG-AGO": NOW - 184 * DAY, "EXACTLY": NOW - 183 * DAY}
    usage = member_usage(rows, reads, now=NOW, idle_days=183)
    assert {i: u.idle for i, u in usage.items()} == {1: False, 2: True, 3: True, 4: False, 5: False, 6: True}
    assert usage[1].text == "Senaste läsning i NPÖ: 2026-11-14" and usage[1].last_read == NOW - 10 * DAY
    assert usage[3].text == usage[4].text == "Aldrig läst i NPÖ"
    assert marked_by_default(rows, usage) == {2, 3}  # the decided one is not marked again
    shorter = member_usage(rows, reads, now=NOW, idle_days=7)
    assert {i for i, u in shorter.items() if u.idle} == {1, 2, 3, 4, 5, 6}


def test_the_marked_removal_needs_a_selection_and_one_fit_reason() -> None:
    with pytest.raises(InvalidInputs) as caught:
        decisions.removal_of_marked([], " ")
    assert caught.value.errors == {
        "markerade": "Markera minst en medarbetare att ta bort.",
        "motivering-markerade": "Ange varför de markerade medarbetarna ska tas bort, t.ex. har inte använt NPÖ på "
                                "länge, har slutat eller har bytt tjänst."}
    with pytest.raises(InvalidInputs) as caught:
        decisions.removal_of_marked([1], "Slutat\x1b")
    assert caught.value.errors == {"motivering-markerade": "Motiveringen innehåller otillåtna styrtecken."}
    assert decisions.removal_of_marked([3, 1, 3], "  Slutat ") == [
        decisions.Choice(3, False, "Slutat"), decisions.Choice(1, False, "Slutat")]


def test_the_marked_are_removed_by_the_rounds_own_decisions(world: World, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    commission = unit_with_members(world, start=local_midnight(dt.date(2025, 1, 1)))
    round_id = open_due(world, sessions, commission, NOW)
    assert round_id is not None
    listed = {i.person_hsa_id: i for i in items(sessions, round_id)}
    leave = [listed[n.hsa_id] for n in world.public_staff[1:]]
    choices = decisions.removal_of_marked([i.id for i in leave if i.id is not None], "Har inte använt NPÖ")
    with sessions() as session:
        report = decisions.decide(session=session, directory=world.directory, config=CONFIG,
                                  actor=actor(world.public_manager), round_id=round_id, choices=choices, now=NOW)
    assert report.decided == 2 and not report.closed
    after = {i.person_hsa_id: i for i in items(sessions, round_id)}
    assert [after[i.person_hsa_id].decision for i in leave] == [ItemDecision.REMOVED] * 2
    assert {after[i.person_hsa_id].reason for i in leave} == {"Har inte använt NPÖ"}
    assert after[world.public_staff[0].hsa_id].decision is ItemDecision.PENDING
    valid = {m.person_hsa_id for m in world.directory.memberships(commission) if m.is_valid_at(NOW + DAY)}
    assert valid == {world.public_staff[0].hsa_id}
