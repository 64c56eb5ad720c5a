"""The advance-order task and the sweep flow, run by a real Prefect server, on the real slapd, database and SMTP sink.

Here the task runs in the test's process (a Prefect task run outside a flow); tests/flows/test_task_workers.py
submits it with .delay() to task worker processes, as the web does."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlmodel import select

from flows.background import advance_order
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


def test_advance_order_task_routes_then_provisions_and_mails(prefect_server: None, app_settings: Settings,
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


def test_a_provisioned_commission_releases_the_memberships_that_waited_for_it(
        prefect_server: None, app_settings: Settings, world: World, smtp_sink: MailSink) -> None:
    configure(app_settings, world, smtp_sink.port)
    from flows.steps import provisioning_config
    from provisioning.inputs import parse_membership_order
    from provisioning.ordering import submit_membership_order

    commission = submit(world)
    assert advance_order(commission, return_state=True).result()["states"] == ["awaiting_catalog_admin"]
    with runtime.session_scope() as session:  # a membership ordered before the unit has its commission
        actor = load_actor(world.directory, session, world.public_manager.hsa_id, now=now())
        data = parse_membership_order({"unit_hsa_id": world.public_unit.hsa_id,
                                       "person_hsa_ids": [world.public_staff[0].hsa_id],
                                       "valid_from": (local_date(now()) + dt.timedelta(days=2)).isoformat()},
                                      today=local_date(now()))
        waiting = submit_membership_order(session=session, directory=world.directory, config=provisioning_config(),
                                          actor=actor, data=data, now=now()).id
    # routed to wait, then a look at the directory: no commission yet
    assert advance_order(waiting, return_state=True).result()["states"] == ["waiting_for_commission"] * 2
    approve(world, commission)
    done = advance_order(commission, return_state=True).result()
    assert done["states"] == ["provisioning", "provisioned"] and done["released"] == [waiting]
    # no Prefect API in the app's settings here: the release was advanced in this process, to its first approver
    assert state_of(waiting) is OrderState.AWAITING_USER_ADMIN


def test_the_status_page_knows_every_background_task_by_name() -> None:
    from flows.background import TASKS
    from flows.engine import BACKGROUND_TASKS

    assert sorted(t.fn.__name__ for t in TASKS) == sorted(BACKGROUND_TASKS)
    assert all(t.task_key.rsplit("-", 1)[0] == t.fn.__name__ for t in TASKS)  # what TaskWorker.serves relies on
