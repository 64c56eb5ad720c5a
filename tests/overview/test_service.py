"""The overview's services on the real gate, slapd and database: reads are logged first, input errors are clear."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from freezegun import freeze_time
from sqlalchemy import func, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from overview import info, service
from overview import producers as P
from overview.errors import InvalidInput, NotAllowed, NotFound
from overview.gate import Basis, Check, ConsentPurpose, ConsentScope
from overview.models import AccessLog, AssertedRelation, Block, Consent, Patient
from tests.overview.conftest import DAY, NOW, Clinic, add_item, add_patient, verify_sealed

HOUR, MINUTE = dt.timedelta(hours=1), dt.timedelta(minutes=1)


def log_rows(session: Session) -> list[AccessLog]:
    return list(session.exec(select(AccessLog).order_by(AccessLog.seq)).all())


def count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AccessLog)).one()


def read(clinic: Clinic, session: Session, patient: Patient | str, *, user: str | None = None,
         now: dt.datetime = NOW, commission: str | None = None) -> service.OverviewResult:
    pnr = patient if isinstance(patient, str) else patient.personnummer
    return service.read_overview(session=session, directory=clinic.keeper, user_hsa_id=user or clinic.user.hsa_id,
                                 commission_hsa_id=commission or clinic.commission.hsa_id, personnummer=pnr, now=now)


def consent(clinic: Clinic, session: Session, patient: Patient, **more: object) -> Consent:
    values: dict[str, object] = {"scope": ConsentScope.UNIT, "now": NOW, **more}
    return service.register_consent(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                    commission_hsa_id=clinic.commission.hsa_id, personnummer=patient.personnummer,
                                    **values)  # type: ignore[arg-type]


def titles(result: service.OverviewResult) -> list[str]:
    return sorted(s.item.title for s in result.items)


# ---------------------------------------------------------------------- reading
def test_a_read_shows_own_data_hides_foreign_data_without_consent_and_logs_one_row(session: Session,
                                                                                   clinic: Clinic) -> None:
    clinic.ready(session)
    patient = clinic.patient(session)
    before = count(session)
    result = read(clinic, session, patient)
    assert result.allowed and titles(result) == ["Egen anteckning"]
    assert result.patient == service.PatientHeader(patient.personnummer, "Test Patient", "Storgatan 1, 222 22 Lund",
                                                   False)
    assert [d.code for d in result.decision.items if not d.shown] == ["consent.missing"]
    assert count(session) == before + 1
    row = log_rows(session)[-1]
    assert (row.seq, row.action, row.resource_type, row.outcome, row.purpose) == (
        result.log_seq, "Läsa", "översikt", "beviljad", "Vård och behandling")
    assert (row.user_hsa_id, row.commission_hsa_id, row.care_unit_hsa_id, row.care_provider_hsa_id) == (
        clinic.user.hsa_id, clinic.commission.hsa_id, clinic.unit, clinic.provider)
    assert (row.patient_personnummer, row.item_count, row.relation) == (patient.personnummer, 1, "care_contact")
    assert json.loads(row.basis) == ["own_provider"]
    assert json.loads(row.source_providers) == [clinic.provider]
    assert json.loads(row.source_units) == [clinic.org.unit_b.hsa_id]


def test_every_read_writes_exactly_one_row(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    patient = clinic.patient(session)
    for n in range(3):
        before = count(session)
        read(clinic, session, patient, now=NOW + n * HOUR)
        assert count(session) == before + 1
    session.commit()
    assert verify_sealed(session).ok


def test_a_unit_consent_opens_the_other_vardgivare_for_the_whole_unit(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    clinic.ready(session, clinic.colleague)
    patient = clinic.patient(session)
    registered = consent(clinic, session, patient)
    assert (registered.care_unit_hsa_id, registered.care_provider_hsa_id, registered.employee_hsa_id) == (
        clinic.unit, clinic.provider, None)
    assert registered.registered_commission_hsa_id == clinic.commission.hsa_id
    for user in (clinic.user, clinic.colleague):
        result = read(clinic, session, patient, user=user.hsa_id)
        assert titles(result) == ["Annan vårdgivare", "Egen anteckning"]
    row = log_rows(session)[-1]
    assert json.loads(row.basis) == sorted([f"consent:{registered.id}", "own_provider"])
    assert set(json.loads(row.source_providers)) == {clinic.provider, clinic.other.provider.hsa_id}


def test_a_personal_consent_opens_it_for_that_user_only(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    clinic.ready(session, clinic.colleague)
    patient = clinic.patient(session)
    personal = consent(clinic, session, patient, scope=ConsentScope.EMPLOYEE)
    assert personal.employee_hsa_id == clinic.user.hsa_id
    assert "Annan vårdgivare" in titles(read(clinic, session, patient))
    assert "Annan vårdgivare" not in titles(read(clinic, session, patient, user=clinic.colleague.hsa_id))


def test_the_drug_list_needs_a_personal_drug_list_consent(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    patient = clinic.patient(session)
    add_item(session, patient, P.EHM_PROVIDER, P.EHM_PROVIDER, system=P.EHM, category=P.DRUG_LIST_CATEGORY,
             title="Uttag Metformin", info_type="lak")
    consent(clinic, session, patient)
    assert "Uttag Metformin" not in titles(read(clinic, session, patient))
    with pytest.raises(InvalidInput) as refused:
        consent(clinic, session, patient, purpose=ConsentPurpose.DRUG_LIST)
    assert refused.value.field == "scope" and "personligen" in refused.value.message
    consent(clinic, session, patient, purpose=ConsentPurpose.DRUG_LIST, scope=ConsentScope.EMPLOYEE)
    assert "Uttag Metformin" in titles(read(clinic, session, patient))


def test_a_protected_identity_hides_name_address_and_the_name_item(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    patient = clinic.patient(session, protected=True)
    add_item(session, patient, clinic.provider, clinic.unit, category="demografi", title="Namn och adress",
             body="Test Patient, Storgatan 1")
    result = read(clinic, session, patient)
    assert result.patient is not None and (result.patient.name, result.patient.address) == (None, None)
    assert result.patient.protected_identity and "Namn och adress" not in titles(result)
    assert "Test Patient" not in repr(result)


# ---------------------------------------------------------------------- refusals and what they log
def test_a_refusal_before_any_patient_data_is_not_logged(session: Session, clinic: Clinic) -> None:
    patient = clinic.patient(session)  # the user has not confirmed "Information innan start"
    result = read(clinic, session, patient)
    assert not result.allowed and result.decision.failed is Check.ACKNOWLEDGEMENT
    assert result.items == () and result.patient is None and result.log_seq is None and count(session) == 0


def test_an_unknown_patient_is_refused_without_a_log_row(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    before = count(session)
    result = read(clinic, session, "191212121212")
    assert result.decision.failed is Check.PATIENT and result.items == () and count(session) == before


def test_a_missing_relation_is_logged_as_refused_and_shows_nothing(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    patient = add_patient(session)
    add_item(session, patient, clinic.provider, clinic.unit)
    result = read(clinic, session, patient)
    assert result.decision.failed is Check.RELATION and result.items == () and result.patient is None
    row = log_rows(session)[-1]
    assert (row.outcome, row.reason_code, row.item_count, row.patient_personnummer) == (
        "nekad", "relation.missing", 0, patient.personnummer)


def test_several_commissions_must_be_chosen_between(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    second, _ = clinic.directory.ensure_commission(clinic.org.unit_b.hsa_id)
    clinic.member(clinic.user, second)
    patient = clinic.patient(session)
    result = service.read_overview(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                   commission_hsa_id=None, personnummer=patient.personnummer, now=NOW)
    assert result.decision.failed is Check.COMMISSION and set(result.decision.needs_choice) == {
        clinic.commission.hsa_id, second.hsa_id}
    assert count(session) == 1  # only the acknowledgement
    with pytest.raises(NotAllowed, match="flera medarbetaruppdrag"):
        service.register_consent(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                 commission_hsa_id=None, personnummer=patient.personnummer, scope=ConsentScope.UNIT,
                                 now=NOW)


@pytest.mark.parametrize("action", ["read", "consent"])
def test_when_the_log_write_fails_nothing_is_returned_or_kept(session: Session, clinic: Clinic, db_backend: str,
                                                              action: str) -> None:
    clinic.ready(session)
    patient = clinic.patient(session)
    session.commit()
    if db_backend == "postgresql":
        session.execute(text("CREATE FUNCTION refuse_log() RETURNS trigger LANGUAGE plpgsql AS "
                             "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"))
        session.execute(text("CREATE TRIGGER refuse_log BEFORE INSERT ON access_log FOR EACH ROW "
                             "EXECUTE FUNCTION refuse_log()"))
    else:
        session.execute(text("CREATE TRIGGER refuse_log BEFORE INSERT ON access_log "
                             "BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
    session.commit()
    returned = None
    with pytest.raises(DBAPIError, match="disk full"):
        returned = read(clinic, session, patient) if action == "read" else consent(clinic, session, patient)
    session.rollback()
    assert returned is None
    assert session.exec(select(Consent).where(Consent.personnummer == patient.personnummer)).all() == []
    assert count(session) == 1 and verify_sealed(session).ok  # the acknowledgement only, chain intact


def test_the_default_clock_is_the_frozen_one(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    patient = clinic.patient(session)
    with freeze_time("2026-11-25 14:30:00"):
        result = service.read_overview(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                       commission_hsa_id=clinic.commission.hsa_id,
                                       personnummer=patient.personnummer)
    assert result.allowed and log_rows(session)[-1].at == dt.datetime(2026, 11, 25, 14, 30, tzinfo=dt.UTC)


# ---------------------------------------------------------------------- patient relation
def test_an_asserted_relation_lets_the_user_in_and_is_logged_with_its_reason(session: Session,
                                                                             clinic: Clinic) -> None:
    clinic.ready(session)
    patient = add_patient(session)
    add_item(session, patient, clinic.provider, clinic.unit, title="Egen anteckning")
    reason = "<script>alert(1)</script> Patienten ringde akut"
    relation = service.assert_relation(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                       commission_hsa_id=clinic.commission.hsa_id,
                                       personnummer=patient.personnummer, reason=f"  {reason} ", now=NOW)
    assert (relation.reason, relation.care_unit_hsa_id, relation.end) == (reason, clinic.unit, None)
    written = log_rows(session)[-1]
    assert (written.action, written.resource_type, written.relation, written.detail) == (
        "Skriva", "patientrelation", "asserted", reason)
    result = read(clinic, session, patient, now=NOW + HOUR)
    assert result.allowed and log_rows(session)[-1].relation == "asserted"
    assert not read(clinic, session, patient, user=clinic.colleague.hsa_id).allowed  # it holds for the asserter


@pytest.mark.parametrize(("reason", "says"), [
    ("", "Ange skäl"), ("   ", "Ange skäl"), ("x" * 1025, "högst 1024"), ("Skäl\x00", "styrtecken"),
])
def test_a_relation_needs_a_proper_reason(session: Session, clinic: Clinic, reason: str, says: str) -> None:
    clinic.ready(session)
    patient = add_patient(session)
    with pytest.raises(InvalidInput) as refused:
        service.assert_relation(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                commission_hsa_id=clinic.commission.hsa_id, personnummer=patient.personnummer,
                                reason=reason, now=NOW)
    assert refused.value.field == "reason" and says in refused.value.message
    assert session.exec(select(AssertedRelation)).all() == []


# ---------------------------------------------------------------------- consents
def test_a_duplicate_registration_returns_the_existing_consent(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    patient = clinic.patient(session)
    first = consent(clinic, session, patient, end=NOW + 7 * DAY)
    again = consent(clinic, session, patient, end=NOW + 7 * DAY, now=NOW + HOUR)
    assert again.id == first.id
    assert len(session.exec(select(Consent)).all()) == 1
    assert log_rows(session)[-1].detail == "samtycket fanns redan registrerat"
    assert consent(clinic, session, patient, end=NOW + 30 * DAY).id != first.id  # another period is another one


@pytest.mark.parametrize(("changes", "field", "says"), [
    ({"end": NOW - HOUR}, "end", "efter startdatum"),
    ({"start": NOW + DAY, "end": NOW + DAY}, "end", "efter startdatum"),
    ({"start": NOW - 2 * DAY}, "start", "bakåt i tiden"),
    ({"represented_by": "19850101-0000"}, "represented_by", "kontrollsiffra"),
    ({"represented_by": "19850101-0006"}, "represented_by", "myndig"),
])
def test_bad_consent_input_is_named_by_field(session: Session, clinic: Clinic, changes: dict[str, object],
                                             field: str, says: str) -> None:
    clinic.ready(session)
    patient = clinic.patient(session)
    with pytest.raises(InvalidInput) as refused:
        consent(clinic, session, patient, **changes)
    assert refused.value.field == field and says in refused.value.message


def test_a_guardian_consents_for_a_child(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    child = clinic.patient(session, birth=dt.date(2016, 3, 3))
    given = consent(clinic, session, child, represented_by="19850101-0006")
    assert given.represented_by == "198501010006"
    assert "Annan vårdgivare" in titles(read(clinic, session, child))


def test_consent_needs_the_relation_first(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    patient = add_patient(session)
    with pytest.raises(NotAllowed) as refused:
        consent(clinic, session, patient)
    assert refused.value.reason is not None and refused.value.reason.code == "relation.missing"
    with pytest.raises(NotFound, match="hittades inte"):
        service.register_consent(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                 commission_hsa_id=clinic.commission.hsa_id, personnummer="191212121212",
                                 scope=ConsentScope.UNIT, now=NOW)


def test_ending_a_consent_belongs_to_its_vardgivare_and_is_idempotent(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    clinic.ready(session, clinic.colleague)
    patient = clinic.patient(session)
    given = consent(clinic, session, patient)
    outsider = clinic.other.person(given="Olle", surname="Utanför")
    other_commission, _ = clinic.directory.ensure_commission(clinic.other.unit_a.hsa_id)
    clinic.member(outsider, other_commission)
    clinic.ready(session, outsider)
    with pytest.raises(NotAllowed, match="annan vårdgivare"):
        service.end_consent(session=session, directory=clinic.keeper, user_hsa_id=outsider.hsa_id,
                            commission_hsa_id=other_commission.hsa_id, consent_id=given.id, now=NOW + HOUR)
    ended = service.end_consent(session=session, directory=clinic.keeper, user_hsa_id=clinic.colleague.hsa_id,
                                commission_hsa_id=clinic.commission.hsa_id, consent_id=given.id, now=NOW + HOUR)
    assert (ended.ended_at, ended.ended_by) == (NOW + HOUR, clinic.colleague.hsa_id)
    rows = count(session)
    again = service.end_consent(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                commission_hsa_id=clinic.commission.hsa_id, consent_id=given.id, now=NOW + 2 * HOUR)
    assert again.ended_at == NOW + HOUR and count(session) == rows
    assert "Annan vårdgivare" not in titles(read(clinic, session, patient, now=NOW + 3 * HOUR))
    with pytest.raises(NotFound, match="Samtycket finns inte för den här patienten"):
        service.end_consent(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                            commission_hsa_id=clinic.commission.hsa_id, consent_id=str(uuid.uuid4()), now=NOW)


def test_the_read_lists_the_consents_that_apply_to_the_reader(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    clinic.ready(session, clinic.colleague)
    patient = clinic.patient(session)
    unit_wide = consent(clinic, session, patient)
    personal = consent(clinic, session, patient, scope=ConsentScope.EMPLOYEE, end=NOW + 7 * DAY)
    short = consent(clinic, session, patient, scope=ConsentScope.EMPLOYEE, end=NOW + HOUR)
    mine = read(clinic, session, patient, now=NOW + 2 * HOUR).consents  # ``short`` has run out by then
    assert {(c.consent_id, c.mine) for c in mine} == {(unit_wide.id, True), (personal.id, True)}
    theirs = read(clinic, session, patient, user=clinic.colleague.hsa_id, now=NOW + 2 * HOUR).consents
    assert [(c.consent_id, c.mine) for c in theirs] == [(unit_wide.id, False)]  # not Sara's personal consent
    assert short.id not in {c.consent_id for c in mine}
    service.end_consent(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                        commission_hsa_id=clinic.commission.hsa_id, consent_id=unit_wide.id, now=NOW + 3 * HOUR)
    assert [c.consent_id for c in read(clinic, session, patient, now=NOW + 4 * HOUR).consents] == [personal.id]


def test_only_the_registrant_voids_a_consent_and_a_voided_one_never_counted(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    clinic.ready(session, clinic.colleague)
    patient = clinic.patient(session)
    given = consent(clinic, session, patient)
    assert "Annan vårdgivare" in titles(read(clinic, session, patient, now=NOW + HOUR))
    rows = count(session)
    with pytest.raises(NotAllowed, match="Bara den som registrerade"):
        service.void_consent(session=session, directory=clinic.keeper, user_hsa_id=clinic.colleague.hsa_id,
                             commission_hsa_id=clinic.commission.hsa_id, consent_id=given.id, now=NOW + HOUR)
    assert count(session) == rows and given.voided_at is None
    with pytest.raises(NotFound, match="den här patienten"):
        service.void_consent(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                             commission_hsa_id=clinic.commission.hsa_id, consent_id=given.id,
                             personnummer="191212121212", now=NOW + HOUR)
    voided = service.void_consent(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                  commission_hsa_id=clinic.commission.hsa_id, consent_id=given.id,
                                  personnummer=patient.personnummer, now=NOW + HOUR)
    assert (voided.voided_at, voided.voided_by, count(session)) == (NOW + HOUR, clinic.user.hsa_id, rows + 1)
    again = service.void_consent(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                 commission_hsa_id=clinic.commission.hsa_id, consent_id=given.id, now=NOW + 2 * HOUR)
    assert again.voided_at == NOW + HOUR and count(session) == rows + 1
    assert "Annan vårdgivare" not in titles(read(clinic, session, patient, now=NOW + 2 * HOUR))


# ---------------------------------------------------------------------- emergency access
def _emergency(clinic: Clinic, session: Session, patient: Patient, **more: object) -> object:
    values: dict[str, object] = {"reason": "Medvetslös, kan inte samtycka", "now": NOW, **more}
    return service.open_emergency(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                  commission_hsa_id=clinic.commission.hsa_id, personnummer=patient.personnummer,
                                  **values)  # type: ignore[arg-type]


def test_emergency_access_shows_foreign_data_for_a_limited_time(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    patient = clinic.patient(session)
    opening = _emergency(clinic, session, patient)
    assert log_rows(session)[-1].action == "Nödöppning"
    result = read(clinic, session, patient, now=NOW + HOUR)
    foreign = next(s for s in result.items if s.item.title == "Annan vårdgivare")
    assert foreign.decision.basis is Basis.EMERGENCY and foreign.decision.emergency_id == opening.id  # type: ignore[attr-defined]
    row = log_rows(session)[-1]
    assert row.action == "Nödöppning" and f"emergency:{opening.id}" in json.loads(row.basis)  # type: ignore[attr-defined]
    assert "Annan vårdgivare" not in titles(read(clinic, session, patient, now=NOW + 3 * HOUR))  # 2 h by default


@pytest.mark.parametrize(("more", "field"), [
    ({"reason": ""}, "reason"), ({"reason": "x" * 2000}, "reason"),
    ({"duration": dt.timedelta(hours=13)}, "duration"), ({"duration": dt.timedelta(0)}, "duration"),
])
def test_emergency_access_needs_a_reason_and_a_short_time(session: Session, clinic: Clinic, more: dict[str, object],
                                                          field: str) -> None:
    clinic.ready(session)
    patient = clinic.patient(session)
    with pytest.raises(InvalidInput) as refused:
        _emergency(clinic, session, patient, **more)
    assert refused.value.field == field


def test_blocked_data_opens_in_two_logged_steps(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    patient = clinic.patient(session)
    other = clinic.other.provider.hsa_id
    session.add(Block(id=str(uuid.uuid4()), personnummer=patient.personnummer, kind="outer",
                      care_provider_hsa_id=other, registered_at=NOW - 30 * DAY, registered_by=clinic.other.hsa("P1")))
    consent(clinic, session, patient)
    kwargs = dict(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                  commission_hsa_id=clinic.commission.hsa_id, personnummer=patient.personnummer)
    blocked = read(clinic, session, patient)
    assert blocked.blocked_notice and blocked.blocked_providers == () and "Annan vårdgivare" not in titles(blocked)
    with pytest.raises(NotAllowed, match="nödåtkomst"):
        service.reveal_blocked_providers(**kwargs, now=NOW)  # type: ignore[arg-type]
    _emergency(clinic, session, patient)
    with pytest.raises(NotAllowed, match="steg 1"):
        service.open_blocked_data(**kwargs, providers=[other], now=NOW)  # type: ignore[arg-type]
    revealed = service.reveal_blocked_providers(**kwargs, now=NOW + MINUTE)  # type: ignore[arg-type]
    assert revealed == (service.BlockedProvider(other, clinic.other.provider.name),)
    step1 = log_rows(session)[-1]
    assert (step1.action, step1.resource_type, json.loads(step1.source_providers)) == ("Nödöppning", "spärr", [other])
    assert "Annan vårdgivare" not in titles(read(clinic, session, patient))  # step 1 shows where, not what
    with pytest.raises(InvalidInput) as refused:
        service.open_blocked_data(**kwargs, providers=[clinic.provider], now=NOW)  # type: ignore[arg-type]
    assert refused.value.field == "providers"
    with pytest.raises(InvalidInput, match="Välj minst en vårdgivare"):
        service.open_blocked_data(**kwargs, providers=[], now=NOW)  # type: ignore[arg-type]
    service.open_blocked_data(**kwargs, providers=[other], now=NOW + 2 * MINUTE)  # type: ignore[arg-type]
    assert log_rows(session)[-1].detail.startswith("steg 2")
    opened = read(clinic, session, patient, now=NOW + 3 * MINUTE)
    shown = next(s for s in opened.items if s.item.title == "Annan vårdgivare")
    assert shown.decision.basis is Basis.EMERGENCY_BLOCK_OPENED and log_rows(session)[-1].action == "Nödöppning"
    session.commit()
    assert verify_sealed(session).ok


# ---------------------------------------------------------------------- input checks and the information
@pytest.mark.parametrize("bad", ["", "12345", "19600401-1235", "abc", "19601301-1234"])
def test_a_malformed_personnummer_is_named(session: Session, clinic: Clinic, bad: str) -> None:
    for call in (lambda: read(clinic, session, bad),
                 lambda: service.assert_relation(session=session, directory=clinic.keeper, reason="x",
                                                 user_hsa_id=clinic.user.hsa_id, now=NOW, personnummer=bad,
                                                 commission_hsa_id=clinic.commission.hsa_id)):
        with pytest.raises(InvalidInput) as refused:
            call()
        assert refused.value.field == "personnummer" and refused.value.message
    assert count(session) == 0


def test_acknowledging_the_information_is_logged_once_per_version(session: Session, clinic: Clinic) -> None:
    first = service.acknowledge_information(session=session, user_hsa_id=clinic.user.hsa_id, now=NOW)
    again = service.acknowledge_information(session=session, user_hsa_id=clinic.user.hsa_id, now=NOW + HOUR)
    assert again.id == first.id and first.version == info.VERSION and count(session) == 1
    row = log_rows(session)[0]
    assert (row.resource_type, row.purpose, row.patient_personnummer) == ("information innan start",
                                                                          "Administration", None)
    with pytest.raises(InvalidInput) as refused:
        service.acknowledge_information(session=session, user_hsa_id=clinic.user.hsa_id, version=info.VERSION + 1)
    assert refused.value.field == "version"
    with pytest.raises(InvalidInput) as bad_id:
        service.acknowledge_information(session=session, user_hsa_id="inte-ett-hsa-id")
    assert bad_id.value.field == "user_hsa_id"


def test_the_information_covers_what_the_seed_asks_for() -> None:
    text_ = info.current().plain_text()
    for needed in ("Så fungerar NPÖ", "Vad du kan se i NPÖ", "samtycke", "Spärr", "Logg", "https://npo.sjunet.org",
                   "Melior", "PMO", "Pasis", "RIS", "eHälsomyndigheten"):
        assert needed.casefold() in text_.casefold(), needed
    assert info.current().version == info.VERSION >= 1
