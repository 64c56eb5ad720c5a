"""A plausible 90 days of history for the demo, so the driftöversikt has something to show on the first start.

``load(session, catalog, seed=S, now=T)`` writes, for the 90 days before ``now``: commission and membership orders
on both routes with their audit rows and decisions (lead times that differ per queue, about one in ten rejected,
a few withdrawn, a few provisioning failures that NPÖ-förvaltningen retried and two still open, and recent orders
still in their queues, some past their deadline); behörighetskontroller of a dozen units (the closed ones complete,
the open ones partly decided); and log follow-up rounds of eight units over the accesses of a few demo staff, partly
judged. The same seed and day give the same history (``random.Random(seed)``).

It is written as rows, the way the test builders write them, not through the services: the services take the time
from the moment they run and write the directory. It never touches the directory, so its orders stay on units
outside the cast (the journeys and guides start from a known state), an order still waiting asks for something the
directory does not have yet, and a recertification round lists the unit's current members. The history belongs to a
fresh demo: a database that already has orders gets none (so a second load adds nothing).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from catalog.directory import derived_commission_id
from catalog.model import CareUnit, Person, RoleName
from demo.organisation import CAST, SKANE, DemoCatalog
from kernel.clock import STOCKHOLM, local_date, local_midnight
from kernel.review import deadline_after
from overview import accesslog
from overview.accesslog import Action, LogEntry, Resource
from overview.logreview.models import LogReviewDecision, LogReviewRound, LogReviewTask
from overview.models import Patient
from provisioning.models import (
    AuditEvent,
    Decision,
    LineAction,
    Order,
    OrderKind,
    OrderLine,
    OrderState,
    Outcome,
    Route,
)
from provisioning.recertification.models import (
    CommissionReviewEvent,
    ItemDecision,
    RecertificationItem,
    RecertificationRound,
    ReviewEventKind,
    RoundState,
    RoundTrigger,
)
from provisioning.routing import due_at, queue_for, remind_at

S = OrderState
DAYS = 90
CAST_UNITS = {m.unit_hsa_id for m in CAST} | {u for m in CAST for u in m.manages}
# median days a queue takes to decide (lognormal around it), so the chart shows queues apart
MEDIAN_DAYS = {RoleName.SKANEFORVALTNINGEN: 1.2, RoleName.CONTRACT_MANAGER: 3.0, RoleName.VARDGIVARSERVICE: 1.8,
               RoleName.IT_KUNDTJANST_PRIVATA: 0.8, RoleName.UNIT_CATALOG_ADMIN: 2.2}
DECIDERS = {RoleName.SKANEFORVALTNINGEN: "SKF1", RoleName.CONTRACT_MANAGER: "KK1", RoleName.VARDGIVARSERVICE: "VGS1",
            RoleName.IT_KUNDTJANST_PRIVATA: "ITKP1", RoleName.SYSTEM_ADMIN: "ADM1"}
REJECTIONS = ("Vårdavtalet omfattar inte enheten.", "Medarbetaren arbetar inte längre på enheten.",
              "Beställningen saknar motivering för behovet.")
MINUTE = dt.timedelta(minutes=1)
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # as provisioning.ordering's references


@dataclass
class HistoryReport:
    """What one load wrote (all zeros when the database already had orders)."""

    orders: int = 0
    recertification_rounds: int = 0
    log_review_rounds: int = 0


class _Writer:
    """The demo's people and units, a seeded random, and the rows of one order's history."""

    def __init__(self, session: Session, catalog: DemoCatalog, seed: int, now: dt.datetime):
        self.session, self.catalog, self.now, self.rng = session, catalog, now, random.Random(seed)
        self.people = {p.hsa_id: p for p in catalog.persons}
        self.admins = {r.scope: r.members for r in catalog.roles if r.name is RoleName.UNIT_CATALOG_ADMIN}
        held = {c.unit_hsa_id for c in catalog.commissions}
        units = [u for u in catalog.units if u.hsa_id not in CAST_UNITS and u.kind != "förvaltning"
                 and u.manager_hsa_id and (u.provider_hsa_id == SKANE or u.care_agreement)]
        self.with_commission = [u for u in units if u.hsa_id in held]
        self.without = [u for u in units if u.hsa_id not in held]
        self.providers = {p.hsa_id: p.name for p in catalog.providers}
        self.members: dict[str, list[Person]] = {}  # unit → members of its VoB SJF now
        self.member_since: dict[str, dt.datetime] = {}
        for m in catalog.memberships:
            person = self.people.get(m.person_hsa_id)
            if person and m.validity.contains(now):
                self.members.setdefault(person.unit_hsa_id or "", []).append(person)
                self.member_since[person.hsa_id] = m.validity.start
        self.staff: dict[str, list[Person]] = {}
        for person in catalog.persons:
            self.staff.setdefault(person.unit_hsa_id or "", []).append(person)
        self.references: set[str] = set()
        self.open_failures = 0

    def person(self, local: str) -> Person:
        return self.people[f"SE2321000255-{local}"]

    def reference(self, at: dt.datetime) -> str:
        while True:
            ref = f"NPO-{local_date(at):%y%m%d}-{''.join(self.rng.choice(ALPHABET) for _ in range(4))}"
            if ref not in self.references:
                self.references.add(ref)
                return ref

    def lead(self, role: RoleName) -> dt.timedelta:
        days = self.rng.lognormvariate(math.log(MEDIAN_DAYS[role]), 0.7)
        if self.rng.random() < 0.08:  # forgotten in the queue until the reminder and the escalation
            days *= 6
        return dt.timedelta(days=min(30.0, days))

    def decider(self, role: RoleName, unit_hsa_id: str) -> Person:
        if role is RoleName.UNIT_CATALOG_ADMIN:
            members = self.admins.get(unit_hsa_id) or ()
            if members and members[0] in self.people:
                return self.people[members[0]]
            return self.person("SKF1")
        return self.person(DECIDERS[role])


def load(session: Session, catalog: DemoCatalog, *, seed: int = 1, now: dt.datetime) -> HistoryReport:
    """Write the demo's 90-day history unless the database already has orders (idempotent)."""
    if session.exec(select(func.count()).select_from(Order)).one():
        return HistoryReport()
    writer = _Writer(session, catalog, seed, now)
    report = HistoryReport(orders=_orders(writer))
    report.recertification_rounds = _recertification(writer)
    report.log_review_rounds = _log_review(writer)
    session.flush()
    return report


# ---------------------------------------------------------------------- orders
def _submissions(w: _Writer) -> Iterator[dt.datetime]:
    """Submission times: one to four orders on most Swedish business days of the window, in office hours."""
    for back in range(DAYS, -1, -1):
        day = local_date(w.now) - dt.timedelta(days=back)
        if day.weekday() >= 5:
            continue
        for _ in range(w.rng.choice((0, 1, 1, 2, 2, 3, 4))):
            at = local_midnight(day) + dt.timedelta(hours=w.rng.uniform(7.5, 16.5))
            if at < w.now:
                yield at


def _orders(w: _Writer) -> int:
    count, pending_units = 0, set()
    staffed = [u for u in w.with_commission if len(w.staff.get(u.hsa_id, [])) > 1]
    for at in _submissions(w):
        kind = OrderKind.COMMISSION if w.rng.random() < 0.25 or not staffed else OrderKind.MEMBERSHIP
        choices = ([u for u in w.with_commission + w.without if u.hsa_id not in pending_units]
                   if kind is OrderKind.COMMISSION else staffed)
        private = [u for u in choices if u.provider_hsa_id != SKANE]
        if private and w.rng.random() < 0.3:  # hälsoval units are few but order as often as the region's
            choices = private
        if not choices:  # a demo too small to have units outside the cast
            continue
        unit = w.rng.choice(choices)
        waiting = _order(w, kind, unit, at, holds=unit in w.with_commission)
        if waiting and kind is OrderKind.COMMISSION:
            pending_units.add(unit.hsa_id)
        count += 1
    return count + _waiting(w, pending_units)


def _waiting(w: _Writer, pending_units: set[str]) -> int:
    """Orders in each queue now, so every queue has some: one past its deadline, one that came in yesterday."""
    made = 0
    for kind, route in ((OrderKind.COMMISSION, Route.PUBLIC), (OrderKind.COMMISSION, Route.PRIVATE),
                        (OrderKind.MEMBERSHIP, Route.PUBLIC), (OrderKind.MEMBERSHIP, Route.PRIVATE)):
        public = route is Route.PUBLIC
        units = [u for u in (w.without if kind is OrderKind.COMMISSION else w.with_commission)
                 if (u.provider_hsa_id == SKANE) == public and u.hsa_id not in pending_units
                 and len(w.staff.get(u.hsa_id, [])) > 1]
        for days in (9, 1):
            if not units:
                break
            unit = units.pop(w.rng.randrange(len(units)))
            at = local_midnight(local_date(w.now) - dt.timedelta(days=days)) + dt.timedelta(hours=10)
            _order(w, kind, unit, at, holds=kind is OrderKind.MEMBERSHIP, stuck=True)
            pending_units.add(unit.hsa_id)
            made += 1
    return made


def _order(w: _Writer, kind: OrderKind, unit: CareUnit, at: dt.datetime, *, holds: bool, stuck: bool = False) -> bool:
    """One order and its history; True when it still waits in a queue."""
    route = Route.PUBLIC if unit.provider_hsa_id == SKANE else Route.PRIVATE
    manager = w.people[unit.manager_hsa_id or ""]
    order = Order(reference=w.reference(at), kind=kind, unit_hsa_id=unit.hsa_id, unit_name=unit.name,
                  provider_hsa_id=unit.provider_hsa_id, provider_name=w.providers[unit.provider_hsa_id],
                  route=route, requested_by=manager.hsa_id, requested_by_name=manager.name,
                  justification="Patienter från andra regioner och privata vårdgivare söker vård hos oss; vi behöver "
                                "se deras journaler i NPÖ.", contact_name=manager.name, contact_phone="040-33 10 00",
                  contact_email=manager.mail or "demo@skane.example", requested_start=local_date(at) +
                  dt.timedelta(days=7), care_agreement_reference=unit.care_agreement if route is Route.PRIVATE
                  and kind is OrderKind.COMMISSION else None, submitted_at=at, state=S.SUBMITTED, state_since=at)
    w.session.add(order)
    w.session.flush()
    if kind is OrderKind.MEMBERSHIP:
        members = {p.hsa_id for p in w.members.get(unit.hsa_id, [])}
        staff = [p for p in w.staff[unit.hsa_id] if p.hsa_id != manager.hsa_id]
        for person in w.rng.sample(staff, min(len(staff), w.rng.randint(1, 3))):
            w.session.add(OrderLine(order_id=order.id or 0, action=LineAction.ADD if person.hsa_id not in members
                                    else LineAction.CHANGE_VALIDITY, person_hsa_id=person.hsa_id,
                                    person_name=person.name, person_mail=person.mail,
                                    valid_from=order.requested_start))
    history = _History(w, order, at)
    history.step(manager.hsa_id, manager.name, "submit", None, S.SUBMITTED, at)
    stages = ([S.AWAITING_USER_ADMIN] if kind is OrderKind.MEMBERSHIP else
              [S.AWAITING_CONTRACT_MANAGER, S.AWAITING_CATALOG_ADMIN] if route is Route.PRIVATE
              else [S.AWAITING_CATALOG_ADMIN])
    entered = at + MINUTE
    history.step("system", "system", f"route_{route.value}", S.SUBMITTED, stages[0], entered)
    for index, stage in enumerate(stages):
        role, scope = queue_for(kind, stage, route, unit.hsa_id)
        decided = w.now if stuck else entered + w.lead(role)
        if kind is OrderKind.COMMISSION and not holds and stage is stages[-1]:
            decided += dt.timedelta(days=3)  # a unit without the commission: these wait longest and are refused
        if decided >= w.now:
            history.wait(stage, role, scope, entered)
            return True
        if w.rng.random() < 0.04 and index == 0:
            history.step(manager.hsa_id, manager.name, "withdraw", stage, S.WITHDRAWN, decided,
                         "Beställningen behövs inte längre.")
            return False
        person = w.decider(role, unit.hsa_id)
        last = index + 1 == len(stages)
        refuse = (kind is OrderKind.COMMISSION and not holds and last) or w.rng.random() < 0.08
        target = S.REJECTED if refuse else S.APPROVED if last else stages[index + 1]
        history.decide(person, stage, target, decided, w.rng.choice(REJECTIONS) if refuse else None)
        if refuse:
            return False
        entered = decided
    history.provision(entered)
    return False


class _History:
    """The audit rows, decisions and final workflow columns of one order."""

    def __init__(self, w: _Writer, order: Order, at: dt.datetime):
        self.w, self.order, self.state = w, order, S.SUBMITTED

    def step(self, actor: str, name: str, event: str, source: OrderState | None, target: OrderState,
             at: dt.datetime, reason: str | None = None) -> None:
        self.w.session.add(AuditEvent(order_id=self.order.id or 0, at=at, actor=actor, actor_name=name, event=event,
                                      from_state=source, to_state=target, reason=reason))
        self.order.state, self.order.state_since = target, at
        self.order.queue = self.order.queue_scope = self.order.due_at = None

    def decide(self, person: Person, stage: OrderState, target: OrderState, at: dt.datetime,
               reason: str | None) -> None:
        approve = target is not S.REJECTED
        self.w.session.add(Decision(order_id=self.order.id or 0, stage=stage, outcome=Outcome.APPROVED if approve else
                                    Outcome.REJECTED, decided_by=person.hsa_id, decided_by_name=person.name,
                                    reason=reason, decided_at=at))
        self.step(person.hsa_id, person.name, "approve" if approve else "reject", stage, target, at, reason)

    def wait(self, stage: OrderState, role: RoleName, scope: str | None, entered: dt.datetime) -> None:
        order, now = self.order, self.w.now
        order.queue, order.queue_scope, order.due_at = role.value, scope, due_at(entered)
        order.reminded_at = remind_at(entered) if now >= remind_at(entered) else None
        order.escalated_at = order.due_at if now >= order.due_at else None

    def provision(self, approved: dt.datetime) -> None:
        at = approved + MINUTE
        self.step("system", "system", "start_provisioning", S.APPROVED, S.PROVISIONING, at)
        recent = self.w.now - at < dt.timedelta(days=8)
        if self.w.rng.random() < 0.05 or (recent and self.w.open_failures < 2):
            # Skånekatalogen refused: the förvaltning retried it; the recent ones still wait for it (two at least)
            self.order.attempts = 3
            self.step("system", "system", "fail", S.PROVISIONING, S.PROVISIONING_FAILED, at + MINUTE,
                      "Skånekatalogen svarade: constraintViolation")
            fixed = at + dt.timedelta(hours=self.w.rng.uniform(2, 40))
            if recent or fixed >= self.w.now:
                self.order.queue, self.order.last_error = RoleName.SYSTEM_ADMIN.value, "constraintViolation"
                self.w.open_failures += 1
                return
            admin = self.w.person("ADM1")
            self.step(admin.hsa_id, admin.name, "retry", S.PROVISIONING_FAILED, S.PROVISIONING, fixed)
            at = fixed
        self.step("system", "system", "provisioned", S.PROVISIONING, S.PROVISIONED, at + MINUTE)
        self.order.attempts += 1


# ---------------------------------------------------------------------- behörighetskontroll
def _recertification(w: _Writer) -> int:
    """Rounds for a dozen units: closed ones complete, open ones (deadline ahead) partly decided."""
    units = [u for u in w.with_commission if u.provider_hsa_id == SKANE and w.members.get(u.hsa_id)]
    made = 0
    for unit in w.rng.sample(units, min(12, len(units))):
        opened = w.now - dt.timedelta(days=w.rng.randint(2, 45), hours=w.rng.randint(0, 8))
        deadline = deadline_after(opened, 10)
        closed = deadline <= w.now
        manager = w.people[unit.manager_hsa_id or ""]
        row = RecertificationRound(unit_hsa_id=unit.hsa_id, unit_name=unit.name,
                                   commission_hsa_id=derived_commission_id(unit.hsa_id),
                                   manager_hsa_id=manager.hsa_id, trigger=RoundTrigger.SCHEDULE, opened_by="system",
                                   opened_by_name="Behörighetskontroll (schema)", opened_at=opened, deadline=deadline,
                                   state=RoundState.CLOSED if closed else RoundState.OPEN,
                                   open_unit=None if closed else unit.hsa_id, closed_at=deadline if closed else None)
        w.session.add(row)
        w.session.flush()
        _review_event(w, f"round-opened:{row.id}", ReviewEventKind.ROUND_OPENED, opened, row, None, "system")
        share = 1.0 if closed else w.rng.uniform(0.1, 0.9)
        for person in w.members[unit.hsa_id]:
            decided = closed or w.rng.random() < share
            at = opened + (deadline - opened) * w.rng.uniform(0.05, 0.9 if closed else 0.2)
            item = RecertificationItem(round_id=row.id or 0, person_hsa_id=person.hsa_id, person_name=person.name,
                                       person_mail=person.mail, valid_from=w.member_since[person.hsa_id],
                                       decision=ItemDecision.CONFIRMED if decided else ItemDecision.PENDING,
                                       decided_by=manager.hsa_id if decided else None,
                                       decided_by_name=manager.name if decided else None,
                                       decided_at=at if decided else None)
            w.session.add(item)
            w.session.flush()
            if decided:
                _review_event(w, f"item-confirmed:{item.id}", ReviewEventKind.CONFIRMED, at, row, person.hsa_id,
                              manager.hsa_id)
        if closed:
            _review_event(w, f"round-closed:{row.id}", ReviewEventKind.ROUND_CLOSED, deadline, row, None, "system")
        made += 1
    return made


def _review_event(w: _Writer, key: str, kind: ReviewEventKind, at: dt.datetime, row: RecertificationRound,
                  person: str | None, actor: str) -> None:
    w.session.add(CommissionReviewEvent(key=key, at=at, kind=kind, unit_hsa_id=row.unit_hsa_id,
                                        commission_hsa_id=row.commission_hsa_id, person_hsa_id=person,
                                        round_id=row.id, actor=actor, actor_name=actor))


# ---------------------------------------------------------------------- log follow-up
def _log_review(w: _Writer) -> int:
    """Eight units' reads of demo patients on some days of the window, each day a round with a few picked
    accesses: older rounds mostly judged (a few left, so missed), recent ones partly. Needs the demo patients."""
    patients = list(w.session.exec(select(Patient.personnummer).order_by(col(Patient.personnummer)).limit(60)))
    units = [u for u in w.with_commission if u.provider_hsa_id == SKANE and len(w.members.get(u.hsa_id, [])) >= 2]
    if not patients or not units:
        return 0
    made = 0
    for unit in w.rng.sample(units, min(8, len(units))):
        manager = w.people[unit.manager_hsa_id or ""]
        for back in range(DAYS - 2, 1, -w.rng.randint(5, 9)):
            day = local_date(w.now) - dt.timedelta(days=back)
            made += _log_round(w, unit, manager, day, patients)
    # The rows are backdated, so a sealer would leave them outside the chain as foreign; they join it now, in
    # the caller's transaction (npo audit verify then finds the demo's log whole).
    while accesslog.seal(w.session, now=w.now, adopt_late=True).sealed:
        pass
    return made


def _log_round(w: _Writer, unit: CareUnit, manager: Person, day: dt.date, patients: list[str]) -> int:
    readers = w.members[unit.hsa_id]
    logged = []
    for _ in range(w.rng.randint(6, 20)):
        at = local_midnight(day) + dt.timedelta(hours=w.rng.choice((8, 9, 10, 11, 13, 14, 15, 22)),
                                                minutes=w.rng.randint(0, 59))
        logged.append(accesslog.append(w.session, LogEntry(
            at=at, user_hsa_id=w.rng.choice(readers).hsa_id, action=Action.READ, resource_type=Resource.OVERVIEW,
            commission_hsa_id=derived_commission_id(unit.hsa_id), care_unit_hsa_id=unit.hsa_id,
            care_unit_name=unit.name, care_provider_hsa_id=SKANE, care_provider_name="Region Skåne",
            patient_personnummer=w.rng.choice(patients), basis=("own_provider",), item_count=w.rng.randint(3, 40),
            relation="care_contact")))
    opened = local_midnight(day + dt.timedelta(days=1)) + dt.timedelta(hours=2)
    deadline = deadline_after(opened, 5)
    picked = w.rng.sample(logged, min(len(logged), w.rng.randint(2, 5)))
    row = LogReviewRound(unit_hsa_id=unit.hsa_id, unit_name=unit.name, provider_hsa_id=SKANE, day=day,
                         manager_hsa_id=manager.hsa_id, population=len(logged), random_count=len(picked),
                         sample_rule="Slumpvis urval (demo)", opened_at=opened, deadline=deadline)
    w.session.add(row)
    w.session.flush()
    judged: list[dt.datetime] = []
    share = 0.9 if deadline < w.now else w.rng.uniform(0.0, 0.7)
    for entry in picked:
        late = entry.at.astimezone(STOCKHOLM).hour >= 22
        task = LogReviewTask(round_id=row.id or 0, log_seq=entry.seq,
                             reasons="utanfor_kontorstid" if late else "slumpvis")
        if w.rng.random() < share:
            at = min(w.now - MINUTE, opened + dt.timedelta(days=w.rng.uniform(0.2, 4)))
            task.outcome, task.decided_by, task.decided_by_name = "justified", manager.hsa_id, manager.name
            task.decided_as, task.decided_at = "verksamhetschef", at
            judged.append(at)
        w.session.add(task)
        w.session.flush()
        if task.decided_at is not None:
            w.session.add(LogReviewDecision(task_id=task.id or 0, outcome="justified", decided_by=manager.hsa_id,
                                            decided_by_name=manager.name, decided_as="verksamhetschef",
                                            decided_at=task.decided_at))
    if len(judged) == len(picked):
        row.completed_at = max(judged)
    return 1
