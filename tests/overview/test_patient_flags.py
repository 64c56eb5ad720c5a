"""Patients' flags in log follow-up (issue 15, D-76), on a real database and the real slapd: a flag on today's access
opens a round that holds only the flag; the daily run later draws that day's sample into the same round (the flagged
access keeps one task with both reasons, nothing is sampled twice); a flag on an access already judged opens it
again with the first judgement kept; the patient sees a judgement only once it was made after the flag; a patient's
own view is logged and never in a round; and the age rules of the view."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from overview import patient_view
from overview.errors import NotAllowed, NotFound
from overview.logreview import mail, queries, rounds, tasks
from overview.logreview.models import LogReviewDecision, LogReviewRound, LogReviewTask
from overview.logreview.rules import Why
from overview.models import Guardianship, Patient
from tests.overview.conftest import Clinic
from tests.overview.test_logreview_rounds import CONFIG, TUESDAY, add_manager, after, busy_day, local, log

PATIENT = "196004011232"  # busy_day's emergency and asserted reads are of this patient


def subject(pnr: str = PATIENT) -> patient_view.Subject:
    return patient_view.Subject(pnr, "", pnr, False)


def flag(session: Session, clinic: Clinic, seq: int, now: dt.datetime, comment: str = "Okänd för mig"):  # type: ignore[no-untyped-def]
    made = patient_view.flag(session=session, directory=clinic.directory, subject=subject(), seq=seq,
                             comment=comment, config=CONFIG, now=now)
    session.commit()
    return made


def test_a_flag_before_the_day_is_over_is_sampled_into_the_same_round_later(session: Session, clinic: Clinic) -> None:
    add_manager(clinic)
    special = busy_day(session, clinic)
    read = log(session, clinic, local(TUESDAY, 15), patient=PATIENT)
    session.commit()
    made = flag(session, clinic, read.seq, local(TUESDAY, 16))  # the same afternoon
    round_ = session.get(LogReviewRound, session.get(LogReviewTask, made.task_id).round_id)
    assert round_ is not None and round_.sampled_at is None and round_.population == 0
    assert (clinic.unit, TUESDAY) in rounds.pending(session, now=after(TUESDAY), config=CONFIG)

    opened, created = rounds.open_round(session=session, directory=clinic.directory, unit_hsa_id=clinic.unit,
                                        day=TUESDAY, config=CONFIG, now=after(TUESDAY))
    session.commit()
    assert created and opened is not None and opened.id == round_.id and opened.sampled_at is not None
    assert opened.population == 45 and opened.emergency_count == 1 and "patientmarkering" in opened.rules
    picked = {t.log_seq: t for t in session.exec(select(LogReviewTask).where(LogReviewTask.round_id == round_.id))}
    assert picked[read.seq].reasons.split(",")[0] == Why.PATIENT_FLAG  # the flag's task, reasons merged in
    assert {special["emergency"].seq, special["asserted"].seq, special["late"].seq} <= set(picked)
    assert (clinic.unit, TUESDAY) not in rounds.pending(session, now=after(TUESDAY), config=CONFIG)
    counts = mail.reason_counts(session, round_.id)  # what the new round's mail lists: every reason, the flag too
    assert counts["Patienten känner inte igen åtkomsten"] == 1 and counts["Nödöppning"] == 1
    assert counts["Slumpvis urval"] == opened.random_count and list(counts)[-1] == "Slumpvis urval"
    assert mail.round_context(opened, CONFIG, counts)["reasons"] == counts
    again, created_again = rounds.open_round(session=session, directory=clinic.directory, unit_hsa_id=clinic.unit,
                                             day=TUESDAY, config=CONFIG, now=after(TUESDAY))
    assert not created_again and again is not None and again.id == round_.id  # idempotent


def test_a_flagged_task_is_first_and_a_judged_access_is_opened_again(session: Session, clinic: Clinic) -> None:
    manager = add_manager(clinic)
    special = busy_day(session, clinic)
    opened, _ = rounds.open_round(session=session, directory=clinic.directory, unit_hsa_id=clinic.unit,
                                  day=TUESDAY, config=CONFIG, now=after(TUESDAY))
    session.commit()
    assert opened is not None
    seq = special["asserted"].seq
    task = session.exec(select(LogReviewTask).where(LogReviewTask.log_seq == seq)).one()
    tasks.decide(session=session, directory=clinic.directory, task_id=task.id or 0, reviewer_hsa_id=manager.hsa_id,
                 reviewer_name="Maria Chef", outcome="justified", comment="", expected="open", now=after(TUESDAY, 9))
    session.commit()
    shown = patient_view.access_line(session=session, directory=clinic.directory, subject=subject(), seq=seq,
                                     show_names=False)
    assert shown.flag is None

    made = flag(session, clinic, seq, after(TUESDAY, 12))
    session.refresh(task)
    assert made.task_id == task.id and task.outcome == "open" and task.decided_by is None
    assert task.reasons.endswith(",patientmarkering") and task.reasons.startswith("pastadd_relation")
    history = session.exec(select(LogReviewDecision).where(LogReviewDecision.task_id == task.id)).all()
    assert [h.outcome for h in history] == ["justified"]  # the first judgement stays in the history
    assert patient_view.earlier_decisions(session, made)[0].outcome == "justified"
    seen = patient_view.access_line(session=session, directory=clinic.directory, subject=subject(), seq=seq,
                                    show_names=False)
    assert seen.flag is not None and seen.flag.state == "open"  # not answered by the judgement before the flag
    [work] = queries.work_of(session=session, directory=clinic.directory, reviewer_hsa_id=manager.hsa_id,
                             now=after(TUESDAY, 13))
    assert work.open_tasks[0].task.id == task.id  # first, before older deadlines and lower log numbers

    tasks.decide(session=session, directory=clinic.directory, task_id=task.id or 0, reviewer_hsa_id=manager.hsa_id,
                 reviewer_name="Maria Chef", outcome="not_justified", comment="Ingen vårdrelation; utreds.",
                 expected="open", now=after(TUESDAY, 14))
    session.commit()
    seen = patient_view.access_line(session=session, directory=clinic.directory, subject=subject(), seq=seq,
                                    show_names=False)
    assert seen.flag is not None and seen.flag.state == "not_justified" and "inte befogad" in seen.flag.text


def test_flags_refuse_other_patients_accesses_and_the_view_is_never_in_a_round(session: Session,
                                                                              clinic: Clinic) -> None:
    add_manager(clinic)
    other = log(session, clinic, local(TUESDAY, 10), patient="197001011234")
    mine = log(session, clinic, local(TUESDAY, 11), patient=PATIENT)
    session.commit()
    with pytest.raises(NotFound):
        flag(session, clinic, other.seq, local(TUESDAY, 12))
    session.rollback()
    patient_view.log_of(session=session, directory=clinic.directory, subject=subject(), show_names=False,
                        now=local(TUESDAY, 12))
    session.commit()
    population = rounds.accesses(session, clinic.unit, TUESDAY)
    assert [a.seq for a in population] == [other.seq, mine.seq]  # the patient's own view is not an access


def test_the_age_rules_of_the_view(session: Session) -> None:
    rules, now = patient_view.AgeRules(own_from_age=16, guardian_until_age=13), dt.datetime(2026, 12, 2, 12,
                                                                                            tzinfo=dt.UTC)
    child, teen, guardian = "201705041281", "201203152383", "198511025178"
    session.add_all([Patient(personnummer=child, given_name="Elsa", surname="K", birth_date=dt.date(2017, 5, 4)),
                     Patient(personnummer=teen, given_name="Tea", surname="T", birth_date=dt.date(2012, 3, 15))])
    session.flush()
    session.add_all([Guardianship(guardian_personnummer=guardian, child_personnummer=c, valid_from=dt.date(2012, 1, 1))
                     for c in (child, teen)])
    session.add(Guardianship(guardian_personnummer="197001011234", child_personnummer=child,
                             valid_from=dt.date(2017, 5, 4), valid_to=dt.date(2020, 1, 1)))  # ended
    session.commit()
    assert [p.personnummer for p in patient_view.children(session, guardian, rules=rules, now=now)] == [child]
    assert patient_view.subject(session, viewer=guardian, wanted=child, rules=rules, now=now).by_guardian
    for viewer, wanted, says in ((guardian, teen, "har fyllt 13 år"), ("197001011234", child, "inte registrerad"),
                                 (child, None, "fyller 16 år"), (teen, None, "fyller 16 år")):
        with pytest.raises(NotAllowed, match=says):
            patient_view.subject(session, viewer=viewer, wanted=wanted, rules=rules, now=now)
    assert patient_view.age_on(dt.date(2012, 3, 15), dt.date(2028, 3, 14)) == 15
    assert patient_view.age_on(dt.date(2012, 3, 15), dt.date(2028, 3, 15)) == 16
