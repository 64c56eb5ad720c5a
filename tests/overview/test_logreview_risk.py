"""The risk signals of log follow-up on a real database and the real slapd: each rule picks what it should, with its
reason, and nothing when it is switched off; the round records which rules were active."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session

from overview.logreview import risk, rounds, signals
from overview.logreview.risk import household_key, median_of, volume_threshold
from overview.logreview.rules import RISK_RULES, ReviewConfig, Why
from overview.models import Patient
from tests.overview.conftest import Clinic, add_patient, new_personnummer
from tests.overview.test_logreview_rounds import TUESDAY, local, log, open_round, tasks_of

ONLY_RULES = ReviewConfig(sample_share=0, sample_min=0, sample_max=0, sample_key="k")  # no random sample: rules only


def without(*rules: Why) -> ReviewConfig:
    """ONLY_RULES with these risk rules switched off."""
    return ReviewConfig(sample_share=0, sample_min=0, sample_max=0, sample_key="k",
                        risk_rules=frozenset(RISK_RULES) - set(rules))


def reasons_by_seq(session: Session, clinic: Clinic, config: ReviewConfig) -> dict[int, str]:
    round_, created = open_round(session, clinic, config=config)
    assert created and round_ is not None
    return {t.log_seq: t.reasons for t in tasks_of(session, round_.id)}


def some_ordinary_reads(session: Session, clinic: Clinic, n: int = 3) -> None:
    """Daytime reads of unrelated patients by the clinic's user (nothing to flag)."""
    for i in range(n):
        log(session, clinic, local(TUESDAY, 9, i), patient=add_patient(session).personnummer)


def test_a_reader_reading_their_own_record_is_always_picked(session: Session, clinic: Clinic) -> None:
    me = add_patient(session, given="Sara", surname="Läsare")
    reader = clinic.org.person(given="Sara", surname="Läsare", personnummer=me.personnummer)
    own = log(session, clinic, local(TUESDAY, 10), user=reader.hsa_id, patient=me.personnummer)
    some_ordinary_reads(session, clinic)
    session.commit()
    picked = reasons_by_seq(session, clinic, ONLY_RULES)
    assert picked == {own.seq: Why.OWN_RECORD.value}


def test_the_own_record_rule_switched_off_picks_nothing(session: Session, clinic: Clinic) -> None:
    me = add_patient(session)
    reader = clinic.org.person(personnummer=me.personnummer)
    log(session, clinic, local(TUESDAY, 10), user=reader.hsa_id, patient=me.personnummer)
    session.commit()
    round_, _ = open_round(session, clinic, config=without(Why.OWN_RECORD))
    assert round_ is not None and tasks_of(session, round_.id) == []
    assert Why.OWN_RECORD.value not in round_.rules.split(",")
    assert Why.COLLEAGUE.value in round_.rules.split(",")  # the others stay listed as active


def test_a_record_sharing_the_readers_surname_and_address_is_picked(session: Session, clinic: Clinic) -> None:
    me = add_patient(session, given="Sara", surname="Ek")  # the reader as the population register knows her
    reader = clinic.org.person(given="Sara", surname="Ek", personnummer=me.personnummer)
    spouse = add_patient(session, given="Olle", surname="ek")  # same address (conftest: Storgatan 1, 222 22)
    neighbour = add_patient(session, given="Per", surname="Berg")  # same address, another surname
    elsewhere = Patient(personnummer=new_personnummer(), given_name="Eva", surname="Ek", street="Lillgatan 2",
                        postal_code="22222", city="Lund", birth_date=dt.date(1960, 4, 1))
    session.add(elsewhere)
    rows = {name: log(session, clinic, local(TUESDAY, 10, n), user=reader.hsa_id, patient=p.personnummer)
            for n, (name, p) in enumerate([("spouse", spouse), ("neighbour", neighbour), ("elsewhere", elsewhere)])}
    session.commit()
    picked = reasons_by_seq(session, clinic, ONLY_RULES)
    assert picked == {rows["spouse"].seq: Why.HOUSEHOLD.value}
    assert reasons_by_seq_off(session, clinic, Why.HOUSEHOLD) == {}


def reasons_by_seq_off(session: Session, clinic: Clinic, rule: Why) -> dict[int, tuple[Why, ...]]:
    """What the risk signals pick on the same day with one rule off (loaded and decided as a round would; not
    written, since the day's round exists already)."""
    config = without(rule)
    population = rounds.accesses(session, clinic.unit, TUESDAY)
    facts = signals.load(session=session, directory=clinic.directory, unit_hsa_id=clinic.unit, day=TUESDAY,
                         population=population, config=config)
    return risk.flag(population, facts, unit_hsa_id=clinic.unit, day=TUESDAY, config=config)


def test_a_colleagues_record_is_picked(session: Session, clinic: Clinic) -> None:
    colleague = add_patient(session, given="Erik", surname="Kollega")
    clinic.org.person(given="Erik", surname="Kollega", personnummer=colleague.personnummer)  # at unit A
    stranger = add_patient(session)
    clinic.org.person(clinic.org.unit_b, personnummer=stranger.personnummer)  # works elsewhere
    read = log(session, clinic, local(TUESDAY, 10), patient=colleague.personnummer)
    log(session, clinic, local(TUESDAY, 11), patient=stranger.personnummer)
    session.commit()
    assert reasons_by_seq(session, clinic, ONLY_RULES) == {read.seq: Why.COLLEAGUE.value}
    assert reasons_by_seq_off(session, clinic, Why.COLLEAGUE) == {}


def test_a_patient_with_protected_identity_is_picked(session: Session, clinic: Clinic) -> None:
    hidden = add_patient(session, protected=True)
    read = log(session, clinic, local(TUESDAY, 10), patient=hidden.personnummer)
    some_ordinary_reads(session, clinic)
    session.commit()
    assert reasons_by_seq(session, clinic, ONLY_RULES) == {read.seq: Why.PROTECTED.value}
    assert reasons_by_seq_off(session, clinic, Why.PROTECTED) == {}


def test_an_unusual_volume_against_the_readers_own_90_days_is_picked(session: Session, clinic: Clinic) -> None:
    for back in range(1, 11):  # ten ordinary days of 5 reads each: median 5, threshold max(15, 25) = 25
        for n in range(5):
            log(session, clinic, local(TUESDAY - dt.timedelta(days=back), 9, n), patient=new_personnummer())
            log(session, clinic, local(TUESDAY - dt.timedelta(days=back), 10, n), user=clinic.colleague.hsa_id,
                patient=new_personnummer())
    busy = [log(session, clinic, local(TUESDAY, 8 + n // 10, n % 60), patient=new_personnummer()) for n in range(26)]
    for n in range(25):  # the colleague reads 25: at the threshold, not above it
        log(session, clinic, local(TUESDAY, 9, n), user=clinic.colleague.hsa_id, patient=new_personnummer())
    session.commit()
    picked = reasons_by_seq(session, clinic, ONLY_RULES)
    assert set(picked.values()) == {Why.VOLUME.value} and len(picked) == ONLY_RULES.volume_tasks
    assert set(picked) <= {row.seq for row in busy}
    assert reasons_by_seq_off(session, clinic, Why.VOLUME) == {}


def test_the_volume_rule_is_a_robust_threshold_over_active_days() -> None:
    config = ReviewConfig()
    assert median_of([0, 0, 4, 6, 100]) == 6.0  # days off do not count; one busy day does not move the median
    assert median_of([]) == 0.0
    assert volume_threshold(0, config) == 20 and volume_threshold(5, config) == 25
    assert volume_threshold(50, config) == 150


def test_household_keys_ignore_case_and_spacing_and_need_an_address() -> None:
    assert household_key("Ek", "Storgatan  1", "222 22") == household_key("EK", "storgatan 1", "22222")
    assert household_key("Ek", "", "222 22") is None


def test_a_task_carries_every_reason_that_holds(session: Session, clinic: Clinic) -> None:
    me = add_patient(session, protected=True)
    reader = clinic.org.person(personnummer=me.personnummer)
    read = log(session, clinic, local(TUESDAY, 22), user=reader.hsa_id, patient=me.personnummer)
    session.commit()
    assert reasons_by_seq(session, clinic, ONLY_RULES) == {
        read.seq: ",".join([Why.OUT_OF_HOURS, Why.OWN_RECORD, Why.PROTECTED])}


def test_the_round_records_the_rules_that_were_active(session: Session, clinic: Clinic) -> None:
    some_ordinary_reads(session, clinic)
    session.commit()
    round_, _ = open_round(session, clinic, config=ReviewConfig(
        sample_key="k", include_out_of_hours=False, risk_rules=frozenset({"kollega", "skyddad_identitet"})))
    assert round_ is not None
    assert round_.rules == "nodoppning,pastadd_relation,beslutsoformogen,kollega,skyddad_identitet,patientmarkering"


def test_an_unknown_rule_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"'egen_jornal'.*known: egen_journal, samma_efternamn_och_adress"):
        ReviewConfig(risk_rules=frozenset({"egen_jornal"}))
