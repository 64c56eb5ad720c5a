"""Gate step 7 for a patient who lacks the capacity to consent, and not only temporarily (issue 13 item 6; DOMAIN
§1.2: old PDL 6 kap. 2 a and 3 a §§, continued under SVOD): the assessment opens other vårdgivare's overview data at
the unit it was registered under, for its period, with its own reason code per item; never the drug list."""

from __future__ import annotations

import datetime as dt

from overview.gate import Basis, Check, IncapacityFacts, decide
from tests.overview.test_gate_builders import (
    DAY,
    HALLAND,
    HOUR,
    NOW,
    OTHER_UNIT,
    SKANE,
    UNIT,
    consent,
    facts,
    halland_item,
    verdict,
)
from tests.overview.test_gate_consent import drug_item


def assessment(**changes: object) -> IncapacityFacts:
    values: dict[str, object] = {"assessment_id": "b1", "care_provider_hsa_id": SKANE, "care_unit_hsa_id": UNIT,
                                 "start": NOW - DAY, "end": NOW + 30 * DAY, "registered_at": NOW - DAY, **changes}
    return IncapacityFacts(**values)  # type: ignore[arg-type]


def test_an_assessment_at_the_unit_shows_other_vardgivare_with_its_own_code() -> None:
    decision = decide(facts(items=(halland_item(),), incapacities=(assessment(),)), NOW)
    shown = verdict(decision, "h1")
    assert (shown.shown, shown.basis, shown.code, shown.consent_id) == (True, Basis.INCAPACITY, "shown.incapacity",
                                                                        "b1")


def test_an_assessment_holds_only_at_its_unit_and_vardgivare_and_within_its_period() -> None:
    for changed in ({"care_unit_hsa_id": OTHER_UNIT}, {"care_provider_hsa_id": HALLAND}, {"start": NOW + HOUR},
                    {"end": NOW}, {"ended_at": NOW - HOUR}, {"ended_at": NOW}):
        decision = decide(facts(items=(halland_item(),), incapacities=(assessment(**changed),)), NOW)
        assert verdict(decision, "h1").check is Check.CONSENT, changed
    assert verdict(decide(facts(items=(halland_item(),), incapacities=(assessment(ended_at=NOW + HOUR),)), NOW),
                   "h1").shown  # ended later: still in force now


def test_the_drug_list_still_needs_the_patients_personal_consent() -> None:
    decision = decide(facts(items=(drug_item(),), incapacities=(assessment(),)), NOW)
    assert verdict(decision, "l1").check is Check.CONSENT and verdict(decision, "l1").code == \
        "consent.drug_list_missing"


def test_of_a_consent_and_an_assessment_the_latest_registered_is_the_basis() -> None:
    later_consent = consent(registered_at=NOW - HOUR, consent_id="c1")
    decision = decide(facts(items=(halland_item(),), incapacities=(assessment(),), consents=(later_consent,)), NOW)
    assert verdict(decision, "h1").basis is Basis.CONSENT
    later = assessment(registered_at=NOW - dt.timedelta(minutes=1))
    decision = decide(facts(items=(halland_item(),), incapacities=(later,), consents=(later_consent,)), NOW)
    assert verdict(decision, "h1").basis is Basis.INCAPACITY
