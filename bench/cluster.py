"""Benchmark: the cluster profile beside the single-process profile, in the same run (issue 16).

    .venv/bin/python bench/cluster.py --orders 200 --read-seconds 10 --json

For each profile a private stack (own var dir and free ports) runs exactly what `npo run` / `npo run --cluster`
runs (npo/stack.py, npo/cluster.py):

* **orders**: N membership orders submitted and approved over HTTP (bench/orders.py's run_orders: the managers
  submit 8 at a time, the approvers poll their queues), provisioned by the task workers; the floor is the same
  directory writes done straight through catalog.Directory (the same run, the same directory);
* **reads**: C clients, each with a patient open, read the gated overview over SITHS mTLS (single: the app's own
  mTLS listener; cluster: nginx, which checks chain, CRL and OCSP and forwards to the web processes) for S seconds;
  the floor is a static file through the same listener and processes.

The cluster runs on this machine's PostgreSQL (databases of its own, dropped afterwards); the single profile on
SQLite, as `make run`. Every process's RSS is sampled; the peak per process is reported. Prints one JSON object.
A benchmark, not a timed test: both profiles share the same two cores, so the cluster's extra processes cost here
what separate hosts would not.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.orders import RssSampler, floor, free_port, plan, run_orders  # noqa: E402
from catalog import Directory  # noqa: E402
from catalog.runtime import directory_config  # noqa: E402
from kernel.settings import Settings  # noqa: E402
from npo.certs import DevCA  # noqa: E402
from npo.cluster import ClusterStack, drop_database  # noqa: E402
from npo.ocsp import query  # noqa: E402
from npo.stack import Stack  # noqa: E402

NURSE, NURSE_NAME = "SE2321000255-VCH2", "Sara Lund"
PATIENTS = ("19480312-3423", "19900721-4688", "20170504-1281", "19790618-2444", "19350127-0627")
GATED, TRIVIAL = "/oversikt/patient", "/static/site.css"


def _settings(var: Path, **extra: object) -> Settings:
    return Settings(var_dir=var, ldap_port=free_port(), web_port=free_port(), smtp_port=free_port(),
                    prefect_port=free_port(), overview_port=free_port(), dev_login=True,
                    public_base_url="http://127.0.0.1", **extra)  # type: ignore[arg-type]


def _reader(base: str, context: ssl.SSLContext, patient: str) -> httpx.Client:
    """A nurse's session over mTLS with ``patient`` open (the information acknowledged)."""
    client = httpx.Client(base_url=base, verify=context, timeout=60)
    info = client.get("/oversikt/information")
    token = re.search(r'name="csrf" value="([^"]+)"', info.text)
    if token is not None:  # not yet acknowledged (the demo's history may have acknowledged it already)
        version = re.search(r'name="version" value="([^"]*)"', info.text)
        read = client.post("/oversikt/information", data={"csrf": token.group(1), "read": "1",
                                                          "version": version.group(1) if version else ""})
        if read.status_code != 303:
            raise RuntimeError(f"acknowledging the information failed with {read.status_code}")
    search = client.get("/oversikt")
    token = re.search(r'name="csrf" value="([^"]+)"', search.text)
    if token is None:
        raise RuntimeError(f"no patient search on /oversikt ({search.status_code}): {search.text[:600]}")
    found = client.post("/oversikt/patient", data={"csrf": token.group(1), "personnummer": patient})
    if found.status_code != 303:
        raise RuntimeError(f"opening {patient} failed with {found.status_code}")
    return client


def _load(clients: list[httpx.Client], path: str, seconds: float) -> dict[str, float | int]:
    latencies: list[float] = []
    failed = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def run(client: httpx.Client) -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            response = client.get(path)
            took = (time.perf_counter() - started) * 1000
            with lock:
                if response.status_code == 200:
                    latencies.append(took)
                else:
                    failed[0] += 1

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        list(pool.map(run, clients))
    ordered = sorted(latencies)
    return {"rps": round(len(latencies) / seconds, 1), "ok": len(latencies), "failed": failed[0],
            "p50_ms": round(statistics.median(ordered), 1) if ordered else 0.0,
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1) if ordered else 0.0}


def measure_reads(stack: Stack, clients: int, seconds: float) -> dict[str, object]:
    ca = DevCA.open(stack.settings.certs_dir)
    issued = ca.issue_user(NURSE, NURSE_NAME)
    if isinstance(stack, ClusterStack):  # nginx asks OCSP: a card the responder does not know yet is refused
        deadline = time.monotonic() + 10
        while query(stack.ocsp_url, issued.cert, ca.cert).status != "good" and time.monotonic() < deadline:
            time.sleep(0.1)
    folder = stack.settings.var_dir / "bench-client"
    folder.mkdir(exist_ok=True)
    (folder / "nurse.crt").write_bytes(issued.cert_pem())
    (folder / "nurse.key").write_bytes(issued.key_pem())
    context = ssl.create_default_context(cafile=str(ca.cert_path))
    context.load_cert_chain(str(folder / "nurse.crt"), str(folder / "nurse.key"))
    sessions = [_reader(stack.siths_url, context, PATIENTS[n % len(PATIENTS)]) for n in range(clients)]
    try:
        _load(sessions, GATED, min(2.0, seconds))  # warm up
        trivial = _load(sessions, TRIVIAL, seconds)
        gated = _load(sessions, GATED, seconds)
    finally:
        for session in sessions:
            session.close()
    return {"read_clients": clients, "gated": gated, "trivial_floor": trivial,
            "gated_to_trivial_ratio": round(gated["rps"] / trivial["rps"], 3) if trivial["rps"] else 0.0}


def run_profile(name: str, args: argparse.Namespace, log: Callable[..., None]) -> dict[str, object]:
    var = Path(tempfile.mkdtemp(prefix=f"npo-bench-{name}-"))
    stack: Stack
    database = None
    if name == "cluster":
        base = make_url(args.postgres).set(database=f"npo_bench_cluster_{int(time.time())}")
        database = base.render_as_string(hide_password=False)
        stack = ClusterStack(_settings(var, database_url=database), demo_persons=args.demo_persons,
                             task_workers=args.task_workers, web_instance_ports=(free_port(), free_port()),
                             ocsp_port=free_port(), ldap_ports=(free_port(), free_port()))
    else:
        stack = Stack(_settings(var), demo_persons=args.demo_persons, task_workers=args.task_workers)
    stack._say = lambda text: log(f"[{name}] {text}")  # type: ignore[method-assign]
    sampler = RssSampler(stack)
    try:
        started = time.perf_counter()
        stack.migrate()
        stack.start_directory()
        stack.start_mail()
        stack.start_prefect()
        stack.start_web()
        result: dict[str, object] = {"start_s": round(time.perf_counter() - started, 1)}
        config = stack.directory_config() if isinstance(stack, ClusterStack) else directory_config(stack.settings)
        directory = Directory(config, cache_seconds=0)
        rows = plan(directory, args.orders)
        sampler.start()
        log(f"[{name}] {len(rows)} orders …")
        orders = run_orders(stack.web_url, rows, directory, poll_s=0.2)
        orders["floor_directory_s"] = round(floor(directory, rows), 2)
        result["orders"] = orders
        log(f"[{name}] reads, {args.read_clients} clients …")
        result["reads"] = measure_reads(stack, args.read_clients, args.read_seconds)
        result["peak_rss_mb"] = sampler.stop()
        directory.close()
        return result
    finally:
        sampler.stop()
        stack.stop()
        if isinstance(stack, ClusterStack):
            for provider in stack.providers:
                provider.destroy()
            if database:
                drop_database(database)
                drop_database(stack.prefect_database_url)
        shutil.rmtree(var, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--demo-persons", type=int, default=2000)
    parser.add_argument("--task-workers", type=int, default=2)
    parser.add_argument("--read-clients", type=int, default=8)
    parser.add_argument("--read-seconds", type=float, default=10.0)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="the PostgreSQL server of the cluster profile (a database of its own is created)")
    parser.add_argument("--profiles", default="single,cluster", help="which profiles, comma separated")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    log = (lambda *_: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    figures = {name: run_profile(name, args, log) for name in args.profiles.split(",")}
    print(json.dumps(figures, ensure_ascii=False) if args.json else json.dumps(figures, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
