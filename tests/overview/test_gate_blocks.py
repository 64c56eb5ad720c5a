"""Gate step 8 per item: spärr (inner/outer), period overlap, lak/upp, temporary revokes, nödöppning in two steps.

One named test per rule (DOMAIN §1.1, §1.2, §4.3 Spärr).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from demo.publication import demo_rules
from overview.gate import Basis, BlockState, Check, RevokeReason, UserFacts, decide
from tests.overview.test_gate_builders import (
    BLEKINGE,
    BLEKINGE_UNIT,
    COLLEAGUE,
    DAY,
    HALLAND,
    NOW,
    OTHER_UNIT,
    SKANE,
    UNIT,
    USER,
    block,
    care_contact,
    commission,
    consent,
    emergency,
    facts,
    halland_item,
    inner_block,
    item,
    other_commission,
    revoke,
    shown,
    verdict,
)

SECOND = dt.timedelta(seconds=1)
ITEM_DAY = dt.date(2025, 2, 10)
ITEM_AT = dt.datetime(2025, 2, 10, 9, tzinfo=dt.UTC)  # 10:00 in Sweden


def with_consent(**changes: object):
    """The baseline with a unit consent at Hörby (so other vårdgivare's items pass step 7)."""
    return facts(**{"consents": (consent(),), **changes})


def blocked(decision, item_id: str = "h1") -> bool:
    """True when the item is hidden by a block."""
    found = verdict(decision, item_id)
    return not found.shown and found.check is Check.BLOCK and found.blocked


# ---------------------------------------------------------------------- outer and inner
def test_outer_block_hides_the_providers_data_from_other_providers() -> None:
    decision = decide(with_consent(items=(halland_item(), item()), blocks=(block(),)), NOW)
    assert blocked(decision) and verdict(decision).shown
    assert verdict(decision, "h1").code == "block.blocked"


def test_outer_block_does_not_hold_within_the_blocking_provider() -> None:
    own = block(care_provider_hsa_id=SKANE)
    assert shown(decide(facts(items=(item(),), blocks=(own,)), NOW)) == ["i1"]


def test_inner_block_hides_unit_data_from_other_units_of_the_provider() -> None:
    decision = decide(facts(items=(item(unit=OTHER_UNIT), item("i2", unit=UNIT)), blocks=(inner_block(),)), NOW)
    assert blocked(decision, "i1") and verdict(decision, "i2").shown


def test_inner_block_does_not_hold_at_the_blocked_unit() -> None:
    at_sus = facts(commissions=(other_commission(),), relations=(care_contact(OTHER_UNIT),), items=(item(),),
                   blocks=(inner_block(),))
    assert shown(decide(at_sus, NOW)) == ["i1"]


def test_inner_block_also_holds_against_other_providers() -> None:
    # Halland's staff reading SUS data: the patient wanted it hidden outside the unit.
    halland = commission(hsa_id="SE2321000115-V0001-U1", unit_hsa_id="SE2321000115-V0001", provider_hsa_id=HALLAND,
                         provider_name="Region Halland")
    reader = facts(commissions=(halland,), relations=(care_contact("SE2321000115-V0001"),), items=(item(),),
                   consents=(consent(care_unit_hsa_id="SE2321000115-V0001", care_provider_hsa_id=HALLAND),),
                   blocks=(inner_block(),))
    assert blocked(decide(reader, NOW), "i1")


def test_inner_block_without_unit_hides_all_the_providers_data() -> None:
    malformed = inner_block(care_unit_hsa_id=None)
    decision = decide(facts(items=(item(unit=OTHER_UNIT), item("i2", unit=UNIT)), blocks=(malformed,)), NOW)
    assert shown(decision) == []


def test_block_holds_only_for_its_provider() -> None:
    blekinge = item("b1", provider=BLEKINGE, unit=BLEKINGE_UNIT, system="blekinge")
    decision = decide(with_consent(items=(halland_item(), blekinge), blocks=(block(),)), NOW)
    assert shown(decision) == ["b1"]


@pytest.mark.parametrize("state", [BlockState.REVOKED, BlockState.DELETED])
def test_only_active_blocks_count(state: BlockState) -> None:
    assert shown(decide(with_consent(items=(halland_item(),), blocks=(block(state=state),)), NOW)) == ["h1"]


def test_block_registered_by_a_guardian_has_no_effect() -> None:
    by_guardian = block(registered_by_guardian=True)
    assert shown(decide(with_consent(items=(halland_item(),), blocks=(by_guardian,)), NOW)) == ["h1"]


def test_block_provider_matches_case_insensitively() -> None:
    assert blocked(decide(with_consent(items=(halland_item(),), blocks=(block(care_provider_hsa_id=HALLAND.lower()),)),
                          NOW))


# ---------------------------------------------------------------------- the information period
def test_block_without_period_covers_all_data() -> None:
    old = halland_item(date=dt.datetime(1999, 1, 1, tzinfo=dt.UTC))
    assert blocked(decide(with_consent(items=(old,), blocks=(block(),)), NOW))


@pytest.mark.parametrize(("start", "end"), [
    (ITEM_DAY, ITEM_DAY),  # the day itself: both ends inclusive
    (ITEM_DAY - dt.timedelta(days=30), None),  # open end
    (None, ITEM_DAY),  # open start
])
def test_item_inside_the_period_is_blocked(start: dt.date | None, end: dt.date | None) -> None:
    decision = decide(with_consent(items=(halland_item(date=ITEM_AT),),
                                   blocks=(block(info_start=start, info_end=end),)), NOW)
    assert blocked(decision)


def test_partial_period_overlap_counts_as_blocked() -> None:
    # An admission from 5 to 15 February; the block covers 10–20 February.
    admission = halland_item(date=dt.datetime(2025, 2, 5, tzinfo=dt.UTC), date_end=dt.datetime(2025, 2, 15,
                                                                                                 tzinfo=dt.UTC))
    period = block(info_start=dt.date(2025, 2, 10), info_end=dt.date(2025, 2, 20))
    assert blocked(decide(with_consent(items=(admission,), blocks=(period,)), NOW))
    earlier = block(info_start=dt.date(2025, 1, 1), info_end=dt.date(2025, 2, 5))
    assert blocked(decide(with_consent(items=(admission,), blocks=(earlier,)), NOW))


@pytest.mark.parametrize(("start", "end"), [
    (ITEM_DAY + dt.timedelta(days=1), None),  # the block starts after the item
    (None, ITEM_DAY - dt.timedelta(days=1)),  # the block ended before it
])
def test_item_entirely_outside_the_period_is_not_blocked(start: dt.date | None, end: dt.date | None) -> None:
    decision = decide(with_consent(items=(halland_item(date=ITEM_AT),),
                                   blocks=(block(info_start=start, info_end=end),)), NOW)
    assert shown(decision) == ["h1"]


def test_block_period_uses_swedish_dates() -> None:
    period = block(info_start=dt.date(2025, 2, 1), info_end=dt.date(2025, 2, 9))
    late_on_the_9th = halland_item("late", date=dt.datetime(2025, 2, 9, 22, 30, tzinfo=dt.UTC))  # 23:30 Swedish
    the_10th = halland_item("next", date=dt.datetime(2025, 2, 9, 23, 0, tzinfo=dt.UTC))  # 00:00 on the 10th
    decision = decide(with_consent(items=(late_on_the_9th, the_10th), blocks=(period,)), NOW)
    assert blocked(decision, "late") and shown(decision) == ["next"]


# ---------------------------------------------------------------------- lak / upp
@pytest.mark.parametrize("info_type", ["lak", "upp"])
def test_lak_and_upp_excluded_types_stay_visible(info_type: str) -> None:
    items = (halland_item("kept", info_type=info_type), halland_item("other"))
    decision = decide(with_consent(items=items, blocks=(block(excluded_types=frozenset({info_type})),)), NOW)
    assert shown(decision) == ["kept"] and blocked(decision, "other")


def test_exclusions_other_than_lak_and_upp_are_ignored() -> None:
    odd = block(excluded_types=frozenset({"dia"}))
    assert blocked(decide(with_consent(items=(halland_item(info_type="dia"),), blocks=(odd,)), NOW))


def test_lak_item_is_blocked_when_the_block_keeps_only_upp() -> None:
    only_upp = block(excluded_types=frozenset({"upp"}))
    assert blocked(decide(with_consent(items=(halland_item(info_type="lak"),), blocks=(only_upp,)), NOW))


# ---------------------------------------------------------------------- temporary revokes (tillfällig hävning)
def test_temporary_revoke_for_the_unit_unblocks_for_all_its_staff() -> None:
    revoked = block(revokes=(revoke(),))
    for user in (USER, COLLEAGUE):
        assert shown(decide(with_consent(items=(halland_item(),), blocks=(revoked,), user=UserFacts(user)),
                            NOW)) == ["h1"]


def test_temporary_revoke_for_one_employee_only_unblocks_for_them() -> None:
    revoked = block(revokes=(revoke(employee_hsa_id=USER, reason=RevokeReason.EMERGENCY),))
    assert shown(decide(with_consent(items=(halland_item(),), blocks=(revoked,)), NOW)) == ["h1"]
    colleague = with_consent(items=(halland_item(),), blocks=(revoked,), user=UserFacts(COLLEAGUE))
    assert blocked(decide(colleague, NOW))


@pytest.mark.parametrize(("start", "end", "unblocks"), [
    (None, NOW + SECOND, True),
    (None, NOW, False),  # past its end
    (NOW - DAY, NOW + DAY, True),
    (NOW + SECOND, NOW + DAY, False),  # not begun
])
def test_temporary_revoke_holds_from_start_until_its_end(start: dt.datetime | None, end: dt.datetime,
                                                         unblocks: bool) -> None:
    revoked = block(revokes=(revoke(start=start, end=end),))
    assert (shown(decide(with_consent(items=(halland_item(),), blocks=(revoked,)), NOW)) == ["h1"]) is unblocks


def test_temporary_revoke_for_another_unit_does_not_unblock() -> None:
    revoked = block(revokes=(revoke(care_unit_hsa_id=OTHER_UNIT),))
    assert blocked(decide(with_consent(items=(halland_item(),), blocks=(revoked,)), NOW))


def test_one_applicable_revoke_among_several_is_enough() -> None:
    revoked = block(revokes=(revoke(revoke_id="x", care_unit_hsa_id=OTHER_UNIT), revoke()))
    assert shown(decide(with_consent(items=(halland_item(),), blocks=(revoked,)), NOW)) == ["h1"]


# ---------------------------------------------------------------------- what the user learns; nödöppning
def test_blocked_item_is_hidden_and_blocked_exists_is_told() -> None:
    decision = decide(with_consent(items=(halland_item(),), blocks=(block(),)), NOW)
    assert decision.blocked_exists and decision.blocked_providers == ()


def test_no_block_no_blocked_exists() -> None:
    assert not decide(with_consent(items=(halland_item(),)), NOW).blocked_exists


def test_blocked_exists_is_told_even_when_consent_is_missing() -> None:
    decision = decide(facts(items=(halland_item(),), blocks=(block(),)), NOW)
    found = verdict(decision, "h1")
    assert decision.blocked_exists and found.check is Check.CONSENT and found.blocked


def test_blocked_providers_are_named_only_after_emergency_step_one() -> None:
    base = facts(items=(halland_item(), item("b1", provider=BLEKINGE, unit=BLEKINGE_UNIT, system="blekinge")),
                 blocks=(block(), block(block_id="b2", care_provider_hsa_id=BLEKINGE)))
    assert decide(replace(base, emergencies=(emergency(),)), NOW).blocked_providers == ()
    step_one = decide(replace(base, emergencies=(emergency(blocked_providers_revealed=True),)), NOW)
    assert step_one.blocked_providers == (BLEKINGE, HALLAND) and shown(step_one) == []


def test_blocked_data_is_shown_only_for_providers_opened_in_step_two() -> None:
    base = facts(items=(halland_item(), item("b1", provider=BLEKINGE, unit=BLEKINGE_UNIT, system="blekinge")),
                 blocks=(block(), block(block_id="b2", care_provider_hsa_id=BLEKINGE)))
    opening = emergency(blocked_providers_revealed=True, blocked_providers_opened=frozenset({HALLAND}))
    decision = decide(replace(base, emergencies=(opening,)), NOW)
    assert shown(decision) == ["h1"] and blocked(decision, "b1")
    found = verdict(decision, "h1")
    assert (found.basis, found.emergency_id) == (Basis.EMERGENCY_BLOCK_OPENED, "e1")
    assert decision.blocked_exists and decision.blocked_providers == (BLEKINGE, HALLAND)


def test_step_two_without_step_one_opens_nothing() -> None:
    skipped = emergency(blocked_providers_opened=frozenset({HALLAND}))
    decision = decide(facts(items=(halland_item(),), blocks=(block(),), emergencies=(skipped,)), NOW)
    assert blocked(decision) and decision.blocked_providers == ()


def test_expired_emergency_opens_no_blocked_data() -> None:
    expired = emergency(blocked_providers_revealed=True, blocked_providers_opened=frozenset({HALLAND}),
                        expires_at=NOW)
    decision = decide(with_consent(items=(halland_item(),), blocks=(block(),), emergencies=(expired,)), NOW)
    assert blocked(decision) and decision.blocked_providers == ()


def test_emergency_opening_of_an_inner_block_within_the_own_provider() -> None:
    opening = emergency(blocked_providers_revealed=True, blocked_providers_opened=frozenset({SKANE}))
    decision = decide(facts(items=(item(),), blocks=(inner_block(),), emergencies=(opening,)), NOW)
    assert verdict(decision).basis is Basis.EMERGENCY_BLOCK_OPENED and decision.blocked_providers == (SKANE,)


def test_unpublished_blocked_item_does_not_count_as_blocked_data() -> None:
    scanned = halland_item(document_kind="scannat")  # Region Halland does not publish scanned documents
    decision = decide(with_consent(items=(scanned,), blocks=(block(),), publication=demo_rules()), NOW)
    assert not decision.blocked_exists and verdict(decision, "h1").check is Check.PUBLICATION
