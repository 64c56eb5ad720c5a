"""What the log follow-up pages show: a reviewer's open tasks and rounds per unit, and a round's documentation."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from catalog import Directory
from overview.errors import NotFound
from overview.logreview.delegations import ReviewUnit, reviewable_units
from overview.logreview.models import LogReviewDecision, LogReviewRound, LogReviewSummary, LogReviewTask
from overview.logreview.rounds import open_task_counts
from overview.logreview.rules import Outcome, Why
from overview.logreview.summary import summaries_of
from overview.logreview.tasks import reasons_of, require_reviewer, rules_of
from overview.models import AccessLog

OPEN_LIMIT = 200


@dataclass(frozen=True)
class TaskLine:
    """One task in a list: the access (time, user, action) and the task's state."""

    task: LogReviewTask
    round: LogReviewRound
    at: dt.datetime
    user_hsa_id: str
    user_name: str
    action: str
    resource_type: str
    reasons: tuple[Why, ...]

    def overdue(self, now: dt.datetime) -> bool:
        """True when the round's deadline passed with this task open."""
        return self.task.outcome == Outcome.OPEN and self.round.deadline <= now


@dataclass(frozen=True)
class UnitWork:
    """A reviewer's view of one unit: open tasks, recent rounds (with open counts), monthly summaries."""

    unit: ReviewUnit
    open_total: int
    open_tasks: list[TaskLine]
    rounds: list[tuple[LogReviewRound, int]]
    summaries: list[LogReviewSummary]


@dataclass(frozen=True)
class RoundDocumentation:
    """A round as documented: its numbers, every task with its outcome, who decided, and the decision history."""

    round: LogReviewRound
    tasks: list[TaskLine]
    outcomes: dict[str, int]
    reviewers: list[str]
    history: list[LogReviewDecision]
    rules: tuple[Why, ...]  # the rules that always picked (as the round recorded them)
    reasons: dict[Why, int]  # tasks per reason (a task may count under several)


class _Names:
    """Display names of users, looked up once each."""

    def __init__(self, directory: Directory):
        self.directory = directory
        self.cache: dict[str, str] = {}

    def __call__(self, hsa_id: str) -> str:
        if hsa_id not in self.cache:
            person = self.directory.find_person(hsa_id)
            self.cache[hsa_id] = person.name if person else ""
        return self.cache[hsa_id]


def _lines(session: Session, names: _Names, query) -> list[TaskLine]:
    rows = session.exec(query).all()
    return [TaskLine(task, round_, log.at, log.user_hsa_id, names(log.user_hsa_id), log.action, log.resource_type,
                     reasons_of(task)) for task, round_, log in rows]


def flagged_first():
    """Order term: tasks a patient flagged before all others (then the caller's order)."""
    return case((col(LogReviewTask.reasons).contains(Why.PATIENT_FLAG.value), 0), else_=1)


def _joined():
    return (select(LogReviewTask, LogReviewRound, AccessLog)
            .join(LogReviewRound, col(LogReviewRound.id) == LogReviewTask.round_id)
            .join(AccessLog, col(AccessLog.seq) == LogReviewTask.log_seq))


def work_of(*, session: Session, directory: Directory, reviewer_hsa_id: str, now: dt.datetime,
            rounds: int = 31) -> list[UnitWork]:
    """Every unit the person reviews, with its open tasks (oldest deadline first) and latest rounds."""
    names = _Names(directory)
    found = []
    for unit in reviewable_units(session, directory, reviewer_hsa_id, now):
        open_filter = (LogReviewRound.unit_hsa_id == unit.hsa_id, LogReviewTask.outcome == Outcome.OPEN)
        total = session.exec(select(func.count()).select_from(LogReviewTask).join(
            LogReviewRound, col(LogReviewRound.id) == LogReviewTask.round_id).where(*open_filter)).one()
        tasks = _lines(session, names, _joined().where(*open_filter).order_by(
            flagged_first(), col(LogReviewRound.deadline), col(AccessLog.seq)).limit(OPEN_LIMIT))
        latest = list(session.exec(select(LogReviewRound).where(LogReviewRound.unit_hsa_id == unit.hsa_id)
                                   .order_by(col(LogReviewRound.day).desc()).limit(rounds)).all())
        counts = open_task_counts(session, [r.id for r in latest if r.id is not None])
        found.append(UnitWork(unit, int(total), tasks, [(r, counts.get(r.id or 0, 0)) for r in latest],
                              summaries_of(session, unit.hsa_id)))
    return found


def documentation(*, session: Session, directory: Directory, round_id: int, reviewer_hsa_id: str,
                  now: dt.datetime) -> RoundDocumentation:
    """A round's documentation (reviewers of its unit only)."""
    round_ = session.get(LogReviewRound, round_id)
    if round_ is None:
        raise NotFound("Granskningsomgången finns inte.")
    require_reviewer(session, directory, round_.unit_hsa_id, reviewer_hsa_id, now)
    tasks = _lines(session, _Names(directory), _joined().where(LogReviewTask.round_id == round_id)
                   .order_by(col(AccessLog.seq)))
    history = list(session.exec(select(LogReviewDecision).where(
        col(LogReviewDecision.task_id).in_([t.task.id for t in tasks])).order_by(col(LogReviewDecision.id))).all())
    return RoundDocumentation(round_, tasks, dict(Counter(t.task.outcome for t in tasks)),
                              sorted({h.decided_by_name for h in history}), history, rules_of(round_),
                              dict(Counter(why for t in tasks for why in t.reasons)))


def next_open_task(session: Session, round_id: int) -> int | None:
    """The round's next open task, in log order."""
    return session.exec(select(LogReviewTask.id).where(
        LogReviewTask.round_id == round_id, LogReviewTask.outcome == Outcome.OPEN)
        .order_by(col(LogReviewTask.log_seq))).first()
