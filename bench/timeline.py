"""Where an order's time goes, from a kept bench var dir (`bench/orders.py --keep-var`).

    .venv/bin/python bench/timeline.py /tmp/npo-bench-orders-XXXX [--json]

Joins the orders' audit events (npo.db) with the Prefect task runs and their states (prefect/prefect.db) and prints,
per component, the median and p95 over the orders in milliseconds:

* commit → .delay() begins: the web's commit to the client-side Scheduled state (the response is sent first,
  then the background task runs `advance_later`);
* .delay() → stored: the Scheduled state's client timestamp to the task run's row on the server (parameters
  written to the local result storage, then POST /task_runs/);
* stored → running: the server hands the run to a task worker over its websocket, the worker reads the
  parameters and proposes PENDING and RUNNING;
* running → step committed: the step's transaction (and for provisioning its LDAP writes);
* step committed → completed: the rest of the task (the order's mail, the COMPLETED state).

Two legs: after submit (submitted → awaiting_user_admin) and after the approval (approved → provisioned).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import statistics
from pathlib import Path


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value[:26])


def ms(a: dt.datetime, b: dt.datetime) -> float:
    return (b - a).total_seconds() * 1000


def load(var: Path) -> tuple[dict[int, list[tuple[str, dt.datetime, str | None]]], dict[str, dict[str, dt.datetime]]]:
    npo = sqlite3.connect(var / "npo.db")
    events: dict[int, list[tuple[str, dt.datetime, str | None]]] = {}
    for order_id, at, event, run_id in npo.execute(
            "select order_id, at, event, task_run_id from audit_events order by id"):
        events.setdefault(order_id, []).append((event, parse(at), run_id))
    prefect = sqlite3.connect(var / "prefect" / "prefect.db")
    runs: dict[str, dict[str, dt.datetime]] = {}
    for run_id, created, expected in prefect.execute("select id, created, expected_start_time from task_run"):
        runs[run_id] = {"created": parse(created), "delay": parse(expected)}
    for run_id, kind, timestamp in prefect.execute("select task_run_id, type, timestamp from task_run_state"):
        if run_id in runs:
            runs[run_id].setdefault(kind.lower(), parse(timestamp))
    return events, runs


def legs(events: dict[int, list[tuple[str, dt.datetime, str | None]]],
         runs: dict[str, dict[str, dt.datetime]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        out.setdefault(name, []).append(value)

    for order_events in events.values():
        by_event = {e: (at, run) for e, at, run in order_events}
        for leg, start_event, step_event, last_event in (("submit", "submit", "route_public", "route_public"),
                                                          ("approval", "approve", "start_provisioning",
                                                           "provisioned")):
            if start_event not in by_event or step_event not in by_event:
                continue
            commit = by_event[start_event][0]
            step_at, run_id = by_event[step_event]
            done_at = by_event[last_event][0]
            run = runs.get(run_id or "")
            if not run or "running" not in run:
                continue
            add(f"{leg}: commit → .delay() begins", ms(commit, run["delay"]))
            add(f"{leg}: .delay() → stored on server", ms(run["delay"], run["created"]))
            add(f"{leg}: stored → pending (worker got it)", ms(run["created"], run.get("pending", run["running"])))
            add(f"{leg}: pending → running", ms(run.get("pending", run["running"]), run["running"]))
            add(f"{leg}: running → step committed", ms(run["running"], done_at if leg == "approval" else step_at))
            if "completed" in run:
                add(f"{leg}: step committed → task completed", ms(done_at, run["completed"]))
            add(f"{leg}: TOTAL commit → step committed", ms(commit, done_at))
            if leg == "approval":
                add("approval: start_provisioning → provisioned (LDAP write + commit)", ms(step_at, done_at))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("var", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    table = {name: {"n": len(v), "p50_ms": round(statistics.median(v)),
                    "p95_ms": round(sorted(v)[int(0.95 * (len(v) - 1))]), "mean_ms": round(statistics.fmean(v))}
             for name, v in legs(*load(args.var)).items()}
    if args.json:
        print(json.dumps(table))
        return
    for name, row in table.items():
        print(f"{name:62} n={row['n']:4}  p50 {row['p50_ms']:7} ms  p95 {row['p95_ms']:7} ms  "
              f"mean {row['mean_ms']:7} ms")


if __name__ == "__main__":
    main()
