"""Reviewing one access: what the reviewer sees of it, and the decision (justified / not / needs follow-up).

A decision is a conditional UPDATE of the task (from the outcome the reviewer saw, so two reviewers never both
decide) plus a row in the append-only decision history, in the caller's transaction. Nobody judges their own
access: a manager's own accesses go to a delegate, and the other way round. The reviewer sees who read what, when,
where, on what basis and relation; never the clinical content that was shown.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col, select

from catalog import Directory
from kernel.sqltypes import rowcount, stored_id
from overview import accesslog, inputs
from overview.accesslog import Action, LogEntry, Resource
from overview.errors import InvalidInput, NotAllowed, NotFound
from overview.gate import RelationKind
from overview.logreview.delegations import Reviewer, reviewer
from overview.logreview.models import LogReviewDecision, LogReviewRound, LogReviewTask, PatientFlag
from overview.logreview.rules import DECISIONS, Conflict, InvalidInputs, Outcome, Why, next_outcome
from overview.models import AccessLog, Patient

COMMENT_MAX = 2000
RELATION_LABELS = {RelationKind.CARE_CONTACT: "Vårdkontakt vid enheten (verifierad)",
                   RelationKind.BOOKING: "Bokning vid enheten (verifierad)",
                   RelationKind.ASSERTED: "Påstådd av användaren, med skäl"}


@dataclass(frozen=True)
class TaskView:
    """Everything the review page shows of one task (no clinical content)."""

    task: LogReviewTask
    round: LogReviewRound
    log: AccessLog
    user_name: str
    reasons: tuple[Why, ...]
    basis: tuple[str, ...]
    source_providers: tuple[str, ...]
    source_units: tuple[str, ...]
    patient_name: str | None  # None for a patient with skyddad identitet (or unknown)
    protected_identity: bool
    history: tuple[LogReviewDecision, ...]
    patient_flag: PatientFlag | None = None  # the patient's "jag känner inte igen detta", with their comment

    @property
    def relation_label(self) -> str:
        """The patient relation the access rested on, in Swedish."""
        labels = {kind.value: label for kind, label in RELATION_LABELS.items()}
        return labels.get(self.log.relation or "", "Ingen patientrelation registrerad")


def basis_label(ref: str) -> str:
    """How a log row's basis reads in Swedish."""
    kind, _, ident = ref.partition(":")
    labels = {"own_provider": "Egen vårdgivare (PDL 4 kap.)", "consent": "Samtycke",
              "emergency": "Nödåtkomst", "emergency_block_opened": "Nödöppning av spärrade uppgifter",
              "incapacity": "Beslutsoförmögen patient"}
    return f"{labels.get(kind, kind)} {ident}".strip()


REVIEW_PURPOSE = "Logguppföljning"


def reasons_of(task: LogReviewTask) -> tuple[Why, ...]:
    """Why the task's access was picked."""
    return tuple(Why(r) for r in task.reasons.split(",") if r)


def rules_of(round_: LogReviewRound) -> tuple[Why, ...]:
    """The rules that always picked in this round (empty for a round opened before they were recorded)."""
    return tuple(Why(r) for r in round_.rules.split(",") if r)


def _task(session: Session, task_id: int) -> tuple[LogReviewTask, LogReviewRound]:
    task = session.get(LogReviewTask, task_id)
    round_ = session.get(LogReviewRound, task.round_id) if task else None
    if task is None or round_ is None:
        raise NotFound("Granskningsuppgiften finns inte.")
    return task, round_


def require_reviewer(session: Session, directory: Directory, unit_hsa_id: str, hsa_id: str,
                     now: dt.datetime) -> Reviewer:
    """The person as a reviewer of the unit's log, or NotAllowed."""
    found = reviewer(session, directory, unit_hsa_id, hsa_id, now)
    if found is None:
        raise NotAllowed("Bara enhetens verksamhetschef, eller den som verksamhetschefen dokumenterat har delegerat "
                         "logguppföljningen till, kan granska enhetens loggar.")
    return found


def view(*, session: Session, directory: Directory, task_id: int, reviewer_hsa_id: str,
         now: dt.datetime) -> TaskView:
    """One task as its reviewer sees it (reviewers of the task's unit only). The view is logged in the caller's
    transaction (it shows who the patient is); log follow-up never samples such rows (accesslog.NOT_CARE_ACCESS)."""
    task, round_ = _task(session, task_id)
    require_reviewer(session, directory, round_.unit_hsa_id, reviewer_hsa_id, now)
    log = session.get(AccessLog, task.log_seq)
    assert log is not None  # log rows are never deleted (D6)
    patient = session.get(Patient, log.patient_personnummer) if log.patient_personnummer else None
    protected = bool(patient and patient.protected_identity)
    name = f"{patient.given_name} {patient.surname}" if patient and not protected else None
    history = session.exec(select(LogReviewDecision).where(LogReviewDecision.task_id == task.id)
                           .order_by(col(LogReviewDecision.id))).all()
    user = directory.find_person(log.user_hsa_id)
    accesslog.append(session, LogEntry(  # the page names the patient: opening it is itself a logged read
        at=now, user_hsa_id=reviewer_hsa_id, action=Action.READ, resource_type=Resource.LOG_REVIEW,
        purpose=REVIEW_PURPOSE, care_unit_hsa_id=round_.unit_hsa_id, care_unit_name=round_.unit_name,
        care_provider_hsa_id=round_.provider_hsa_id, patient_personnummer=log.patient_personnummer,
        detail=f"loggrad #{log.seq}"))
    return TaskView(task, round_, log, user.name if user else "", reasons_of(task), tuple(json.loads(log.basis)),
                    tuple(json.loads(log.source_providers)), tuple(json.loads(log.source_units)), name, protected,
                    tuple(history), session.exec(select(PatientFlag).where(PatientFlag.task_id == task.id)).first())


def decide(*, session: Session, directory: Directory, task_id: int, reviewer_hsa_id: str, reviewer_name: str,
           outcome: str, comment: str, expected: str | None, now: dt.datetime) -> LogReviewTask:
    """Record a reviewer's judgement of one access (comment required unless justified); completes the round."""
    task, round_ = _task(session, task_id)
    # Decisions on one round take turns (a row lock on PostgreSQL; SQLite has one writer), so that of two reviewers
    # judging the last two open tasks at once, the second sees the first and completes the round.
    session.execute(select(LogReviewRound.id).where(col(LogReviewRound.id) == round_.id).with_for_update())
    session.refresh(task)
    who = require_reviewer(session, directory, round_.unit_hsa_id, reviewer_hsa_id, now)
    log = session.get(AccessLog, task.log_seq)
    if log is not None and log.user_hsa_id.upper() == reviewer_hsa_id.upper():
        raise NotAllowed("Du kan inte granska din egen åtkomst. Den ska granskas av verksamhetschefen eller av "
                         "den som logguppföljningen är delegerad till.")
    wanted, text = _check(outcome, comment)
    current = Outcome(task.outcome)
    if expected and expected != current.value:
        raise Conflict("Någon annan har redan granskat åtkomsten under tiden; se bedömningen nedan.")
    next_outcome(current, wanted)
    changed = session.execute(update(LogReviewTask).where(
        col(LogReviewTask.id) == task.id, col(LogReviewTask.outcome) == current.value)
        .values(outcome=wanted.value, comment=text, decided_by=reviewer_hsa_id, decided_by_name=reviewer_name,
                decided_as=who.role.value, decided_at=now).execution_options(synchronize_session=False))
    if rowcount(changed) != 1:
        raise Conflict("Någon annan har redan granskat åtkomsten under tiden; se bedömningen nedan.")
    session.add(LogReviewDecision(task_id=stored_id(task), outcome=wanted.value, comment=text,
                                  decided_by=reviewer_hsa_id, decided_by_name=reviewer_name, decided_as=who.role.value,
                                  on_behalf_of=who.on_behalf_of, delegation_id=who.delegation_id, decided_at=now))
    session.flush()
    _complete_if_done(session, round_, now)
    session.refresh(task)
    return task


def _check(outcome: str, comment: str) -> tuple[Outcome, str]:
    errors: dict[str, str] = {}
    wanted = next((o for o in DECISIONS if o.value == outcome), None)
    if wanted is None:
        errors["outcome"] = "Välj befogad, ej befogad eller behöver utredas vidare."
    text = (comment or "").strip()
    if not text and wanted in (Outcome.NOT_JUSTIFIED, Outcome.FOLLOW_UP):
        errors["comment"] = "Skriv en kommentar: den krävs när åtkomsten inte är befogad eller behöver utredas."
    elif text:
        try:
            inputs.reason(text, "comment", max_length=COMMENT_MAX)  # length and control characters
        except InvalidInput as exc:
            errors["comment"] = exc.message
    if errors:
        raise InvalidInputs(errors)
    assert wanted is not None
    return wanted, text


def _complete_if_done(session: Session, round_: LogReviewRound, now: dt.datetime) -> None:
    """Mark the round completed the first time no task is left open."""
    still_open = session.exec(select(LogReviewTask.id).where(
        LogReviewTask.round_id == round_.id, LogReviewTask.outcome == Outcome.OPEN)).first()
    if still_open is None:
        session.execute(update(LogReviewRound).where(col(LogReviewRound.id) == round_.id,
                                                     col(LogReviewRound.completed_at).is_(None))
                        .values(completed_at=now).execution_options(synchronize_session=False))
        session.refresh(round_)
