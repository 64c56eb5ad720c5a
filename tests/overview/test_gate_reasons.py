"""Checks 1–6 reason by reason: the exact Reason (check, passed, code, Swedish message, remedy) of every pass and
refusal, and which commission the Felsökning page explains when none is usable.

test_gate_access.py says which outcome each rule gives; this file pins what the user then reads: every parameter a
message carries (HSA-ID, commission name, unit, purpose, date, vårdgivare, version). A refusal's remedy is the one of
its code in TEXTS (the texts themselves are checked in test_gate_access.py); a pass has none.
"""

from __future__ import annotations

import datetime as dt

import pytest

from overview.gate import TEXTS, Check, PatientFacts, Reason, RelationEvidence, RelationKind, UserFacts, decide
from tests.overview.test_gate_builders import (
    COMMISSION,
    DAY,
    HOUR,
    NOW,
    UNIT,
    USER,
    commission,
    facts,
    other_commission,
)

CERTIFICATE_OK = Reason(Check.CERTIFICATE, True, "certificate.ok", "SITHS-certifikatet godkändes.")
USER_OK = Reason(Check.USER, True, "user.ok", f"Ditt HSA-id {USER} finns i Skånekatalogen.")
CONSUMER_OK = Reason(Check.CONSUMER, True, "consumer.ok", "Region Skåne är ansluten till NPÖ som konsument.")
ACKNOWLEDGED = Reason(Check.ACKNOWLEDGEMENT, True, "acknowledgement.ok",
                      "Du har tagit del av Information innan start (version 3).")
PATIENT_OK = Reason(Check.PATIENT, True, "patient.ok", "Patienten finns.")
TOMORROW_IN_SWEDEN = dt.datetime(2025, 3, 12, 23, 0, tzinfo=dt.UTC)  # 2025-03-13 00:00 Swedish time
END_OF_FEBRUARY = dt.datetime(2025, 2, 28, 23, 0, tzinfo=dt.UTC)  # exclusive: the last day was 2025-02-28


def refused(check: Check, code: str, message: str) -> Reason:
    """A failed check's reason: its message and the remedy of its code."""
    return Reason(check, False, code, message, TEXTS[code][1])


def commission_reason(chosen: str | None, *held: dict[str, object]) -> Reason:
    """The commission check's reason for the user holding ``held`` (builder changes) with ``chosen`` picked."""
    commissions = tuple(commission(**changes) for changes in held)
    return decide(facts(commissions=commissions, chosen_commission=chosen), NOW).reasons[2]


# ---------------------------------------------------------------------- passes
def test_every_passed_check_of_the_baseline_names_what_it_found() -> None:
    assert decide(facts(), NOW).reasons == (
        CERTIFICATE_OK, USER_OK,
        Reason(Check.COMMISSION, True, "commission.automatic",
               "Ditt enda giltiga NPÖ-uppdrag, VoB SJF (Vårdcentralen Hörby), används."),
        CONSUMER_OK, ACKNOWLEDGED, PATIENT_OK,
        Reason(Check.RELATION, True, "relation.care_contact",
               "Patienten har en pågående vårdkontakt på Vårdcentralen Hörby."))


def test_a_chosen_commission_names_itself_and_its_unit() -> None:
    chosen = other_commission(name="VoB SJF akut")
    decision = decide(facts(commissions=(commission(), chosen), chosen_commission=chosen.hsa_id), NOW)
    assert decision.reasons[2] == Reason(Check.COMMISSION, True, "commission.ok",
                                         "Medarbetaruppdraget VoB SJF akut (Akutmottagningen, SUS Lund) gäller.")


@pytest.mark.parametrize(("kind", "code", "message"), [
    (RelationKind.BOOKING, "relation.booking", "Patienten har ett bokat besök på Vårdcentralen Hörby."),
    (RelationKind.ASSERTED, "relation.asserted",
     "Du har intygat patientrelationen på Vårdcentralen Hörby; intygandet loggas och granskas."),
])
def test_a_booked_or_asserted_relation_names_the_unit(kind: RelationKind, code: str, message: str) -> None:
    evidence = RelationEvidence(UNIT, kind, NOW - HOUR, reason="Akut", employee_hsa_id=USER)
    assert decide(facts(relations=(evidence,)), NOW).reasons[-1] == Reason(Check.RELATION, True, code, message)


# ---------------------------------------------------------------------- refusals of checks 1–2
@pytest.mark.parametrize(("user", "reason"), [
    (UserFacts(None), refused(Check.CERTIFICATE, "certificate.missing",
                              "Inget giltigt SITHS-certifikat lästes från ditt kort.")),
    (UserFacts(USER, certificate_error="Certifikatet har gått ut 2025-03-01."),
     refused(Check.CERTIFICATE, "certificate.invalid", "SITHS-certifikatet godtogs inte: Certifikatet har gått ut "
                                                       "2025-03-01.")),
])
def test_a_refused_certificate_is_the_only_reason(user: UserFacts, reason: Reason) -> None:
    assert decide(facts(user=user), NOW).reasons == (reason,)


@pytest.mark.parametrize(("user", "code", "message"), [
    (UserFacts(USER, in_directory=False), "user.not_in_directory", f"Ditt HSA-id {USER} finns inte i Skånekatalogen."),
    (UserFacts(USER, active=False), "user.inactive", f"Ditt HSA-id {USER} är inaktiverat i Skånekatalogen."),
    (UserFacts(USER, archived=True), "user.archived",
     f"Ditt HSA-id {USER} är arkiverat i Skånekatalogen och kan inte användas."),
    (UserFacts(USER, feigned=True), "user.feigned",
     f"HSA-id {USER} är ett testobjekt och kan inte användas i produktion."),
])
def test_a_refused_user_is_named_by_hsa_id(user: UserFacts, code: str, message: str) -> None:
    assert decide(facts(user=user), NOW).reasons == (CERTIFICATE_OK, refused(Check.USER, code, message))


# ---------------------------------------------------------------------- refusals of checks 3–6
@pytest.mark.parametrize(("changes", "code", "message"), [
    ({"valid_from": TOMORROW_IN_SWEDEN}, "commission.not_yet_valid",
     "Medarbetaruppdraget VoB SJF (Vårdcentralen Hörby) gäller först från 2025-03-13."),
    ({"valid_to": END_OF_FEBRUARY}, "commission.expired",
     "Medarbetaruppdraget VoB SJF (Vårdcentralen Hörby) gällde till och med 2025-02-28."),
    ({"purpose": "Statistik"}, "commission.purpose",
     "Medarbetaruppdraget VoB SJF har ändamålet ”Statistik”; NPÖ kräver ”Vård och behandling”."),
    ({"rights": ("Skriva;Alla;SJF",)}, "commission.right_missing",
     "Medarbetaruppdraget VoB SJF saknar rättigheten Läsa;Alla;SJF (sammanhållen journalföring)."),
    ({"unit_hsa_id": None, "unit_name": ""}, "commission.no_unit",
     "Medarbetaruppdraget VoB SJF hör inte till någon vårdenhet och kan inte användas för sammanhållen "
     "journalföring."),
])
def test_an_unusable_commission_is_explained_with_its_name_unit_purpose_and_date(changes: dict[str, object],
                                                                                 code: str, message: str) -> None:
    reason = refused(Check.COMMISSION, code, message)
    assert commission_reason(COMMISSION, changes) == reason  # chosen
    assert commission_reason(None, changes) == reason  # the only one held: the closest


def test_a_refused_commission_skips_the_consumer_check_and_still_reports_the_acknowledgement() -> None:
    decision = decide(facts(commissions=(commission(valid_to=END_OF_FEBRUARY),), chosen_commission=COMMISSION), NOW)
    assert [reason.code for reason in decision.reasons] == ["certificate.ok", "user.ok", "commission.expired",
                                                            "acknowledgement.ok"]
    assert decision.commission == commission(valid_to=END_OF_FEBRUARY)  # explained, not used


@pytest.mark.parametrize(("changes", "reason"), [
    ({"commissions": ()}, refused(Check.COMMISSION, "commission.none",
                                  "Du har inget medarbetaruppdrag i Skånekatalogen.")),
    ({"commissions": (commission(), other_commission())},
     refused(Check.COMMISSION, "commission.choose", "Du har flera medarbetaruppdrag för NPÖ.")),
    ({"chosen_commission": "se2321000255-v9999-u1"},
     refused(Check.COMMISSION, "commission.not_held", "Du har inte medarbetaruppdraget se2321000255-v9999-u1.")),
])
def test_no_chosen_or_held_commission_is_refused_as_such(changes: dict[str, object], reason: Reason) -> None:
    assert decide(facts(**changes), NOW).reasons[2] == reason  # not_held repeats the HSA-ID as it was asked for


def test_a_provider_not_connected_as_consumer_is_named() -> None:
    held = commission(provider_name="Praktikertjänst AB", provider_consumer=False)
    assert decide(facts(commissions=(held,)), NOW).reasons[3] == refused(
        Check.CONSUMER, "consumer.not_connected", "Praktikertjänst AB är inte ansluten till NPÖ som konsument.")


def test_a_missing_acknowledgement_names_the_current_version() -> None:
    decision = decide(facts(info_version_current=4, info_version_acknowledged=3), NOW)
    assert decision.reasons[4] == refused(Check.ACKNOWLEDGEMENT, "acknowledgement.missing",
                                          "Du har inte tagit del av Information innan start, version 4.")


def test_an_unknown_patient_is_the_last_reason() -> None:
    decision = decide(facts(patient=PatientFacts("191212121212", found=False)), NOW)
    assert decision.reasons[-2:] == (ACKNOWLEDGED, refused(Check.PATIENT, "patient.not_found",
                                                           "Patienten hittades inte."))


def test_a_missing_relation_names_the_commissions_unit() -> None:
    assert decide(facts(relations=()), NOW).reasons[-1] == refused(
        Check.RELATION, "relation.missing", "Det finns ingen patientrelation med patienten på Vårdcentralen Hörby.")


# ---------------------------------------------------------------------- which commission is explained
def test_a_chosen_commission_held_through_several_links_uses_the_usable_link() -> None:
    # The rule: any usable link will do, wherever it is listed; when none is, the first link is explained.
    expired, current = commission(valid_to=END_OF_FEBRUARY), commission(valid_from=NOW - DAY)
    for links in [(expired, current), (current, expired)]:
        decision = decide(facts(commissions=links, chosen_commission=COMMISSION), NOW)
        assert decision.reasons[2].code == "commission.ok" and decision.commission == current
    future = commission(valid_from=TOMORROW_IN_SWEDEN)
    assert commission_reason(COMMISSION, {"valid_from": TOMORROW_IN_SWEDEN}, {"valid_to": END_OF_FEBRUARY}) == (
        refused(Check.COMMISSION, "commission.not_yet_valid",
                "Medarbetaruppdraget VoB SJF (Vårdcentralen Hörby) gäller först från 2025-03-13."))
    assert decide(facts(commissions=(future, expired), chosen_commission=COMMISSION), NOW).commission == future


def test_without_a_usable_commission_the_one_failing_the_latest_check_is_explained() -> None:
    # The rule: validity is checked first, then purpose, then the right, then the unit; the commission that got
    # furthest is the closest to usable, so Felsökning explains that one, wherever it is listed.
    failing = [other_commission(hsa_id="SE2321000255-V1001-U1", valid_to=END_OF_FEBRUARY),
               other_commission(hsa_id="SE2321000255-V1002-U1", purpose="Statistik"),
               other_commission(hsa_id="SE2321000255-V1003-U1", rights=()),
               other_commission(hsa_id="SE2321000255-V1004-U1", unit_hsa_id=None)]
    expected = ["commission.expired", "commission.purpose", "commission.right_missing", "commission.no_unit"]
    for size in range(1, 5):
        for listed in [failing[:size], failing[:size][::-1]]:
            decision = decide(facts(commissions=tuple(listed)), NOW)
            assert decision.commission == failing[size - 1]
            assert decision.reasons[2].code == expected[size - 1]


def test_among_equally_close_commissions_the_first_listed_is_explained() -> None:
    # Not yet valid and expired fail the same (first) check; two wrong purposes fail the same check too.
    future = commission(name="VoB SJF 2026", valid_from=TOMORROW_IN_SWEDEN)
    past = other_commission(name="VoB SJF 2024", valid_to=END_OF_FEBRUARY)
    assert decide(facts(commissions=(future, past)), NOW).commission == future
    assert decide(facts(commissions=(past, future)), NOW).commission == past
    statistics = commission(name="Statistik Hörby", purpose="Statistik")
    quality = other_commission(name="Kvalitet akut", purpose="Kvalitetssäkring")
    decision = decide(facts(commissions=(statistics, quality)), NOW)
    assert decision.commission == statistics and decision.reasons[2] == refused(
        Check.COMMISSION, "commission.purpose",
        "Medarbetaruppdraget Statistik Hörby har ändamålet ”Statistik”; NPÖ kräver ”Vård och behandling”.")
    assert decide(facts(commissions=(quality, statistics)), NOW).commission == quality
