"""advance-order and sweep, run as flows against a real Prefect server, the real slapd, database and SMTP sink."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlmodel import select

from flows.advance_order import advance_order
from flows.sweep import sweep
from kernel import runtime
from kernel.clock import local_date, now
from kernel.outbox import OutboxMail
from kernel.settings import Settings
from provisioning import decisions
from provisioning.authz import load_actor
from provisioning.inputs import parse_commission_order
from provisioning.models import Order, OrderState
from provisioning.ordering import submit_commission_order
from tests.conftest import MailSink
from tests.world import World

pytestmark = pytest.mark.prefect


def configure(app_settings: Settings, world: World, smtp_port: int) -> None:
    runtime.configure(app_settings.model_copy(update={
        "region_provider_hsa_id": world.region.provider.hsa_id, "smtp_port": smtp_port}))


def submit(world: World) -> int:
    from flows.steps import provisioning_config

    raw = {"unit_hsa_id": world.public_unit.hsa_id, "justification": "Patienter från Halland söker oss ofta.",
           "contact_name": "Maria", "contact_phone": "040-11 22 33", "contact_email": "maria@vard.example",
           "requested_start": (local_date(now()) + dt.timedelta(days=2)).isoformat()}
    with runtime.session_scope() as session:
        actor = load_actor(world.directory, session, world.public_manager.hsa_id, now=now())
        order = submit_commission_order(session=session, directory=world.directory, config=provisioning_config(),
                                        actor=actor, data=parse_commission_order(raw, today=local_date(now())),
                                        now=now())
        return order.id


def approve(world: World, order_id: int) -> None:
    from flows.steps import provisioning_config

    with runtime.session_scope() as session:
        actor = load_actor(world.directory, session, world.skf.hsa_id, now=now())
        decisions.decide(session=session, directory=world.directory, config=provisioning_config(), actor=actor,
                         order_id=order_id, approve=True, reason=None, now=now())


def state_of(order_id: int) -> OrderState:
    with runtime.session_scope() as session:
        return session.get(Order, order_id).state


def test_advance_order_flow_routes_then_provisions_and_mails(prefect_server: None, app_settings: Settings,
                                                             world: World, smtp_sink: MailSink) -> None:
    configure(app_settings, world, smtp_sink.port)
    order_id = submit(world)
    first = advance_order(order_id, return_state=True)
    assert first.is_completed() and first.result()["states"] == ["awaiting_catalog_admin"]
    approve(world, order_id)
    second = advance_order(order_id, return_state=True)
    assert second.result()["states"] == ["provisioning", "provisioned"]
    assert state_of(order_id) is OrderState.PROVISIONED
    assert [c.name for c in world.directory.commissions_on_unit(world.public_unit.hsa_id)] == ["VoB SJF"]
    assert any("Ny beställning" in s for s in smtp_sink.subjects())
    assert any("är klar" in s for s in smtp_sink.subjects())


def test_sweep_flow_advances_a_stalled_order_and_delivers_mail_that_waited_for_smtp(
        prefect_server: None, app_settings: Settings, world: World) -> None:
    sink = MailSink()  # not started yet: SMTP is down
    configure(app_settings, world, sink.port)
    order_id = submit(world)  # submitted while Prefect was "down": nobody advanced it
    with runtime.session_scope() as session:  # arrange: it has waited five minutes
        session.execute(update(Order).where(Order.id == order_id).values(
            state_since=now() - dt.timedelta(minutes=5)))
    down = sweep(return_state=True)
    assert down.is_completed()
    assert order_id in down.result()["advanced"] and state_of(order_id) is OrderState.AWAITING_CATALOG_ADMIN
    assert down.result()["mail"]["sent"] == 0
    with runtime.session_scope() as session:  # the attempt failed and the mail is kept for later
        waiting = session.exec(select(OutboxMail).where(OutboxMail.order_id == order_id)).all()
        assert waiting and all(m.sent_at is None and m.attempts == 1 and m.last_error for m in waiting)
        session.execute(update(OutboxMail).where(OutboxMail.order_id == order_id).values(next_attempt_at=now()))
    sink.start()
    try:
        up = sweep(return_state=True)
        assert up.result()["mail"]["sent"] == len(waiting)
        assert sweep(return_state=True).result()["mail"]["sent"] == 0  # delivered once
        assert len(sink.messages) == len(waiting)
    finally:
        sink.stop()


def test_one_advance_order_run_also_advances_every_other_waiting_order(prefect_server: None, app_settings: Settings,
                                                                       world: World, smtp_sink: MailSink) -> None:
    configure(app_settings, world, smtp_sink.port)
    first = submit(world)
    world.directory.ensure_commission(world.private_unit.hsa_id)
    from flows.steps import provisioning_config
    from provisioning.inputs import parse_membership_order
    from provisioning.ordering import submit_membership_order

    others = []
    with runtime.session_scope() as session:  # two more orders whose own triggers were cancelled
        actor = load_actor(world.directory, session, world.private_manager.hsa_id, now=now())
        for person in world.private_staff[:2]:
            data = parse_membership_order({"unit_hsa_id": world.private_unit.hsa_id, "person_hsa_ids": [person.hsa_id],
                                           "valid_from": local_date(now()).isoformat()}, today=local_date(now()))
            others.append(submit_membership_order(session=session, directory=world.directory,
                                                  config=provisioning_config(), actor=actor, data=data, now=now()).id)
    state = advance_order(first, return_state=True)
    assert state.is_completed() and sorted(state.result()["others"]) == sorted(others)
    assert state_of(first) is OrderState.AWAITING_CATALOG_ADMIN
    assert all(state_of(o) is OrderState.AWAITING_USER_ADMIN for o in others)
