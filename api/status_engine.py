"""The status of the workflow side: the worker (heartbeat), the task workers (connected now), the scheduler (upcoming
runs), and each deployment
(last completed run, overdue against its schedule, last run failed). Read from the Prefect API in one snapshot."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from api.status import PartStatus
from flows.engine import BACKGROUND_TASKS, WORK_POOL, Deployment, EngineUnavailable, PrefectEngine, TaskWorker, Worker
from flows.schedules import overdue_since
from kernel.clock import local_minute

WORKER = "Worker (arbetspool npo)"
TASK_WORKERS = "Uppgiftsarbetare (beställningssteg, e-post)"
SCHEDULER = "Schemaläggaren"
IN_PROCESS = "ingen Prefect-server konfigurerad: flödena körs i webbprocessen"


@dataclass(frozen=True)
class DeploymentStatus:
    """One deployment on the status page."""

    name: str
    schedule: str
    next_run: dt.datetime | None
    last_completed: dt.datetime | None
    healthy: bool
    verdict: str


def _minute(instant: dt.datetime | None) -> str:
    return local_minute(instant) if instant else "aldrig"


def deployment_status(deployment: Deployment, now: dt.datetime) -> DeploymentStatus:
    """Healthy unless paused, overdue against a schedule, or its last finished run failed or crashed."""
    completed, finished = deployment.last_completed, deployment.last_finished
    problems = []
    if deployment.paused and deployment.schedules:
        problems.append("pausad: körs inte enligt schemat")
    missed = [due for s in deployment.schedules if (due := overdue_since(
        s, since=deployment.created, last_completed=completed.covers if completed else None, now=now))]
    if missed:
        problems.append(f"försenad: skulle ha körts {_minute(max(missed))}")
    if finished is not None and finished.state != "COMPLETED":
        how = "kraschade" if finished.state == "CRASHED" else "misslyckades"
        problems.append(f"senaste körningen {how} {_minute(finished.ended or finished.scheduled)}: "
                        f"{finished.message or finished.state}")
    schedule = "; ".join(s.describe() for s in deployment.schedules) or "inget schema (startas vid behov)"
    verdict = "; ".join(problems) or ("i tid" if deployment.schedules else "–")
    return DeploymentStatus(deployment.name, schedule, deployment.next_run, completed.ended if completed else None,
                            not problems, verdict)


def worker_part(workers: list[Worker], now: dt.datetime, millis: float) -> PartStatus:
    """Healthy when at least one worker of the pool sent a heartbeat within three of its intervals."""
    fresh = [w for w in workers if w.last_heartbeat and now - w.last_heartbeat
             <= dt.timedelta(seconds=3 * w.heartbeat_seconds)]
    seen = "; ".join(f"{w.name}: senaste livstecken {_minute(w.last_heartbeat)}" for w in workers)
    if not workers:
        return PartStatus("worker", WORKER, False, f"ingen worker har anmält sig i arbetspoolen {WORK_POOL}",
                          WORK_POOL, millis)
    detail = ("svarar; " if fresh else "inget livstecken på länge; ") + seen
    return PartStatus("worker", WORKER, bool(fresh), detail, WORK_POOL, millis)


def task_worker_part(workers: list[TaskWorker], millis: float) -> PartStatus:
    """Healthy when every task the web submits has at least one task worker subscribed to it."""
    unserved = [name for name in BACKGROUND_TASKS if not any(name in w.serves for w in workers)]
    ours = sorted(w.identifier for w in workers if w.serves & set(BACKGROUND_TASKS))
    if not ours:
        return PartStatus("task_workers", TASK_WORKERS, False,
                          "ingen uppgiftsarbetare är ansluten: beställningar väntar på svepet (var 5:e minut)", "–",
                          millis)
    if unserved:
        return PartStatus("task_workers", TASK_WORKERS, False,
                          f"{len(ours)} anslutna, men ingen kör {', '.join(unserved)}", ", ".join(ours), millis)
    return PartStatus("task_workers", TASK_WORKERS, True, f"{len(ours)} anslutna: {', '.join(ours)}", "–", millis)


def scheduler_part(deployments: list[Deployment], millis: float) -> PartStatus:
    """Healthy when every scheduled, unpaused deployment has an upcoming scheduled run."""
    scheduled = [d for d in deployments if d.schedules and not d.paused]
    missing = [d.name for d in scheduled if d.next_run is None]
    if not scheduled:
        return PartStatus("scheduler", SCHEDULER, False, "inga schemalagda driftsättningar finns", "–", millis)
    if missing:
        return PartStatus("scheduler", SCHEDULER, False, f"ingen kommande körning för {', '.join(missing)}", "–",
                          millis)
    return PartStatus("scheduler", SCHEDULER, True,
                      f"alla {len(scheduled)} schemalagda driftsättningar har en kommande körning", "–", millis)


def engine_status(api_url: str | None, now: dt.datetime) -> tuple[list[PartStatus], list[DeploymentStatus]]:
    """The worker and scheduler parts and every deployment; without a Prefect server, both parts are not in use."""
    if not api_url:
        return [PartStatus("worker", WORKER, True, IN_PROCESS, "–", 0.0),
                PartStatus("task_workers", TASK_WORKERS, True, IN_PROCESS, "–", 0.0),
                PartStatus("scheduler", SCHEDULER, True, IN_PROCESS, "–", 0.0)], []
    started = time.perf_counter()
    engine = PrefectEngine(api_url)
    try:
        deployments, workers, task_workers = engine.deployments(now), engine.workers(), engine.task_workers()
    except EngineUnavailable as exc:
        millis = (time.perf_counter() - started) * 1000
        return [PartStatus("worker", WORKER, False, f"okänt: {exc.message}", WORK_POOL, millis),
                PartStatus("task_workers", TASK_WORKERS, False, f"okänt: {exc.message}", "–", millis),
                PartStatus("scheduler", SCHEDULER, False, f"okänt: {exc.message}", "–", millis)], []
    finally:
        engine.close()
    millis = (time.perf_counter() - started) * 1000
    return ([worker_part(workers, now, millis), task_worker_part(task_workers, millis),
             scheduler_part(deployments, millis)],
            [deployment_status(d, now) for d in deployments])
