"""Massbeslut through the real app: bulk approval of many orders carried out in the background (in-process here, no
Prefect), its progress page and JSON twin, who may see it, and the sweep resuming a job whose task never ran."""

from __future__ import annotations

import datetime as dt
import re

from freezegun import freeze_time
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlmodel import col, select

from catalog.model import CareUnit
from flows import steps
from flows.steps import provisioning_config
from flows.sweep import find_stalled_jobs, resume_job
from kernel import runtime
from kernel.clock import local_date, now
from provisioning import decisions
from provisioning.authz import load_actor
from provisioning.inputs import parse_commission_order
from provisioning.models import Order, OrderState
from provisioning.ordering import submit_commission_order
from tests.api.conftest import Browser
from tests.conftest import free_port
from tests.world import World

REFRESH = '<meta http-equiv="refresh"'


def queued_orders(world: World, count: int) -> list[str]:
    """``count`` commission orders of new public units, routed to Skåneförvaltningen's queue (mail left unsent)."""
    d = world.directory
    region = world.region
    units = [d.create_unit(CareUnit(f"SE{region.org_no}-M{n:04d}", "", f"Mottagningen {n}", region.provider.hsa_id,
                                    kind="mottagning")) for n in range(count)]
    for unit in units:
        d.set_unit_manager(unit.hsa_id, world.public_manager.hsa_id)
    start = (local_date(now()) + dt.timedelta(days=3)).isoformat()
    ids = []
    with runtime.session_scope() as session:
        actor = load_actor(d, session, world.public_manager.hsa_id, now=now())
        assert actor is not None
        for unit in units:
            data = parse_commission_order({"unit_hsa_id": unit.hsa_id, "justification": "Patienter från Halland.",
                                           "contact_name": "Maria", "contact_phone": "040-11 22 33",
                                           "contact_email": "maria@vard.example", "requested_start": start},
                                          today=local_date(now()))
            ids.append(submit_commission_order(session=session, directory=d, config=provisioning_config(),
                                               actor=actor, data=data, now=now()).id)
    for order_id in ids:
        steps.advance(order_id)  # routing only: to Skåneförvaltningen's queue
    with runtime.session_scope() as session:
        orders = session.exec(select(Order).where(col(Order.id).in_(ids)).order_by(col(Order.id))).all()
        assert {o.state for o in orders} == {OrderState.AWAITING_CATALOG_ADMIN}
        return [o.reference for o in orders]


def bulk_post(web: Browser, references: list[str]) -> str:
    """Tick ``references`` on the dashboard and press Godkänn markerade; the progress page's path."""
    data = {"csrf": web.csrf(), "order": references,
            **{f"stage-{r}": OrderState.AWAITING_CATALOG_ADMIN.value for r in references}}
    response = web.client.post("/attest/godkann-flera", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(r"/massbeslut/\d+", location), location
    return location


def states(references: list[str]) -> set[OrderState]:
    with runtime.session_scope() as session:
        return set(session.exec(select(Order.state).where(col(Order.reference).in_(references))).all())


def test_bulk_approval_of_150_orders_reaches_the_directory_and_the_page_says_done(web: Browser,
                                                                                  world: World) -> None:
    """~30 s on the shared 2-core machine: 150 orders each decided, written to slapd and mailed in-process, the
    size the issue names (hundreds); the other tests here use a handful."""
    references = queued_orders(world, 150)
    web.login(world.skf.hsa_id)
    page_path = bulk_post(web, references)
    assert states(references) == {OrderState.PROVISIONED}
    with runtime.session_scope() as session:
        units = session.exec(select(Order.unit_hsa_id).where(col(Order.reference).in_(references))).all()
    for unit in (units[0], units[-1]):
        assert [c.name for c in world.directory.commissions_on_unit(unit)] == ["VoB SJF"]
    page = web.client.get(page_path)
    assert page.status_code == 200
    assert "150 av 150 beslutade, 150 klara i Skånekatalogen." in page.text
    assert 'data-bulk-state="done"' in page.text and REFRESH not in page.text
    assert '<progress max="300" value="300">' in page.text
    job = web.client.get(f"/api{page_path.replace('/massbeslut', '/bulk-jobs')}").json()
    assert job["finished"] and job["decided"] == 150 and job["provisioned"] == 150 and job["problems"] == []


def test_each_refused_order_has_its_sentence_on_the_progress_page(web: Browser, world: World) -> None:
    references = queued_orders(world, 3)
    with runtime.session_scope() as session:  # the second one is approved on its own page first (another tab)
        other = load_actor(world.directory, session, world.skf.hsa_id, now=now())
        assert other is not None
        order = decisions.get_order(session, other, references[1])
        decisions.decide(session=session, directory=world.directory, config=provisioning_config(), actor=other,
                         order_id=order.id, approve=True, reason=None, now=now())
    web.login(world.skf.hsa_id)
    page = web.client.get(bulk_post(web, [*references, "NPO-2026-999999"]))
    assert "4 av 4 beslutade, 2 klara i Skånekatalogen, 2 ej godkända." in page.text
    assert f"{references[1]}: Beställningen {references[1]} är redan godkänd av Karin Skåneförvaltningen" in page.text
    assert "NPO-2026-999999: Beställningen NPO-2026-999999 finns inte eller är inte synlig för dig." in page.text
    assert 'data-bulk-state="done"' in page.text  # the order someone else approved is not this job's to wait for


def test_only_the_jobs_actor_and_system_administrators_see_it(web: Browser, world: World) -> None:
    references = queued_orders(world, 1)
    web.login(world.skf.hsa_id)
    page_path = bulk_post(web, references)
    api_path = page_path.replace("/massbeslut", "/api/bulk-jobs")
    web.login(world.vgs.hsa_id)  # another approver
    assert web.client.get(page_path).status_code == 404
    assert web.client.get(api_path).status_code == 404
    web.login(world.public_manager.hsa_id)
    assert web.client.get(page_path).status_code == 404
    web.login(world.sysadmin.hsa_id)
    assert web.client.get(page_path).status_code == 200
    assert web.client.get(api_path).json()["finished"] is True


def test_a_job_whose_task_never_ran_is_completed_by_the_sweep(web: Browser, world: World) -> None:
    references = queued_orders(world, 4)
    web.login(world.skf.hsa_id)
    dead = f"http://127.0.0.1:{free_port()}/api"  # nobody listens: the submission fails, the job is recorded
    settings = runtime.settings()
    runtime.configure(settings.model_copy(update={"prefect_api_url": dead}))
    try:
        with temporary_settings({PREFECT_API_URL: dead}):
            page_path = bulk_post(web, references)
    finally:
        runtime.configure(settings)
    web.login(world.skf.hsa_id)
    running = web.client.get(page_path)
    assert "0 av 4 beslutade" in running.text and 'data-bulk-state="running"' in running.text
    assert REFRESH in running.text
    assert REFRESH not in web.client.get(page_path, params={"uppdatera": "nej"}).text
    assert states(references) == {OrderState.AWAITING_CATALOG_ADMIN}
    job_id = int(page_path.rsplit("/", 1)[1])
    assert job_id not in find_stalled_jobs.fn()  # a job just started is its task's, not the sweep's
    with freeze_time(now() + dt.timedelta(minutes=3), tick=True):
        assert job_id in find_stalled_jobs.fn()
        assert resume_job.fn(job_id) == 4
        assert resume_job.fn(job_id) == 0  # finished: a second sweep does nothing
    assert states(references) == {OrderState.PROVISIONED}
    done = web.client.get(page_path)
    assert "4 av 4 beslutade, 4 klara i Skånekatalogen." in done.text and REFRESH not in done.text


def test_the_migration_builds_exactly_the_bulk_jobs_table(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine
    from sqlmodel import SQLModel

    from tests.overview.test_models import _table_of

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = [d for d in compare_metadata(context, SQLModel.metadata) if _table_of(d) == "bulk_jobs"]
    finally:
        engine.dispose()
    assert differences == []
