"""Benchmark: the pure PDL gate, ``overview.gate.decide``, and the gated overview over HTTP (never a timed test).

    .venv/bin/python bench/gate.py --json

Part 1 (decide): generates ``--cases`` mixed cases from a fixed seed (most pass checks 1–6 and carry 0–40 items from
Region Skåne, Halland, Blekinge and eHälsomyndigheten with consents, emergency openings and blocks; the rest fail
somewhere in 1–6 or ask only the access checks), times each ``decide`` call alone (generation is not timed):
``decide_cases``, ``decide_p50_us``, ``decide_p99_us``, ``decide_mean_us`` and a few counts.

Part 2 (HTTP, ``--no-http`` skips it): a stack of its own in a temporary directory (a slapd with the demo catalog, a
migrated SQLite database, or ``--http-database-url``, with the demo patients) and the real app served by
``npo certs serve`` in a child process: over mTLS by default (each client presents a SITHS-like certificate from the
dev CA on a kept-alive connection), or with ``--http-transport proxy`` as plain HTTP behind a trusted proxy that
forwards the certificate in a header. ``--http-clients`` (32) concurrent clients, each a nurse's browser session at
Vårdcentralen Hörby with a demo patient chosen, first load a trivial endpoint of the same app (a static file) and
then the gated overview (``GET /oversikt/patient``: SITHS verification, directory facts, the gate, the access-log
row, the page) for ``--http-seconds`` each, both served by the same ``--http-workers`` web processes (2):
``http_workers``, ``http_trivial_rps``/``_p50_ms``/``_p99_ms``, ``http_gated_rps``/``_p50_ms``/``_p99_ms``,
``http_gated_to_trivial_ratio``, ``http_trivial_server_cpu_ms``/``http_gated_server_cpu_ms`` (the web processes' CPU
time per request, from /proc), ``http_reads``, ``http_log_rows`` (must equal the reads) and
``http_server_peak_rss_mb`` (the largest of the web processes). ``--profile DIR`` records the web processes with
py-spy during the gated load and adds ``http_profile``: the share of samples per part of a read (bench/profiling.py).
The load generator runs on the same machine and competes for its cores.

``main`` merges the parts' dicts and prints one JSON object (``peak_rss_mb`` is the benchmark process's own).
Figures vary with the machine's load; compare them on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import re
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import profiling  # noqa: E402
from demo import organisation as demo  # noqa: E402
from demo.publication import demo_rules  # noqa: E402
from overview import producers as P  # noqa: E402
from overview.gate import (  # noqa: E402
    BlockFacts,
    BlockKind,
    CommissionFacts,
    ConsentFacts,
    ConsentPurpose,
    ConsentScope,
    EmergencyFacts,
    GateFacts,
    ItemFacts,
    PatientFacts,
    RelationEvidence,
    RelationKind,
    RevokeReason,
    TemporaryRevoke,
    UserFacts,
    decide,
)

NOW = dt.datetime(2025, 3, 12, 2, 47, tzinfo=dt.UTC)
_PROVIDERS, _UNITS = demo.organisation()
_SKANE_UNITS = [u.hsa_id for u in _UNITS if u.provider_hsa_id == demo.SKANE and u.kind != "förvaltning"]
_OTHER = [(u.provider_hsa_id, u.hsa_id) for u in _UNITS if u.provider_hsa_id in {demo.HALLAND, demo.BLEKINGE}]
_SYSTEMS = {demo.HALLAND: P.HALLAND_SYSTEM, demo.BLEKINGE: P.BLEKINGE_SYSTEM}
_SKANE_ITEMS = [(P.PASIS, "diagnos"), (P.PASIS, "vardkontakt"), (P.PASIS, "demografi"), (P.MELIOR, "journalanteckning"),
                (P.PMO, "journalanteckning"), (P.RIS, "bilddiagnostik")]
_KINDS = [None, "slutanteckning", "mottagningsanteckning", "lakarjournal", "scannat", "remiss"]
_ITEM_COUNTS = [0, 1, 3, 5, 8, 12, 20, 40]


def _hours(rng: random.Random, low: int, high: int) -> dt.datetime:
    return NOW + dt.timedelta(hours=rng.randint(low, high))


def _item(rng: random.Random, index: int, own_unit: str) -> ItemFacts:
    roll = rng.random()
    if roll < 0.55:
        system, category = rng.choice(_SKANE_ITEMS)
        provider, unit = demo.SKANE, rng.choice([own_unit, *rng.sample(_SKANE_UNITS, 2)])
    elif roll < 0.9:
        provider, unit = rng.choice(_OTHER)
        system, category = _SYSTEMS[provider], rng.choice(["diagnos", "journalanteckning", "vardkontakt"])
    else:
        provider = unit = P.EHM_PROVIDER
        system, category = P.EHM, P.DRUG_LIST_CATEGORY
    date = NOW - dt.timedelta(days=rng.randint(0, 5000))
    return ItemFacts(f"i{index}", system, category, provider, unit, date, document_kind=rng.choice(_KINDS),
                     profession=rng.choice([None, P.DOCTOR, "sjukskoterska"]),
                     setting=rng.choice([P.OUTPATIENT, P.INPATIENT]), info_type=rng.choice([None, None, "lak", "upp"]))


def _commission(rng: random.Random, unit: str, index: int) -> CommissionFacts:
    purpose = "Vård och behandling" if rng.random() < 0.95 else "Statistik"
    right = rng.choice(["Läsa;Alla;SJF", "läsa;alla;sjf", "LÄSA;alla;SJF"]) if rng.random() < 0.95 else "Läsa;Alla"
    return CommissionFacts(f"{unit}-U{index}", "VoB SJF", purpose, (right,), NOW - dt.timedelta(days=400), None,
                           unit, "Vårdenhet", demo.SKANE, "Region Skåne", True)


def _block(rng: random.Random, index: int) -> BlockFacts:
    provider, unit = rng.choice([*_OTHER, (demo.SKANE, rng.choice(_SKANE_UNITS))])
    kind = BlockKind.INNER if provider == demo.SKANE else rng.choice(list(BlockKind))
    start = (NOW - dt.timedelta(days=rng.randint(100, 3000))).date() if rng.random() < 0.5 else None
    revokes = (TemporaryRevoke("r", unit, None, _hours(rng, -5, 48), RevokeReason.PATIENTS_CONSENT),) \
        if rng.random() < 0.2 else ()
    return BlockFacts(f"b{index}", kind, provider, unit if kind is BlockKind.INNER else None, info_start=start,
                      excluded_types=frozenset(rng.sample(["lak", "upp"], rng.randint(0, 2))), revokes=revokes)


def generate_case(rng: random.Random, rules: P.PublicationRules) -> GateFacts:
    """One mixed case: about four in five pass checks 1–6, 4 % ask only checks 1–5, the rest fail in 1–6."""
    user = f"SE2321000255-P{rng.randint(0, 99999):05d}"
    units = rng.sample(_SKANE_UNITS, rng.choice([1, 1, 1, 2, 3]))
    commissions = tuple(_commission(rng, unit, i) for i, unit in enumerate(units))
    chosen = commissions[0].hsa_id if len(commissions) > 1 and rng.random() < 0.9 else None
    own = commissions[0].unit_hsa_id or ""
    relation = RelationEvidence(own if rng.random() < 0.97 else rng.choice(_SKANE_UNITS),
                                rng.choice([RelationKind.CARE_CONTACT, RelationKind.BOOKING]), _hours(rng, -20, 0))
    consents = tuple(ConsentFacts(f"c{i}", rng.choice([ConsentPurpose.OVERVIEW, ConsentPurpose.DRUG_LIST]),
                                  ConsentScope.EMPLOYEE, demo.SKANE, own, user, _hours(rng, -300, 1),
                                  rng.choice([None, _hours(rng, -2, 300)]), _hours(rng, -300, 0),
                                  voided_at=_hours(rng, -10, 0) if rng.random() < 0.05 else None)
                     for i in range(rng.choice([0, 0, 1, 1, 2])))
    emergencies = (EmergencyFacts("e1", user, demo.SKANE, own, "Medvetslös", _hours(rng, -3, 0), _hours(rng, -1, 4),
                                  rng.random() < 0.5, frozenset({demo.HALLAND})),) if rng.random() < 0.1 else ()
    blocks = tuple(_block(rng, i) for i in range(rng.choice([0, 0, 0, 1, 2])))
    items = tuple(_item(rng, i, own) for i in range(rng.choice(_ITEM_COUNTS)))
    return GateFacts(UserFacts(user, certificate_error="Certifikatet har gått ut" if rng.random() < 0.02 else None),
                     commissions, chosen, True, 4, 4 if rng.random() < 0.97 else 3,
                     PatientFacts("191212121212", birth_date=dt.date(1950, 1, 1)) if rng.random() < 0.95 else None,
                     (relation,), consents, emergencies, blocks, items, rules)


def cases(count: int, seed: int) -> Iterator[GateFacts]:
    """``count`` cases from ``seed``, generated one at a time (they are never all in memory)."""
    rng, rules = random.Random(seed), demo_rules()
    for _ in range(count):
        yield generate_case(rng, rules)


def percentile(sorted_values: list[float], share: float) -> float:
    """The nearest-rank percentile of already sorted values."""
    return sorted_values[min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))]


def measure_decide(count: int, seed: int) -> dict[str, float | int]:
    """Time ``decide`` alone over ``count`` generated cases (µs per call)."""
    timings: list[float] = []
    allowed = items = 0
    clock = time.perf_counter_ns
    for facts in cases(count, seed):
        start = clock()
        decision = decide(facts, NOW)
        timings.append((clock() - start) / 1000)
        allowed += decision.allowed
        items += len(facts.items)
    timings.sort()
    return {"decide_cases": count, "decide_p50_us": round(percentile(timings, 0.50), 2),
            "decide_p99_us": round(percentile(timings, 0.99), 2),
            "decide_mean_us": round(statistics.fmean(timings), 2),
            "decide_allowed_share": round(allowed / count, 3), "decide_items_mean": round(items / count, 2)}


# ---------------------------------------------------------------------- part 2: the gated overview over HTTP
NURSE = "SE2321000255-VCH2"  # Sara Lund, VoB SJF at Vårdcentralen Hörby (demo.organisation.CAST)
# Named demo patients with a care contact at Vårdcentralen Hörby (demo/patients.py)
PATIENTS = ("19480312-3423", "19900721-4688", "20170504-1281", "19790618-2444", "19350127-0627")
TRIVIAL = "/static/site.css"
GATED = "/oversikt/patient"


class HttpStack:
    """The server side of the HTTP part: its settings, where it listens, the child process serving the app.

    A plain class: tests load this file without registering it as a module, which dataclasses cannot handle.
    """

    def __init__(self, env: dict[str, str], url: str, database_url: str, cert: tuple[str, str] | None,
                 header: dict[str, str], ca_file: str):
        self.env, self.url, self.database_url = env, url, database_url
        self.cert = cert  # client certificate and key files (mTLS); None behind the proxy
        self.header = header  # the trusted proxy's certificate header (proxy transport)
        self.ca_file = ca_file
        self.process: subprocess.Popen[bytes] | None = None

    def server_pids(self) -> dict[str, int]:
        """The serving process (py-spy follows its worker processes)."""
        assert self.process is not None
        return {"server": self.process.pid}


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the serving process and every process below it, so far."""
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for process in (root, *root.children(recursive=True)):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def http_stack(transport: str, database_url: str | None, workers: int = 2) -> Iterator[HttpStack]:
    """slapd with the demo catalog, a database with the demo patients, and the app served in a child process."""
    from urllib.parse import quote

    from sqlmodel import Session

    from catalog.slapd import ManagedSlapd
    from demo import organisation as catalog_demo
    from demo import patients as overview_demo
    from demo import publication as demo_publication
    from kernel import clock
    from kernel.runtime import make_engine
    from kernel.settings import Settings
    from npo.certs import DevCA, with_dev_certificates
    from npo.db import upgrade
    from overview import service

    with tempfile.TemporaryDirectory(prefix="npo-bench-") as tmp:
        root = Path(tmp)
        slapd = ManagedSlapd(root / "ldap", port=_free_port())
        slapd.start()
        try:
            config = slapd.app_config()
            catalog_demo.load(config, catalog_demo.generate(persons=60, seed=1))
            url = database_url or f"sqlite:///{root / 'npo.db'}"
            upgrade(url)
            engine = make_engine(url)
            with Session(engine) as session:
                demo_publication.load(session, now=clock.now())  # the rules in force, as `npo demo load`
                overview_demo.load(session, patients=200)
                service.acknowledge_information(session=session, user_hsa_id=NURSE)
                session.commit()
            engine.dispose()
            port = _free_port()
            env = {**{k: v for k, v in os.environ.items() if not k.startswith("NPO_")},
                   "NPO_VAR_DIR": str(root / "var"), "NPO_DATABASE_URL": url, "NPO_ENV": "development",
                   "NPO_LDAP_URL": config.url, "NPO_LDAP_BASE": config.base, "NPO_LDAP_BIND_DN": config.bind_dn,
                   "NPO_LDAP_PASSWORD": config.password, "NPO_OVERVIEW_PORT": str(port), "NPO_WEB_PORT": str(port),
                   "NPO_TRUSTED_PROXIES": '["127.0.0.1"]', "PYTHONUNBUFFERED": "1"}
            settings = with_dev_certificates(Settings(var_dir=root / "var"))
            ca = DevCA.open(settings.certs_dir)
            issued = ca.issue_user(NURSE, "Sara Lund")
            cert_file, key_file = root / "nurse.crt", root / "nurse.key"
            cert_file.write_bytes(issued.cert_pem())
            key_file.write_bytes(issued.key_pem())
            proxy = transport == "proxy"
            stack = HttpStack(env, f"{'http' if proxy else 'https'}://127.0.0.1:{port}", url,
                              None if proxy else (str(cert_file), str(key_file)),
                              {"X-SSL-Client-Cert": quote(issued.cert_pem().decode())} if proxy else {},
                              str(ca.cert_path))
            command = [sys.executable, "-m", "npo.cli", "certs", "serve",
                       *(["--workers", str(workers)] if workers != 1 else []), *(["--behind-proxy"] if proxy else [])]
            with (root / "server.log").open("wb") as log:
                stack.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                _wait_for(port, stack.process, root / "server.log")
                yield stack
            finally:
                stack.process.terminate()
                stack.process.wait(timeout=20)
        finally:
            slapd.destroy()


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not listen on {port}")


def server_peak_rss_mb(pid: int) -> float:
    """The largest peak resident set size (VmHWM) of the serving process and its worker processes, read before
    they stop: the figure per web process."""
    import psutil

    peaks = []
    for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        with contextlib.suppress(OSError, psutil.Error):
            found = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{process.pid}/status").read_text())
            peaks.append(int(found.group(1)) / 1024 if found else 0.0)
    return round(max(peaks, default=0.0), 1)


def _client(stack: HttpStack):  # type: ignore[no-untyped-def]
    import httpx

    context = ssl.create_default_context(cafile=stack.ca_file)
    if stack.cert:
        context.load_cert_chain(*stack.cert)
    return httpx.AsyncClient(base_url=stack.url, verify=context, headers=stack.header, timeout=60,
                             limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))


async def _open_patient(client, personnummer: str) -> None:  # type: ignore[no-untyped-def]
    """Like a browser: the search page (CSRF token), then the search; the session now holds the patient."""
    page = await client.get("/oversikt/felsokning")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError(f"no CSRF token (status {page.status_code})")
    found = await client.post("/oversikt/patient", data={"csrf": token.group(1), "personnummer": personnummer})
    if found.status_code != 303:
        raise RuntimeError(f"the search failed with {found.status_code}")


async def _load(clients: list, path: str, seconds: float) -> tuple[list[float], int, int]:  # type: ignore[type-arg]
    """Every client requests ``path`` back to back for ``seconds``: latencies (ms), successes, failures."""
    latencies: list[float] = []
    counts = [0, 0]
    stop = time.perf_counter() + seconds

    async def run(client) -> None:  # type: ignore[no-untyped-def]
        while time.perf_counter() < stop:
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append((time.perf_counter() - started) * 1000)
            counts[0 if response.status_code == 200 else 1] += 1

    await asyncio.gather(*(run(c) for c in clients))
    return latencies, counts[0], counts[1]


def _cpu_per_request(pid: int, before: float, figures: dict[str, float | int]) -> tuple[float, float]:
    """The server's CPU time now, and its CPU milliseconds per request of the phase that just ended."""
    now = server_cpu_seconds(pid)
    requests = next(v for k, v in figures.items() if k.endswith("_requests"))
    return now, round((now - before) * 1000 / requests, 2) if requests else 0.0


def _figures(prefix: str, latencies: list[float], ok: int, failed: int, seconds: float) -> dict[str, float | int]:
    latencies.sort()
    return {f"{prefix}_rps": round(ok / seconds, 1), f"{prefix}_p50_ms": round(percentile(latencies, 0.50), 2),
            f"{prefix}_p99_ms": round(percentile(latencies, 0.99), 2), f"{prefix}_requests": ok + failed,
            f"{prefix}_errors": failed}


async def _measure(stack: HttpStack, clients: int, seconds: float, profile: Path | None = None
                   ) -> dict[str, float | int]:
    sessions = [_client(stack) for _ in range(clients)]
    try:
        await asyncio.gather(*(_open_patient(c, PATIENTS[i % len(PATIENTS)]) for i, c in enumerate(sessions)))
        await _load(sessions, TRIVIAL, min(2.0, seconds))  # warm up both paths
        await _load(sessions, GATED, min(2.0, seconds))
        before = _log_rows(stack.database_url)
        assert stack.process is not None
        cpu = server_cpu_seconds(stack.process.pid)
        trivial = _figures("http_trivial", *(await _load(sessions, TRIVIAL, seconds)), seconds)
        cpu, trivial["http_trivial_server_cpu_ms"] = _cpu_per_request(stack.process.pid, cpu, trivial)
        profilers = profiling.record(stack.server_pids(), profile) if profile else []
        try:
            latencies, ok, failed = await _load(sessions, GATED, seconds)
        finally:
            profiling.stop(profilers)
        gated = _figures("http_gated", latencies, ok, failed, seconds)
        _cpu, gated["http_gated_server_cpu_ms"] = _cpu_per_request(stack.process.pid, cpu, gated)
        written = _log_rows(stack.database_url) - before
    finally:
        await asyncio.gather(*(c.aclose() for c in sessions))
    return trivial | gated | {"http_reads": ok + failed, "http_log_rows": written}


def _log_rows(database_url: str) -> int:
    """Access-log rows of overview reads so far."""
    from sqlalchemy import func
    from sqlmodel import Session, select

    from kernel.runtime import make_engine
    from overview.models import AccessLog

    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(AccessLog)
                                .where(AccessLog.resource_type == "översikt")).one()
    finally:
        engine.dispose()


# Where a gated read's time goes, by the frame nearest the leaf that names a part (bench/profiling.py).
READ_PATH_PARTS = (
    ("log append", r"\(overview/accesslog\.py"),
    ("commit", r"^(commit|_commit_impl|_connection_commit_impl) \(sqlalchemy|^commit \(sqlmodel"),
    ("decide", r"\(overview/gate(_items|_types)?\.py|\(overview/publication\.py"),
    ("directory facts", r"\(catalog/|\(ldap3/"),
    ("certificate check", r"\(api/siths\.py|\(cryptography/"),
    ("web session", r"\(api/sessions\.py|\(api/auth\.py"),
    ("SQL facts", r"\(overview/(facts|service|emergency_state|in_view|access)\.py"),
    ("render", r"\(jinja2/|\(api/templating\.py|\(api/pages\.py|\(overview/info\.py"),
    ("TLS", r"\(asyncio/sslproto\.py|\(ssl\.py"),
    ("HTTP framework", r"\(uvicorn/|\(starlette/|\(fastapi/|\(anyio/|\(httptools/|\(h11/"),
    ("event loop", r"\(asyncio/"),
)


def measure_http(clients: int, seconds: float, transport: str, database_url: str | None,
                 profile: Path | None = None, workers: int = 2) -> dict[str, object]:
    """The gated overview and a trivial endpoint of the same app (the same ``workers`` web processes) at
    ``clients`` concurrent clients."""
    with http_stack(transport, database_url, workers) as stack:
        # A thread of its own: asyncio.run refuses to start inside a running loop (e.g. under Playwright in tests).
        with ThreadPoolExecutor(1) as pool:
            figures = pool.submit(asyncio.run, _measure(stack, clients, seconds, profile)).result()
        if profile:
            figures["http_profile"] = profiling.breakdown(profile.glob("*.txt"), READ_PATH_PARTS)
        assert stack.process is not None
        rss = server_peak_rss_mb(stack.process.pid)
    database = "postgresql" if database_url and database_url.startswith("postgresql") else "sqlite"
    ratio = round(figures["http_gated_rps"] / figures["http_trivial_rps"], 3) if figures["http_trivial_rps"] else 0.0
    return {"http_clients": clients, "http_seconds": seconds, "http_transport": transport, "http_database": database,
            "http_workers": workers, **figures, "http_gated_to_trivial_ratio": ratio,
            "http_log_rows_equal_reads": figures["http_log_rows"] == figures["http_reads"],
            "http_server_peak_rss_mb": rss}


def peak_rss_mb() -> dict[str, float]:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    return {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run(parts: list[Callable[[], dict]]) -> dict:
    """Run the benchmark parts in order and merge their figures (peak RSS last, so it covers them all)."""
    figures: dict = {}
    for part in parts:
        figures |= part()
    return figures | peak_rss_mb()


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run the parts, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP part")
    parser.add_argument("--http-clients", type=int, default=32)
    parser.add_argument("--http-seconds", type=float, default=10.0, help="per endpoint")
    parser.add_argument("--http-transport", choices=["mtls", "proxy"], default="mtls")
    parser.add_argument("--http-database-url", default=None, help="an empty database (default: SQLite in a temp dir)")
    parser.add_argument("--http-workers", type=int, default=2, help="web processes serving both endpoints")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="py-spy record the server during the gated load (raw stacks into DIR; adds http_profile)")
    args = parser.parse_args(argv)
    parts: list[Callable[[], dict]] = [lambda: measure_decide(args.cases, args.seed)]
    if not args.no_http:
        parts.append(lambda: measure_http(args.http_clients, args.http_seconds, args.http_transport,
                                          args.http_database_url, args.profile, args.http_workers))
    figures = run(parts)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>24}  {value}")


if __name__ == "__main__":
    main()
