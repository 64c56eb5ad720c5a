"""A real `prefect server start` with its scheduler, prefect.yaml deployed and a worker: started by the embedded
stack's own code (npo/stack.py `start_prefect`, as `make run` does), once per session, stopped afterwards."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog.ldapconn import DirectoryConfig
from kernel.settings import Settings
from npo.stack import Stack
from tests.conftest import free_port

# The scheduler keeps about three runs (at least an hour) ahead by default; these settings make it create a
# year of runs, so the tests see the runs it created across the next spring-forward and fall-back days.
SCHEDULER_HORIZON = {
    "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_SCHEDULED_TIME": "P370D",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME": "P372D",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS": "400",
}


@dataclass
class PrefectStack:
    """The running server (its API) and the stack that started it."""

    stack: Stack
    api_url: str

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    @property
    def log_dir(self) -> Path:
        return self.settings.var_dir / "log"

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.api_url}{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def deployment(self, name: str) -> dict[str, Any]:
        found = self.post("/deployments/filter", {"deployments": {"name": {"any_": [name]}}})
        assert len(found) == 1, (name, found)
        return found[0]

    def runs(self, deployment_id: str, *, states: list[str] | None = None, after: dt.datetime | None = None,
             before: dt.datetime | None = None, sort: str = "EXPECTED_START_TIME_ASC", limit: int = 200) -> list[dict]:
        runs: dict[str, Any] = {"deployment_id": {"any_": [deployment_id]}}
        if states:
            runs["state"] = {"type": {"any_": states}}
        window = {k: v.isoformat() for k, v in (("after_", after), ("before_", before)) if v is not None}
        if window:
            runs["expected_start_time"] = window
        return self.post("/flow_runs/filter", {"flow_runs": runs, "sort": sort, "limit": limit})


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 180, every: float = 1.0) -> Any:
    """Poll ``probe`` until it returns something truthy (generous: the machine is shared and slow under load)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(every)


@pytest.fixture(scope="session")
def prefect_stack(tmp_path_factory: pytest.TempPathFactory, directory_config: DirectoryConfig,
                  _sqlite_template: Path) -> Iterator[PrefectStack]:
    """Prefect server + work pool npo + `prefect deploy --all` + worker + two task workers, with a database and the
    session's slapd for the flows the worker runs (sweep, every five minutes) and the tasks the task workers run."""
    import shutil

    var = tmp_path_factory.mktemp("stack")
    shutil.copy(_sqlite_template, var / "npo.db")
    settings = Settings(var_dir=var, env="test", prefect_port=free_port(), database_url=f"sqlite:///{var / 'npo.db'}",
                        ldap_url=directory_config.url, ldap_bind_dn=directory_config.bind_dn,
                        ldap_password=directory_config.password, smtp_port=free_port())
    stack = Stack(settings, with_prefect=True, extra_env=SCHEDULER_HORIZON)
    try:
        stack.start_prefect()
        running = PrefectStack(stack, f"{stack.prefect_url}/api")
        wait_for("the worker's first heartbeat", lambda: running.post("/work_pools/npo/workers/filter", {}))
        wait_for("both task workers", lambda: len(running.post("/task_workers/filter", {})) == stack.task_workers)
        yield running
    finally:
        stack.stop()
