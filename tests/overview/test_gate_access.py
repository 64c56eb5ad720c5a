"""Gate checks 1–6 (ARCHITECTURE §5): certificate, directory, commission, consumer, acknowledgement, patient, relation.

One named test per rule; each changes the all-in-order baseline of test_gate_builders in one respect.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from overview.gate import Check, PatientFacts, RelationEvidence, RelationKind, UserFacts, decide
from tests.overview.test_gate_builders import (
    COLLEAGUE,
    COMMISSION,
    DAY,
    HOUR,
    NOW,
    OTHER_UNIT,
    UNIT,
    USER,
    care_contact,
    codes,
    commission,
    consent,
    facts,
    item,
    other_commission,
)

SECOND = dt.timedelta(seconds=1)


# ---------------------------------------------------------------------- 1 certificate
def test_missing_certificate_is_refused_first() -> None:
    decision = decide(facts(user=UserFacts(None, in_directory=False)), NOW)
    assert not decision.allowed and decision.failed is Check.CERTIFICATE
    assert codes(decision) == ["certificate.missing"]  # nothing else is known without an HSA-ID


def test_certificate_error_is_shown_with_its_text() -> None:
    decision = decide(facts(user=UserFacts(USER, certificate_error="Certifikatet har gått ut 2025-03-01.")), NOW)
    assert decision.failed is Check.CERTIFICATE
    assert decision.reasons[0].code == "certificate.invalid"
    assert "gått ut 2025-03-01" in decision.reasons[0].message


def test_certificate_remedy_names_card_test_and_service_desk() -> None:
    remedy = decide(facts(user=UserFacts(None)), NOW).reasons[0].remedy
    assert "test.siths.se" in remedy and "30000" in remedy and "0776-73 00 00" in remedy


# ---------------------------------------------------------------------- 2 user
@pytest.mark.parametrize(("user", "code"), [
    (UserFacts(USER, in_directory=False), "user.not_in_directory"),
    (UserFacts(USER, active=False), "user.inactive"),
    (UserFacts(USER, archived=True), "user.archived"),
    (UserFacts(USER, feigned=True), "user.feigned"),
])
def test_user_must_be_in_directory_active_not_archived_nor_feigned(user: UserFacts, code: str) -> None:
    decision = decide(facts(user=user), NOW)
    assert decision.failed is Check.USER and codes(decision) == ["certificate.ok", code]


def test_archived_user_is_refused_even_outside_production() -> None:
    assert decide(facts(user=UserFacts(USER, archived=True), production=False), NOW).failed is Check.USER


def test_feigned_user_is_refused_in_production_only() -> None:
    feigned = UserFacts(USER, feigned=True)
    assert decide(facts(user=feigned, production=True), NOW).failed is Check.USER
    assert decide(facts(user=feigned, production=False), NOW).allowed


# ---------------------------------------------------------------------- 3 commission
def test_several_usable_commissions_without_a_choice_ask_for_one() -> None:
    decision = decide(facts(commissions=(commission(), other_commission())), NOW)
    assert not decision.allowed and decision.failed is Check.COMMISSION
    assert decision.reasons[2].code == "commission.choose"
    assert decision.needs_choice == (COMMISSION, other_commission().hsa_id)
    assert decision.items == ()


def test_single_usable_commission_is_used_automatically() -> None:
    decision = decide(facts(), NOW)
    assert decision.reasons[2].code == "commission.automatic" and decision.commission == commission()


def test_unusable_commissions_are_not_offered_as_choices() -> None:
    statistics = other_commission(purpose="Statistik")
    decision = decide(facts(commissions=(statistics, commission())), NOW)
    assert decision.allowed and decision.commission == commission() and decision.needs_choice == ()


def test_same_commission_held_twice_is_one_choice() -> None:
    twice = (commission(), commission(valid_from=NOW - 2 * DAY))
    assert decide(facts(commissions=twice), NOW).reasons[2].code == "commission.automatic"


def test_chosen_commission_must_be_held() -> None:
    decision = decide(facts(chosen_commission="SE2321000255-V9999-U1"), NOW)
    assert decision.failed is Check.COMMISSION and decision.reasons[2].code == "commission.not_held"


def test_chosen_commission_matches_hsa_id_case_insensitively() -> None:
    assert decide(facts(chosen_commission=COMMISSION.lower()), NOW).reasons[2].code == "commission.ok"


def test_chosen_commission_is_used_among_several() -> None:
    decision = decide(facts(commissions=(commission(), other_commission()), chosen_commission=COMMISSION), NOW)
    assert decision.allowed and decision.commission == commission()


@pytest.mark.parametrize(("valid_from", "valid_to", "code"), [
    (NOW, None, "commission.ok"),  # from is inclusive
    (NOW + SECOND, None, "commission.not_yet_valid"),
    (None, NOW + SECOND, "commission.ok"),
    (None, NOW, "commission.expired"),  # to is exclusive
    (None, NOW - DAY, "commission.expired"),
])
def test_commission_validity_is_half_open(valid_from: dt.datetime | None, valid_to: dt.datetime | None,
                                          code: str) -> None:
    held = commission(valid_from=valid_from, valid_to=valid_to)
    decision = decide(facts(commissions=(held,), chosen_commission=COMMISSION), NOW)
    assert decision.reasons[2].code == code


def test_expired_commission_message_gives_the_last_swedish_day() -> None:
    held = commission(valid_to=dt.datetime(2025, 2, 28, 23, 0, tzinfo=dt.UTC))  # 1 March 00:00 in Sweden (D-9)
    reason = decide(facts(commissions=(held,), chosen_commission=COMMISSION), NOW).reasons[2]
    assert "gällde till och med 2025-02-28." in reason.message and "2025-03-01" not in reason.message
    assert "Beställning av behörigheter" in reason.remedy


def test_a_commission_ended_during_a_day_says_when() -> None:
    held = commission(valid_to=dt.datetime(2025, 2, 28, 13, 30, tzinfo=dt.UTC))  # ended at 14:30 Swedish time
    reason = decide(facts(commissions=(held,), chosen_commission=COMMISSION), NOW).reasons[2]
    assert "gällde till 2025-02-28 14:30." in reason.message


@pytest.mark.parametrize("purpose", ["Vård och behandling", "vård och behandling", "VÅRD OCH BEHANDLING",
                                     " Vård och behandling "])
def test_commission_purpose_is_case_insensitive(purpose: str) -> None:
    assert decide(facts(commissions=(commission(purpose=purpose),)), NOW).allowed


@pytest.mark.parametrize("purpose", ["Statistik", "Administration", "Kvalitetssäkring", ""])
def test_commission_purpose_must_be_vard_och_behandling(purpose: str) -> None:
    decision = decide(facts(commissions=(commission(purpose=purpose),), chosen_commission=COMMISSION), NOW)
    assert decision.failed is Check.COMMISSION and decision.reasons[2].code == "commission.purpose"


@pytest.mark.parametrize("right", ["Läsa;Alla;SJF", "Läsa;alla;SJF", "LÄSA;alla;SJF", "läsa;ALLA;sjf"])
def test_commission_right_is_case_insensitive(right: str) -> None:
    assert decide(facts(commissions=(commission(rights=(right,)),)), NOW).allowed


@pytest.mark.parametrize("malformed", ["Läsa;Alla", "Läsa;Alla;SJF;Extra", ";Alla;SJF", "Läsa;;SJF", "Läsa;Alla;",
                                       "LäsaAllaSJF", ""])
def test_malformed_rights_are_ignored(malformed: str) -> None:
    alone = decide(facts(commissions=(commission(rights=(malformed,)),), chosen_commission=COMMISSION), NOW)
    assert alone.reasons[2].code == "commission.right_missing"
    beside_a_good_one = decide(facts(commissions=(commission(rights=(malformed, "Läsa;Alla;SJF")),)), NOW)
    assert beside_a_good_one.allowed


@pytest.mark.parametrize("right", ["Skriva;Alla;SJF", "Läsa;Alla;VE", "Läsa;Journal;SJF"])
def test_other_rights_do_not_give_sjf_read(right: str) -> None:
    decision = decide(facts(commissions=(commission(rights=(right,)),), chosen_commission=COMMISSION), NOW)
    assert decision.reasons[2].code == "commission.right_missing"


def test_commission_without_unit_cannot_be_used_for_sjf() -> None:
    direct = commission(unit_hsa_id=None, unit_name="")
    decision = decide(facts(commissions=(direct,), chosen_commission=COMMISSION), NOW)
    assert decision.failed is Check.COMMISSION and decision.reasons[2].code == "commission.no_unit"


def test_no_commission_at_all_explains_how_to_order_one() -> None:
    reason = decide(facts(commissions=()), NOW).reasons[2]
    assert reason.code == "commission.none"
    assert "verksamhetschefen" in reason.remedy.lower() and "katalogansvarig för Skånekatalogen" in reason.remedy


def test_without_usable_commission_the_closest_one_is_explained() -> None:
    expired = commission(valid_to=NOW - DAY)
    wrong_right = other_commission(rights=("Skriva;Alla;SJF",))
    decision = decide(facts(commissions=(expired, wrong_right)), NOW)
    assert decision.reasons[2].code == "commission.right_missing" and decision.commission == wrong_right


# ---------------------------------------------------------------------- 4 consumer, 5 acknowledgement
def test_consumer_connection_of_the_commissions_provider_is_required() -> None:
    decision = decide(facts(commissions=(commission(provider_consumer=False),)), NOW)
    assert decision.failed is Check.CONSUMER and "consumer.not_connected" in codes(decision)


@pytest.mark.parametrize("acknowledged", [None, 1, 2])
def test_current_information_version_must_be_acknowledged(acknowledged: int | None) -> None:
    decision = decide(facts(info_version_acknowledged=acknowledged), NOW)
    assert decision.failed is Check.ACKNOWLEDGEMENT and codes(decision)[-1] == "acknowledgement.missing"


def test_checks_3_to_5_are_all_reported_once_the_user_is_known() -> None:
    decision = decide(facts(commissions=(commission(provider_consumer=False),), info_version_acknowledged=None), NOW)
    assert decision.failed is Check.CONSUMER  # the first failing check
    assert codes(decision) == ["certificate.ok", "user.ok", "commission.automatic", "consumer.not_connected",
                               "acknowledgement.missing"]


def test_failed_reasons_carry_a_remedy_and_passed_ones_do_not() -> None:
    decision = decide(facts(commissions=(commission(provider_consumer=False),), info_version_acknowledged=None), NOW)
    assert all(bool(r.remedy) is not r.passed for r in decision.reasons)


def test_without_a_patient_only_checks_1_to_5_run() -> None:
    decision = decide(facts(patient=None, relations=(), items=(item(),)), NOW)
    assert decision.allowed and decision.items == ()
    assert Check.RELATION not in {r.check for r in decision.reasons}


def test_patient_checks_do_not_run_when_access_failed() -> None:
    decision = decide(facts(info_version_acknowledged=None, relations=()), NOW)
    assert Check.RELATION not in {r.check for r in decision.reasons}


def test_unknown_patient_is_refused() -> None:
    decision = decide(facts(patient=PatientFacts("191212121212", found=False), items=(item(),)), NOW)
    assert decision.failed is Check.PATIENT and decision.items == ()


# ---------------------------------------------------------------------- 6 relation
def test_open_care_contact_at_the_unit_is_a_relation() -> None:
    assert decide(facts(), NOW).reasons[-1].code == "relation.care_contact"


@pytest.mark.parametrize("contact", [
    care_contact(OTHER_UNIT),  # at another unit of the same vårdgivare
    care_contact(end=NOW),  # ended (end exclusive)
    care_contact(start=NOW + SECOND),  # not begun
])
def test_care_contact_must_cover_now_at_the_commissions_unit(contact: RelationEvidence) -> None:
    decision = decide(facts(relations=(contact,), items=(item(),)), NOW)
    assert decision.failed is Check.RELATION and decision.reasons[-1].code == "relation.missing"
    assert decision.items == ()


@pytest.mark.parametrize(("start", "end", "holds"), [
    (NOW + 7 * DAY, None, True),  # a week ahead: the lead begins
    (NOW + 7 * DAY + SECOND, None, False),
    (NOW - 24 * HOUR + SECOND, None, True),  # started almost a day ago, no end: start + 24 h
    (NOW - 24 * HOUR, None, False),
    (NOW - 3 * DAY, NOW - 24 * HOUR + SECOND, True),  # end + 24 h
    (NOW - 3 * DAY, NOW - 24 * HOUR, False),
])
def test_booking_window_is_a_week_before_until_a_day_after(start: dt.datetime, end: dt.datetime | None,
                                                           holds: bool) -> None:
    booking = RelationEvidence(UNIT, RelationKind.BOOKING, start, end)
    decision = decide(facts(relations=(booking,)), NOW)
    assert decision.allowed is holds
    assert decision.reasons[-1].code == ("relation.booking" if holds else "relation.missing")


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_asserted_relation_needs_a_reason(reason: str | None) -> None:
    asserted = RelationEvidence(UNIT, RelationKind.ASSERTED, NOW - HOUR, reason=reason, employee_hsa_id=USER)
    assert decide(facts(relations=(asserted,)), NOW).failed is Check.RELATION


def test_asserted_relation_holds_only_for_the_employee_who_asserted_it() -> None:
    asserted = RelationEvidence(UNIT, RelationKind.ASSERTED, NOW - HOUR, reason="Ringer in från hemtjänsten",
                                employee_hsa_id=COLLEAGUE)
    assert decide(facts(relations=(asserted,)), NOW).failed is Check.RELATION
    mine = replace(asserted, employee_hsa_id=USER.lower())
    decision = decide(facts(relations=(mine,)), NOW)
    assert decision.allowed and decision.reasons[-1].code == "relation.asserted"


def test_asserted_relation_without_end_lapses_after_24_hours() -> None:
    asserted = RelationEvidence(UNIT, RelationKind.ASSERTED, NOW - 24 * HOUR, reason="Akut", employee_hsa_id=USER)
    assert decide(facts(relations=(asserted,)), NOW).failed is Check.RELATION
    assert decide(facts(relations=(replace(asserted, start=NOW - 23 * HOUR),)), NOW).allowed
    assert decide(facts(relations=(replace(asserted, end=NOW + DAY),)), NOW).allowed


def test_verified_relation_is_reported_before_an_asserted_one() -> None:
    asserted = RelationEvidence(UNIT, RelationKind.ASSERTED, NOW - HOUR, reason="Akut", employee_hsa_id=USER)
    assert decide(facts(relations=(asserted, care_contact())), NOW).reasons[-1].code == "relation.care_contact"


def test_relation_remedy_mentions_choosing_the_commission_and_asserting() -> None:
    remedy = decide(facts(relations=()), NOW).reasons[-1].remedy
    assert "medarbetaruppdraget" in remedy and "intyga" in remedy


def test_switching_commission_changes_the_outcome() -> None:
    # A relation and a consent at Hörby; the same user also works at SUS Lund Akutmottagningen.
    both = facts(commissions=(commission(), other_commission()), consents=(consent(),),
                 items=(item(provider="SE2321000115-E00001", unit="SE2321000115-V0001"),))
    at_horby = decide(replace(both, chosen_commission=COMMISSION), NOW)
    assert at_horby.allowed and [v.shown for v in at_horby.items] == [True]
    at_sus = decide(replace(both, chosen_commission=other_commission().hsa_id), NOW)
    assert at_sus.failed is Check.RELATION
    at_sus_with_contact = decide(replace(both, chosen_commission=other_commission().hsa_id,
                                         relations=(care_contact(OTHER_UNIT),)), NOW)
    assert at_sus_with_contact.allowed and at_sus_with_contact.items[0].code == "consent.missing"
