"""Benchmark: orders submitted and approved over HTTP, provisioned through real Prefect flow runs.

    .venv/bin/python bench/orders.py --orders 500 --json

A private embedded stack (own var dir and ports) runs exactly what `make run` runs: slapd with the demo, SQLite,
the SMTP sink, the Prefect server with a process worker serving prefect.yaml, and the web app. N membership orders
(one staff member each, spread over the demo's units that hold VoB SJF) are submitted through the JSON API by the
units' managers, approved through the JSON API by each unit's approver as soon as they reach the queue, and each
is provisioned by the advance-order flow the web starts through run_deployment. Measured in the same run, the floor:
the same directory writes done directly through catalog.Directory. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import psutil  # noqa: E402

from catalog import Directory  # noqa: E402
from catalog.model import RoleName, Validity  # noqa: E402
from catalog.runtime import directory_config  # noqa: E402
from kernel.clock import end_of_day, local_date, local_midnight, now  # noqa: E402
from kernel.settings import Settings  # noqa: E402
from npo.stack import Stack  # noqa: E402

DONE = {"provisioned", "provisioning_failed", "rejected"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """One signed-in person over HTTP (dev login + CSRF)."""

    def __init__(self, base: str, hsa_id: str):
        self.http = httpx.Client(base_url=base, timeout=60)
        page = self.http.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        response = self.http.post("/dev/login", data={"hsa_id": hsa_id, "csrf": token, "next": "/status"})
        assert response.status_code in (200, 303), response.text
        self.csrf = self.http.get("/api/session").json()["csrf"]
        self.lock = threading.Lock()

    def post(self, path: str, body: dict[str, object]) -> httpx.Response:
        with self.lock:
            return self.http.post(path, json=body, headers={"X-CSRF-Token": self.csrf})

    def get(self, path: str) -> httpx.Response:
        with self.lock:
            return self.http.get(path)


def plan(directory: Directory, orders: int) -> list[tuple[str, str, str, str]]:
    """(unit, manager, approver, person) for N orders: staff not yet members of their unit's VoB SJF."""
    chosen = []
    for unit in directory.units():
        commissions = [c for c in directory.commissions_on_unit(unit.hsa_id) if c.name == "VoB SJF"]
        if not commissions or not unit.manager_hsa_id:
            continue
        role = directory.role(RoleName.UNIT_CATALOG_ADMIN, unit.hsa_id)
        approver = role.members[0] if role and role.members else None
        if unit.care_agreement:
            it = directory.role(RoleName.IT_KUNDTJANST_PRIVATA)
            approver = it.members[0] if it and it.members else None
        if approver is None:
            continue
        members = {m.person_hsa_id for m in directory.memberships(commissions[0].hsa_id)}
        for person in directory.people_of_unit(unit.hsa_id):
            if person.hsa_id not in members and person.hsa_id not in {unit.manager_hsa_id, approver}:
                chosen.append((unit.hsa_id, unit.manager_hsa_id, approver, person.hsa_id))
    chosen.sort(key=lambda row: (hash(row[3]) % 997, row[3]))  # spread over units
    if len(chosen) < orders:
        raise SystemExit(f"the demo has only {len(chosen)} staff without VoB SJF; use a larger --demo-persons")
    return chosen[:orders]


def run_orders(base: str, rows: list[tuple[str, str, str, str]]) -> dict[str, object]:
    """Submit, approve as they arrive, wait for provisioning; per-order timings."""
    clients: dict[str, Client] = {}
    for who in sorted({r[1] for r in rows} | {r[2] for r in rows}):
        clients[who] = Client(base, who)
    today = local_date(now())
    submitted: dict[str, float] = {}
    finished: dict[str, float] = {}
    approver_of: dict[str, str] = {}
    started = time.perf_counter()

    def submit(row: tuple[str, str, str, str]) -> None:
        unit, manager, approver, person = row
        response = clients[manager].post("/api/orders/membership", {
            "unit_hsa_id": unit, "action": "add", "person_hsa_ids": [person], "valid_from": today.isoformat(),
            "valid_to": (today + dt.timedelta(days=365)).isoformat(), "comment": "bench"})
        assert response.status_code == 201, response.text
        reference = response.json()["reference"]
        submitted[reference] = time.perf_counter()
        approver_of[reference] = approver

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(submit, rows))
    submit_done = time.perf_counter() - started
    pending = set(submitted)
    approved: set[str] = set()
    deadline = time.monotonic() + 6 * 3600
    while pending and time.monotonic() < deadline:
        for reference in list(pending):
            client = clients[approver_of[reference]]
            state = client.get(f"/api/orders/{reference}").json()["state"]
            if state == "awaiting_user_admin" and reference not in approved:
                answer = client.post(f"/api/orders/{reference}/decision", {"approve": True,
                                                                           "stage": "awaiting_user_admin"})
                assert answer.status_code == 200, answer.text
                approved.add(reference)
            elif state in DONE:
                finished[reference] = time.perf_counter()
                pending.discard(reference)
                assert state == "provisioned", (reference, state)
        time.sleep(0.5)
    total = time.perf_counter() - started
    latencies = sorted(finished[r] - submitted[r] for r in finished)
    return {"orders": len(rows), "provisioned": len(finished), "wall_s": round(total, 1),
            "submit_all_s": round(submit_done, 1), "orders_per_minute": round(len(finished) / total * 60, 1),
            "p50_submit_to_provisioned_s": round(statistics.median(latencies), 1),
            "p95_submit_to_provisioned_s": round(latencies[int(0.95 * (len(latencies) - 1))], 1)}


def floor(directory: Directory, rows: list[tuple[str, str, str, str]]) -> float:
    """The same membership writes straight through catalog.Directory (after the run they exist: re-write them
    with a different validity so every write is real)."""
    today = local_date(now())
    validity = Validity(local_midnight(today), end_of_day(today + dt.timedelta(days=400)))
    commission_of = {}
    for unit, _m, _a, _p in rows:
        if unit not in commission_of:
            commission_of[unit] = next(c.hsa_id for c in directory.commissions_on_unit(unit) if c.name == "VoB SJF")
    started = time.perf_counter()
    for unit, _m, _a, person in rows:
        _membership, changed = directory.ensure_membership(commission_of[unit], person, validity)
        assert changed
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--demo-persons", type=int, default=6000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="npo-bench-orders-"))
    settings = Settings(var_dir=var, ldap_port=free_port(), web_port=free_port(), smtp_port=free_port(),
                        prefect_port=free_port(), overview_port=free_port(), dev_login=True,
                        public_base_url="http://127.0.0.1")
    stack = Stack(settings, demo_persons=args.demo_persons)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack's children when killed
    log = (lambda *_: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    try:
        log("starting the stack …")
        stack.migrate()
        stack.start_directory()
        stack.start_mail()
        stack.start_prefect()
        stack.start_web()
        directory = Directory(directory_config(settings), cache_seconds=0)
        rows = plan(directory, args.orders)
        log(f"{len(rows)} orders …")
        result = run_orders(stack.web_url, rows)
        floor_s = floor(directory, rows)
        result["floor_directory_s"] = round(floor_s, 2)
        result["ratio_wall_to_floor"] = round(result["wall_s"] / floor_s, 1)  # type: ignore[operator]
        processes = [c.process.pid for c in stack.children]
        rss = {c.name: round(psutil.Process(c.process.pid).memory_info().rss / 2**20, 1) for c in stack.children
               if psutil.pid_exists(c.process.pid)}
        result["rss_mb"] = rss
        result["peak_rss_bench_mb"] = round(psutil.Process().memory_info().rss / 2**20, 1)
        del processes
        print(json.dumps(result))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
