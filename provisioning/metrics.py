"""The order figures of the operations dashboard (driftöversikt): lead time per queue and stage, overdue orders,
orders per week, provisioning failures, and recertification completion per unit.

Every figure is computed from the rows as they are (orders, their audit rows, the recertification rounds) for one
*view*: NPÖ-förvaltningen sees every queue, an approver only the queues they work in (``View.of``). Times are read
from the audit rows, which every transition writes (provisioning.states): a *stage visit* begins with the audit row
that moved the order into an awaiting state and ends with the one that moved it on by a decision (approve or
reject; for a failed provisioning: retry or cancel). Withdrawals are not the queue's time and are left out. Counting
and grouping happen in SQL; the percentiles in Python over at most the window's rows (kernel.figures).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from catalog.model import RoleName
from kernel.figures import WINDOW_DAYS, UnitCompletion, Week, iso_weeks, median, nearest_rank, week_of
from provisioning.authz import Actor
from provisioning.models import AuditEvent, Order, OrderKind, OrderState, Route
from provisioning.recertification.models import ItemDecision, RecertificationItem, RecertificationRound
from provisioning.routing import QUEUE_LABELS, queue_for, queues_on_route
from provisioning.states import AWAITING_PERSON, Event

S = OrderState
STAGES = (S.AWAITING_CONTRACT_MANAGER, S.AWAITING_CATALOG_ADMIN, S.AWAITING_USER_ADMIN, S.PROVISIONING_FAILED)
STAGE_LABELS = {S.AWAITING_CONTRACT_MANAGER: "avtalsprövning", S.AWAITING_CATALOG_ADMIN: "uppläggning av uppdrag",
                S.AWAITING_USER_ADMIN: "behörighet för medarbetare", S.PROVISIONING_FAILED: "åtgärd efter fel"}
ENDS_A_STAGE = (Event.APPROVE.value, Event.REJECT.value, Event.RETRY.value, Event.CANCEL.value)
MAX_VISITS = 100_000  # a bound on what one page reads: 90 days of a region's orders are a few thousand
RECERT_WINDOW_DAYS = 365  # recertification is yearly: each unit's latest round of the last year


@dataclass(frozen=True)
class View:
    """Whose figures: every queue (``everything``, NPÖ-förvaltningen) or the viewer's own ``queues``; per-unit
    figures for every unit (``units`` None) or the units the viewer administers."""

    everything: bool
    queues: frozenset[tuple[RoleName, str | None]]

    @classmethod
    def of(cls, actor: Actor) -> View:
        """The förvaltning sees everything; an approver their queues (actor.queues, as the dashboard lists them)."""
        return cls(actor.is_system_admin, frozenset(actor.queues))

    def sees(self, role: RoleName, scope: str | None) -> bool:
        """True when the queue (for that unit) is the viewer's; an unscoped role covers every unit."""
        return self.everything or (role, scope) in self.queues or (role, None) in self.queues

    def sees_order(self, kind: OrderKind, route: Route, unit_hsa_id: str) -> bool:
        """True when the order passes through one of the viewer's queues."""
        return self.everything or any(self.sees(role, scope)
                                      for role, scope in queues_on_route(kind, route, unit_hsa_id))

    @property
    def units(self) -> frozenset[str] | None:
        """Units whose review figures the viewer sees: all (None) for the förvaltning, else the units of their
        scoped catalog-administrator queues (none for the other queues, which administer no unit's members)."""
        if self.everything or (RoleName.UNIT_CATALOG_ADMIN, None) in self.queues:
            return None
        return frozenset(scope for role, scope in self.queues if role is RoleName.UNIT_CATALOG_ADMIN and scope)

    def roles(self) -> list[RoleName]:
        """The approver queues of the view, in the dashboard's order (the förvaltning's own last)."""
        return [role for role in QUEUE_LABELS if self.everything or any(r is role for r, _s in self.queues)]


@dataclass(frozen=True)
class LeadTime:
    """How long one queue's stage took over the window: ``count`` visits, median and p90 in days."""

    role: RoleName
    stage: OrderState
    label: str
    count: int
    median_days: float
    p90_days: float


@dataclass(frozen=True)
class QueueLoad:
    """A queue now: orders waiting for a person, and how many of them are past their deadline."""

    role: RoleName
    label: str
    waiting: int
    overdue: int


@dataclass(frozen=True)
class WeekCount:
    """One ISO week's submitted orders by kind (or failures, in ``commission`` + ``membership``)."""

    week: Week
    commission: int
    membership: int

    @property
    def total(self) -> int:
        """Both kinds."""
        return self.commission + self.membership


@dataclass(frozen=True)
class Failures:
    """Provisioning failures per week (each failed attempt that went to NPÖ-förvaltningen) and those open now."""

    weeks: list[WeekCount]
    open_now: int


def queue_label(role: RoleName, stage: OrderState | None = None) -> str:
    """The queue's Swedish name, with the stage when one queue has several."""
    return QUEUE_LABELS[role] + (f" – {STAGE_LABELS[stage]}" if stage is not None else "")


def lead_times(session: Session, view: View, *, now: dt.datetime, days: int = WINDOW_DAYS) -> list[LeadTime]:
    """Median and p90 of the stage visits that ended in the last ``days`` days, per queue and stage."""
    entered = aliased(AuditEvent)
    began = (select(func.max(col(entered.at)))
             .where(col(entered.order_id) == col(AuditEvent.order_id),
                    col(entered.to_state) == col(AuditEvent.from_state), col(entered.at) <= col(AuditEvent.at))
             .scalar_subquery())
    rows = session.execute(
        select(col(AuditEvent.from_state), col(AuditEvent.at), began, col(Order.kind), col(Order.route),
               col(Order.unit_hsa_id))
        .join(Order, col(Order.id) == AuditEvent.order_id)
        .where(col(AuditEvent.at) > now - dt.timedelta(days=days), col(AuditEvent.at) <= now,
               col(AuditEvent.from_state).in_([s.value for s in STAGES]),
               col(AuditEvent.event).in_(ENDS_A_STAGE)).limit(MAX_VISITS)).all()
    spent: dict[tuple[RoleName, OrderState], list[float]] = defaultdict(list)
    for stage, left, start, kind, route, unit in rows:
        if start is None:
            continue
        role, scope = queue_for(kind, stage, route, unit)
        if view.sees(role, scope):
            spent[(role, stage)].append((left - start).total_seconds() / 86400)
    order = {role: i for i, role in enumerate(QUEUE_LABELS)}
    return [LeadTime(role, stage, queue_label(role, stage if role is RoleName.SYSTEM_ADMIN else None), len(values),
                     median(values), nearest_rank(values, 90))
            for (role, stage), values in sorted(spent.items(), key=lambda kv: (order[kv[0][0]], kv[0][1].value))]


def queue_loads(session: Session, view: View, *, now: dt.datetime) -> list[QueueLoad]:
    """Per queue of the view: orders waiting for a person now and those past their deadline (zeros included)."""
    rows = session.execute(
        select(col(Order.queue), col(Order.queue_scope), func.count(),
               func.sum(case((col(Order.due_at) < now, 1), else_=0)))
        .where(col(Order.state).in_([s.value for s in AWAITING_PERSON]))
        .group_by(col(Order.queue), col(Order.queue_scope))).all()
    waiting: dict[RoleName, list[int]] = {role: [0, 0] for role in view.roles() if role is not RoleName.SYSTEM_ADMIN}
    for queue, scope, count, late in rows:
        try:
            role = RoleName(queue)
        except ValueError:
            continue
        if role in waiting and view.sees(role, scope):
            waiting[role][0] += count
            waiting[role][1] += int(late or 0)
    return [QueueLoad(role, queue_label(role), n, late) for role, (n, late) in waiting.items()]


def orders_per_week(session: Session, view: View, *, now: dt.datetime) -> list[WeekCount]:
    """Orders submitted per ISO week (this week and the twelve before), commissions and memberships apart."""
    weeks = iso_weeks(now)
    rows = session.execute(select(col(Order.submitted_at), col(Order.kind), col(Order.route), col(Order.unit_hsa_id))
                           .where(col(Order.submitted_at) >= weeks[0].start, col(Order.submitted_at) <= now)).all()
    return _per_week(weeks, ((at, kind) for at, kind, route, unit in rows if view.sees_order(kind, route, unit)))


def failures(session: Session, view: View, *, now: dt.datetime) -> Failures:
    """Failed provisioning attempts per ISO week, and the orders whose provisioning has failed and waits now."""
    weeks = iso_weeks(now)
    rows = session.execute(select(col(AuditEvent.at), col(Order.kind), col(Order.route), col(Order.unit_hsa_id))
                           .join(Order, col(Order.id) == AuditEvent.order_id)
                           .where(col(AuditEvent.event) == Event.FAIL.value, col(AuditEvent.at) >= weeks[0].start,
                                  col(AuditEvent.at) <= now)).all()
    per_week = _per_week(weeks, ((at, kind) for at, kind, route, unit in rows if view.sees_order(kind, route, unit)))
    failed = session.execute(select(col(Order.kind), col(Order.route), col(Order.unit_hsa_id))
                             .where(col(Order.state) == S.PROVISIONING_FAILED)).all()
    return Failures(per_week, sum(1 for kind, route, unit in failed if view.sees_order(kind, route, unit)))


def _per_week(weeks: list[Week], rows: Iterable[tuple[dt.datetime, OrderKind]]) -> list[WeekCount]:
    counts = [[0, 0] for _ in weeks]
    for at, kind in rows:
        index = week_of(weeks, at)
        if index is not None:
            counts[index][0 if kind is OrderKind.COMMISSION else 1] += 1
    return [WeekCount(week, c, m) for week, (c, m) in zip(weeks, counts, strict=True)]


def recertification_completion(session: Session, view: View, *, now: dt.datetime,
                               days: int = RECERT_WINDOW_DAYS) -> list[UnitCompletion]:
    """Each unit's latest behörighetskontroll opened in the last ``days`` days: members decided, still open, and
    missed (lapsed, or pending past the deadline). A member who left before anyone decided (ended) is not counted."""
    units = view.units
    if units is not None and not units:
        return []
    latest = (select(func.max(RecertificationRound.id))
              .where(col(RecertificationRound.opened_at) > now - dt.timedelta(days=days),
                     col(RecertificationRound.opened_at) <= now)
              .group_by(col(RecertificationRound.unit_hsa_id)))
    if units is not None:
        latest = latest.where(col(RecertificationRound.unit_hsa_id).in_(sorted(units)))
    rows = session.execute(
        select(col(RecertificationRound.unit_hsa_id), col(RecertificationRound.unit_name),
               col(RecertificationRound.deadline), col(RecertificationItem.decision), func.count())
        .join(RecertificationItem, col(RecertificationItem.round_id) == RecertificationRound.id)
        .where(col(RecertificationRound.id).in_(latest))
        .group_by(col(RecertificationRound.id), col(RecertificationItem.decision))).all()
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # done, open, missed
    for unit, name, deadline, decision, count in rows:
        counts = tally[(unit, name)]
        if decision in (ItemDecision.CONFIRMED, ItemDecision.REMOVED):
            counts[0] += count
        elif decision is ItemDecision.PENDING and deadline > now:
            counts[1] += count
        elif decision in (ItemDecision.PENDING, ItemDecision.LAPSED):
            counts[2] += count
    return sorted((UnitCompletion(unit, name, 1, sum(c), *c) for (unit, name), c in tally.items()),
                  key=lambda u: (u.share if u.share is not None else 101, u.unit_name))
