"""The demo's 90-day history (demo/history.py): plausible, deterministic, idempotent, away from the cast, and enough
for every figure of the driftöversikt."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from catalog.model import RoleName
from demo import history
from demo import organisation as demo_org
from demo import patients as demo_patients
from kernel.clock import now
from overview import accesslog
from overview.logreview.metrics import completion_per_unit
from provisioning import metrics
from provisioning.authz import Actor
from provisioning.models import AuditEvent, Order, OrderKind, OrderState, Route
from provisioning.states import AWAITING_PERSON

S = OrderState
ADMIN = metrics.View.of(Actor(hsa_id="SE2321000255-ADM1", name="Lena", roles=frozenset({(RoleName.SYSTEM_ADMIN,
                                                                                          None)})))


@pytest.fixture(scope="module")
def catalog() -> demo_org.DemoCatalog:
    return demo_org.generate(persons=700, seed=1)


@pytest.fixture
def loaded(engine: Engine, catalog: demo_org.DemoCatalog) -> tuple[Session, dt.datetime, list[str]]:
    session = Session(engine, expire_on_commit=False)
    demo_patients.load(session, patients=12, seed=1)
    session.commit()
    at = now()
    history.load(session, catalog, seed=1, now=at)
    refs = list(session.exec(select(Order.reference).order_by(col(Order.id))))
    return session, at, refs


def test_the_history_is_deterministic_and_loads_once(loaded: tuple[Session, dt.datetime, list[str]],
                                                     catalog: demo_org.DemoCatalog) -> None:
    session, at, refs = loaded
    session.rollback()
    assert history.load(session, catalog, seed=1, now=at).orders == len(refs) > 100
    assert list(session.exec(select(Order.reference).order_by(col(Order.id)))) == refs
    session.commit()
    again = history.load(session, catalog, seed=1, now=at)
    assert (again.orders, again.recertification_rounds, again.log_review_rounds) == (0, 0, 0)
    assert len(session.exec(select(Order.id)).all()) == len(refs)


def test_orders_of_both_kinds_and_routes_with_a_consistent_audit_trail(
        loaded: tuple[Session, dt.datetime, list[str]]) -> None:
    session, at, _refs = loaded
    orders = list(session.exec(select(Order)))
    assert {(o.kind, o.route) for o in orders} == set(itertools.product(OrderKind, Route))
    states = Counter(o.state for o in orders)
    assert states[S.PROVISIONED] > 50 and states[S.REJECTED] >= 5 and states[S.PROVISIONING_FAILED] >= 1
    assert sum(states[s] for s in AWAITING_PERSON) >= 3
    assert any(o.state in AWAITING_PERSON and o.due_at and o.due_at < at for o in orders)  # overdue now
    assert all(at - dt.timedelta(days=91) < o.submitted_at <= at for o in orders)
    assert not {o.unit_hsa_id for o in orders} & history.CAST_UNITS
    waiting = [o.unit_hsa_id for o in orders if o.kind is OrderKind.COMMISSION and o.state in AWAITING_PERSON]
    assert len(waiting) == len(set(waiting))  # one commission order on order per unit, as ordering demands
    trail: dict[int, list[AuditEvent]] = {}
    for event in session.exec(select(AuditEvent).order_by(col(AuditEvent.id))):
        trail.setdefault(event.order_id, []).append(event)
    for order in orders:
        events = trail[order.id or 0]
        assert events[0].event == "submit" and events[-1].to_state is order.state
        assert all(a.to_state is b.from_state and a.at <= b.at for a, b in itertools.pairwise(events)), order


def test_every_figure_has_something_to_show(loaded: tuple[Session, dt.datetime, list[str]]) -> None:
    session, at, _refs = loaded
    lead = {t.role for t in metrics.lead_times(session, ADMIN, now=at) if t.count}
    assert lead == {RoleName.SKANEFORVALTNINGEN, RoleName.CONTRACT_MANAGER, RoleName.VARDGIVARSERVICE,
                    RoleName.IT_KUNDTJANST_PRIVATA, RoleName.UNIT_CATALOG_ADMIN, RoleName.SYSTEM_ADMIN}
    assert sum(q.overdue for q in metrics.queue_loads(session, ADMIN, now=at)) >= 1
    weeks = metrics.orders_per_week(session, ADMIN, now=at)
    assert sum(1 for w in weeks if w.total) >= 11
    assert sum(w.total for w in metrics.failures(session, ADMIN, now=at).weeks) >= 1
    recert = metrics.recertification_completion(session, ADMIN, now=at)
    assert len(recert) >= 5 and {u.share == 100 for u in recert} == {True, False}
    logs = completion_per_unit(session, now=at)
    assert len(logs) >= 3 and any(u.missed for u in logs) and all(u.total for u in logs)
    session.commit()
    assert accesslog.verify(session, now=at).ok  # the backdated log rows are in the chain
