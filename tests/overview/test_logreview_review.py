"""Reviewing accesses: who may, the three outcomes and the comment rule, the documented delegation, the history,
the round's completion and the monthly summary; on a real database and the real slapd."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, select

from catalog.model import Person
from kernel.clock import end_of_day, local_date, years_later
from overview.accesslog import Action
from overview.errors import NotAllowed, NotFound
from overview.logreview import delegations as delegation
from overview.logreview import queries, tasks
from overview.logreview import summary as summaries
from overview.logreview.models import LogReviewDecision, LogReviewRound, LogReviewTask
from overview.logreview.rules import (
    Conflict,
    InvalidInputs,
    InvalidTransition,
    Outcome,
    ReviewConfig,
    ReviewerRole,
    Why,
)
from tests.overview.conftest import Clinic, add_patient
from tests.overview.test_logreview_rounds import TUESDAY, add_manager, after, local, log, open_round, tasks_of

NOW = after(TUESDAY, 10)
EVERYTHING = ReviewConfig(sample_share=1, sample_min=0, sample_max=100, sample_key="k")  # every access a task


def three_tasks(session: Session, clinic: Clinic, manager: Person) -> tuple[LogReviewRound, list[LogReviewTask]]:
    """A round of three accesses: the clinician's emergency opening, a colleague's read, the manager's own read."""
    log(session, clinic, local(TUESDAY, 10), action=Action.EMERGENCY, detail="Medvetslös")
    log(session, clinic, local(TUESDAY, 11), user=clinic.colleague.hsa_id)
    log(session, clinic, local(TUESDAY, 12), user=manager.hsa_id)
    session.commit()
    round_, _ = open_round(session, clinic, config=EVERYTHING)
    assert round_ is not None
    return round_, tasks_of(session, round_.id)


def decide(session: Session, clinic: Clinic, task: LogReviewTask, who: Person, outcome: Outcome, comment: str = "",
           expected: str | None = None, now: dt.datetime = NOW) -> LogReviewTask:
    done = tasks.decide(session=session, directory=clinic.directory, task_id=task.id, reviewer_hsa_id=who.hsa_id,  # type: ignore[arg-type]
                        reviewer_name=who.name, outcome=outcome.value, comment=comment, expected=expected, now=now)
    session.commit()
    return done


def delegate_to(session: Session, clinic: Clinic, manager: Person, person: Person, *,
                valid_to: dt.date = TUESDAY + dt.timedelta(days=90)) -> int:
    made = delegation.grant(session=session, directory=clinic.directory, manager_hsa_id=manager.hsa_id,
                            unit_hsa_id=clinic.unit, delegate_hsa_id=person.hsa_id, valid_to=valid_to,
                            note="Beslut VC-2026-17", now=NOW - dt.timedelta(hours=1))
    session.commit()
    assert made.id is not None
    return made.id


# ---------------------------------------------------------------------- deciding
def test_the_manager_judges_each_access_and_the_round_completes_with_the_last(session: Session,
                                                                             clinic: Clinic) -> None:
    manager = add_manager(clinic)
    delegate = clinic.org.person(given="Dora", surname="Delegat")
    delegate_to(session, clinic, manager, delegate)
    round_, (emergency, read, own) = three_tasks(session, clinic, manager)
    decide(session, clinic, emergency, manager, Outcome.JUSTIFIED)
    decide(session, clinic, read, manager, Outcome.NOT_JUSTIFIED, "  Ingen vårdrelation; samtal bokat.  ")
    session.refresh(round_)
    assert round_.completed_at is None
    decide(session, clinic, own, delegate, Outcome.JUSTIFIED, now=NOW + dt.timedelta(hours=1))
    session.refresh(round_)
    assert round_.completed_at == NOW + dt.timedelta(hours=1)
    stored = tasks_of(session, round_.id)
    assert [(t.outcome, t.comment, t.decided_as) for t in stored] == [
        ("justified", "", "verksamhetschef"), ("not_justified", "Ingen vårdrelation; samtal bokat.", "verksamhetschef"),
        ("justified", "", "delegat")]
    history = session.exec(select(LogReviewDecision).order_by(LogReviewDecision.id)).all()  # type: ignore[arg-type]
    assert [(h.decided_by, h.on_behalf_of) for h in history] == [
        (manager.hsa_id, None), (manager.hsa_id, None), (delegate.hsa_id, manager.hsa_id)]
    assert history[2].delegation_id is not None


def test_two_reviewers_judging_the_last_two_accesses_at_once_complete_the_round(db_backend: str, engine: Engine,
                                                                                  session: Session,
                                                                                  clinic: Clinic) -> None:
    if db_backend != "postgresql":
        pytest.skip("SQLite serialises writers; the race is PostgreSQL's")
    manager = add_manager(clinic)
    delegate = clinic.org.person(given="Dora", surname="Delegat")
    delegate_to(session, clinic, manager, delegate)
    round_, (emergency, read, own) = three_tasks(session, clinic, manager)
    decide(session, clinic, emergency, manager, Outcome.JUSTIFIED)
    start, decided, errors = threading.Barrier(2), threading.Barrier(2), []

    def judge(task: LogReviewTask, who: Person) -> None:
        try:
            with Session(engine) as own_session:
                start.wait()
                tasks.decide(session=own_session, directory=clinic.directory, task_id=task.id,  # type: ignore[arg-type]
                             reviewer_hsa_id=who.hsa_id, reviewer_name=who.name, outcome="justified", comment="",
                             expected="open", now=NOW)
                with contextlib.suppress(threading.BrokenBarrierError):  # hold the transaction open until the
                    decided.wait(timeout=2)  # other has decided too, or is waiting for this one's lock
                own_session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=judge, args=args) for args in ((read, manager), (own, delegate))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    session.expire_all()
    assert session.get(LogReviewRound, round_.id).completed_at == NOW  # type: ignore[union-attr]


@pytest.mark.parametrize(("outcome", "comment", "fields"), [
    ("", "", {"outcome"}), ("open", "x", {"outcome"}), ("maybe", "", {"outcome"}),
    ("not_justified", "", {"comment"}), ("needs_follow_up", "   ", {"comment"}),
    ("not_justified", "x" * 2001, {"comment"}), ("justified", "Bra\x00", {"comment"}),
])
def test_a_bad_decision_names_the_field_and_changes_nothing(session: Session, clinic: Clinic, outcome: str,
                                                           comment: str, fields: set[str]) -> None:
    manager = add_manager(clinic)
    _round, (task, *_rest) = three_tasks(session, clinic, manager)
    with pytest.raises(InvalidInputs) as refused:
        tasks.decide(session=session, directory=clinic.directory, task_id=task.id, reviewer_hsa_id=manager.hsa_id,  # type: ignore[arg-type]
                     reviewer_name=manager.name, outcome=outcome, comment=comment, expected=None, now=NOW)
    assert set(refused.value.errors) == fields
    session.rollback()
    assert session.get(LogReviewTask, task.id).outcome == "open"  # type: ignore[union-attr]


def test_others_may_not_review_and_nobody_reviews_their_own_access(session: Session, clinic: Clinic) -> None:
    manager = add_manager(clinic)
    _round, (emergency, _read, own) = three_tasks(session, clinic, manager)
    for outsider in (clinic.user, clinic.colleague, clinic.other.person()):
        with pytest.raises(NotAllowed, match="verksamhetschef"):
            decide(session, clinic, emergency, outsider, Outcome.JUSTIFIED)
        with pytest.raises(NotAllowed, match="Bara enhetens verksamhetschef, eller den som .* delegerat"):
            tasks.view(session=session, directory=clinic.directory, task_id=emergency.id,  # type: ignore[arg-type]
                       reviewer_hsa_id=outsider.hsa_id, now=NOW)
    with pytest.raises(NotAllowed, match="din egen åtkomst"):
        decide(session, clinic, own, manager, Outcome.JUSTIFIED)
    with pytest.raises(NotFound, match="Granskningsuppgiften finns inte"):
        tasks.view(session=session, directory=clinic.directory, task_id=999999, reviewer_hsa_id=manager.hsa_id,
                   now=NOW)


def test_a_final_judgement_stands_follow_up_can_be_closed_and_a_stale_form_is_a_conflict(session: Session,
                                                                                        clinic: Clinic) -> None:
    manager = add_manager(clinic)
    _round, (emergency, read, _own) = three_tasks(session, clinic, manager)
    decide(session, clinic, emergency, manager, Outcome.JUSTIFIED, expected="open")
    with pytest.raises(Conflict, match="Någon annan har redan granskat åtkomsten"):
        decide(session, clinic, emergency, manager, Outcome.NOT_JUSTIFIED, "Ändrat", expected="open")
    with pytest.raises(InvalidTransition, match="^Åtkomsten är redan bedömd som befogad; en slutlig bedömning kan "
                                                "inte ändras.$"):
        decide(session, clinic, emergency, manager, Outcome.NOT_JUSTIFIED, "Ändrat")
    decide(session, clinic, read, manager, Outcome.FOLLOW_UP, "Frågar medarbetaren")
    decide(session, clinic, read, manager, Outcome.JUSTIFIED, "Patienten var inskriven på avdelningen",
           expected="needs_follow_up")
    assert [h.outcome for h in session.exec(select(LogReviewDecision).where(
        LogReviewDecision.task_id == read.id).order_by(LogReviewDecision.id)).all()] == [  # type: ignore[arg-type]
        "needs_follow_up", "justified"]


def test_the_decision_history_is_append_only_in_the_database(session: Session, clinic: Clinic) -> None:
    manager = add_manager(clinic)
    _round, (emergency, *_rest) = three_tasks(session, clinic, manager)
    decide(session, clinic, emergency, manager, Outcome.JUSTIFIED)
    for statement in ("UPDATE log_review_decision SET outcome = 'not_justified'", "DELETE FROM log_review_decision"):
        with pytest.raises(DatabaseError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    assert len(session.exec(select(LogReviewDecision)).all()) == 1


def test_the_review_page_shows_the_access_but_no_clinical_content(session: Session, clinic: Clinic) -> None:
    manager = add_manager(clinic)
    open_patient, hidden = add_patient(session, given="Nils"), add_patient(session, protected=True, given="Hemlig")
    log(session, clinic, local(TUESDAY, 10), patient=open_patient.personnummer, relation="asserted",
        detail="Patienten ringde från akuten")
    log(session, clinic, local(TUESDAY, 11), patient=hidden.personnummer)
    session.commit()
    round_, _ = open_round(session, clinic, config=EVERYTHING)
    first, second = tasks_of(session, round_.id)  # type: ignore[union-attr]
    seen = tasks.view(session=session, directory=clinic.directory, task_id=first.id, reviewer_hsa_id=manager.hsa_id,  # type: ignore[arg-type]
                      now=NOW)
    assert seen.reasons == (Why.ASSERTED,) and seen.patient_name == "Nils Patient" and not seen.protected_identity
    assert seen.log.detail == "Patienten ringde från akuten" and seen.basis == ("own_provider",)
    assert seen.relation_label == "Påstådd av användaren, med skäl" and seen.source_providers == (clinic.provider,)
    assert not hasattr(seen, "items") and not hasattr(seen.log, "body")
    other = tasks.view(session=session, directory=clinic.directory, task_id=second.id,  # type: ignore[arg-type]
                       reviewer_hsa_id=manager.hsa_id, now=NOW)
    assert other.patient_name is None and other.protected_identity
    assert tasks.basis_label("consent:abc") == "Samtycke abc"


# ---------------------------------------------------------------------- delegation
def test_a_documented_delegate_reviews_until_revoked_or_the_manager_changes(session: Session,
                                                                           clinic: Clinic) -> None:
    manager = add_manager(clinic)
    delegate = clinic.org.person(given="Dora", surname="Delegat")
    delegation_id = delegate_to(session, clinic, manager, delegate)
    [found] = [r for r in delegation.reviewers(session, clinic.directory, clinic.unit, NOW)
               if r.hsa_id == delegate.hsa_id]
    assert (found.role, found.on_behalf_of) == (ReviewerRole.DELEGATE, manager.hsa_id)
    assert [u.hsa_id for u in delegation.reviewable_units(session, clinic.directory, delegate.hsa_id, NOW)] == [
        clinic.unit]
    assert delegation.is_delegate(session, delegate.hsa_id, NOW)
    successor = add_manager(clinic, local_id="CHEF2", given="Nora")  # a new verksamhetschef: the delegation lapses
    assert delegation.reviewer(session, clinic.directory, clinic.unit, delegate.hsa_id, NOW) is None
    assert delegation.reviewer(session, clinic.directory, clinic.unit, manager.hsa_id, NOW) is None
    with pytest.raises(NotAllowed, match="Bara enhetens verksamhetschef kan återkalla delegeringen"):
        delegation.revoke(session=session, directory=clinic.directory, manager_hsa_id=manager.hsa_id,
                          delegation_id=delegation_id, now=NOW)
    clinic.directory.set_unit_manager(clinic.unit, manager.hsa_id)
    assert delegation.reviewer(session, clinic.directory, clinic.unit, delegate.hsa_id, NOW) is not None
    delegation.revoke(session=session, directory=clinic.directory, manager_hsa_id=manager.hsa_id,
                      delegation_id=delegation_id, now=NOW)
    session.commit()
    assert delegation.reviewer(session, clinic.directory, clinic.unit, delegate.hsa_id, NOW) is None
    [kept] = delegation.history(session, [clinic.unit])
    assert (kept.revoked_at, kept.revoked_by, kept.note, kept.manager_name) == (
        NOW, manager.hsa_id, "Beslut VC-2026-17", manager.name)
    assert successor.hsa_id != manager.hsa_id


def test_a_log_review_delegation_lasts_at_most_a_year_as_an_ordering_delegation_does(session: Session,
                                                                                    clinic: Clinic) -> None:
    manager = add_manager(clinic)
    last = years_later(local_date(NOW), 1)  # not 366 days: the period the ordering right's delegations have (D-53)
    with pytest.raises(InvalidInputs) as refused:
        delegation.grant(session=session, directory=clinic.directory, manager_hsa_id=manager.hsa_id,
                         unit_hsa_id=clinic.unit, delegate_hsa_id=clinic.user.hsa_id,
                         valid_to=last + dt.timedelta(days=1), note="", now=NOW)
    assert refused.value.errors == {"valid_to": "En delegering kan gälla högst ett år; förnya den vid behov."}
    made = delegation.grant(session=session, directory=clinic.directory, manager_hsa_id=manager.hsa_id,
                            unit_hsa_id=clinic.unit, delegate_hsa_id=clinic.user.hsa_id, valid_to=last, note="",
                            now=NOW)
    assert made.valid_to == end_of_day(last)


def test_a_delegation_is_checked_field_by_field(session: Session, clinic: Clinic) -> None:
    manager = add_manager(clinic)

    def grant(who: str = manager.hsa_id, unit: str = clinic.unit, **fields: object) -> None:
        values: dict[str, object] = {"delegate_hsa_id": clinic.user.hsa_id, "valid_to": TUESDAY + dt.timedelta(days=30),
                                     "note": ""}
        values.update(fields)
        delegation.grant(session=session, directory=clinic.directory, manager_hsa_id=who, unit_hsa_id=unit,
                         now=NOW, **values)  # type: ignore[arg-type]

    with pytest.raises(NotAllowed, match="Bara enhetens verksamhetschef kan delegera logguppföljningen"):
        grant(who=clinic.user.hsa_id)
    with pytest.raises(NotAllowed, match="Bara enhetens verksamhetschef kan delegera logguppföljningen"):
        grant(unit=clinic.org.unit_b.hsa_id)
    for fields, field in (({"delegate_hsa_id": "nonsense"}, "delegate_hsa_id"),
                          ({"delegate_hsa_id": clinic.org.hsa("NOBODY")}, "delegate_hsa_id"),
                          ({"delegate_hsa_id": manager.hsa_id}, "delegate_hsa_id"),
                          ({"valid_to": None}, "valid_to"), ({"valid_to": TUESDAY - dt.timedelta(days=1)}, "valid_to"),
                          ({"valid_to": TUESDAY + dt.timedelta(days=400)}, "valid_to"),
                          ({"note": "x" * 1001}, "note")):
        with pytest.raises(InvalidInputs) as refused:
            grant(**fields)
        assert set(refused.value.errors) == {field}, fields
    grant()
    assert [d.delegate_hsa_id for d in delegation.history(session, [clinic.unit])] == [clinic.user.hsa_id]


# ---------------------------------------------------------------------- documentation and summary
def test_the_round_documentation_counts_outcomes_and_names_the_reviewers(session: Session, clinic: Clinic) -> None:
    manager = add_manager(clinic)
    round_, (emergency, read, _own) = three_tasks(session, clinic, manager)
    decide(session, clinic, emergency, manager, Outcome.JUSTIFIED)
    decide(session, clinic, read, manager, Outcome.FOLLOW_UP, "Utreds")
    doc = queries.documentation(session=session, directory=clinic.directory, round_id=round_.id,  # type: ignore[arg-type]
                                reviewer_hsa_id=manager.hsa_id, now=NOW)
    assert doc.outcomes == {"justified": 1, "needs_follow_up": 1, "open": 1} and doc.reviewers == [manager.name]
    assert [line.user_name for line in doc.tasks] == [clinic.user.name, clinic.colleague.name, manager.name]
    [work] = queries.work_of(session=session, directory=clinic.directory, reviewer_hsa_id=manager.hsa_id, now=NOW)
    assert work.open_total == 1 and [r.id for r, _open in work.rounds] == [round_.id]
    assert queries.work_of(session=session, directory=clinic.directory, reviewer_hsa_id=clinic.user.hsa_id,
                           now=NOW) == []
    assert queries.next_open_task(session, round_.id) == _own.id  # type: ignore[arg-type]


def test_the_monthly_summary_waits_for_the_first_business_day_and_is_made_once(session: Session,
                                                                              clinic: Clinic) -> None:
    manager = add_manager(clinic)
    december = [dt.date(2026, 12, 1), dt.date(2026, 12, 30)]
    for day in december:
        log(session, clinic, local(day, 10))
        log(session, clinic, local(day, 23), action=Action.EMERGENCY)
    session.commit()
    opened = [open_round(session, clinic, day, config=EVERYTHING)[0] for day in december]
    first_tasks = tasks_of(session, opened[0].id)  # type: ignore[union-attr]
    decide(session, clinic, first_tasks[0], manager, Outcome.JUSTIFIED, now=local(dt.date(2026, 12, 2), 9))
    decide(session, clinic, first_tasks[1], manager, Outcome.NOT_JUSTIFIED, "Fel patient",
           now=local(dt.date(2026, 12, 15), 9))  # after the deadline: a late round
    # 1 January 2027 is nyårsdagen (a Friday); the first business day is Monday 4 January
    assert summaries.first_business_day(dt.date(2027, 1, 1)) == dt.date(2027, 1, 4)
    assert summaries.due(session, now=local(dt.date(2027, 1, 1), 9)) == []
    assert summaries.due(session, now=local(dt.date(2027, 1, 4), 2)) == [(clinic.unit, dt.date(2026, 12, 1))]
    made, created = summaries.make(session=session, unit_hsa_id=clinic.unit, month=dt.date(2026, 12, 1),
                                   now=local(dt.date(2027, 1, 4), 2))
    session.commit()
    assert created and (made.rounds, made.population, made.tasks, made.emergency, made.out_of_hours) == (2, 4, 4, 2, 2)
    assert (made.justified, made.not_justified, made.open_tasks, made.overdue_rounds, made.late_rounds) == (
        1, 1, 2, 0, 1)
    assert made.reviewers == manager.name
    again, created_again = summaries.make(session=session, unit_hsa_id=clinic.unit, month=dt.date(2026, 12, 15),
                                          now=local(dt.date(2027, 1, 5), 2))
    assert not created_again and again.id == made.id
    assert summaries.due(session, now=local(dt.date(2027, 1, 5), 2)) == []
    assert [s.id for s in summaries.summaries_of(session, clinic.unit)] == [made.id]
