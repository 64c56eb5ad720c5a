"""Builders for the gate's tests: a baseline where everything is in order, changed one rule at a time.

Every builder states its starting state explicitly; nothing is random outside hypothesis. The baseline is Sara Lund
(sjuksköterska, Vårdcentralen Hörby, VoB SJF) at 03:47 Swedish time, with a patient who has an open care contact at
Hörby. The tests below pin the baseline itself, so a change here shows up as a failing test, not a silent shift.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from catalog.identifiers import make_hsa_id
from demo import organisation as demo
from overview.gate import (
    BlockFacts,
    BlockKind,
    CommissionFacts,
    ConsentFacts,
    ConsentPurpose,
    ConsentScope,
    Decision,
    EmergencyFacts,
    GateFacts,
    ItemFacts,
    PatientFacts,
    RelationEvidence,
    RelationKind,
    RevokeReason,
    TemporaryRevoke,
    UserFacts,
    decide,
)

NOW = dt.datetime(2025, 3, 12, 2, 47, tzinfo=dt.UTC)  # 03:47 in Sweden
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
SKANE, HALLAND, BLEKINGE = demo.SKANE, demo.HALLAND, demo.BLEKINGE
UNIT = demo.VC_HORBY  # the commission's unit
OTHER_UNIT = demo.SUS_AKUT  # another unit of Region Skåne
HALLAND_UNIT = make_hsa_id("2321000115", "V0001")
BLEKINGE_UNIT = make_hsa_id("2321000081", "V0001")
USER = "SE2321000255-VCH2"  # Sara Lund
COLLEAGUE = "SE2321000255-VCH3"  # Erik Månsson, same unit
COMMISSION = "SE2321000255-V2002-U1"
PATIENT = "191212121212"


def commission(**changes: object) -> CommissionFacts:
    """VoB SJF at Vårdcentralen Hörby, valid since 2024, Region Skåne a consumer."""
    base = CommissionFacts(hsa_id=COMMISSION, name="VoB SJF", purpose="Vård och behandling", rights=("Läsa;Alla;SJF",),
                           valid_from=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), valid_to=None, unit_hsa_id=UNIT,
                           unit_name="Vårdcentralen Hörby", provider_hsa_id=SKANE, provider_name="Region Skåne",
                           provider_consumer=True)
    return replace(base, **changes)


def other_commission(**changes: object) -> CommissionFacts:
    """VoB SJF at SUS Lund, Akutmottagningen (the same user's second commission)."""
    return commission(**{"hsa_id": "SE2321000255-V1001-U1", "unit_hsa_id": OTHER_UNIT,
                         "unit_name": "Akutmottagningen, SUS Lund", **changes})


def care_contact(unit: str = UNIT, **changes: object) -> RelationEvidence:
    """An open care contact that began an hour ago."""
    return replace(RelationEvidence(unit, RelationKind.CARE_CONTACT, NOW - HOUR), **changes)


def facts(**changes: object) -> GateFacts:
    """Everything in order: certificate, directory, one commission, consumer, acknowledged, patient, relation."""
    base = GateFacts(user=UserFacts(USER), commissions=(commission(),), chosen_commission=None, production=True,
                     info_version_current=3, info_version_acknowledged=3, patient=PatientFacts(PATIENT),
                     relations=(care_contact(),))
    return replace(base, **changes)


def item(item_id: str = "i1", *, provider: str = SKANE, unit: str = OTHER_UNIT, **changes: object) -> ItemFacts:
    """A Pasis diagnosis from a month ago (Region Skåne, SUS Lund unless told)."""
    base = ItemFacts(item_id=item_id, system="pasis", category="diagnos", care_provider_hsa_id=provider,
                     care_unit_hsa_id=unit, date=NOW - 30 * DAY)
    return replace(base, **changes)


def halland_item(item_id: str = "h1", **changes: object) -> ItemFacts:
    """Region Halland's journal note from a month ago (another vårdgivare)."""
    return item(item_id, **{"provider": HALLAND, "unit": HALLAND_UNIT, "system": "halland",
                            "category": "journalanteckning", **changes})


def consent(**changes: object) -> ConsentFacts:
    """An open-ended overview consent for the whole of Hörby, registered yesterday under the baseline commission."""
    base = ConsentFacts(consent_id="c1", purpose=ConsentPurpose.OVERVIEW, scope=ConsentScope.UNIT,
                        care_provider_hsa_id=SKANE, care_unit_hsa_id=UNIT, employee_hsa_id=None, start=NOW - DAY,
                        end=None, registered_at=NOW - DAY)
    return replace(base, **changes)


def drug_list_consent(**changes: object) -> ConsentFacts:
    """Sara's personal consent to the drug-dispensing list."""
    return consent(**{"consent_id": "d1", "purpose": ConsentPurpose.DRUG_LIST, "scope": ConsentScope.EMPLOYEE,
                      "employee_hsa_id": USER, **changes})


def emergency(**changes: object) -> EmergencyFacts:
    """Sara's emergency opening at Hörby, opened ten minutes ago for four hours; no blocked data revealed yet."""
    base = EmergencyFacts(opening_id="e1", employee_hsa_id=USER, care_provider_hsa_id=SKANE, care_unit_hsa_id=UNIT,
                          reason="Medvetslös patient, livshotande tillstånd", opened_at=NOW - 10 * dt.timedelta(
                              minutes=1), expires_at=NOW + 4 * HOUR)
    return replace(base, **changes)


def block(**changes: object) -> BlockFacts:
    """An active outer block of Region Halland's data, no period, no exceptions."""
    base = BlockFacts(block_id="b1", kind=BlockKind.OUTER, care_provider_hsa_id=HALLAND, care_unit_hsa_id=None)
    return replace(base, **changes)


def inner_block(**changes: object) -> BlockFacts:
    """An active inner block of SUS Lund Akutmottagningen's data within Region Skåne."""
    return block(**{"kind": BlockKind.INNER, "care_provider_hsa_id": SKANE, "care_unit_hsa_id": OTHER_UNIT,
                    **changes})


def revoke(**changes: object) -> TemporaryRevoke:
    """A temporary revoke for all of Hörby until tomorrow, on the patient's consent."""
    base = TemporaryRevoke(revoke_id="r1", care_unit_hsa_id=UNIT, employee_hsa_id=None, end=NOW + DAY,
                           reason=RevokeReason.PATIENTS_CONSENT)
    return replace(base, **changes)


def shown(decision: Decision) -> list[str]:
    """The ids of the items shown."""
    return [verdict.item_id for verdict in decision.shown]


def verdict(decision: Decision, item_id: str = "i1"):
    """The ItemDecision for ``item_id``."""
    return next(v for v in decision.items if v.item_id == item_id)


def codes(decision: Decision) -> list[str]:
    """The reason codes, in order."""
    return [reason.code for reason in decision.reasons]


# ---------------------------------------------------------------------- the baseline itself
def test_baseline_is_allowed_with_every_check_passed() -> None:
    decision = decide(facts(), NOW)
    assert decision.allowed and decision.failed is None
    assert codes(decision) == ["certificate.ok", "user.ok", "commission.automatic", "consumer.ok",
                               "acknowledgement.ok", "patient.ok", "relation.care_contact"]
    assert decision.commission == commission()


def test_baseline_items_own_shown_other_hidden() -> None:
    decision = decide(facts(items=(item(), halland_item())), NOW)
    assert shown(decision) == ["i1"]
    assert verdict(decision, "h1").code == "consent.missing"
