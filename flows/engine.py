"""The Prefect server as the status page and `npo schedules` see it: one gateway over its REST API, typed values out.

Plain HTTP with short timeouts rather than Prefect's client: a status probe must answer in about two seconds, also
when the server is slow or gone, and must not start an ephemeral server of its own.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from flows.schedules import Schedule

WORK_POOL = "npo"  # the pool prefect.yaml deploys to and the embedded stack's worker serves
# The background tasks of flows/background.py by function name (a task key is "<name>-<hash of its code>"): named
# here so that the status page need not import Prefect into the web process (tests/flows check they agree).
BACKGROUND_TASKS = ("advance_order", "deliver_mail", "bulk_decide")
TIMEOUT = 2.0
FINISHED = ["COMPLETED", "FAILED", "CRASHED"]


class EngineUnavailable(Exception):
    """The Prefect server did not answer (or answered with an error)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Run:
    """A flow run of a deployment: when it was scheduled, when it ended, and how."""

    state: str
    scheduled: dt.datetime
    ended: dt.datetime | None
    message: str = ""

    @property
    def covers(self) -> dt.datetime:
        """The due time this run answers for: its scheduled time, or its end when that is later."""
        return max(self.scheduled, self.ended) if self.ended else self.scheduled


@dataclass(frozen=True)
class Deployment:
    """A deployment with its schedules, its next scheduled run and its last runs."""

    name: str
    created: dt.datetime
    paused: bool
    schedules: tuple[Schedule, ...]
    next_run: dt.datetime | None
    last_completed: Run | None
    last_finished: Run | None


@dataclass(frozen=True)
class Worker:
    """A worker of the work pool and its last heartbeat."""

    name: str
    last_heartbeat: dt.datetime | None
    heartbeat_seconds: float


@dataclass(frozen=True)
class TaskWorker:
    """A task worker process connected to the server now (``hostname-pid``) and the tasks it serves."""

    identifier: str
    task_keys: tuple[str, ...]

    @property
    def serves(self) -> frozenset[str]:
        """The function names of the tasks it serves."""
        return frozenset(key.rsplit("-", 1)[0] for key in self.task_keys)


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _schedule(raw: dict) -> Schedule:
    if "interval" in raw:
        return Schedule(interval=dt.timedelta(seconds=raw["interval"]), anchor=_time(raw.get("anchor_date")),
                        timezone=raw.get("timezone") or "UTC")
    return Schedule(cron=raw.get("cron"), timezone=raw.get("timezone") or "UTC")


def _run(raw: dict) -> Run:
    # Prefect sends every run its expected start (and every deployment its creation time); _time() allows None for
    # the optional ones
    return Run(state=raw["state_type"], scheduled=_time(raw["expected_start_time"]),  # type: ignore[arg-type]
               ended=_time(raw.get("end_time")), message=(raw.get("state") or {}).get("message") or "")


class PrefectEngine:
    """Reads deployments, runs and workers from one Prefect API (``api_url`` ends in /api)."""

    def __init__(self, api_url: str, timeout: float = TIMEOUT):
        self.api_url = api_url.rstrip("/")
        self._http = httpx.Client(base_url=self.api_url, timeout=timeout)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def _post(self, path: str, body: dict) -> list[dict]:
        try:
            response = self._http.post(path, json=body)
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:
            raise EngineUnavailable(f"Prefect svarade {exc.response.status_code} på {path}") from exc
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"Prefect svarar inte på {self.api_url} ({exc or type(exc).__name__})") from exc
        return response.json()

    def _runs(self, deployment_id: str, states: list[str], sort: str, after: dt.datetime | None = None) -> Run | None:
        runs: dict = {"deployment_id": {"any_": [deployment_id]}, "state": {"type": {"any_": states}}}
        if after is not None:
            runs["expected_start_time"] = {"after_": after.isoformat()}
        found = self._post("/flow_runs/filter", {"flow_runs": runs, "sort": sort, "limit": 1})
        return _run(found[0]) if found else None

    def _deployment(self, raw: dict, now: dt.datetime) -> Deployment:
        finished = self._runs(raw["id"], FINISHED, "END_TIME_DESC")
        completed = finished if finished and finished.state == "COMPLETED" else self._runs(
            raw["id"], ["COMPLETED"], "END_TIME_DESC")
        upcoming = self._runs(raw["id"], ["SCHEDULED"], "EXPECTED_START_TIME_ASC", after=now)
        schedules = tuple(_schedule(s["schedule"]) for s in raw.get("schedules", []) if s.get("active"))
        return Deployment(name=raw["name"], created=_time(raw["created"]),  # type: ignore[arg-type]  # see _run
                          paused=bool(raw.get("paused")), schedules=schedules,
                          next_run=upcoming.scheduled if upcoming else None, last_completed=completed,
                          last_finished=finished)

    def deployments(self, now: dt.datetime) -> list[Deployment]:
        """Every deployment (by name) with its active schedules, next scheduled run and last runs."""
        raws = self._post("/deployments/filter", {"sort": "NAME_ASC", "limit": 200})
        with ThreadPoolExecutor(max_workers=6) as pool:
            return list(pool.map(lambda raw: self._deployment(raw, now), raws))

    def task_workers(self) -> list[TaskWorker]:
        """The task workers subscribed right now (the server forgets one when its websocket closes)."""
        return [TaskWorker(identifier=w["identifier"], task_keys=tuple(w.get("task_keys") or ()))
                for w in self._post("/task_workers/filter", {})]

    def workers(self, pool: str = WORK_POOL) -> list[Worker]:
        """The workers the server knows in ``pool``; EngineUnavailable (404) when the pool does not exist."""
        return [Worker(name=w["name"], last_heartbeat=_time(w.get("last_heartbeat_time")),
                       heartbeat_seconds=float(w.get("heartbeat_interval_seconds") or 30))
                for w in self._post(f"/work_pools/{pool}/workers/filter", {})]
