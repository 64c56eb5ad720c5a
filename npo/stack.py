"""The embedded stack of `make run`: slapd with demo data, the SQL schema, an SMTP sink, a Prefect server with a
worker serving the scheduled deployments of prefect.yaml and task workers for what the web starts (D-58), the web
app and its SITHS (mTLS) listener. Ctrl-C stops all of it.

Every part is a child process (logs in var/log/); the stack watches them and stops them in reverse order.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import typer

from api.logscan import START_MARKER, start_line
from catalog.runtime import embedded_slapd
from flows.engine import WORK_POOL
from kernel.clock import now
from kernel.settings import ROOT, Environment, Settings

PREFECT = [sys.executable, "-m", "prefect"]


@dataclass
class Child:
    """A process the stack started, must keep running and must stop."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    command: list[str] = field(default_factory=list)
    restarts: list[float] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # this part's own variables over the stack's


@dataclass
class Stack:
    """Start, watch and stop every part of the embedded stack."""

    settings: Settings
    demo_persons: int = 2000
    demo_seed: int = 1
    demo_history: bool = True  # `npo demo load`'s 90 days of history (tests of other things leave it out)
    with_prefect: bool = True
    task_workers: int = 2
    web_processes: int = 2  # per listener, plain and mTLS (D-63)
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. Prefect scheduler settings in tests
    children: list[Child] = field(default_factory=list)
    started_slapd: bool = False

    # ------------------------------------------------------------------ addresses
    @property
    def web_url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    @property
    def siths_url(self) -> str:
        return f"https://{self.settings.web_host}:{self.settings.overview_port}"

    @property
    def prefect_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.prefect_port}"

    def env(self) -> dict[str, str]:
        """The environment every child gets: the settings of this stack, made explicit."""
        explicit = {f"NPO_{name.upper()}": json.dumps(value) if isinstance(value, list) else str(value)
                    for name, value in self.settings.model_dump(exclude_unset=True, mode="json").items()
                    if value is not None}
        env = {**os.environ, **explicit, "NPO_VAR_DIR": str(self.settings.var_dir), "NPO_ROOT": str(ROOT),
               "PREFECT_HOME": str(self.settings.var_dir / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "DO_NOT_TRACK": "1", "PREFECT_WORKER_QUERY_SECONDS": "2", "PYTHONUNBUFFERED": "1",
               # a background task run has no flow run, so its log lines stay in the worker's log (var/log)
               "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore"}
        if self.settings.env is not Environment.PRODUCTION:
            env.setdefault("NPO_DEV_LOGIN", "true")  # the demo's people can sign in without a card
            env.setdefault("NPO_AUDIT_ANCHOR_MAIL", "loggarkiv@skane.example")  # the demo's log archive (sink)
        env.setdefault("NPO_HR_SOURCE", str(self.settings.hr_source or self.settings.var_dir / "hr" / "hr-export.csv"))
        if self.with_prefect:
            env["PREFECT_API_URL"] = f"{self.prefect_url}/api"
            env["NPO_PREFECT_API_URL"] = env["PREFECT_API_URL"]
            env["PREFECT_API_SSL_CERT_FILE"] = str(self._loopback_ca_file())
        return {**env, **self.extra_env}

    def _loopback_ca_file(self) -> Path:
        """A one-certificate CA file for Prefect's clients. The stack's Prefect API is plain HTTP on loopback, so no
        certificate is ever checked, but every Prefect client builds an SSL context from a CA file, by default
        certifi's whole bundle: 17–20 ms of CPU per client, two clients per background task run and one per
        submission (bench/orders.py measured about 100 ms per order). Never used for an https API."""
        import certifi

        path = self.settings.var_dir / "prefect" / "loopback-ca.pem"
        if not path.exists():
            bundle = Path(certifi.where()).read_text()
            end = bundle.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----\n")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(bundle[bundle.index("-----BEGIN CERTIFICATE-----"):end])
        return path

    def _say(self, text: str) -> None:
        typer.echo(text)

    # ------------------------------------------------------------------ parts
    def migrate(self) -> None:
        """Bring the SQL schema up to date, and give a database without publication rules the demo's."""
        self._npo("db", "upgrade")
        self._npo("demo", "rules")

    def start_directory(self) -> None:
        """Start slapd (embedded) and load the demo on its first start."""
        if not self.settings.embedded_ldap:
            self._say(f"Skånekatalogen: extern katalog {self.settings.ldap_url}")
            return
        slapd = embedded_slapd(self.settings)
        self.started_slapd = slapd.start()
        self._say(f"Skånekatalogen: slapd på {slapd.url} ({'startad' if self.started_slapd else 'körde redan'})")
        self.load_demo_once(slapd.root / "demo.json")

    def load_demo_once(self, marker: Path) -> None:
        """Load the demo through the running directory unless ``marker`` says it was loaded (the first start)."""
        if not marker.exists():
            self._say(f"Första start: läser in demodata ({self.demo_persons} personer) …")
            self._npo("demo", "load", "--persons", str(self.demo_persons), "--seed", str(self.demo_seed),
                      *([] if self.demo_history else ["--no-history"]))
            marker.write_text(json.dumps({"persons": self.demo_persons, "seed": self.demo_seed}))

    def start_mail(self) -> None:
        """An SMTP sink that keeps every message in var/mail (a Maildir the dev mail page reads)."""
        folder = self.settings.var_dir / "mail"
        for part in ("tmp", "new", "cur"):  # a complete Maildir (aiosmtpd only creates one when the folder is absent)
            (folder / part).mkdir(parents=True, exist_ok=True)
        self._spawn("smtp", [sys.executable, "-m", "aiosmtpd", "-n", "-l",
                             f"{self.settings.smtp_host}:{self.settings.smtp_port}", "-c",
                             "aiosmtpd.handlers.Mailbox", str(folder)])
        self._wait_port(self.settings.smtp_host, self.settings.smtp_port, "SMTP-sänkan")

    def start_prefect(self) -> None:
        """The Prefect server, the work pool, the deployments of prefect.yaml, a worker for them, and the task
        workers (long-lived processes that run what the web submits)."""
        self.start_prefect_server()
        self._run([*PREFECT, "work-pool", "create", WORK_POOL, "--type", "process"], ok_codes=(0, 1))
        self._run([*PREFECT, "--no-prompt", "deploy", "--all"])
        # each flow run is a subprocess (~3 s of CPU on this machine): four at a time keeps 2 cores and memory sane
        self._spawn("prefect-worker", [*PREFECT, "worker", "start", "--pool", WORK_POOL, "--name", "npo-embedded",
                                       "--limit", "4"])
        self.start_task_workers()

    def start_prefect_server(self) -> None:
        """The Prefect server alone (its API and UI), answering."""
        self._spawn("prefect-server", [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port",
                                       str(self.settings.prefect_port)])
        self._wait_http(f"{self.prefect_url}/api/health", "Prefect-servern", timeout=180)

    def start_task_workers(self) -> None:
        """The task workers (`npo tasks serve`), each a long-lived process subscribed to the Prefect server."""
        for number in range(1, self.task_workers + 1):
            self._spawn(f"task-worker-{number}", [sys.executable, "-m", "npo.cli", "tasks", "serve"])

    def start_web(self) -> None:
        """The web app (plain HTTP, admin pages) and its SITHS mTLS listener, each as ``web_processes`` processes
        on one port, each on a socket of its own (api/mtls.Supervisor, which starts a worker again when it dies)."""
        workers = str(self.web_processes)
        self._spawn("web", [sys.executable, "-m", "npo.cli", "web", "--workers", workers])
        self._wait_http(f"{self.web_url}/api/health", "webbappen")
        self._spawn("siths", [sys.executable, "-m", "npo.cli", "certs", "serve", "--workers", workers])
        self._wait_port(self.settings.web_host, self.settings.overview_port, "SITHS-lyssnaren")

    # ------------------------------------------------------------------ process helpers
    def _npo(self, *args: str) -> None:
        self._run([sys.executable, "-m", "npo.cli", *args])

    def _run(self, command: list[str], ok_codes: tuple[int, ...] = (0,)) -> None:
        result = subprocess.run(command, cwd=ROOT, env=self.env(), capture_output=True, text=True)
        if result.returncode not in ok_codes:
            raise SystemExit(f"{' '.join(command[2:5])} misslyckades:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        if result.stdout.strip() and command[:3] == [sys.executable, "-m", "npo.cli"]:
            self._say(result.stdout.strip())

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> Child:
        logs = self.settings.var_dir / "log"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{name}.log"
        handle = self._open_log(name, log)
        own = dict(env or {})
        process = subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                                   env={**self.env(), **own}, start_new_session=True)
        child = Child(name, process, log, command, env=own)
        self.children.append(child)
        return child

    @staticmethod
    def _open_log(name: str, log: Path):
        """The part's log for appending, with a start line (the status page counts errors after the last one)."""
        handle = log.open("ab")
        handle.write(start_line(name, now()).encode())
        handle.flush()
        return handle

    def _restart(self, child: Child) -> None:
        """Start a child that died again (at most 5 times in 5 minutes), appending to its log."""
        recent = [t for t in child.restarts if time.monotonic() - t < 300]
        if len(recent) >= 5:
            raise SystemExit(f"{child.name} har avslutats {len(recent)} gånger på fem minuter; se {child.log}")
        self._say(f"{child.name} avslutades (kod {child.process.returncode}); startar om (se {child.log})")
        handle = self._open_log(child.name, child.log)
        child.process = subprocess.Popen(child.command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                                         env={**self.env(), **child.env}, start_new_session=True)
        child.restarts = [*recent, time.monotonic()]

    def _check_children(self) -> None:
        for child in self.children:
            if child.process.poll() is not None:
                raise SystemExit(f"{child.name} avslutades oväntat (kod {child.process.returncode}); se {child.log}")

    def _wait_http(self, url: str, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_children()
            try:
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback URL
                    return
            except urllib.error.HTTPError:
                return  # it answers (a 503 from /api/health still means the process is up)
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"{what} svarade inte på {url} inom {timeout:.0f} s")

    def _wait_port(self, host: str, port: int, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_children()
            with socket.socket() as sock:
                sock.settimeout(0.3)
                if sock.connect_ex((host, port)) == 0:
                    return
            time.sleep(0.2)
        raise SystemExit(f"{what} svarade inte på {host}:{port} inom {timeout:.0f} s")

    def _wait_log(self, child: Child, text: str, what: str, timeout: float = 60) -> None:
        """Wait until ``child`` has written ``text`` to its log since it last started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_children()
            log = child.log.read_text(errors="replace")
            if text in log[log.rfind(START_MARKER):]:
                return
            time.sleep(0.2)
        raise SystemExit(f"{what} blev inte klar inom {timeout:.0f} s; se {child.log}")

    def child(self, name: str) -> Child:
        """The running part called ``name``."""
        return next(child for child in self.children if child.name == name)

    def stop_child(self, child: Child, timeout: float = 15) -> int:
        """Stop one part (SIGTERM to its process group, SIGKILL after ``timeout``); returns its exit code."""
        if child.process.poll() is None:
            os.killpg(child.process.pid, signal.SIGTERM)
        try:
            return child.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.process.pid, signal.SIGKILL)
            return child.process.wait()

    def restart(self, child: Child) -> None:
        """Stop one part and start it again (its log appended)."""
        self.stop_child(child)
        self._restart(child)

    def stop(self) -> None:
        """Stop every child (newest first), then slapd if this stack started it."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                os.killpg(child.process.pid, signal.SIGTERM)
        for child in reversed(self.children):
            try:
                child.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.process.pid, signal.SIGKILL)
        self.children.clear()
        if self.started_slapd:
            embedded_slapd(self.settings).stop()
            self._say("slapd stoppad")

    def revive(self) -> list[str]:
        """Start again every part that has died (or was killed by hand); the names of those started."""
        revived = []
        for child in self.children:
            if child.process.poll() is not None:
                self._restart(child)
                revived.append(child.name)
        return revived

    def urls(self) -> list[tuple[str, str]]:
        """What the stack serves, for the start-up message."""
        rows = [("Webb (beställning, attest)", f"{self.web_url}/"), ("Systemstatus", f"{self.web_url}/status"),
                ("SITHS-inloggning (mTLS)", f"{self.siths_url}/siths/vem-ar-jag"),
                ("E-post (SMTP-sänka)", f"{self.web_url}/dev/mail"), ("API-dokumentation", f"{self.web_url}/api/docs")]
        if self.with_prefect:
            rows.append(("Prefect UI", f"{self.prefect_url}/"))
        if self.settings.embedded_ldap:
            rows.append(("Skånekatalogen (LDAP)",
                        f"{embedded_slapd(self.settings).url}   eval \"$(.venv/bin/npo catalog env)\""))
        rows.append(("Loggar", str(self.settings.var_dir / "log")))
        return rows

    def run_forever(self) -> None:
        """Start everything, print the URLs, and wait for Ctrl-C (or a child dying)."""
        stop_requested = False

        def on_signal(_signum: int, _frame: object) -> None:
            nonlocal stop_requested
            stop_requested = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGHUP, on_signal)
        try:
            self.migrate()
            self.start_directory()
            self.start_mail()
            if self.with_prefect:
                self._say(f"Startar Prefect (server, arbetspool, driftsättningar, worker, {self.task_workers} "
                          "uppgiftsarbetare) …")
                self.start_prefect()
            self.start_web()
            self._say("\nnpo-access kör:")
            for label, url in self.urls():
                self._say(f"  {label:<28} {url}")
            self._say("Avsluta med Ctrl-C.")
            while not stop_requested:
                try:
                    self.revive()
                except SystemExit as exc:
                    self._say(str(exc))
                    break
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
            self._say("Stoppar …")
            self.stop()
