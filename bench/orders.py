"""Benchmark: orders submitted and approved over HTTP, provisioned by Prefect background tasks.

    .venv/bin/python bench/orders.py --orders 500 --task-workers 2 --json

A private embedded stack (own var dir and free ports) runs exactly what `make run` runs: slapd with the demo, SQLite,
the SMTP sink, the Prefect server (with its worker for the scheduled deployments), K task workers (`npo tasks
serve`) and the web app. N membership orders (one staff member each, spread over the demo's units that hold VoB SJF)
are submitted through the JSON API by the units' managers; each unit's approver polls its queue (GET
/api/queues/orders, once per approver per round; or, with `--watch db`, the bench reads the order table once per
round, which puts no polling load on the web) and approves through the JSON API what has arrived. The web submits
each automated step after its commit as an `advance-order` background task (`.delay()`, flows/trigger.py), which a
task worker runs. Timings, all from the bench's side:

* submit → queue: submit's HTTP response → the order first seen in the approver's queue;
* approval → directory: the final approval's HTTP response → the membership visible in LDAP (one search per round
  through catalog.Directory, not through the web);
* submit → provisioned: submit's response → the order's state `provisioned` (asked once the membership is in LDAP).

Measured in the same run, the floor: the same directory writes done directly through catalog.Directory. Every
process's RSS is sampled in a background thread; the peak per process is reported. Prints one JSON object. A
benchmark, not a timed test: the figures are noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import psutil  # noqa: E402

from bench import profiling  # noqa: E402
from catalog import Directory  # noqa: E402
from catalog.ldapconn import escape  # noqa: E402
from catalog.model import RoleName, Validity  # noqa: E402
from catalog.runtime import directory_config, embedded_slapd  # noqa: E402
from kernel.clock import end_of_day, local_date, local_midnight, now  # noqa: E402
from kernel.settings import Settings  # noqa: E402
from npo.stack import Stack  # noqa: E402

DONE = {"provisioned", "provisioning_failed", "rejected"}
FIRST_QUEUE = "awaiting_user_admin"  # the first (and for these orders the final) approver's queue
TASK_WORKER_LIMIT_MB = 200


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


class RssSampler:
    """Samples the RSS of every process of the stack (and the bench) in a background thread; keeps the peak."""

    def __init__(self, stack: Stack, interval: float = 0.25):
        self.stack, self.interval = stack, interval
        self.peak_mb: dict[str, float] = {}
        self.cpu_first: dict[str, float] = {}
        self.cpu_last: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        return dict(sorted(self.peak_mb.items()))

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) each process used while sampled."""
        return {name: round(self.cpu_last[name] - self.cpu_first[name], 1) for name in sorted(self.cpu_last)}

    def _processes(self) -> list[tuple[str, psutil.Process]]:
        found: list[tuple[str, psutil.Process]] = [("bench", psutil.Process())]
        for child in list(self.stack.children):
            try:
                root = psutil.Process(child.process.pid)
                found.append((child.name, root))
                # e.g. flow-run subprocesses of the Prefect worker
                found += [(f"{child.name}/{p.name()}", p) for p in root.children(recursive=True)]
            except psutil.Error:
                continue
        slapd_pid = embedded_slapd(self.stack.settings).pid() if self.stack.settings.embedded_ldap else None
        if slapd_pid:
            with contextlib.suppress(psutil.Error):
                found.append(("slapd", psutil.Process(slapd_pid)))
        return found

    def _loop(self) -> None:
        while not self._stop.is_set():
            for name, process in self._processes():
                try:
                    mb = process.memory_info().rss / 2**20
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                self.peak_mb[name] = round(max(self.peak_mb.get(name, 0.0), mb), 1)
                self.cpu_first.setdefault(name, times.user + times.system)
                self.cpu_last[name] = times.user + times.system
            self._stop.wait(self.interval)


def start_profilers(stack: Stack, folder: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy on each part of the stack that runs our code (bench/profiling.py)."""
    return profiling.record({child.name: child.process.pid for child in stack.children
                             if child.name not in ("smtp", "siths", "prefect-worker")}, folder, rate=50)


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
    chosen.sort(key=lambda row: (zlib.crc32(row[3].encode()) % 997, row[3]))  # spread over units, same every run
    if len(chosen) < orders:
        raise SystemExit(f"the demo has only {len(chosen)} staff without VoB SJF; use a larger --demo-persons")
    return chosen[:orders]


def visible_in_directory(directory: Directory, persons: dict[str, str]) -> set[str]:
    """Of {order reference: person}, the references whose membership is in LDAP: one search for all of them."""
    if not persons:
        return set()
    wanted = {person: reference for reference, person in persons.items()}
    found: set[str] = set()
    people = sorted(wanted)
    for start in range(0, len(people), 200):  # keep one filter a sane size
        terms = "".join(f"(hsaCommissionMember={escape(p)})" for p in people[start:start + 200])
        hits = directory.ldap.search(directory.base, f"(&(objectClass=npoCommissionMembership)(|{terms}))",
                                     attributes=["hsaCommissionMember", "npoOrderReference"])
        for _dn, attrs in hits:
            members = attrs.get("hsaCommissionMember") or []
            for person in members if isinstance(members, list) else [members]:
                if person in wanted:
                    found.add(wanted[person])
    return found


def percentile(values: list[float], share: float) -> float | None:
    ordered = sorted(values)
    return round(ordered[int(share * (len(ordered) - 1))], 2) if ordered else None


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def run_orders(base: str, rows: list[tuple[str, str, str, str]], directory: Directory, *,
               poll_s: float, database: Path | None = None) -> dict[str, object]:
    """Submit (8 at a time) while the approvers poll their queues and approve what arrives; then wait for LDAP and
    the state `provisioned`. Per-order timings from the bench's side."""
    clients: dict[str, Client] = {}
    for who in sorted({r[1] for r in rows} | {r[2] for r in rows}):
        clients[who] = Client(base, who)
    approvers = sorted({r[2] for r in rows})
    today = local_date(now())
    submitted: dict[str, float] = {}
    queued: dict[str, float] = {}
    approved: dict[str, float] = {}
    in_directory: dict[str, float] = {}
    finished: dict[str, float] = {}
    person_of: dict[str, str] = {}
    manager_of: dict[str, str] = {}
    approver_of: dict[str, str] = {}
    lock = threading.Lock()
    started = time.perf_counter()

    def submit(row: tuple[str, str, str, str]) -> None:
        unit, manager, approver, person = row
        response = clients[manager].post("/api/orders/membership", {
            "unit_hsa_id": unit, "action": "add", "person_hsa_ids": [person], "valid_from": today.isoformat(),
            "valid_to": (today + dt.timedelta(days=365)).isoformat(), "comment": "bench"})
        at = time.perf_counter()
        assert response.status_code == 201, response.text
        reference = response.json()["reference"]
        with lock:
            submitted[reference], person_of[reference], manager_of[reference] = at, person, manager
            approver_of[reference] = approver

    def approve(approver: str, arrived: list[str]) -> None:
        client = clients[approver]
        for reference in arrived:
            decision = client.post(f"/api/orders/{reference}/decision", {"approve": True, "stage": FIRST_QUEUE})
            assert decision.status_code == 200, decision.text
            with lock:
                approved[reference] = time.perf_counter()

    def work_queue(approver: str) -> int:
        """One approver: read the queue once, approve every order of ours that has arrived."""
        client = clients[approver]
        seen_at = time.perf_counter()
        answer = client.get("/api/queues/orders")
        assert answer.status_code == 200, answer.text
        seen_at = (seen_at + time.perf_counter()) / 2  # the queue was read somewhere in the round trip
        arrived = []
        with lock:
            for order in answer.json():
                reference = order["reference"]
                if order["state"] == FIRST_QUEUE and reference in submitted and reference not in approved:
                    queued.setdefault(reference, seen_at)
                    arrived.append(reference)
        approve(approver, arrived)
        return len(arrived)

    def watch_database() -> None:
        """--watch db: one read-only query on the order table per round (no load on the web), then approve."""
        with lock:
            waiting = [r for r in submitted if r not in approved]
        if not waiting:
            return
        assert database is not None
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
            marks = ",".join("?" * len(waiting))
            states = connection.execute(f"select reference, state from orders where reference in ({marks})",
                                        waiting).fetchall()
        seen_at = time.perf_counter()
        arrived: dict[str, list[str]] = {}
        with lock:
            for reference, state in states:
                if state == FIRST_QUEUE:
                    queued.setdefault(reference, seen_at)
                    arrived.setdefault(approver_of[reference], []).append(reference)
        list(pollers.map(lambda item: approve(*item), arrived.items()))

    rounds = 0
    with ThreadPoolExecutor(max_workers=8) as submitters, ThreadPoolExecutor(max_workers=4) as pollers:
        submissions = [submitters.submit(submit, row) for row in rows]
        deadline = time.monotonic() + 6 * 3600
        while time.monotonic() < deadline:
            round_start = time.perf_counter()
            rounds += 1
            for failed in [f for f in submissions if f.done() and f.exception()]:
                raise failed.exception()  # type: ignore[misc]
            if database is not None:
                watch_database()
            else:
                with lock:  # only approvers with an order submitted and not yet approved (the bench's own load)
                    busy = sorted({approver_of[r] for r in submitted if r not in approved})
                list(pollers.map(work_queue, busy))
            with lock:
                waiting = {r: person_of[r] for r in approved if r not in in_directory}
            seen = time.perf_counter()
            for reference in visible_in_directory(directory, waiting):
                in_directory[reference] = seen
            for reference in [r for r in in_directory if r not in finished]:
                state = clients[manager_of[reference]].get(f"/api/orders/{reference}").json()["state"]
                if state in DONE:
                    assert state == "provisioned", (reference, state)
                    finished[reference] = time.perf_counter()
            if len(finished) == len(rows):
                break
            time.sleep(max(0.0, poll_s - (time.perf_counter() - round_start)))
        submit_done = max(submitted.values()) - started if submitted else 0.0
    total = time.perf_counter() - started
    to_provisioned = [finished[r] - submitted[r] for r in finished]
    to_queue = [queued[r] - submitted[r] for r in queued]
    to_directory = [in_directory[r] - approved[r] for r in in_directory]
    return {"orders": len(rows), "provisioned": len(finished), "wall_s": round(total, 1),
            "submit_all_s": round(submit_done, 1), "orders_per_minute": round(len(finished) / total * 60, 1),
            "p50_submit_to_provisioned_s": median(to_provisioned),
            "p95_submit_to_provisioned_s": percentile(to_provisioned, 0.95),
            "p50_submit_to_queue_s": median(to_queue), "p95_submit_to_queue_s": percentile(to_queue, 0.95),
            "p50_approval_to_directory_s": median(to_directory),
            "p95_approval_to_directory_s": percentile(to_directory, 0.95),
            "max_approval_to_directory_s": percentile(to_directory, 1.0),
            "approvers": len(approvers), "poll_rounds": rounds, "poll_interval_s": poll_s,
            "watch": "db" if database is not None else "web"}


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
    parser.add_argument("--task-workers", type=int, default=2, help="task worker processes the stack starts")
    parser.add_argument("--demo-persons", type=int, default=6000)
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between the approvers' polling rounds")
    parser.add_argument("--watch", choices=("web", "db"), default="web",
                        help="see orders arrive through each approver's queue (GET /api/queues/orders), or through a "
                             "read-only query on the SQLite order table (no polling load on the web)")
    parser.add_argument("--keep-var", action="store_true", help="print the var dir (logs, databases) and keep it")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="py-spy record each process of the stack during the orders (raw stacks into DIR)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra environment variable for every part of the stack (to try a setting)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.task_workers < 1:
        parser.error("--task-workers must be at least 1")
    var = Path(tempfile.mkdtemp(prefix="npo-bench-orders-"))
    settings = Settings(var_dir=var, ldap_port=free_port(), web_port=free_port(), smtp_port=free_port(),
                        prefect_port=free_port(), overview_port=free_port(), dev_login=True,
                        public_base_url="http://127.0.0.1")
    extra_env = dict(item.split("=", 1) for item in args.env)
    stack = Stack(settings, demo_persons=args.demo_persons, task_workers=args.task_workers, extra_env=extra_env)
    stack._say = lambda text: None if args.json else print(text, file=sys.stderr)  # type: ignore[method-assign]
    log = (lambda *_: None) if args.json else (lambda *a: print(*a, file=sys.stderr))

    def on_signal(signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not interrupt the stop
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)  # stop the stack's children when killed or on Ctrl-C
    signal.signal(signal.SIGINT, on_signal)
    sampler = RssSampler(stack)
    try:
        log(f"starting the stack in {var} …")
        stack.migrate()
        stack.start_directory()
        stack.start_mail()
        stack.start_prefect()
        stack.start_web()
        directory = Directory(directory_config(settings), cache_seconds=0)
        rows = plan(directory, args.orders)
        log(f"{len(rows)} orders, {args.task_workers} task worker(s) …")
        result: dict[str, object] = {"task_workers": args.task_workers}
        if extra_env:
            result["extra_env"] = extra_env
        sampler.start()
        profilers = start_profilers(stack, args.profile) if args.profile else []
        try:
            database = settings.var_dir / "npo.db" if args.watch == "db" else None
            result.update(run_orders(stack.web_url, rows, directory, poll_s=args.poll, database=database))
        finally:
            profiling.stop(profilers)
        floor_s = floor(directory, rows)
        result["floor_directory_s"] = round(floor_s, 2)
        result["ratio_wall_to_floor"] = round(result["wall_s"] / floor_s, 1)  # type: ignore[operator]
        rss = {c.name: round(psutil.Process(c.process.pid).memory_info().rss / 2**20, 1) for c in stack.children
               if psutil.pid_exists(c.process.pid)}
        result["rss_mb"] = rss
        result["peak_rss_bench_mb"] = round(psutil.Process().memory_info().rss / 2**20, 1)
        peak = sampler.stop()
        result["peak_rss_mb"] = peak
        result["cpu_s_during_orders"] = sampler.cpu_seconds()
        workers = {name: mb for name, mb in peak.items() if name.startswith("task-worker-") and "/" not in name}
        result["peak_rss_task_worker_max_mb"] = max(workers.values()) if workers else None
        result["task_workers_under_200_mb"] = all(mb < TASK_WORKER_LIMIT_MB for mb in workers.values())
        if args.keep_var:
            result["var_dir"] = str(var)
        print(json.dumps(result), flush=True)
    finally:
        sampler.stop()
        stack.stop()
        if not args.keep_var:
            shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
