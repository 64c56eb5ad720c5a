"""Blocks and temporary revokes as administered data (issue 13, overview/blocks.py) on the real gate, slapd and
database: registered on the patient's request by the blocked vårdgivare's staff, then honoured by the gate for
everyone else; revoked, voided and lifted temporarily with who, when and why; every action logged; bad input named."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
from sqlmodel import Session, select

from catalog.model import Commission, Person, RoleName
from overview import blocks, service
from overview.errors import Conflict, InvalidInput, NotAllowed, NotFound
from overview.gate import BlockKind, ConsentScope, RevokeReason
from overview.models import AccessLog, Block, BlockRevoke, Patient
from tests.overview.conftest import DAY, NOW, Clinic, add_contact, add_item, verify_sealed

HOUR = dt.timedelta(hours=1)


@dataclass
class Other:
    """Staff of the other vårdgivare (whose data the clinic's nurse reads with consent): they register its blocks."""

    nurse: Person
    colleague: Person
    commission: Commission


@pytest.fixture
def other(clinic: Clinic, session: Session) -> Other:
    commission, _ = clinic.directory.ensure_commission(clinic.other.unit_a.hsa_id)
    nurse = clinic.other.person(given="Olga", surname="Annansköterska")
    colleague = clinic.other.person(given="Per", surname="Annanläkare")
    for person in (nurse, colleague):
        clinic.member(person, commission)
        clinic.ready(session, person)
    return Other(nurse, colleague, commission)


def patient_with_consent(clinic: Clinic, session: Session) -> Patient:
    """A patient in care at the clinic's unit A, who consented there to the other vårdgivare's data."""
    clinic.ready(session)
    patient = clinic.patient(session)
    service.register_consent(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                             commission_hsa_id=clinic.commission.hsa_id, personnummer=patient.personnummer,
                             scope=ConsentScope.UNIT, end=NOW + 30 * DAY, now=NOW - HOUR)
    return patient


def shown(clinic: Clinic, session: Session, patient: Patient, *, now: dt.datetime = NOW,
          user: Person | None = None) -> tuple[list[str], bool]:
    """The titles the clinic's user (or ``user``) sees, and whether they are told that blocked data exists."""
    result = service.read_overview(session=session, directory=clinic.keeper,
                                   user_hsa_id=(user or clinic.user).hsa_id, commission_hsa_id=clinic.commission.hsa_id,
                                   personnummer=patient.personnummer, now=now)
    return sorted(s.item.title for s in result.items), result.blocked_notice is not None


def register(clinic: Clinic, session: Session, other: Other, patient: Patient, *, by: Person | None = None,
             now: dt.datetime = NOW, **more: object) -> Block:
    values: dict[str, object] = {"kind": BlockKind.OUTER, **more}
    return blocks.register_block(session=session, directory=clinic.keeper, user_hsa_id=(by or other.nurse).hsa_id,
                                 commission_hsa_id=other.commission.hsa_id, personnummer=patient.personnummer,
                                 now=now, **values)  # type: ignore[arg-type]


def last_log(session: Session) -> AccessLog:
    row = session.exec(select(AccessLog).order_by(AccessLog.seq.desc())).first()  # type: ignore[attr-defined]
    assert row is not None
    return row


def log_count(session: Session) -> int:
    return len(session.exec(select(AccessLog)).all())


# ---------------------------------------------------------------------- register
def test_an_outer_block_on_the_patients_request_hides_the_data_from_another_vardgivare(
        session: Session, clinic: Clinic, other: Other) -> None:
    patient = patient_with_consent(clinic, session)
    assert shown(clinic, session, patient) == (["Annan vårdgivare", "Egen anteckning"], False)
    block = register(clinic, session, other, patient, reason="Vill inte att andra ser besöket.",
                     requested_at=NOW - HOUR)
    assert (block.kind, block.care_provider_hsa_id, block.care_unit_hsa_id, block.state) == \
        ("outer", clinic.other.provider.hsa_id, None, "active")
    assert (block.registered_by, block.registered_commission_hsa_id, block.requested_by, block.requested_at,
            block.changed_at) == (other.nurse.hsa_id, other.commission.hsa_id, "patient", NOW - HOUR, NOW)
    row = last_log(session)
    assert (row.action, row.resource_type, row.user_hsa_id, row.patient_personnummer, row.care_provider_hsa_id) == \
        ("Skriva", "spärr", other.nurse.hsa_id, patient.personnummer, clinic.other.provider.hsa_id)
    assert block.id in row.detail and "på patientens begäran" in row.detail
    assert shown(clinic, session, patient, now=NOW + HOUR) == (["Egen anteckning"], True)
    # the blocking vårdgivare's own staff still see its data (an outer block holds against other vårdgivare)
    add_contact(session, patient, clinic.other.unit_a.hsa_id)
    own = service.read_overview(session=session, directory=clinic.keeper, user_hsa_id=other.colleague.hsa_id,
                                commission_hsa_id=other.commission.hsa_id, personnummer=patient.personnummer,
                                now=NOW + HOUR)
    assert "Annan vårdgivare" in [s.item.title for s in own.items] and own.blocked_notice is None
    session.commit()
    assert verify_sealed(session).ok


def test_an_inner_block_hides_one_units_data_and_its_period_and_exceptions_hold(
        session: Session, clinic: Clinic, other: Other) -> None:
    patient = patient_with_consent(clinic, session)
    unit_b = clinic.other.unit_b.hsa_id
    add_item(session, patient, clinic.other.provider.hsa_id, unit_b, title="Unit B gammal", when=NOW - 400 * DAY)
    add_item(session, patient, clinic.other.provider.hsa_id, unit_b, title="Unit B ny", when=NOW - 10 * DAY)
    add_item(session, patient, clinic.other.provider.hsa_id, unit_b, title="Unit B lak", when=NOW - 10 * DAY,
             info_type="lak")
    register(clinic, session, other, patient, kind=BlockKind.INNER, care_unit_hsa_id=unit_b,
             info_start=(NOW - 30 * DAY).date(), excluded_types=["lak"])
    titles, told = shown(clinic, session, patient)
    assert told and "Unit B ny" not in titles
    assert {"Unit B gammal", "Unit B lak", "Annan vårdgivare"} <= set(titles)  # unit A's data is not blocked


def test_a_guardians_request_is_refused_with_the_reason_and_nothing_is_stored(
        session: Session, clinic: Clinic, other: Other) -> None:
    patient = patient_with_consent(clinic, session)
    before = log_count(session)
    with pytest.raises(InvalidInput) as refused:
        register(clinic, session, other, patient, requested_by="guardian")
    assert refused.value.field == "requested_by" and "vårdnadshavare kan inte spärra" in refused.value.message
    assert session.exec(select(Block)).all() == [] and log_count(session) == before


@pytest.mark.parametrize(("more", "field", "says"), [
    ({"kind": "sideways"}, "kind", "yttre spärr"),
    ({"info_start": dt.date(2026, 5, 2), "info_end": dt.date(2026, 5, 1)}, "info_end", "sista dag"),
    ({"excluded_types": ["lak", "rnt"]}, "excluded_types", "rnt"),
    ({"reason": "x" * 1025}, "reason", "1024"),
    ({"reason": "hej\x00då"}, "reason", "styrtecken"),
    ({"block_id": "inte-ett-uuid"}, "block_id", "UUID"),
    ({"requested_at": NOW + DAY}, "requested_at", "framtiden"),
    ({"care_unit_hsa_id": "SE162321000255-XYZ"}, "care_unit_hsa_id", "yttre spärr gäller hela vårdgivaren"),
    ({"kind": BlockKind.INNER, "care_unit_hsa_id": "inte ett hsa-id"}, "care_unit_hsa_id", ""),
    ({"kind": BlockKind.INNER, "care_unit_hsa_id": "SE2321000255-ZZZZ9"}, "care_unit_hsa_id", "finns inte"),
])
def test_bad_block_input_is_named_by_field(session: Session, clinic: Clinic, other: Other, more: dict[str, object],
                                           field: str, says: str) -> None:
    patient = patient_with_consent(clinic, session)
    with pytest.raises(InvalidInput) as refused:
        register(clinic, session, other, patient, **more)
    assert refused.value.field == field and says in refused.value.message
    assert session.exec(select(Block)).all() == []


def test_an_inner_block_of_another_vardgivares_unit_is_refused(session: Session, clinic: Clinic, other: Other) -> None:
    patient = patient_with_consent(clinic, session)
    with pytest.raises(InvalidInput) as refused:
        register(clinic, session, other, patient, kind=BlockKind.INNER, care_unit_hsa_id=clinic.unit)
    assert refused.value.field == "care_unit_hsa_id" and "annan vårdgivare" in refused.value.message


def test_a_duplicate_registration_returns_the_block_and_an_id_of_another_patient_is_refused(
        session: Session, clinic: Clinic, other: Other) -> None:
    patient = patient_with_consent(clinic, session)
    block_id = str(uuid.uuid4())
    first = register(clinic, session, other, patient, block_id=block_id)
    assert register(clinic, session, other, patient, block_id=block_id).id == first.id == block_id
    assert register(clinic, session, other, patient).id == first.id  # the same content: the same block
    assert "fanns redan" in last_log(session).detail
    another = clinic.patient(session)
    with pytest.raises(InvalidInput) as refused:
        register(clinic, session, other, another, block_id=block_id)
    assert refused.value.field == "block_id"
    assert len(session.exec(select(Block)).all()) == 1


def test_registering_needs_a_usable_commission(session: Session, clinic: Clinic, other: Other) -> None:
    patient = patient_with_consent(clinic, session)
    stranger = clinic.other.person(given="Utan", surname="Uppdrag")
    with pytest.raises(NotAllowed):
        register(clinic, session, other, patient, by=stranger)
    with pytest.raises(NotFound):
        blocks.register_block(session=session, directory=clinic.keeper, user_hsa_id=other.nurse.hsa_id,
                              commission_hsa_id=other.commission.hsa_id, personnummer="191212121212",
                              kind=BlockKind.OUTER, now=NOW)


# ---------------------------------------------------------------------- permanent revoke and void
def test_a_permanent_revoke_belongs_to_the_blocks_vardgivare_and_lifts_it(
        session: Session, clinic: Clinic, other: Other) -> None:
    patient = patient_with_consent(clinic, session)
    block = register(clinic, session, other, patient)
    with pytest.raises(NotAllowed, match="annan vårdgivare"):
        blocks.revoke_block(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                            commission_hsa_id=clinic.commission.hsa_id, block_id=block.id, now=NOW + HOUR)
    revoked = blocks.revoke_block(session=session, directory=clinic.keeper, user_hsa_id=other.colleague.hsa_id,
                                  commission_hsa_id=other.commission.hsa_id, block_id=block.id,
                                  personnummer=patient.personnummer, reason="Patienten ångrade sig.",
                                  now=NOW + HOUR)
    assert (revoked.state, revoked.revoked_by, revoked.revoked_at, revoked.revoke_reason) == \
        ("revoked", other.colleague.hsa_id, NOW + HOUR, "Patienten ångrade sig.")
    assert "hävd" in last_log(session).detail
    assert shown(clinic, session, patient, now=NOW + 2 * HOUR) == (["Annan vårdgivare", "Egen anteckning"], False)
    count = log_count(session)
    blocks.revoke_block(session=session, directory=clinic.keeper, user_hsa_id=other.colleague.hsa_id,
                        commission_hsa_id=other.commission.hsa_id, block_id=block.id, now=NOW + 3 * HOUR)
    assert log_count(session) == count  # idempotent: nothing changed, nothing logged


def test_only_the_registrant_or_system_administration_voids_a_block(session: Session, clinic: Clinic,
                                                                    other: Other) -> None:
    patient = patient_with_consent(clinic, session)
    block = register(clinic, session, other, patient)
    kwargs = dict(session=session, directory=clinic.keeper, block_id=block.id, reason="Fel patient.")
    with pytest.raises(NotAllowed, match="Häv i stället"):
        blocks.void_block(user_hsa_id=other.colleague.hsa_id, commission_hsa_id=other.commission.hsa_id,
                          now=NOW, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as refused:
        blocks.void_block(user_hsa_id=other.nurse.hsa_id, commission_hsa_id=other.commission.hsa_id, now=NOW,
                          **{**kwargs, "reason": " "})  # type: ignore[arg-type]
    assert refused.value.field == "reason"
    voided = blocks.void_block(user_hsa_id=other.nurse.hsa_id, commission_hsa_id=other.commission.hsa_id,
                               now=NOW + HOUR, **kwargs)  # type: ignore[arg-type]
    assert (voided.state, voided.deleted_by, voided.deletion_reason) == ("deleted", other.nurse.hsa_id, "Fel patient.")
    assert shown(clinic, session, patient, now=NOW + 2 * HOUR)[1] is False
    with pytest.raises(Conflict, match="makulerad"):
        blocks.revoke_block(session=session, directory=clinic.keeper, user_hsa_id=other.nurse.hsa_id,
                            commission_hsa_id=other.commission.hsa_id, block_id=block.id, now=NOW + 2 * HOUR)
    # system administration voids one it did not register, without a commission of its own
    second = register(clinic, session, other, patient, kind=BlockKind.INNER)
    admin = clinic.org.person(given="Lena", surname="Förvaltare")
    clinic.directory.add_role_member(RoleName.SYSTEM_ADMIN, admin.hsa_id)
    blocks.void_block(user_hsa_id=admin.hsa_id, commission_hsa_id=None, now=NOW + 3 * HOUR,
                      **{**kwargs, "block_id": second.id})  # type: ignore[arg-type]
    assert session.get(Block, second.id).state == "deleted"  # type: ignore[union-attr]
    assert last_log(session).user_hsa_id == admin.hsa_id
    session.commit()
    assert verify_sealed(session).ok


def test_a_block_of_another_patient_or_an_unknown_id_is_not_found(session: Session, clinic: Clinic,
                                                                  other: Other) -> None:
    patient = patient_with_consent(clinic, session)
    block = register(clinic, session, other, patient)
    another = clinic.patient(session)
    for block_id, pnr in ((block.id, another.personnummer), (str(uuid.uuid4()), None)):
        with pytest.raises(NotFound):
            blocks.revoke_block(session=session, directory=clinic.keeper, user_hsa_id=other.nurse.hsa_id,
                                commission_hsa_id=other.commission.hsa_id, block_id=block_id, personnummer=pnr,
                                now=NOW)


# ---------------------------------------------------------------------- temporary revoke
def revoke(clinic: Clinic, session: Session, patient: Patient, *, now: dt.datetime = NOW,
           user: Person | None = None, **more: object) -> tuple[BlockRevoke, ...]:
    values: dict[str, object] = {"end": now + DAY, **more}
    return blocks.register_temporary_revoke(session=session, directory=clinic.keeper,
                                            user_hsa_id=(user or clinic.user).hsa_id,
                                            commission_hsa_id=clinic.commission.hsa_id,
                                            personnummer=patient.personnummer, now=now, **values)  # type: ignore[arg-type]


def test_a_temporary_revoke_on_the_patients_consent_shows_the_data_until_its_end(
        session: Session, clinic: Clinic, other: Other) -> None:
    patient = patient_with_consent(clinic, session)
    clinic.ready(session, clinic.colleague)
    block = register(clinic, session, other, patient, now=NOW - HOUR)
    rows = revoke(clinic, session, patient, end=NOW + DAY)
    assert [(r.block_id, r.care_unit_hsa_id, r.employee_hsa_id, r.reason, r.registered_by) for r in rows] == \
        [(block.id, clinic.unit, None, "PatientsConsent", clinic.user.hsa_id)]
    assert "tillfällig hävning (patientens samtycke)" in last_log(session).detail
    assert shown(clinic, session, patient, now=NOW + HOUR) == (["Annan vårdgivare", "Egen anteckning"], False)
    assert shown(clinic, session, patient, now=NOW + HOUR, user=clinic.colleague)[0] == \
        ["Annan vårdgivare", "Egen anteckning"]  # the whole unit
    assert revoke(clinic, session, patient, end=NOW + DAY, now=NOW + HOUR) == ()  # already lifted: nothing new
    assert shown(clinic, session, patient, now=NOW + DAY) == (["Egen anteckning"], True)  # expired: no effect


def test_a_personal_revoke_lifts_the_block_for_that_user_only_and_a_cancelled_one_has_no_effect(
        session: Session, clinic: Clinic, other: Other) -> None:
    patient = patient_with_consent(clinic, session)
    clinic.ready(session, clinic.colleague)
    register(clinic, session, other, patient, now=NOW - HOUR)
    (row,) = revoke(clinic, session, patient, employee_only=True, reason_text="Patienten är här.")
    assert row.employee_hsa_id == clinic.user.hsa_id and row.reason_text == "Patienten är här."
    assert shown(clinic, session, patient, now=NOW + HOUR)[1] is False
    assert shown(clinic, session, patient, now=NOW + HOUR, user=clinic.colleague)[1] is True
    view = blocks.blocks_in_view(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                 commission_hsa_id=clinic.commission.hsa_id, personnummer=patient.personnummer,
                                 now=NOW + HOUR)
    assert [r.id for r in view.revokes_for_me] == [row.id] and view.own == () and view.holding == 0
    with pytest.raises(NotAllowed, match="annan vårdenhet"):
        blocks.cancel_temporary_revoke(session=session, directory=clinic.keeper, user_hsa_id=other.nurse.hsa_id,
                                       commission_hsa_id=other.commission.hsa_id, revoke_id=row.id, now=NOW + HOUR)
    blocks.cancel_temporary_revoke(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                   commission_hsa_id=clinic.commission.hsa_id, revoke_id=row.id,
                                   personnummer=patient.personnummer, now=NOW + 2 * HOUR)
    assert session.get(BlockRevoke, row.id).cancelled_by == clinic.user.hsa_id  # type: ignore[union-attr]
    assert "avbruten" in last_log(session).detail
    assert shown(clinic, session, patient, now=NOW + 3 * HOUR) == (["Egen anteckning"], True)
    session.commit()
    assert verify_sealed(session).ok


@pytest.mark.parametrize(("more", "field"), [
    ({"end": NOW - HOUR}, "end"),
    ({"end": NOW + 400 * DAY}, "end"),
    ({"reason": "Bored"}, "reason"),
    ({"reason_text": "a\x07b"}, "reason_text"),
    ({"block_ids": ["nope"]}, "block_id"),
])
def test_bad_temporary_revoke_input_is_named(session: Session, clinic: Clinic, other: Other,
                                             more: dict[str, object], field: str) -> None:
    patient = patient_with_consent(clinic, session)
    register(clinic, session, other, patient, now=NOW - HOUR)
    with pytest.raises(InvalidInput) as refused:
        revoke(clinic, session, patient, **more)
    assert refused.value.field == field
    assert session.exec(select(BlockRevoke)).all() == []


def test_a_temporary_revoke_needs_a_block_that_holds_and_emergency_needs_an_open_nodatkomst(
        session: Session, clinic: Clinic, other: Other) -> None:
    patient = patient_with_consent(clinic, session)
    with pytest.raises(Conflict, match="ingen spärr"):
        revoke(clinic, session, patient)
    block = register(clinic, session, other, patient, now=NOW - HOUR)
    with pytest.raises(NotAllowed, match="nödåtkomst"):
        revoke(clinic, session, patient, reason=RevokeReason.EMERGENCY)
    service.open_emergency(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                           commission_hsa_id=clinic.commission.hsa_id, personnummer=patient.personnummer,
                           reason="Medvetslös, behöver läkemedelslistan.", now=NOW)
    (row,) = revoke(clinic, session, patient, reason=RevokeReason.EMERGENCY, employee_only=True,
                    end=NOW + 2 * HOUR, block_ids=[block.id], now=NOW + dt.timedelta(minutes=1))
    assert row.reason == "Emergency" and "nödåtkomst" in last_log(session).detail
    with pytest.raises(NotFound):
        revoke(clinic, session, patient, block_ids=[str(uuid.uuid4())])


def test_the_block_dialog_lists_only_the_own_vardgivares_blocks_and_is_logged(
        session: Session, clinic: Clinic, other: Other) -> None:
    patient = patient_with_consent(clinic, session)
    foreign = register(clinic, session, other, patient, now=NOW - HOUR)
    own = blocks.register_block(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                commission_hsa_id=clinic.commission.hsa_id, personnummer=patient.personnummer,
                                kind=BlockKind.INNER, care_unit_hsa_id=clinic.org.unit_b.hsa_id, now=NOW)
    view = blocks.blocks_in_view(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                 commission_hsa_id=clinic.commission.hsa_id, personnummer=patient.personnummer,
                                 now=NOW + HOUR)
    assert [line.block.id for line in view.own] == [own.id] and view.own[0].mine
    # both hide data from the user at unit A: the other vårdgivare's outer block, and the inner block of unit B
    assert view.holding == 2 and foreign.id not in {line.block.id for line in view.own}
    row = last_log(session)
    assert (row.action, row.resource_type, row.detail) == ("Läsa", "patientuppgifter", "spärrdialogen")
