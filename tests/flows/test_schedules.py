"""The schedules of prefect.yaml really fire: on a real `prefect server start` (its scheduler service running), with
prefect.yaml deployed as `make run` does it, the scheduler itself creates the runs at Stockholm wall-clock times
(also across the DST changes), a due schedule fires and its run completes on a worker, and `npo schedules` tells.

DST is checked on the runs the scheduler created: the fixture widens the scheduler's horizon to a year
(tests/prefect_stack.py), so the next spring-forward and fall-back days are among them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kernel.clock import STOCKHOLM, local_minute
from tests.cli import npo
from tests.prefect_stack import PrefectStack, wait_for

pytestmark = [pytest.mark.prefect, pytest.mark.timeout(600)]  # the first one starts the server: slow under load
ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC


def declared_schedules() -> dict[str, dict]:
    """prefect.yaml's scheduled deployments and their (single) schedule."""
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    return {d["name"]: d["schedules"][0] for d in deployments if d.get("schedules")}


def next_dst_changes(today: dt.date) -> tuple[dt.date, dt.date]:
    """The next spring-forward and fall-back days in Stockholm after ``today``."""
    spring = fall = None
    day = today
    while spring is None or fall is None:
        before = dt.datetime.combine(day, dt.time(0), STOCKHOLM).utcoffset()
        after = dt.datetime.combine(day, dt.time(12), STOCKHOLM).utcoffset()
        if after > before and spring is None:  # type: ignore[operator]
            spring = day
        if after < before and fall is None:  # type: ignore[operator]
            fall = day
        day += dt.timedelta(days=1)
    return spring, fall


def start_times(runs: list[dict]) -> list[dt.datetime]:
    return [dt.datetime.fromisoformat(r["expected_start_time"].replace("Z", "+00:00")) for r in runs]


def scheduled_around(prefect_stack: PrefectStack, deployment_id: str, day: dt.date) -> list[dt.datetime]:
    """The expected start times of the SCHEDULED runs from the day before ``day`` to the day after (UTC)."""
    start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(0), STOCKHOLM)
    runs = prefect_stack.runs(deployment_id, states=["SCHEDULED"], after=start, before=start + dt.timedelta(days=3))
    for run in runs:
        assert run["auto_scheduled"] and run["created_by"]["type"] == "SCHEDULE", run  # made by the scheduler
    return start_times(runs)


def test_prefects_cron_dates_keep_stockholm_wall_time_across_dst() -> None:
    """What the scheduler computes (D-44), without a server: fails with whenever 0.10.x (ValueError on the zone)."""
    from prefect.server.schemas.schedules import CronSchedule

    nightly = CronSchedule(cron="30 2 * * *", timezone="Europe/Stockholm")
    spring = asyncio.run(nightly.get_dates(n=3, start=dt.datetime(2027, 3, 27, tzinfo=UTC)))
    fall = asyncio.run(nightly.get_dates(n=3, start=dt.datetime(2027, 10, 30, tzinfo=UTC)))
    assert [d.astimezone(UTC) for d in spring] == [  # 02:30 does not exist on 28 March: run at 03:30 CEST
        dt.datetime(2027, 3, 27, 1, 30, tzinfo=UTC), dt.datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
        dt.datetime(2027, 3, 29, 0, 30, tzinfo=UTC)]
    assert [d.astimezone(STOCKHOLM).strftime("%H:%M") for d in spring] == ["02:30", "03:30", "02:30"]
    assert [d.astimezone(UTC) for d in fall] == [  # 02:30 happens twice on 31 October: once, at the first
        dt.datetime(2027, 10, 30, 0, 30, tzinfo=UTC), dt.datetime(2027, 10, 31, 0, 30, tzinfo=UTC),
        dt.datetime(2027, 11, 1, 1, 30, tzinfo=UTC)]


def test_the_scheduler_creates_runs_for_every_scheduled_deployment_at_stockholm_times(
        prefect_stack: PrefectStack) -> None:
    today = dt.datetime.now(STOCKHOLM).date()
    spring, fall = next_dst_changes(today)
    for name, schedule in declared_schedules().items():
        deployment = prefect_stack.deployment(name)
        if "interval" in schedule:
            runs = wait_for(f"runs of {name}", lambda d=deployment: found if len(found := prefect_stack.runs(
                d["id"], states=["SCHEDULED"], limit=20)) == 20 else None)
            times = start_times(runs)
            assert {(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)} == {schedule["interval"]}
            assert all(r["created_by"]["type"] == "SCHEDULE" for r in runs)
            continue
        assert schedule["timezone"] == "Europe/Stockholm"
        minute, hour = (int(field) for field in schedule["cron"].split()[:2])
        for day in (today + dt.timedelta(days=2), spring, fall):
            times = wait_for(f"runs of {name} around {day}",
                             lambda d=deployment, day=day: scheduled_around(prefect_stack, d["id"], day))
            local = [t.astimezone(STOCKHOLM) for t in times]
            assert [t.date() for t in local] == [day + dt.timedelta(days=n) for n in (-1, 0, 1)], (name, local)
            for at in local:
                wall = dt.datetime.combine(at.date(), dt.time(hour, minute))
                in_the_hour = dt.time(2) <= wall.time() < dt.time(3)  # the hour that DST skips or repeats
                if at.date() == spring and in_the_hour:
                    wall += dt.timedelta(hours=1)  # the gap: the same instant as 02:30 CET would have been
                assert at.replace(tzinfo=None) == wall, (name, at)
                if at.date() == fall and in_the_hour:
                    assert at.utcoffset() == dt.timedelta(hours=2), (name, at)  # the first 02:30, in summer time
    catalog_sync = prefect_stack.deployment("catalog-sync")["id"]
    assert dt.datetime.combine(spring, dt.time(1, 30), UTC) in scheduled_around(prefect_stack, catalog_sync, spring)
    assert dt.datetime.combine(fall, dt.time(0, 30), UTC) in scheduled_around(prefect_stack, catalog_sync, fall)
    assert "Traceback" not in (prefect_stack.log_dir / "prefect-server.log").read_text()


def test_a_due_cron_schedule_fires_and_its_run_completes_on_the_worker(prefect_stack: PrefectStack) -> None:
    deployed = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all", "--prefect-file",
                               "tests/flows/prefect-probe.yaml"], cwd=ROOT, env=prefect_stack.stack.env(),
                              capture_output=True, text=True, timeout=300)
    assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-2000:]
    probe = prefect_stack.deployment("schedule-probe")
    try:
        run = wait_for("a completed run of schedule-probe", lambda: prefect_stack.runs(
            probe["id"], states=["COMPLETED"], limit=1), timeout=240)[0]
        assert run["auto_scheduled"] and run["created_by"]["type"] == "SCHEDULE"  # fired by the schedule
        assert run["work_pool_name"] == "npo" and run["end_time"]
        scheduled = dt.datetime.fromisoformat(run["expected_start_time"].replace("Z", "+00:00"))
        assert scheduled.second % 10 == 0 and scheduled.microsecond == 0
    finally:  # the server answers 503 for a moment when its SQLite is busy under load: ask again until it is gone
        import httpx

        def deleted() -> bool:
            answer = httpx.delete(f"{prefect_stack.api_url}/deployments/{probe['id']}", timeout=30)
            if answer.status_code not in {404, 503}:
                answer.raise_for_status()
            return answer.status_code != 503

        wait_for("the probe deployment deleted", deleted, timeout=120)


def npo_schedules(*args: str, api_url: str | None) -> subprocess.CompletedProcess[str]:
    """`npo schedules` (in this process, tests/cli.py) with NPO_PREFECT_API_URL set to ``api_url`` or unset."""
    return npo("schedules", *args, env={"NPO_PREFECT_API_URL": api_url} if api_url else {})


def test_npo_schedules_lists_each_deployment_with_schedule_next_and_last_run(prefect_stack: PrefectStack) -> None:
    for name in declared_schedules():  # the scheduler has planned every one of them (see above)
        wait_for(f"a run of {name}", lambda n=name: prefect_stack.runs(prefect_stack.deployment(n)["id"], limit=1))
    shown = npo_schedules("--json", api_url=prefect_stack.api_url)
    assert shown.returncode == 0, shown.stderr
    listed = {d["name"]: d for d in json.loads(shown.stdout)}
    assert set(listed) == set(declared_schedules())  # what the web starts is a background task, not a deployment
    assert listed["catalog-sync"]["schedule"] == "dagligen kl. 02:30 (Stockholmstid)"
    assert listed["sweep"]["schedule"] == "var 5:e minut"
    for name in declared_schedules():
        first = prefect_stack.runs(prefect_stack.deployment(name)["id"], states=["SCHEDULED"],
                                   after=dt.datetime.now(UTC), limit=1)[0]
        expected = dt.datetime.fromisoformat(first["expected_start_time"].replace("Z", "+00:00"))
        assert listed[name]["next_run_local"] == local_minute(expected), name
    for name, entry in listed.items():
        done = prefect_stack.runs(prefect_stack.deployment(name)["id"], states=["COMPLETED"], sort="END_TIME_DESC",
                                  limit=1)
        assert entry["last_completed_local"] == (local_minute(dt.datetime.fromisoformat(
            done[0]["end_time"].replace("Z", "+00:00"))) if done else None), name
    table = npo_schedules(api_url=prefect_stack.api_url).stdout
    assert "Driftsättning" in table and "Senast klar" in table
    line = next(line for line in table.splitlines() if line.startswith("commission-review"))
    assert "dagligen kl. 06:00 (Stockholmstid)" in line and line.rstrip().endswith("aldrig")


def test_npo_schedules_without_a_server_says_so_and_fails() -> None:
    from tests.conftest import free_port

    unset = npo_schedules(api_url=None)
    assert unset.returncode == 1 and "Ingen Prefect-server är konfigurerad" in unset.stderr
    gone = npo_schedules(api_url=f"http://127.0.0.1:{free_port()}/api")
    assert gone.returncode == 1 and "Prefect svarar inte" in gone.stderr
