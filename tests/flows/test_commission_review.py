"""The commission-review flow run as a flow on a real Prefect server, with the real slapd, a migrated SQLite database
and the SMTP sink; freezegun moves the clock through the calendar (STACK.md §2: pydantic.v1 is imported first)."""

from __future__ import annotations

import datetime as dt

import pydantic.v1  # noqa: F401  (before freezegun freezes the clock)
import pydantic.v1.error_wrappers  # noqa: F401
import pytest
from freezegun import freeze_time
from sqlmodel import select

from catalog import runtime as catalog_runtime
from catalog.model import Validity
from flows.commission_review import commission_review, review_config
from kernel import runtime
from kernel.clock import STOCKHOLM, local_midnight
from kernel.settings import Settings
from provisioning.authz import load_actor
from provisioning.recertification import decisions
from provisioning.recertification import rounds as recertification
from provisioning.recertification.models import ItemDecision, RecertificationItem, RecertificationRound, RoundState
from tests.conftest import MailSink
from tests.world import World

pytestmark = pytest.mark.prefect


class Crash(Exception):
    """Stands in for a worker killed before its commit."""


def at(day: dt.date, hour: int = 6, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=STOCKHOLM)


def configure(app_settings: Settings, smtp_sink: MailSink) -> None:
    runtime.configure(app_settings.model_copy(update={"smtp_port": smtp_sink.port,
                                                      "public_base_url": "http://npo.test"}))


def vob_with_nurses(world: World, start: dt.date) -> str:
    commission, _ = world.directory.ensure_commission(world.public_unit.hsa_id, valid_from=local_midnight(start))
    for nurse in world.public_staff:
        world.directory.ensure_membership(commission.hsa_id, nurse.hsa_id, Validity(local_midnight(start)))
    return commission.hsa_id


def run_at(world: World, instant: dt.datetime) -> dict:
    """One scheduled run at a Swedish wall-clock time; the flow must complete."""
    with freeze_time(instant.astimezone(dt.UTC), tick=True, real_asyncio=True):
        state = commission_review(provider_hsa_id=world.region.provider.hsa_id, return_state=True)
    assert state.is_completed(), state
    return state.result()


def rounds() -> list[RecertificationRound]:
    with runtime.session_scope() as session:
        return list(session.exec(select(RecertificationRound)).all())


def decisions_by_person() -> dict[str, ItemDecision]:
    with runtime.session_scope() as session:
        return {i.person_hsa_id: i.decision for i in session.exec(select(RecertificationItem)).all()}


def test_a_daily_run_opens_the_round_warns_records_ends_and_mails_once(prefect_server: None, app_settings: Settings,
                                                                       world: World, smtp_sink: MailSink) -> None:
    configure(app_settings, smtp_sink)
    commission = vob_with_nurses(world, dt.date(2025, 11, 24))
    today = dt.date(2026, 11, 24)
    ends_soon = local_midnight(today + dt.timedelta(days=10))
    world.directory.ensure_membership(commission, world.public_staff[0].hsa_id,
                                      Validity(local_midnight(dt.date(2025, 11, 24)), ends_soon))
    world.directory.ensure_membership(commission, world.public_admin.hsa_id,
                                      Validity(local_midnight(dt.date(2026, 1, 1)), local_midnight(today)))
    first = run_at(world, at(today))
    assert (first["opened"], first["warned"], first["expired"]) == (1, 1, 1)
    assert first["mail"] == {"sent": 4, "failed": 0}  # the round, one digest for the manager, two members
    subjects = sorted(str(m["Subject"]) for m in smtp_sink.to(world.public_manager.mail))
    assert subjects[0].startswith("Behörighetskontroll BK-") and "senast 2026-12-08" in subjects[0]
    assert subjects[1] == f"NPÖ-behörigheter vid {world.public_unit.name}: 1 upphör snart, 1 har upphört"
    assert "upphör efter 2026-12-03" in str(smtp_sink.to(world.public_staff[0].mail)[0]["Subject"])
    assert "har upphört" in str(smtp_sink.to(world.public_admin.mail)[0]["Subject"])
    again = run_at(world, at(today, 14))
    assert (again["opened"], again["warned"], again["expired"], again["mail"]) == (0, 0, 0, {"sent": 0, "failed": 0})
    assert len(smtp_sink.messages) == 4 and len(rounds()) == 1


def test_daily_runs_across_christmas_remind_and_lapse_after_the_tenth_business_day(
        prefect_server: None, app_settings: Settings, world: World, smtp_sink: MailSink) -> None:
    configure(app_settings, smtp_sink)
    vob_with_nurses(world, dt.date(2025, 12, 18))
    assert run_at(world, at(dt.date(2026, 12, 18)))["opened"] == 1
    [round_] = rounds()
    kept = world.public_staff[0]
    with runtime.session_scope() as session:  # the manager confirms one nurse before Christmas
        manager = load_actor(catalog_runtime.directory(), session, world.public_manager.hsa_id, now=at(dt.date(2026,
                             12, 21)))
        assert manager is not None
        item = next(i for i in recertification.items_of(session, round_.id) if i.person_hsa_id == kept.hsa_id)
        decisions.decide(session=session, directory=catalog_runtime.directory(), config=review_config(), actor=manager,
                         round_id=round_.id, choices=[decisions.Choice(item.id, True)],
                         now=at(dt.date(2026, 12, 21), 10))
    assert run_at(world, at(dt.date(2027, 1, 4)))["reminded"] == 0  # 4, 5, 7, 8 Jan left (6 Jan is a holiday)
    assert run_at(world, at(dt.date(2027, 1, 5)))["reminded"] == 1
    assert run_at(world, at(dt.date(2027, 1, 8)))["reminded"] == 1  # the last day
    late = run_at(world, at(dt.date(2027, 1, 8), 23, 55))  # the clock ticks during the run: keep a margin
    assert late["lapsed"] == {"lapsed": 0, "ended": 0, "closed": 0}
    lapsed = run_at(world, at(dt.date(2027, 1, 9), 0, 0, 1))
    assert lapsed["lapsed"] == {"lapsed": 2, "ended": 0, "closed": 1}
    result = decisions_by_person()
    assert result[kept.hsa_id] is ItemDecision.CONFIRMED
    assert {result[n.hsa_id] for n in world.public_staff[1:]} == {ItemDecision.LAPSED}
    assert [r.state for r in rounds()] == [RoundState.CLOSED]
    valid = {m.person_hsa_id for m in catalog_runtime.directory().memberships(round_.commission_hsa_id)
             if m.is_valid_at(at(dt.date(2027, 1, 9), 12))}
    assert valid == {kept.hsa_id}
    reminders = [s for s in smtp_sink.subjects() if s.startswith("Påminnelse")]
    assert len(reminders) == 2 and any("har tagits bort" in s for s in smtp_sink.subjects())


def test_a_run_killed_after_a_directory_write_is_finished_by_the_next_run(
        prefect_server: None, app_settings: Settings, world: World, smtp_sink: MailSink) -> None:
    configure(app_settings, smtp_sink)
    commission = vob_with_nurses(world, dt.date(2025, 11, 24))
    assert run_at(world, at(dt.date(2026, 11, 24)))["opened"] == 1
    [round_] = rounds()
    killed_at = at(dt.date(2026, 12, 9), 6)
    with runtime.session_scope() as session:
        first = recertification.pending_items(session, round_.id)[0]
    with pytest.raises(Crash), runtime.session_scope() as session:
        recertification.lapse_item(session=session, directory=catalog_runtime.directory(), item_id=first, now=killed_at)
        raise Crash()  # killed between the LDAP write and the commit
    rerun = run_at(world, at(dt.date(2026, 12, 10)))
    assert rerun["lapsed"] == {"lapsed": 3, "ended": 0, "closed": 1}
    assert run_at(world, at(dt.date(2026, 12, 11)))["lapsed"] == {"lapsed": 0, "ended": 0, "closed": 0}
    ends = sorted(m.validity.end for m in catalog_runtime.directory().memberships(commission))  # type: ignore[type-var]
    assert ends[0] == killed_at  # the killed run's write stands: not ended a second time
    assert all(dt.timedelta(0) <= end - at(dt.date(2026, 12, 10)) < dt.timedelta(minutes=5) for end in ends[1:])
    assert len([s for s in smtp_sink.subjects() if "har tagits bort" in s]) == 3  # each nurse told once


def test_daily_runs_across_the_autumn_dst_change_lapse_at_local_midnight(
        prefect_server: None, app_settings: Settings, world: World, smtp_sink: MailSink) -> None:
    configure(app_settings, smtp_sink)
    vob_with_nurses(world, dt.date(2025, 10, 16))
    assert run_at(world, at(dt.date(2026, 10, 16)))["opened"] == 1  # summer time (UTC+2)
    [round_] = rounds()
    assert round_.deadline == dt.datetime(2026, 10, 30, 23, 0, tzinfo=dt.UTC)  # midnight in winter time (UTC+1)
    assert run_at(world, at(dt.date(2026, 10, 30), 23, 55))["lapsed"]["lapsed"] == 0
    assert run_at(world, at(dt.date(2026, 10, 31), 0, 0, 1))["lapsed"] == {"lapsed": 3, "ended": 0, "closed": 1}
