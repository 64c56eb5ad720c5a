"""Massbeslut: a decision on many items that a person starts in the web (approve the orders ticked on the dashboard,
a behörighetskontroll that removes many members), recorded as one job and carried out item by item in the background.

The route validates and records the job (`start_approvals`, `start_removals`), commits and hands the id to a
background task; that task, or the sweep when it never ran, calls `decide_next` until the job is finished. Each item
is decided in its own transaction together with the job's count (a conditional UPDATE on ``done``, taken first), so
an item is decided once however many runners there are, and a crash loses no item and repeats none. The progress
page reads the job and the states of the orders it approved (`progress`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, update
from sqlmodel import Field, Session, SQLModel, col, select

from catalog import Directory
from kernel.errors import DomainError
from kernel.sqltypes import hsa_id_field, rowcount, stored_id, stored_ids
from provisioning import decisions
from provisioning.authz import Actor, load_actor, require_approver
from provisioning.config import ProvisioningConfig
from provisioning.errors import InvalidInput, NotFound
from provisioning.models import Order, OrderState, _enum, _utc
from provisioning.recertification import decisions as review
from provisioning.recertification.common import ReviewConfig
from provisioning.recertification.models import ItemDecision, RecertificationItem
from provisioning.states import AUTOMATED, AWAITING_PERSON

MAX_ITEMS = 500
BACKGROUND_REMOVALS = 20  # a behörighetskontroll removing more members than this runs as a job
STALLED_AFTER = dt.timedelta(minutes=2)


class BulkKind(StrEnum):
    APPROVE_ORDERS = "approve_orders"  # "Godkänn markerade" on the dashboard
    REVIEW_DECISIONS = "review_decisions"  # a behörighetskontroll's decisions with many removals


class BulkJob(SQLModel, table=True):
    """One massbeslut: who asked for what, how far it has come and what did not go through."""

    __tablename__ = "bulk_jobs"

    id: int | None = Field(default=None, primary_key=True)
    kind: BulkKind = _enum(BulkKind, nullable=False)
    actor_hsa_id: str = hsa_id_field(nullable=False, index=True)
    actor_name: str = Field(max_length=200)
    round_id: int | None = Field(default=None, foreign_key="recertification_rounds.id")
    # approvals: {"reference", "stage"}; review decisions: {"item_id", "confirm", "reason"}
    items: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    done: int = 0  # items handled (decided or refused), in order
    failed: int = 0
    problems: list[str] = Field(sa_column=Column(JSON, nullable=False))  # one Swedish sentence per refused item
    approved: list[int] = Field(sa_column=Column(JSON, nullable=False))  # the orders this job approved
    created_at: dt.datetime = _utc(nullable=False)
    updated_at: dt.datetime = _utc(nullable=False)  # the last item handled (the sweep resumes a silent job)
    finished_at: dt.datetime | None = _utc(nullable=True, index=True)  # every item handled


# ---------------------------------------------------------------------- starting
def start_approvals(*, session: Session, actor: Actor, orders: list[tuple[str, str | None]],
                    now: dt.datetime) -> BulkJob:
    """Record a job approving ``orders`` (reference, the stage the approver saw), each once, in the order given."""
    require_approver(actor)
    unique = list(dict.fromkeys(reference for reference, _stage in orders))
    if not unique:
        raise InvalidInput("order", "Markera minst en beställning.")
    if len(unique) > MAX_ITEMS:
        raise InvalidInput("order", f"Du markerade {len(unique)} beställningar; högst {MAX_ITEMS} kan godkännas "
                                    "åt gången. Inget har godkänts.")
    stages = dict(orders)
    return _record(session, actor, BulkKind.APPROVE_ORDERS, [{"reference": r, "stage": stages[r]} for r in unique],
                   now=now)


def runs_in_background(choices: list[review.Choice]) -> bool:
    """A behörighetskontroll's decisions go to a job when they remove many members (each removal writes LDAP)."""
    return sum(1 for c in choices if not c.confirm) > BACKGROUND_REMOVALS


def start_review_decisions(*, session: Session, actor: Actor, round_id: int, choices: list[review.Choice],
                           now: dt.datetime) -> BulkJob:
    """Check a behörighetskontroll's decisions as a whole (as `review.decide` does) and record them as a job."""
    review.check(session=session, actor=actor, round_id=round_id, choices=choices, now=now)
    items = [{"item_id": c.item_id, "confirm": c.confirm, "reason": c.reason} for c in choices]
    return _record(session, actor, BulkKind.REVIEW_DECISIONS, items, now=now, round_id=round_id)


def _record(session: Session, actor: Actor, kind: BulkKind, items: list[dict[str, Any]], *, now: dt.datetime,
            round_id: int | None = None) -> BulkJob:
    job = BulkJob(kind=kind, actor_hsa_id=actor.hsa_id, actor_name=actor.name, round_id=round_id, items=items,
                  problems=[], approved=[], created_at=now, updated_at=now)
    session.add(job)
    session.flush()
    return job


# ---------------------------------------------------------------------- carrying out
@dataclass(frozen=True)
class Step:
    """What one `decide_next` did: ``more`` while items remain for this runner; whether it handled an item (decided
    or refused it); the order it approved."""

    more: bool
    handled: bool = False
    approved_order_id: int | None = None


def decide_next(*, session: Session, directory: Directory, config: ProvisioningConfig, review_config: ReviewConfig,
                job_id: int, now: dt.datetime) -> Step:
    """Decide the job's next item in the caller's transaction; a refusal becomes the item's problem sentence."""
    job = session.get(BulkJob, job_id)
    if job is None or job.finished_at is not None:
        return Step(more=False)
    index = job.done
    claimed = session.execute(update(BulkJob).where(col(BulkJob.id) == job_id, col(BulkJob.done) == index,
                                                    col(BulkJob.finished_at).is_(None))
                              .values(done=index + 1, updated_at=now).execution_options(synchronize_session=False))
    if rowcount(claimed) != 1:  # another runner has this job
        return Step(more=False)
    item = job.items[index]
    approved, problem = None, None
    try:  # a savepoint: a refused decision takes its writes with it and keeps the claim
        with session.begin_nested():
            actor = load_actor(directory, session, job.actor_hsa_id, now=now)
            if actor is None:
                raise NotFound(f"{job.actor_name} kan inte längre logga in; inget beslut fattades.")
            if job.kind is BulkKind.APPROVE_ORDERS:
                approved = _approve(session, directory, config, actor, item, now)
            else:
                problem = _review(session, directory, review_config, actor, job, item, now)
    except DomainError as exc:
        problem = f"{_label(session, job, item)}: {exc.message}"
    session.refresh(job)
    values: dict[str, object] = {"finished_at": now} if index + 1 == len(job.items) else {}
    if problem:
        values |= {"failed": job.failed + 1, "problems": [*job.problems, problem]}
    if approved is not None:
        values["approved"] = [*job.approved, approved]
    if values:
        session.execute(update(BulkJob).where(col(BulkJob.id) == job_id).values(values)
                        .execution_options(synchronize_session=False))
    return Step(more=index + 1 < len(job.items), handled=True, approved_order_id=approved)


def _approve(session: Session, directory: Directory, config: ProvisioningConfig, actor: Actor,
             item: dict[str, Any], now: dt.datetime) -> int:
    order = decisions.get_order(session, actor, str(item["reference"]))
    stage = item.get("stage")
    decisions.decide(session=session, directory=directory, config=config, actor=actor, order_id=stored_id(order),
                     approve=True, reason=None, now=now,
                     expected_stage=OrderState(stage) if stage in set(OrderState) else None)
    return stored_id(order)


def _review(session: Session, directory: Directory, config: ReviewConfig, actor: Actor, job: BulkJob,
            item: dict[str, Any], now: dt.datetime) -> str | None:
    round_id = job.round_id
    assert round_id is not None  # a review job always names its round
    choice = review.Choice(int(item["item_id"]), bool(item["confirm"]), item.get("reason"))
    report = review.decide(session=session, directory=directory, config=config, actor=actor, round_id=round_id,
                           choices=[choice], now=now)
    return "; ".join(report.already) or None


def _label(session: Session, job: BulkJob, item: dict[str, Any]) -> str:
    if job.kind is BulkKind.APPROVE_ORDERS:
        return str(item["reference"])
    found = session.get(RecertificationItem, int(item["item_id"]))
    return found.person_name if found else f"Rad {item['item_id']}"


def stalled_jobs(session: Session, *, now: dt.datetime) -> list[int]:
    """Unfinished jobs nobody moved for a while (their task was lost or Prefect was down): the sweep resumes them."""
    return stored_ids(session.exec(select(BulkJob.id).where(col(BulkJob.finished_at).is_(None),
                                                            col(BulkJob.updated_at) <= now - STALLED_AFTER)
                                   .order_by(col(BulkJob.id))).all())


# ---------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Progress:
    """How far a job has come, for its page and the JSON API (precomputed for the template)."""

    job: BulkJob
    total: int
    decided: int
    failed: int
    provisioned: int  # approved orders in Skånekatalogen
    provisioning_failed: int
    onward: int  # approved at one stage, now in the next approver's queue
    waiting: int  # approved orders whose automated steps still run
    removed: int  # members a behörighetskontroll job removed

    @property
    def finished(self) -> bool:
        """Every item decided and every approved order in a state where this job has nothing more to wait for."""
        return self.job.finished_at is not None and self.waiting == 0

    @property
    def steps(self) -> tuple[int, int]:
        """(value, max) of the progress bar: an approval counts once decided and once settled."""
        if self.job.kind is BulkKind.REVIEW_DECISIONS:
            return self.decided, self.total
        settled = self.decided - self.waiting
        return self.decided + settled, 2 * self.total


def get_job(session: Session, actor: Actor, job_id: int) -> BulkJob:
    """A job of the actor's (system administrators see every one); NotFound otherwise, existence not revealed."""
    job = session.get(BulkJob, job_id)
    if job is None or not (job.actor_hsa_id == actor.hsa_id or actor.is_system_admin):
        raise NotFound(f"Massbeslutet {job_id} finns inte eller är inte ditt.")
    return job


def progress(session: Session, job: BulkJob) -> Progress:
    """The job's counts, with the approved orders' states read now."""
    states = session.exec(select(Order.state).where(col(Order.id).in_(job.approved))).all() if job.approved else []
    removals = [int(i["item_id"]) for i in job.items if job.kind is BulkKind.REVIEW_DECISIONS and not i["confirm"]]
    removed = len(session.exec(select(RecertificationItem.id).where(
        col(RecertificationItem.id).in_(removals), RecertificationItem.decision == ItemDecision.REMOVED)).all()
    ) if removals else 0
    return Progress(job=job, total=len(job.items), decided=job.done, failed=job.failed,
                    provisioned=sum(1 for s in states if s is OrderState.PROVISIONED),
                    provisioning_failed=sum(1 for s in states if s is OrderState.PROVISIONING_FAILED),
                    onward=sum(1 for s in states if s in AWAITING_PERSON),
                    waiting=sum(1 for s in states if s in AUTOMATED), removed=removed)
