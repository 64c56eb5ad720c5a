"""The cluster profile under load while its parts are killed (issue 16): `npo run --cluster`'s own code
(npo/cluster.py) on this machine's PostgreSQL, with two replicating slapds, the Prefect server on PostgreSQL, a
process worker, two task workers, two web processes behind nginx (SITHS mTLS with CRL and OCSP) and the SMTP sink.

While managers submit and approvers approve ORDERS membership orders over the plain listener, and nurses make READS
gated reads over SITHS mTLS, the test kills, one after another: a slapd provider (and starts it again: it catches
up by syncrepl), a task worker, a web process (each started again by the stack's own supervision, `Stack.revive`,
as `npo run` does), and restarts the Prefect server. Afterwards nothing is lost or doubled:

* every order is provisioned exactly once: one membership entry with its reference in the directory, and exactly
  one audit row per step;
* every answer that carried patient data names its log row (``data-log-row``), each a different row of that read,
  and the log's chain verifies;
* both providers hold identical data (OpenLDAP's ldapsearch of each, compared);
* every mail of the outbox arrived (its stable Message-ID); one killed mid-delivery may arrive twice under the same
  Message-ID (delivery is at least once, D3), at most one per killed process.

The report (printed, and in the assertion messages) lists each killed part and the counts. Orders whose Prefect
submission fell into the server's restart are left for the sweep (D-58); the test then runs the sweep as a flow on
the cluster's Prefect server after ageing them as five minutes would (tests/flows/test_task_workers.py does the
same), instead of waiting for its 5-minute schedule.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, update
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col, select

from catalog import Directory
from catalog.model import RoleName
from kernel.clock import local_date, now
from kernel.outbox import OutboxMail
from kernel.runtime import make_engine
from kernel.settings import Settings
from npo.certs import DevCA
from npo.cluster import ClusterStack, drop_database, ensure_database
from npo.ocsp import query
from overview import accesslog
from overview.models import AccessLog
from provisioning.models import AuditEvent, Order, OrderLine, OrderState
from tests.cluster.conftest import dump, wait_until
from tests.conftest import free_port

ORDERS = 200
READS = 2000
READERS = 6  # nurses' sessions reading at once
SPACING = 12  # seconds between the faults
NURSE, NURSE_NAME = "SE2321000255-VCH2", "Sara Lund"  # VoB SJF at Vårdcentralen Hörby (demo.organisation.CAST)
PATIENTS = ("19480312-3423", "19900721-4688", "20170504-1281", "19790618-2444", "19350127-0627")
ROOT = Path(__file__).resolve().parents[2]
ONCE = sorted([OrderState.SUBMITTED, OrderState.AWAITING_USER_ADMIN, OrderState.APPROVED, OrderState.PROVISIONING,
               OrderState.PROVISIONED])

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]


def _postgres_base() -> str:
    return os.environ.get("NPO_TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterStack]:
    """The cluster profile started as `npo run --cluster` starts it, on databases of its own (dropped after)."""
    url = make_url(_postgres_base()).set(database=f"npo_chaos_{os.getpid()}").render_as_string(hide_password=False)
    try:
        ensure_database(url)
    except Exception as exc:  # noqa: BLE001 - any reason PostgreSQL cannot be used here
        pytest.skip(f"the cluster profile needs PostgreSQL: {exc}")
    var = tmp_path_factory.mktemp("cluster") / "var"
    settings = Settings(var_dir=var, env="development", database_url=url, web_port=free_port(),
                        overview_port=free_port(), prefect_port=free_port(), smtp_port=free_port())
    stack = ClusterStack(settings, demo_persons=2000, demo_history=False, task_workers=2,
                         web_instance_ports=(free_port(), free_port()),
                         ocsp_port=free_port(), ldap_ports=(free_port(), free_port()))
    try:
        stack.migrate()
        stack.start_directory()
        stack.start_mail()
        stack.start_prefect()
        stack.start_web()
        yield stack
    finally:
        stack.stop()
        for provider in stack.providers:
            provider.destroy()
        drop_database(url)
        drop_database(stack.prefect_database_url)


# ---------------------------------------------------------------------- the load
@dataclass
class Tally:
    """What the load saw, for the report."""

    submitted: dict[str, str] = field(default_factory=dict)  # order reference -> person
    approved: set[str] = field(default_factory=set)
    answers: list[int] = field(default_factory=list)  # the log row each answer with patient data named
    retried: dict[str, int] = field(default_factory=dict)  # what a killed part made the clients try again
    lock: threading.Lock = field(default_factory=threading.Lock)

    def retry(self, what: str) -> None:
        with self.lock:
            self.retried[what] = self.retried.get(what, 0) + 1


TRANSIENT = (httpx.TransportError, httpx.TimeoutException)


def _again(tally: Tally, what: str, call: Callable[[], httpx.Response], ok: Callable[[httpx.Response], bool],
           seconds: float = 120) -> httpx.Response:
    """``call`` until ``ok`` (a request that met a killed part: a 502/503 from nginx, a reset, a 503 of the app
    while the directory fails over); fails after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            response = call()
            if ok(response):
                return response
            detail = f"{response.status_code} {response.text[:200]}"
        except TRANSIENT as exc:
            detail = repr(exc)
        assert time.monotonic() < deadline, f"{what}: {detail}"
        tally.retry(what)
        time.sleep(0.5)


class Person:
    """One signed-in person on the plain listener (dev sign-in, CSRF), through nginx."""

    def __init__(self, base: str, hsa_id: str, tally: Tally):
        self.http = httpx.Client(base_url=base, timeout=30)
        self.tally = tally
        page = _again(tally, "inloggningssidan", lambda: self.http.get("/login"), lambda r: r.status_code == 200)
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token, page.text[:300]
        _again(tally, "inloggning", lambda: self.http.post("/dev/login", data={
            "hsa_id": hsa_id, "csrf": token.group(1), "next": "/status"}), lambda r: r.status_code in (200, 303))
        self.csrf = _again(tally, "session", lambda: self.http.get("/api/session"),
                           lambda r: r.status_code == 200).json()["csrf"]

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, json=body, headers={"X-CSRF-Token": self.csrf})


def _plan(directory: Directory, count: int) -> list[tuple[str, str, str, str]]:
    """(unit, manager, approver, person) for ``count`` orders: staff without their unit's VoB SJF. The approver is
    the unit's catalog admin, or IT Kundtjänst Privata for a private unit (bench/orders.py's plan)."""
    chosen = []
    it_desk = directory.role(RoleName.IT_KUNDTJANST_PRIVATA)
    for unit in directory.units():
        commissions = [c for c in directory.commissions_on_unit(unit.hsa_id) if c.name == "VoB SJF"]
        role = it_desk if unit.care_agreement else directory.role(RoleName.UNIT_CATALOG_ADMIN, unit.hsa_id)
        if not commissions or not unit.manager_hsa_id or not (role and role.members):
            continue
        approver = role.members[0]
        members = {m.person_hsa_id for m in directory.memberships(commissions[0].hsa_id)}
        chosen += [(unit.hsa_id, unit.manager_hsa_id, approver, person.hsa_id)
                   for person in directory.people_of_unit(unit.hsa_id)
                   if person.hsa_id not in members | {unit.manager_hsa_id, approver}]
    assert len(chosen) >= count, f"the demo has only {len(chosen)} staff without VoB SJF"
    return sorted(chosen, key=lambda row: row[3])[:count]


def _submitted_order(engine: Engine, manager: str, person: str) -> str | None:
    """The reference of the manager's order for ``person``, if a submission whose answer was lost went through."""
    with Session(engine) as session:
        return session.exec(select(Order.reference).join(OrderLine, col(OrderLine.order_id) == col(Order.id)).where(
            Order.requested_by == manager, OrderLine.person_hsa_id == person)).first()


def _states(engine: Engine, references: list[str]) -> dict[str, OrderState]:
    with Session(engine) as session:
        return dict(session.exec(select(Order.reference, Order.state)
                                 .where(col(Order.reference).in_(references))).all())


def submit_orders(stack: ClusterStack, people: dict[str, Person], engine: Engine,
                  rows: list[tuple[str, str, str, str]], tally: Tally) -> None:
    """Each manager submits; a lost answer (the web process killed): look in the database before submitting again."""
    today = local_date(now())

    def one(row: tuple[str, str, str, str]) -> None:
        unit, manager, _approver, person = row
        body = {"unit_hsa_id": unit, "action": "add", "person_hsa_ids": [person], "valid_from": today.isoformat(),
                "valid_to": (today + dt.timedelta(days=365)).isoformat(), "comment": "kaostest"}
        reference = None
        deadline = time.monotonic() + 180
        while reference is None:
            try:
                answer = people[manager].post("/api/orders/membership", body)
                if answer.status_code == 201:
                    reference = answer.json()["reference"]
                    break
                detail = f"{answer.status_code} {answer.text[:200]}"
                assert answer.status_code in (502, 503, 504), detail
            except TRANSIENT as exc:
                detail = repr(exc)
            assert time.monotonic() < deadline, f"submitting for {person}: {detail}"
            tally.retry("beställning")
            time.sleep(0.5)
            reference = _submitted_order(engine, manager, person)
        with tally.lock:
            tally.submitted[reference] = person

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(one, rows))


def approve_arrived(people: dict[str, Person], engine: Engine, rows: list[tuple[str, str, str, str]],
                    tally: Tally) -> int:
    """Each approver approves what has reached their queue (as the queue page shows it); the number approved now."""
    approver_of = {person: approver for _unit, _manager, approver, person in rows}
    with tally.lock:
        waiting = {r: p for r, p in tally.submitted.items() if r not in tally.approved}
    arrived = [r for r, s in _states(engine, list(waiting)).items() if s is OrderState.AWAITING_USER_ADMIN]

    def approve(reference: str) -> None:
        approver = people[approver_of[waiting[reference]]]
        _again(tally, "attest", lambda: approver.post(f"/api/orders/{reference}/decision",
                                                      {"approve": True, "stage": "awaiting_user_admin"}),
               lambda r: r.status_code == 200 or _states(engine, [reference])[reference]
               is not OrderState.AWAITING_USER_ADMIN)  # a lost answer: the decision may have gone through
        with tally.lock:
            tally.approved.add(reference)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(approve, arrived))
    return len(arrived)


def _card(stack: ClusterStack) -> tuple[str, str, str]:
    """A card for the nurse, once the OCSP responder knows it; its certificate and key files and the CA file."""
    ca = DevCA.open(stack.settings.certs_dir)
    issued = ca.issue_user(NURSE, NURSE_NAME)
    assert wait_until(lambda: query(stack.ocsp_url, issued.cert, ca.cert).status == "good", timeout=10)
    folder = stack.settings.var_dir / "clients"
    folder.mkdir(exist_ok=True)
    (folder / "nurse.crt").write_bytes(issued.cert_pem())
    (folder / "nurse.key").write_bytes(issued.key_pem())
    return str(folder / "nurse.crt"), str(folder / "nurse.key"), str(ca.cert_path)


def run_reads(stack: ClusterStack, tally: Tally, count: int) -> None:
    """READERS sessions over mTLS through nginx, each with a patient open, reading until ``count`` answers."""
    cert, key, ca_file = _card(stack)
    context = ssl.create_default_context(cafile=ca_file)
    context.load_cert_chain(cert, key)

    def session(patient: str) -> httpx.Client:
        client = httpx.Client(base_url=stack.siths_url, verify=context, timeout=30)
        info = _again(tally, "informationssidan", lambda: client.get("/oversikt/information"),
                      lambda r: r.status_code == 200)
        token = re.search(r'name="csrf" value="([^"]+)"', info.text)
        assert token, info.text[:300]
        version = re.search(r'name="version" value="([^"]*)"', info.text)
        assert version, info.text[:300]
        _again(tally, "informationen bekräftad", lambda: client.post("/oversikt/information", data={
            "csrf": token.group(1), "read": "1", "version": version.group(1)}), lambda r: r.status_code == 303)
        _again(tally, "patientsökning", lambda: client.post("/oversikt/patient", data={
            "csrf": token.group(1), "personnummer": patient}), lambda r: r.status_code == 303)
        return client

    def reader(index: int) -> None:
        client = session(PATIENTS[index % len(PATIENTS)])
        while True:
            with tally.lock:
                if len(tally.answers) >= count:
                    return
            response = _again(tally, "läsning", lambda: client.get("/oversikt/patient"),
                              lambda r: r.status_code == 200)
            row = re.search(r'data-log-row="(\d+)"', response.text)
            assert row, response.text[:500]
            with tally.lock:
                tally.answers.append(int(row.group(1)))

    with ThreadPoolExecutor(max_workers=READERS) as pool:
        list(pool.map(reader, range(READERS)))


# ---------------------------------------------------------------------- the faults
def _kill(pid: int) -> None:
    os.killpg(pid, signal.SIGKILL)


def chaos(stack: ClusterStack, tally: Tally, report: list[str], stop: threading.Event) -> None:
    """Kill the parts one after another while the load runs; a dead child is started again by Stack.revive."""
    first = stack.providers[0]
    steps: list[tuple[str, Callable[[], None]]] = []

    def slapd() -> None:
        pid = first.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: first.pid() is None, timeout=10)
        time.sleep(8)  # the directory works on the second provider meanwhile
        first.start()
        report.append(f"slapd-leverantör 1 ({first.url}) dödad (SIGKILL, pid {pid}) och startad igen efter 8 s")

    def part(name: str) -> Callable[[], None]:
        def kill() -> None:
            child = stack.child(name)
            pid = child.process.pid
            _kill(pid)
            assert wait_until(lambda: child.process.pid != pid and child.process.poll() is None, timeout=30)
            report.append(f"{name} dödad (SIGKILL, pid {pid}); startad igen som pid {child.process.pid}")
        return kill

    def prefect() -> None:
        child = stack.child("prefect-server")
        pid = child.process.pid
        stack.stop_child(child)  # SIGTERM, as an operator's restart; the supervision starts it again
        assert wait_until(lambda: child.process.pid != pid, timeout=30)
        stack._wait_http(f"{stack.prefect_url}/api/health", "Prefect-servern", timeout=180)
        report.append(f"Prefect-servern omstartad (pid {pid} → {child.process.pid})")

    steps = [("slapd", slapd), ("task-worker-1", part("task-worker-1")), ("web-1", part("web-1")),
             ("prefect", prefect)]
    # each fault once the load is under way, then one every SPACING seconds (the load lasts a couple of minutes)
    while not (stop.is_set() or (len(tally.answers) >= 100 and len(tally.submitted) >= 20)):
        time.sleep(0.2)
    for _name, step in steps:
        if stop.wait(SPACING):
            return
        step()


def supervise(stack: ClusterStack, stop: threading.Event) -> None:
    """What `npo run`'s loop does: a part that died comes back."""
    while not stop.wait(0.5):
        stack.revive()


def run_sweep(stack: ClusterStack) -> None:
    """The sweep as a flow run on the cluster's Prefect server, in a process of its own with the cluster's settings."""
    result = subprocess.run([sys.executable, "-c", "from flows.sweep import sweep; print(sweep())"], cwd=ROOT,
                            env=stack.env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


def _maildir_ids(folder: Path) -> list[str]:
    ids = []
    for path in sorted((folder / "new").glob("*")) + sorted((folder / "cur").glob("*")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        ids.append(str(message["Message-ID"]))
    return ids


# ---------------------------------------------------------------------- the test
def test_the_cluster_loses_and_doubles_nothing_while_its_parts_are_killed_under_load(cluster: ClusterStack) -> None:
    stack = cluster
    engine = make_engine(stack.database_url)
    directory = Directory(stack.directory_config(), cache_seconds=0)
    report: list[str] = []
    tally = Tally()
    stop = threading.Event()
    started, began = time.monotonic(), now()
    swept = 0
    try:
        rows = _plan(directory, ORDERS)
        people = {who: Person(stack.web_url, who, tally) for who in sorted({r[1] for r in rows} | {r[2] for r in rows})}
        with ThreadPoolExecutor(max_workers=4) as pool:
            watcher = pool.submit(supervise, stack, stop)
            faults = pool.submit(chaos, stack, tally, report, stop)
            submitting = pool.submit(submit_orders, stack, people, engine, rows, tally)
            reads = pool.submit(run_reads, stack, tally, READS)
            while not (submitting.done() and reads.done()):  # the approvers at work while the load runs
                approve_arrived(people, engine, rows, tally)
                time.sleep(1)
            submitting.result()
            reads.result()
            faults.result()  # every fault happened during the load
            load_seconds = round(time.monotonic() - started, 1)
            assert len(report) == 4, report
            references = sorted(tally.submitted)
            assert len(references) == ORDERS

            # what is left moves on: approvals as orders arrive, and the sweep for what met the Prefect restart
            deadline = time.monotonic() + 360
            quiet_since, last = time.monotonic(), dict(_states(engine, references))
            while True:
                states = _states(engine, references)
                if all(s is OrderState.PROVISIONED for s in states.values()):
                    break
                assert time.monotonic() < deadline, {r: s for r, s in states.items() if s != OrderState.PROVISIONED}
                if approve_arrived(people, engine, rows, tally) or states != last:
                    quiet_since, last = time.monotonic(), states
                elif time.monotonic() - quiet_since > 20:  # nothing moves by itself: the sweep's turn
                    left = [r for r, s in states.items() if s is not OrderState.PROVISIONED
                            and s is not OrderState.AWAITING_USER_ADMIN]
                    with Session(engine) as session:  # as if five minutes had passed
                        session.execute(update(Order).where(col(Order.reference).in_(left)).values(
                            state_since=now() - dt.timedelta(minutes=5), next_attempt_at=None))
                        session.commit()
                    run_sweep(stack)
                    swept += len(left)
                    quiet_since = time.monotonic()
                time.sleep(1)
            stop.set()
            watcher.result()
    finally:
        stop.set()

    # every order exactly once: its steps in the audit, one membership entry with its reference
    with Session(engine) as session:
        ids = dict(session.exec(select(Order.reference, Order.id).where(col(Order.reference).in_(references))).all())
        audit = session.exec(select(AuditEvent.order_id, AuditEvent.to_state)
                             .where(col(AuditEvent.order_id).in_(list(ids.values())))).all()
    per_order = {reference: sorted(s for o, s in audit if o == ids[reference]) for reference in references}
    odd = {r: s for r, s in per_order.items() if s != ONCE}
    assert not odd, f"{len(odd)} orders moved other than once per step, e.g. {list(odd.items())[:3]}"
    entries = directory.ldap.search(directory.base, "(objectClass=npoCommissionMembership)",
                                    attributes=["npoOrderReference", "hsaCommissionMember"])
    by_reference: dict[str, int] = {}
    for _dn, attrs in entries:
        for reference in attrs.get("npoOrderReference") or []:
            by_reference[reference] = by_reference.get(reference, 0) + 1
    assert {r: by_reference.get(r, 0) for r in references} == dict.fromkeys(references, 1)

    # every answer with patient data names a log row of its own, of that read; the chain verifies
    assert len(tally.answers) >= READS and len(set(tally.answers)) == len(tally.answers)
    with Session(engine) as session:
        logged = dict(session.exec(select(AccessLog.seq, AccessLog.user_hsa_id)
                                   .where(col(AccessLog.seq).in_(tally.answers))).all())
        reads_logged = session.exec(select(func.count()).select_from(AccessLog).where(
            AccessLog.user_hsa_id == NURSE, AccessLog.resource_type == "översikt")).one()
        assert accesslog.seal_all(session) >= 0
        session.commit()
        verified = accesslog.verify(session)
    assert set(logged) == set(tally.answers) and set(logged.values()) == {NURSE}
    assert reads_logged >= len(tally.answers)  # beyond: reads logged whose answer died with a killed web process
    assert verified.ok, verified.problem

    # both providers identical, the first having caught up by syncrepl
    first, second = stack.providers
    assert wait_until(lambda: dump(first) == dump(second), timeout=60), "the providers differ"
    entries_each = len(dump(first))

    # every mail of the run exactly once (those the demo's history made before are not the sink's)
    def unsent() -> int:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(OutboxMail).where(
                col(OutboxMail.sent_at).is_(None), col(OutboxMail.created_at) >= began)).one()

    deadline = time.monotonic() + 120
    while unsent():
        assert time.monotonic() < deadline, f"{unsent()} mails still in the outbox"
        run_sweep(stack)  # delivers the outbox, as every 5 minutes
    with Session(engine) as session:
        outbox = {f"<outbox-{i}@npo-access>" for i in session.exec(select(OutboxMail.id).where(
            col(OutboxMail.created_at) >= began)).all()}
    received = _maildir_ids(stack.settings.var_dir / "mail")
    ours = [m for m in received if m in outbox]
    assert set(ours) == outbox, f"{len(outbox - set(ours))} mails never arrived"
    # Delivery is at least once (kernel/outbox.py, D3): a process killed between SMTP's acceptance and the commit of
    # sent_at sends that mail again after the claim runs out, under the same Message-ID, so the receiver can tell.
    # At most one such mail per killed deliverer (task-worker-1, web-1); issue 16 asks for none (see the note).
    doubled = sorted(m for m in set(ours) if ours.count(m) > 1)
    assert len(ours) - len(set(ours)) <= 2 and all(ours.count(m) == 2 for m in doubled), doubled

    figures = {"orders": ORDERS, "provisioned_once": len(references), "left_for_the_sweep": swept,
               "answers_with_patient_data": len(tally.answers), "log_rows_of_the_reads": reads_logged,
               "log_rows_beyond_delivered_answers": reads_logged - len(tally.answers),
               "log_verified": True, "directory_entries_per_provider": entries_each, "mails": len(outbox),
               "mails_received": len(set(ours)),
               "mails_received_twice_same_message_id": doubled, "retried_requests": tally.retried,
               "load_seconds": load_seconds, "killed": report}
    print("kaostest:", json.dumps(figures, ensure_ascii=False, indent=1))
    directory.close()
    engine.dispose()
