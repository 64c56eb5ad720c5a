"""A patient who cannot decide (issue 13 item 6, overview/incapacity.py) on the real gate, slapd and database: the
assessment is registered with how the attitude was clarified and why no objection is to be expected, opens the
other vårdgivare's data at the unit for its period, is logged, ended by the unit; a temporary inability is refused
and pointed to emergency access; every read on this basis is always sampled in log follow-up."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import Session, select

from overview import incapacity, service
from overview.errors import InvalidInput, NotAllowed
from overview.gate import Basis
from overview.logreview import rounds
from overview.models import AccessLog, IncapacityAssessment, Patient
from tests.overview.conftest import DAY, NOW, Clinic, verify_sealed
from tests.overview.test_logreview_rounds import CONFIG, add_manager, tasks_of

HOUR = dt.timedelta(hours=1)
ATTITUDE = "Samtal med patienten och dottern; patienten har tidigare velat att vården samordnas."
NO_OBJECTION = "Inget i journalen eller från närstående tyder på att patienten skulle motsätta sig."


def register(clinic: Clinic, session: Session, patient: Patient, **more: object) -> IncapacityAssessment:
    values: dict[str, object] = {"lasting": True, "attitude_clarified": ATTITUDE, "no_objection": NO_OBJECTION,
                                 "end": NOW + 30 * DAY, "now": NOW, **more}
    return incapacity.register_incapacity(session=session, directory=clinic.keeper, user_hsa_id=clinic.user.hsa_id,
                                          commission_hsa_id=clinic.commission.hsa_id,
                                          personnummer=patient.personnummer, **values)  # type: ignore[arg-type]


def read(clinic: Clinic, session: Session, patient: Patient, *, now: dt.datetime = NOW + HOUR,
         user: str | None = None) -> service.OverviewResult:
    return service.read_overview(session=session, directory=clinic.keeper, user_hsa_id=user or clinic.user.hsa_id,
                                 commission_hsa_id=clinic.commission.hsa_id, personnummer=patient.personnummer,
                                 now=now)


def test_the_assessment_opens_other_vardgivare_at_the_unit_and_is_logged(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    clinic.ready(session, clinic.colleague)
    patient = clinic.patient(session)
    assert "Annan vårdgivare" not in [s.item.title for s in read(clinic, session, patient).items]
    row = register(clinic, session, patient)
    assert (row.care_unit_hsa_id, row.registered_by, row.attitude_clarified) == (clinic.unit, clinic.user.hsa_id,
                                                                                  ATTITUDE)
    written = session.exec(select(AccessLog).order_by(AccessLog.seq.desc())).first()  # type: ignore[attr-defined]
    assert written is not None and (written.action, written.resource_type) == ("Skriva", "beslutsoförmåga")
    assert json.loads(written.basis) == [f"incapacity:{row.id}"]
    result = read(clinic, session, patient, user=clinic.colleague.hsa_id)  # the whole unit
    foreign = next(s for s in result.items if s.item.title == "Annan vårdgivare")
    assert (foreign.decision.basis, foreign.decision.code) == (Basis.INCAPACITY, "shown.incapacity")
    logged = session.exec(select(AccessLog).where(AccessLog.seq == result.log_seq)).one()
    assert f"incapacity:{row.id}" in json.loads(logged.basis)
    assert "Annan vårdgivare" not in [s.item.title for s in read(clinic, session, patient, now=NOW + 31 * DAY).items]
    session.commit()
    assert verify_sealed(session).ok


@pytest.mark.parametrize(("more", "field", "says"), [
    ({"lasting": False}, "lasting", "nödåtkomst"),
    ({"attitude_clarified": " "}, "attitude_clarified", "inställning"),
    ({"no_objection": "x" * 1025}, "no_objection", "1024"),
    ({"end": NOW - HOUR}, "end", "framtiden"),
    ({"end": NOW + 400 * DAY}, "end", "högst ett år"),
])
def test_a_temporary_inability_and_bad_input_are_refused_and_nothing_is_stored(
        session: Session, clinic: Clinic, more: dict[str, object], field: str, says: str) -> None:
    clinic.ready(session)
    patient = clinic.patient(session)
    with pytest.raises(InvalidInput) as refused:
        register(clinic, session, patient, **more)
    assert refused.value.field == field and says in refused.value.message
    assert session.exec(select(IncapacityAssessment)).all() == []


def test_the_unit_ends_it_and_only_the_unit(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    clinic.ready(session, clinic.colleague)
    patient = clinic.patient(session)
    row = register(clinic, session, patient)
    other_commission, _ = clinic.directory.ensure_commission(clinic.org.unit_b.hsa_id)
    elsewhere = clinic.org.person(given="Berit", surname="Annanenhet", unit=clinic.org.unit_b)
    clinic.member(elsewhere, other_commission)
    clinic.ready(session, elsewhere)
    with pytest.raises(NotAllowed, match="annan vårdenhet"):
        incapacity.end_incapacity(session=session, directory=clinic.keeper, user_hsa_id=elsewhere.hsa_id,
                                  commission_hsa_id=other_commission.hsa_id, assessment_id=row.id, now=NOW + HOUR)
    incapacity.end_incapacity(session=session, directory=clinic.keeper, user_hsa_id=clinic.colleague.hsa_id,
                              commission_hsa_id=clinic.commission.hsa_id, assessment_id=row.id,
                              personnummer=patient.personnummer, now=NOW + HOUR)
    assert row.ended_by == clinic.colleague.hsa_id
    assert "Annan vårdgivare" not in [s.item.title for s in read(clinic, session, patient, now=NOW + 2 * HOUR).items]
    assert incapacity.assessments_at_unit(session=session, unit_hsa_id=clinic.unit,
                                          personnummer=patient.personnummer, now=NOW + 2 * HOUR) == []


def test_every_read_on_this_basis_is_always_sampled_in_log_follow_up(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    add_manager(clinic)
    patient = clinic.patient(session)
    register(clinic, session, patient, now=NOW)
    day_reads = [read(clinic, session, patient, now=NOW + dt.timedelta(minutes=n)) for n in range(1, 4)]
    session.commit()
    day = (NOW + HOUR).astimezone(dt.UTC).date()
    made, _created = rounds.open_round(session=session, directory=clinic.directory, unit_hsa_id=clinic.unit,
                                       day=day, config=CONFIG, now=NOW + 2 * DAY)
    session.commit()
    assert made is not None
    picked = {t.log_seq: t.reasons for t in tasks_of(session, made.id)}
    for result in day_reads:
        assert "beslutsoformogen" in picked[result.log_seq].split(",")
    assert "beslutsoförmögna" in made.sample_rule
