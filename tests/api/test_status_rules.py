"""The status page's rules on plain values: a deployment's verdict (paused, overdue, failed), a worker's heartbeat,
the scheduler's upcoming runs, which log lines count as errors, and when a cluster's directory servers are out of
step."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from api.logscan import errors_since_start, start_line
from api.status import PartStatus
from api.status_cluster import NOT_IN_STEP, ServerStatus, servers_in_step
from api.status_engine import deployment_status, scheduler_part, worker_part
from flows.engine import Deployment, Run, Worker
from flows.schedules import Schedule

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # 13:00 in Stockholm
NIGHTLY = Schedule(cron="30 2 * * *", timezone="Europe/Stockholm")
LAST_NIGHT = Run("COMPLETED", dt.datetime(2026, 12, 1, 1, 30, tzinfo=UTC), dt.datetime(2026, 12, 1, 1, 34, tzinfo=UTC))
NIGHT_BEFORE = Run("COMPLETED", dt.datetime(2026, 11, 30, 1, 30, tzinfo=UTC),
                   dt.datetime(2026, 11, 30, 1, 33, tzinfo=UTC))
FAILED = Run("FAILED", dt.datetime(2026, 12, 1, 1, 30, tzinfo=UTC), dt.datetime(2026, 12, 1, 1, 31, tzinfo=UTC),
             "Flow run encountered an exception: DirectoryUnavailable")
CRASHED = Run("CRASHED", dt.datetime(2026, 12, 1, 1, 30, tzinfo=UTC), None, "Process exited with status code: -9")
LONG_AGO = dt.datetime(2026, 11, 1, tzinfo=UTC)
TONIGHT = dt.datetime(2026, 12, 2, 1, 30, tzinfo=UTC)


def nightly(*, completed: Run | None = None, finished: Run | None = None, paused: bool = False,
            created: dt.datetime = LONG_AGO, schedules: tuple[Schedule, ...] = (NIGHTLY,)) -> Deployment:
    return Deployment("catalog-sync", created, paused, schedules, TONIGHT if schedules and not paused else None,
                      completed, finished or completed)


@pytest.mark.parametrize(("case", "deployment", "healthy", "verdict"), [
    ("ran last night", nightly(completed=LAST_NIGHT), True, "i tid"),
    ("fresh stack, never ran", nightly(created=dt.datetime(2026, 12, 1, 9, tzinfo=UTC)), True, "i tid"),
    ("missed last night", nightly(completed=NIGHT_BEFORE), False, "försenad: skulle ha körts 2026-12-01 02:30"),
    ("failed last night", nightly(completed=NIGHT_BEFORE, finished=FAILED), False,
     "försenad: skulle ha körts 2026-12-01 02:30; senaste körningen misslyckades 2026-12-01 02:31: Flow run "
     "encountered an exception: DirectoryUnavailable"),
    ("crashed", nightly(completed=LAST_NIGHT, finished=CRASHED), False,
     "senaste körningen kraschade 2026-12-01 02:30: Process exited with status code: -9"),
    ("paused", nightly(completed=LAST_NIGHT, paused=True), False, "pausad: körs inte enligt schemat"),
    ("no schedule, never run", nightly(schedules=()), True, "–"),
    ("no schedule, last run failed", nightly(schedules=(), finished=FAILED), False,
     "senaste körningen misslyckades 2026-12-01 02:31: Flow run encountered an exception: DirectoryUnavailable"),
])
def test_deployment_verdict(case: str, deployment: Deployment, healthy: bool, verdict: str) -> None:
    status = deployment_status(deployment, NOW)
    assert (status.healthy, status.verdict) == (healthy, verdict), case
    assert status.last_completed == (deployment.last_completed.ended if deployment.last_completed else None)


def test_a_worker_is_alive_within_three_heartbeats() -> None:
    beat = NOW - dt.timedelta(seconds=80)
    assert worker_part([Worker("npo-embedded", beat, 30)], NOW, 1.0).healthy
    stale = worker_part([Worker("npo-embedded", NOW - dt.timedelta(seconds=100), 30)], NOW, 1.0)
    assert not stale.healthy and stale.detail.startswith("inget livstecken på länge; npo-embedded")
    assert worker_part([Worker("old", None, 30), Worker("new", beat, 30)], NOW, 1.0).healthy
    assert not worker_part([], NOW, 1.0).healthy


def test_the_scheduler_needs_an_upcoming_run_for_every_unpaused_scheduled_deployment() -> None:
    planned, manual = nightly(completed=LAST_NIGHT), nightly(schedules=())
    assert scheduler_part([planned, manual], 1.0).healthy
    silent = Deployment("log-followup", LONG_AGO, False, (NIGHTLY,), None, None, None)
    part = scheduler_part([planned, silent], 1.0)
    assert not part.healthy and part.detail == "ingen kommande körning för log-followup"
    assert not scheduler_part([manual], 1.0).healthy  # nothing scheduled at all: the duties never run


def test_only_errors_after_the_last_start_count_and_flow_run_lines_are_judged_by_their_state(tmp_path: Path) -> None:
    log = tmp_path / "prefect-worker.log"
    assert errors_since_start(log) is None  # no log (production, tests): nothing to judge
    log.write_text(
        "10:00:00.000 | ERROR   | prefect.flow_runs.worker - before the restart\n"
        + start_line("prefect-worker", NOW)
        + "10:01:00.000 | INFO    | prefect.flow_runs.worker - Worker 'npo-embedded' started!\n"
        "10:02:00.000 | ERROR   | Flow run 'gracious-weasel' - Finished in state Failed('boom')\n"
        "10:02:00.100 | ERROR   | Task run 'deliver-outbox-042' - Task run failed with exception\n"
        "an ordinary line mentioning an error in lower case\n")
    assert errors_since_start(log) is None
    with log.open("a") as handle:
        handle.write("10:03:00.000 | ERROR   | prefect.flow_runs.worker - Failed to submit flow run 'x' to "
                     "infrastructure.\n")
    found = errors_since_start(log)
    assert found is not None and found.count == 1 and found.started == NOW
    assert found.last.endswith("Failed to submit flow run 'x' to infrastructure.")


def server(number: int, *csns: str, answered: bool = True) -> ServerStatus:
    part = PartStatus(f"directory-{number}", f"server {number}", answered, "svarar" if answered else "nere", "–", 1.0)
    return ServerStatus(part, frozenset(csns) if answered else None)


def test_directory_servers_are_out_of_step_only_when_every_one_answered_with_other_csns() -> None:
    one, two = "20261201120000.000001Z#000000#001#000000", "20261201120005.000002Z#000000#002#000000"
    apart = servers_in_step([server(1, one), server(2, one, two)])
    assert [(p.healthy, p.detail) for p in apart] == [(True, f"svarar; {NOT_IN_STEP}")] * 2  # asynchronous: healthy
    assert [p.detail for p in servers_in_step([server(1, one, two), server(2, two, one)])] == ["svarar"] * 2
    assert [p.detail for p in servers_in_step([server(1, one), server(2, answered=False)])] == ["svarar", "nere"]
    late = PartStatus("directory-2", "server 2", False, "svarade inte inom 4 s", "–", 4000.0)
    assert [p.detail for p in servers_in_step([server(1, one), late])] == ["svarar", "svarade inte inom 4 s"]
