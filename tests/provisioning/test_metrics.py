"""The order figures of the driftöversikt on hand-made orders with known times: exact medians and p90s, overdue
counts, weekly counts, failures, recertification completion, and who sees which queue."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlmodel import Session

from catalog.model import RoleName
from kernel.figures import iso_weeks, median, nearest_rank
from provisioning import metrics
from provisioning.authz import Actor
from provisioning.models import AuditEvent, Order, OrderKind, OrderState, Route
from provisioning.recertification.models import (
    ItemDecision,
    RecertificationItem,
    RecertificationRound,
    RoundState,
    RoundTrigger,
)
from provisioning.states import Event

S = OrderState
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)  # a Tuesday, ISO week 2026-W48
DAY = dt.timedelta(days=1)
U1, U2 = "SE2321000255-V1", "SE2321000255-V2"
_numbers = itertools.count(1)
Sessions = Callable[[], AbstractContextManager[Session]]


def order(session: Session, *, kind: OrderKind = OrderKind.COMMISSION, route: Route = Route.PUBLIC, unit: str = U1,
          submitted: dt.datetime = NOW - 200 * DAY, state: OrderState = S.PROVISIONED, **workflow: object) -> Order:
    """An order row as it stands after its history (the audit rows are added by ``visit``)."""
    row = Order(reference=f"NPO-M-{next(_numbers):06d}", kind=kind, unit_hsa_id=unit, unit_name=f"Enhet {unit[-2:]}",
                provider_hsa_id="SE2321000255-E1", provider_name="Region Skåne", route=route,
                requested_by="SE2321000255-CHEF", requested_by_name="Maria Chef", justification="Behövs.",
                contact_name="Maria Chef", contact_phone="040-123 45 67", contact_email="maria@vard.example",
                requested_start=dt.date(2026, 12, 1), submitted_at=submitted, state=state, state_since=submitted,
                **workflow)
    session.add(row)
    session.flush()
    return row


def visit(session: Session, row: Order, stage: OrderState, entered: dt.datetime, left: dt.datetime | None = None,
          event: Event = Event.APPROVE, to: OrderState = S.APPROVED) -> None:
    """The audit rows of one stage: into ``stage`` at ``entered``, out of it by ``event`` at ``left``."""
    assert row.id is not None
    session.add(AuditEvent(order_id=row.id, at=entered, actor="system", actor_name="system", event="route_public",
                           from_state=S.SUBMITTED, to_state=stage))
    if left is not None:
        session.add(AuditEvent(order_id=row.id, at=left, actor="SE2321000255-SKF", actor_name="Karin",
                               event=event.value, from_state=stage, to_state=to))
    session.flush()


def actor(*roles: tuple[RoleName, str | None]) -> Actor:
    return Actor(hsa_id="SE2321000255-X1", name="Test", roles=frozenset(roles))


ADMIN = actor((RoleName.SYSTEM_ADMIN, None))
SKF = actor((RoleName.SKANEFORVALTNINGEN, None))
U1_ADMIN = actor((RoleName.UNIT_CATALOG_ADMIN, U1))


def test_median_and_nearest_rank_percentile() -> None:
    assert median([6, 1, 2, 0.5]) == 1.5 and median([3, 1, 2]) == 2
    assert nearest_rank([0.5, 1, 2, 6], 90) == 6 and nearest_rank(list(range(1, 11)), 90) == 9
    assert nearest_rank([4], 90) == 4 and nearest_rank(list(range(1, 21)), 50) == 10
    with pytest.raises(ValueError):
        nearest_rank([], 90)


def test_iso_weeks_are_thirteen_swedish_weeks_ending_with_this_one() -> None:
    weeks = iso_weeks(NOW)
    assert len(weeks) == 13 and weeks[-1].label == "2026-V48" and weeks[0].label == "2026-V36"
    assert weeks[-1].start == dt.datetime(2026, 11, 22, 23, 0, tzinfo=dt.UTC)  # Monday 00:00 in Stockholm (CET)
    assert all(a.end == b.start for a, b in itertools.pairwise(weeks))


def _lead_history(session: Session) -> None:
    for entered, left, event in ((10, 8, Event.APPROVE), (20, 14, Event.REJECT), (5, 4, Event.APPROVE),
                                 (12, 11.5, Event.APPROVE), (100, 95, Event.APPROVE)):  # the last: outside
        visit(session, order(session), S.AWAITING_CATALOG_ADMIN, NOW - entered * DAY, NOW - left * DAY, event,
              S.REJECTED if event is Event.REJECT else S.APPROVED)
    visit(session, order(session), S.AWAITING_CATALOG_ADMIN, NOW - 7 * DAY, NOW - 3 * DAY, Event.WITHDRAW, S.WITHDRAWN)
    private = order(session, route=Route.PRIVATE)
    visit(session, private, S.AWAITING_CONTRACT_MANAGER, NOW - 30 * DAY, NOW - 27 * DAY, to=S.AWAITING_CATALOG_ADMIN)
    session.add(AuditEvent(order_id=private.id or 0, at=NOW - 26.5 * DAY, actor="x", actor_name="x",
                           event="approve", from_state=S.AWAITING_CATALOG_ADMIN, to_state=S.APPROVED))
    visit(session, private, S.PROVISIONING_FAILED, NOW - 26 * DAY, NOW - 25 * DAY, Event.RETRY, S.PROVISIONING)
    for unit, days in ((U1, 3), (U2, 1)):
        visit(session, order(session, kind=OrderKind.MEMBERSHIP, unit=unit), S.AWAITING_USER_ADMIN,
              NOW - 6 * DAY, NOW - (6 - days) * DAY)


def test_lead_time_per_queue_and_stage_over_90_days(sessions: Sessions) -> None:
    with sessions() as session:
        _lead_history(session)
        found = {(t.role, t.stage): t for t in metrics.lead_times(session, metrics.View.of(ADMIN), now=NOW)}
    skf = found[(RoleName.SKANEFORVALTNINGEN, S.AWAITING_CATALOG_ADMIN)]
    assert (skf.count, skf.median_days, skf.p90_days) == (4, 1.5, 6.0)  # 0.5, 1, 2, 6 days; no withdrawal
    assert found[(RoleName.CONTRACT_MANAGER, S.AWAITING_CONTRACT_MANAGER)].median_days == 3.0
    assert found[(RoleName.VARDGIVARSERVICE, S.AWAITING_CATALOG_ADMIN)].median_days == 0.5  # entered at 27 days
    failed = found[(RoleName.SYSTEM_ADMIN, S.PROVISIONING_FAILED)]
    assert (failed.median_days, failed.label) == (1.0, "NPÖ-förvaltningen (åtgärd krävs) – åtgärd efter fel")
    admins = found[(RoleName.UNIT_CATALOG_ADMIN, S.AWAITING_USER_ADMIN)]
    assert (admins.count, admins.median_days, admins.p90_days) == (2, 2.0, 3.0)
    assert [t.role for t in found.values()] == [RoleName.SKANEFORVALTNINGEN, RoleName.CONTRACT_MANAGER,
                                                RoleName.VARDGIVARSERVICE, RoleName.UNIT_CATALOG_ADMIN,
                                                RoleName.SYSTEM_ADMIN]


def test_an_approver_sees_only_their_own_queues(sessions: Sessions) -> None:
    with sessions() as session:
        _lead_history(session)
        skf = metrics.lead_times(session, metrics.View.of(SKF), now=NOW)
        unit_admin = metrics.lead_times(session, metrics.View.of(U1_ADMIN), now=NOW)
    assert [(t.role, t.count) for t in skf] == [(RoleName.SKANEFORVALTNINGEN, 4)]
    assert [(t.role, t.count, t.median_days) for t in unit_admin] == [(RoleName.UNIT_CATALOG_ADMIN, 1, 3.0)]


def test_overdue_now_per_queue(sessions: Sessions) -> None:
    with sessions() as session:
        for due, queue, scope in ((NOW - DAY, RoleName.SKANEFORVALTNINGEN, None),
                                  (NOW + DAY, RoleName.SKANEFORVALTNINGEN, None),
                                  (NOW - dt.timedelta(hours=2), RoleName.UNIT_CATALOG_ADMIN, U1),
                                  (NOW - DAY, RoleName.UNIT_CATALOG_ADMIN, U2)):
            order(session, state=S.AWAITING_USER_ADMIN if scope else S.AWAITING_CATALOG_ADMIN, due_at=due,
                  queue=queue.value, queue_scope=scope)
        order(session, state=S.REJECTED, due_at=NOW - 9 * DAY, queue="skaneforvaltningen")  # decided: not counted
        every = {q.role: (q.waiting, q.overdue) for q in metrics.queue_loads(session, metrics.View.of(ADMIN), now=NOW)}
        skf = metrics.queue_loads(session, metrics.View.of(SKF), now=NOW)
        mine = metrics.queue_loads(session, metrics.View.of(U1_ADMIN), now=NOW)
    assert every == {RoleName.SKANEFORVALTNINGEN: (2, 1), RoleName.CONTRACT_MANAGER: (0, 0),
                     RoleName.VARDGIVARSERVICE: (0, 0), RoleName.IT_KUNDTJANST_PRIVATA: (0, 0),
                     RoleName.UNIT_CATALOG_ADMIN: (2, 2)}
    assert [(q.label, q.waiting, q.overdue) for q in skf] == [("Skåneförvaltningen", 2, 1)]
    assert [(q.role, q.waiting, q.overdue) for q in mine] == [(RoleName.UNIT_CATALOG_ADMIN, 1, 1)]


def test_orders_per_iso_week_by_kind(sessions: Sessions) -> None:
    monday = dt.datetime(2026, 11, 22, 23, 0, tzinfo=dt.UTC)  # week 48 begins
    with sessions() as session:
        for at, kind, route in ((monday, OrderKind.COMMISSION, Route.PUBLIC),  # the first instant of week 48
                                (monday - dt.timedelta(seconds=1), OrderKind.COMMISSION, Route.PUBLIC),  # week 47
                                (NOW - dt.timedelta(minutes=5), OrderKind.MEMBERSHIP, Route.PUBLIC),
                                (NOW - 14 * DAY, OrderKind.MEMBERSHIP, Route.PRIVATE),  # week 46
                                (NOW - 100 * DAY, OrderKind.COMMISSION, Route.PUBLIC)):  # before the 13 weeks
            order(session, kind=kind, route=route, submitted=at)
        every = metrics.orders_per_week(session, metrics.View.of(ADMIN), now=NOW)
        skf = metrics.orders_per_week(session, metrics.View.of(SKF), now=NOW)
    assert len(every) == 13 and sum(w.total for w in every) == 4
    assert [(w.week.label, w.commission, w.membership) for w in every[-3:]] == [
        ("2026-V46", 0, 1), ("2026-V47", 1, 0), ("2026-V48", 1, 1)]
    assert [(w.week.label, w.commission, w.membership) for w in skf if w.total] == [("2026-V47", 1, 0),
                                                                                     ("2026-V48", 1, 0)]


def test_provisioning_failures_per_week_and_open_now(sessions: Sessions) -> None:
    with sessions() as session:
        failed_now = order(session, state=S.PROVISIONING_FAILED)
        retried = order(session, kind=OrderKind.MEMBERSHIP, route=Route.PRIVATE)
        for row, at in ((failed_now, NOW - DAY), (retried, NOW - 8 * DAY), (retried, NOW - 7 * DAY)):
            session.add(AuditEvent(order_id=row.id or 0, at=at, actor="system", actor_name="system",
                                   event=Event.FAIL.value, from_state=S.PROVISIONING, to_state=S.PROVISIONING_FAILED))
        session.flush()
        every = metrics.failures(session, metrics.View.of(ADMIN), now=NOW)
        skf = metrics.failures(session, metrics.View.of(SKF), now=NOW)
    assert [(w.week.label, w.total) for w in every.weeks[-2:]] == [("2026-V47", 2), ("2026-V48", 1)]
    assert every.open_now == 1
    assert sum(w.total for w in skf.weeks) == 1 and skf.open_now == 1  # the private membership is not SKF's


def _round(session: Session, unit: str, opened: dt.datetime, deadline: dt.datetime,
           decisions: list[ItemDecision]) -> None:
    row = RecertificationRound(unit_hsa_id=unit, unit_name=f"Enhet {unit[-2:]}", commission_hsa_id=f"{unit}-U",
                               trigger=RoundTrigger.SCHEDULE, opened_by="system", opened_by_name="system",
                               opened_at=opened, deadline=deadline, state=RoundState.OPEN if deadline > NOW else
                               RoundState.CLOSED)
    session.add(row)
    session.flush()
    session.add_all(RecertificationItem(round_id=row.id or 0, person_hsa_id=f"SE2321000255-P{n}", person_name=f"P{n}",
                                        valid_from=opened - 300 * DAY, decision=decision)
                    for n, decision in enumerate(decisions))
    session.flush()


def test_recertification_completion_of_each_units_latest_round(sessions: Sessions) -> None:
    D = ItemDecision
    with sessions() as session:
        _round(session, U1, NOW - 400 * DAY, NOW - 380 * DAY, [D.LAPSED] * 5)  # older than a year: not counted
        _round(session, U1, NOW - 40 * DAY, NOW - 10 * DAY, [D.CONFIRMED, D.CONFIRMED, D.REMOVED, D.LAPSED, D.ENDED])
        _round(session, U2, NOW - 5 * DAY, NOW + 20 * DAY, [D.CONFIRMED, D.PENDING, D.PENDING, D.PENDING])
        every = metrics.recertification_completion(session, metrics.View.of(ADMIN), now=NOW)
        mine = metrics.recertification_completion(session, metrics.View.of(U1_ADMIN), now=NOW)
        none = metrics.recertification_completion(session, metrics.View.of(SKF), now=NOW)
    assert [(u.unit_hsa_id, u.total, u.done, u.open, u.missed, u.share) for u in every] == [
        (U2, 4, 1, 3, 0, 25.0), (U1, 4, 3, 0, 1, 75.0)]  # least done first; the ended member is not counted
    assert [u.unit_hsa_id for u in mine] == [U1] and none == []
