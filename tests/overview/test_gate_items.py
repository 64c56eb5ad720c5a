"""Steps 7-9 item by item, verdict for verdict (overview/gate_items.py): the exact ItemDecision of each refusal,
instants at which a relation, revoke or block starts, several blocks where the first does not hold, and which
emergency opening is named when two open the same vårdgivare."""

from __future__ import annotations

import datetime as dt

import pytest

from demo.publication import demo_rules
from kernel.clock import local_midnight
from overview.gate import (
    Basis,
    BlockState,
    Check,
    ItemDecision,
    PatientFacts,
    RelationEvidence,
    RelationKind,
    decide,
)
from tests.overview.test_gate_builders import (
    DAY,
    HALLAND,
    NOW,
    PATIENT,
    SKANE,
    UNIT,
    USER,
    block,
    consent,
    emergency,
    facts,
    halland_item,
    inner_block,
    item,
    revoke,
    verdict,
)

US = dt.timedelta(microseconds=1)


def test_an_item_its_producer_does_not_publish_is_refused_as_such() -> None:
    decision = decide(facts(items=(item(system="cosmic"),), publication=demo_rules()), NOW)
    assert verdict(decision) == ItemDecision("i1", False, Check.PUBLICATION, "publication.system_not_produced")
    assert decision.shown == ()


def test_another_providers_item_without_consent_is_refused_as_such() -> None:
    assert verdict(decide(facts(items=(halland_item(),)), NOW), "h1") == ItemDecision(
        "h1", False, Check.CONSENT, "consent.missing")


def test_a_blocked_item_is_refused_as_blocked() -> None:
    decision = decide(facts(items=(halland_item(),), consents=(consent(),), blocks=(block(),)), NOW)
    assert verdict(decision, "h1") == ItemDecision("h1", False, Check.BLOCK, "block.blocked", blocked=True)
    assert decision.blocked_exists and decision.blocked_providers == ()  # named only after emergency step one


def test_a_protected_identity_hides_the_demographics_exactly() -> None:
    decision = decide(facts(items=(item(category="demografi", unit=UNIT),),
                            patient=PatientFacts(PATIENT, protected_identity=True)), NOW)
    assert verdict(decision) == ItemDecision("i1", False, Check.PATIENT, "patient.protected_identity")


def test_blocked_data_opened_in_an_emergency_keeps_the_consent_it_rests_on() -> None:
    opened = emergency(blocked_providers_revealed=True, blocked_providers_opened=frozenset({HALLAND}))
    decision = decide(facts(items=(halland_item(),), consents=(consent(registered_at=NOW - US),),
                            emergencies=(opened,), blocks=(block(),)), NOW)
    found = verdict(decision, "h1")
    assert (found.shown, found.basis, found.consent_id, found.emergency_id) == (
        True, Basis.EMERGENCY_BLOCK_OPENED, "c1", "e1")


def test_of_two_openings_of_the_same_vardgivare_the_latest_is_named() -> None:
    older = emergency(opening_id="e-old", opened_at=NOW - 3 * dt.timedelta(hours=1), blocked_providers_revealed=True,
                      blocked_providers_opened=frozenset({HALLAND}))
    newer = emergency(opening_id="e-new", opened_at=NOW - dt.timedelta(hours=1), blocked_providers_revealed=True,
                      blocked_providers_opened=frozenset({HALLAND}))
    for order in ((older, newer), (newer, older)):
        decision = decide(facts(items=(halland_item(),), emergencies=order, blocks=(block(),)), NOW)
        assert verdict(decision, "h1").emergency_id == "e-new"


@pytest.mark.parametrize(("start", "relation"), [(NOW, True), (NOW + US, False)])
def test_a_care_contact_holds_from_its_first_instant(start: dt.datetime, relation: bool) -> None:
    contact = RelationEvidence(UNIT, RelationKind.CARE_CONTACT, start)
    assert decide(facts(relations=(contact,)), NOW).allowed is relation


@pytest.mark.parametrize(("start", "relation"), [(NOW, True), (NOW + US, False)])
def test_an_asserted_relation_holds_from_its_first_instant(start: dt.datetime, relation: bool) -> None:
    asserted = RelationEvidence(UNIT, RelationKind.ASSERTED, start, reason="Akut", employee_hsa_id=USER)
    assert decide(facts(relations=(asserted,)), NOW).allowed is relation


@pytest.mark.parametrize(("start", "blocked"), [(NOW, False), (NOW + US, True)])
def test_a_temporary_revoke_applies_from_its_first_instant(start: dt.datetime, blocked: bool) -> None:
    held = block(revokes=(revoke(start=start),))
    decision = decide(facts(items=(halland_item(),), consents=(consent(),), blocks=(held,)), NOW)
    assert verdict(decision, "h1").blocked is blocked


@pytest.mark.parametrize(("ends", "blocked"), [(0, True), (-1, False)])
def test_an_item_ending_exactly_when_a_block_period_starts_is_blocked(ends: int, blocked: bool) -> None:
    first_blocked_day = (NOW - 10 * DAY).date()
    start = local_midnight(first_blocked_day)
    entry = halland_item(date=start - 5 * DAY, date_end=start + ends * US)
    period = block(info_start=first_blocked_day)
    decision = decide(facts(items=(entry,), consents=(consent(),), blocks=(period,)), NOW)
    assert verdict(decision, "h1").blocked is blocked


@pytest.mark.parametrize("skipped", [
    block(block_id="b0", state=BlockState.REVOKED),  # not active
    block(block_id="b0", registered_by_guardian=True),
    block(block_id="b0", care_provider_hsa_id=SKANE),  # an outer block of the commission's own vårdgivare
    inner_block(block_id="b0", care_unit_hsa_id=UNIT),  # staff at the blocked unit itself
    block(block_id="b0", revokes=(revoke(),)),  # revoked for this unit now
], ids=["inactive", "guardian", "own-provider-outer", "own-unit-inner", "revoked"])
def test_a_block_that_does_not_hold_does_not_hide_the_next_one(skipped) -> None:  # type: ignore[no-untyped-def]
    decision = decide(facts(items=(halland_item(),), consents=(consent(),), blocks=(skipped, block())), NOW)
    assert verdict(decision, "h1").blocked is True


@pytest.mark.parametrize(("days", "shown_now"), [(-3, False), (3, True)])
def test_publication_is_judged_at_the_moment_of_reading(days: int, shown_now: bool) -> None:
    booking = item(category="bokning", unit=UNIT, date=NOW + days * DAY)  # bookings are shown only ahead
    found = verdict(decide(facts(items=(booking,), publication=demo_rules()), NOW))
    expected = "shown.own_provider" if shown_now else "publication.past_booking"
    assert found.shown is shown_now and found.code == expected


def test_a_protected_identity_still_tells_that_blocked_data_exists() -> None:
    protected = PatientFacts(PATIENT, protected_identity=True)
    blocked = halland_item(category="demografi")
    decision = decide(facts(items=(blocked,), consents=(consent(),), blocks=(block(),), patient=protected), NOW)
    assert verdict(decision, "h1") == ItemDecision("h1", False, Check.PATIENT, "patient.protected_identity",
                                                   blocked=True)
