"""Gate step 7 per item: own vårdgivare, samtycke (consent), nödåtkomst (emergency), the drug list; skyddad identitet.

One named test per rule (DOMAIN §1.2, §4.3 Samtycke, §4.4).
"""

from __future__ import annotations

import datetime as dt

import pytest

from overview.gate import Basis, Check, ConsentPurpose, ConsentScope, PatientFacts, UserFacts, decide
from overview.producers import EHM, EHM_PROVIDER
from tests.overview.test_gate_builders import (
    BLEKINGE,
    BLEKINGE_UNIT,
    COLLEAGUE,
    DAY,
    HALLAND,
    HOUR,
    NOW,
    OTHER_UNIT,
    PATIENT,
    SKANE,
    UNIT,
    USER,
    consent,
    drug_list_consent,
    emergency,
    facts,
    halland_item,
    item,
    shown,
    verdict,
)

SECOND = dt.timedelta(seconds=1)


def drug_item(item_id: str = "l1"):
    """A dispensed drug from eHälsomyndigheten's list."""
    return item(item_id, provider=EHM_PROVIDER, unit=EHM_PROVIDER, system=EHM, category="lakemedelsuttag")


def halland_shown(**changes: object) -> bool:
    """Whether the Halland item is shown with the baseline changed by ``changes``."""
    return shown(decide(facts(items=(halland_item(),), **changes), NOW)) == ["h1"]


# ---------------------------------------------------------------------- own vårdgivare
def test_own_provider_items_need_no_consent() -> None:
    decision = decide(facts(items=(item(unit=OTHER_UNIT), item("i2", unit=UNIT))), NOW)
    assert shown(decision) == ["i1", "i2"]
    assert {v.basis for v in decision.items} == {Basis.OWN_PROVIDER}
    assert verdict(decision).code == "shown.own_provider"


def test_other_provider_item_needs_consent() -> None:
    decision = decide(facts(items=(halland_item(),)), NOW)
    assert verdict(decision, "h1").check is Check.CONSENT and verdict(decision, "h1").code == "consent.missing"


def test_valid_consent_shows_other_providers_items_with_its_id() -> None:
    decision = decide(facts(items=(halland_item(), item("b1", provider=BLEKINGE, unit=BLEKINGE_UNIT,
                                                        system="blekinge")), consents=(consent(),)), NOW)
    assert shown(decision) == ["h1", "b1"]
    assert {(v.basis, v.consent_id) for v in decision.items} == {(Basis.CONSENT, "c1")}


# ---------------------------------------------------------------------- consent: scope and where it was registered
def test_unit_consent_covers_all_staff_at_the_unit() -> None:
    assert halland_shown(consents=(consent(),), user=UserFacts(COLLEAGUE))


def test_employee_consent_covers_only_that_employee() -> None:
    personal = consent(scope=ConsentScope.EMPLOYEE, employee_hsa_id=USER)
    assert halland_shown(consents=(personal,))
    assert not halland_shown(consents=(personal,), user=UserFacts(COLLEAGUE))


def test_employee_consent_without_employee_never_counts() -> None:
    assert not halland_shown(consents=(consent(scope=ConsentScope.EMPLOYEE, employee_hsa_id=None),))


@pytest.mark.parametrize("changes", [{"care_unit_hsa_id": OTHER_UNIT}, {"care_provider_hsa_id": HALLAND}])
def test_consent_counts_only_under_the_commissions_unit_and_provider(changes: dict[str, str]) -> None:
    assert not halland_shown(consents=(consent(**changes),))


def test_consent_unit_matches_case_insensitively() -> None:
    assert halland_shown(consents=(consent(care_unit_hsa_id=UNIT.lower()),))


# ---------------------------------------------------------------------- consent: time
@pytest.mark.parametrize(("start", "end", "counts"), [
    (NOW, None, True),  # start inclusive
    (NOW + SECOND, None, False),
    (NOW - DAY, NOW + SECOND, True),
    (NOW - DAY, NOW, False),  # end exclusive
])
def test_consent_period_is_half_open(start: dt.datetime, end: dt.datetime | None, counts: bool) -> None:
    assert halland_shown(consents=(consent(start=start, end=end),)) is counts


def test_open_ended_consent_counts_until_ended() -> None:
    assert halland_shown(consents=(consent(start=NOW - 400 * DAY, end=None),))


@pytest.mark.parametrize(("ended_at", "counts"), [(NOW - DAY, False), (NOW, False), (NOW + SECOND, True)])
def test_ended_consent_stops_at_end(ended_at: dt.datetime, counts: bool) -> None:
    assert halland_shown(consents=(consent(ended_at=ended_at),)) is counts


@pytest.mark.parametrize("voided_at", [NOW - DAY, NOW, NOW + DAY])
def test_voided_consent_never_counts(voided_at: dt.datetime) -> None:
    assert not halland_shown(consents=(consent(voided_at=voided_at),))


# ---------------------------------------------------------------------- consent by a guardian
GUARDIAN = "197001011234"


@pytest.mark.parametrize(("birth_date", "counts"), [
    (dt.date(2007, 3, 13), True),  # turns 18 tomorrow (Swedish date)
    (dt.date(2007, 3, 12), False),  # 18 today
    (dt.date(2015, 6, 1), True),
    (dt.date(1990, 1, 1), False),
])
def test_guardian_consent_counts_while_the_patient_is_a_child(birth_date: dt.date, counts: bool) -> None:
    patient = PatientFacts(PATIENT, birth_date=birth_date)
    assert halland_shown(consents=(consent(represented_by=GUARDIAN),), patient=patient) is counts


def test_guardian_consent_uses_the_swedish_date() -> None:
    late = dt.datetime(2025, 3, 11, 23, 30, tzinfo=dt.UTC)  # already 12 March in Sweden
    patient = PatientFacts(PATIENT, birth_date=dt.date(2007, 3, 12))
    guardian = consent(represented_by=GUARDIAN, start=late - DAY, registered_at=late - DAY)
    decision = decide(facts(items=(halland_item(),), consents=(guardian,), patient=patient), late)
    assert shown(decision) == []


def test_guardian_consent_for_a_child_born_on_leap_day_ends_28_february() -> None:
    patient = PatientFacts(PATIENT, birth_date=dt.date(2008, 2, 29))
    guardian = consent(represented_by=GUARDIAN, start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    before = dt.datetime(2026, 2, 27, 12, tzinfo=dt.UTC)
    on_the_day = dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC)
    base = facts(items=(halland_item(),), consents=(guardian,), patient=patient)
    assert shown(decide(base, before)) == ["h1"] and shown(decide(base, on_the_day)) == []


def test_guardian_consent_without_birth_date_never_counts() -> None:
    assert not halland_shown(consents=(consent(represented_by=GUARDIAN),), patient=PatientFacts(PATIENT))


def test_patients_own_consent_counts_without_birth_date() -> None:
    assert halland_shown(consents=(consent(),), patient=PatientFacts(PATIENT))


# ---------------------------------------------------------------------- the drug list
def test_drug_list_needs_a_personal_drug_list_consent() -> None:
    decision = decide(facts(items=(drug_item(),), consents=(drug_list_consent(),)), NOW)
    assert shown(decision) == ["l1"]
    assert (verdict(decision, "l1").basis, verdict(decision, "l1").consent_id) == (Basis.CONSENT, "d1")


def test_drug_list_is_not_covered_by_an_overview_consent() -> None:
    decision = decide(facts(items=(drug_item(),), consents=(consent(),)), NOW)
    assert verdict(decision, "l1").code == "consent.drug_list_missing"


def test_drug_list_consent_does_not_cover_the_overview() -> None:
    assert not halland_shown(consents=(drug_list_consent(),))


def test_drug_list_consent_for_the_whole_unit_never_counts() -> None:
    unit_wide = drug_list_consent(scope=ConsentScope.UNIT, employee_hsa_id=None)
    assert shown(decide(facts(items=(drug_item(),), consents=(unit_wide,)), NOW)) == []


def test_drug_list_consent_of_a_colleague_does_not_count() -> None:
    decision = decide(facts(items=(drug_item(),), consents=(drug_list_consent(employee_hsa_id=COLLEAGUE),)), NOW)
    assert shown(decision) == []


def test_drug_list_is_not_opened_by_emergency() -> None:
    decision = decide(facts(items=(drug_item(), halland_item()), emergencies=(emergency(),)), NOW)
    assert shown(decision) == ["h1"] and verdict(decision, "l1").code == "consent.drug_list_missing"


def test_drug_list_category_needs_the_personal_consent_whatever_the_system() -> None:
    decision = decide(facts(items=(item(category="lakemedelsuttag"),)), NOW)  # from the own vårdgivare
    assert verdict(decision).code == "consent.drug_list_missing"


# ---------------------------------------------------------------------- emergency opening (nödåtkomst)
def test_emergency_opening_covers_other_providers_items() -> None:
    decision = decide(facts(items=(halland_item(),), emergencies=(emergency(),)), NOW)
    assert (verdict(decision, "h1").basis, verdict(decision, "h1").emergency_id) == (Basis.EMERGENCY, "e1")


@pytest.mark.parametrize("changes", [
    {"employee_hsa_id": COLLEAGUE},
    {"care_unit_hsa_id": OTHER_UNIT},
    {"care_provider_hsa_id": HALLAND},
    {"reason": "  "},
])
def test_emergency_opening_holds_for_its_employee_unit_and_reason_only(changes: dict[str, str]) -> None:
    assert not halland_shown(emergencies=(emergency(**changes),))


@pytest.mark.parametrize(("opened_at", "expires_at", "counts"), [
    (NOW, NOW + DAY, True),
    (NOW + SECOND, NOW + DAY, False),
    (NOW - DAY, NOW + SECOND, True),
    (NOW - DAY, NOW, False),  # expired
])
def test_emergency_opening_is_time_boxed(opened_at: dt.datetime, expires_at: dt.datetime, counts: bool) -> None:
    assert halland_shown(emergencies=(emergency(opened_at=opened_at, expires_at=expires_at),)) is counts


@pytest.mark.parametrize(("consent_registered", "basis"), [
    (NOW - DAY, Basis.EMERGENCY),  # the emergency was opened later
    (NOW - dt.timedelta(minutes=1), Basis.CONSENT),  # the consent was registered later
    (NOW - dt.timedelta(minutes=10), Basis.CONSENT),  # a tie: the consent
])
def test_latest_registered_assertion_wins(consent_registered: dt.datetime, basis: Basis) -> None:
    both = facts(items=(halland_item(),), consents=(consent(registered_at=consent_registered),),
                 emergencies=(emergency(),))
    assert verdict(decide(both, NOW), "h1").basis is basis


def test_latest_of_several_consents_is_the_basis() -> None:
    older, newer = consent(consent_id="old"), consent(consent_id="new", registered_at=NOW - dt.timedelta(hours=2))
    decision = decide(facts(items=(halland_item(),), consents=(newer, older)), NOW)
    assert verdict(decision, "h1").consent_id == "new"


def test_invalid_newer_consent_does_not_hide_an_older_valid_one() -> None:
    older = consent(consent_id="old")
    voided = consent(consent_id="voided", registered_at=NOW - dt.timedelta(hours=2), voided_at=NOW - HOUR)
    decision = decide(facts(items=(halland_item(),), consents=(older, voided)), NOW)
    assert verdict(decision, "h1").consent_id == "old"



def test_consent_purpose_values_are_the_two_of_the_contract() -> None:
    assert {p.value for p in ConsentPurpose} == {"overview", "drug_list"}


# ---------------------------------------------------------------------- skyddad identitet
def test_protected_identity_hides_name_and_address_only() -> None:
    patient = PatientFacts(PATIENT, protected_identity=True)
    items = (item("name", category="demografi"), item("dx"), halland_item())
    decision = decide(facts(patient=patient, items=items, consents=(consent(),)), NOW)
    assert shown(decision) == ["dx", "h1"]
    assert (verdict(decision, "name").check, verdict(decision, "name").code) == (Check.PATIENT,
                                                                                "patient.protected_identity")


def test_name_and_address_are_shown_without_protected_identity() -> None:
    assert shown(decide(facts(items=(item("name", category="demografi"),)), NOW)) == ["name"]


def test_own_provider_and_consent_are_decided_by_provider_not_unit() -> None:
    # An item of the own vårdgivare at a unit the user does not work at is still the own vårdgivare's.
    assert verdict(decide(facts(items=(item(unit=OTHER_UNIT, provider=SKANE.lower()),)), NOW)).shown
