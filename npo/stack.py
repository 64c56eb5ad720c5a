"""The embedded stack of `make run`: slapd with demo data, the SQL schema, the web app. Ctrl-C stops all of it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import typer

from npo.settings import ROOT, Settings


@dataclass
class Child:
    """A process the stack started and must stop."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Stack:
    """Start, watch and stop every part of the embedded stack."""

    settings: Settings
    demo_persons: int = 2000
    demo_seed: int = 1
    children: list[Child] = field(default_factory=list)
    started_slapd: bool = False

    @property
    def web_url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    def _say(self, text: str) -> None:
        typer.echo(text)

    # ------------------------------------------------------------------ parts
    def start_directory(self) -> None:
        """Start slapd (embedded) and load the demo on its first start."""
        if not self.settings.embedded_ldap:
            self._say(f"Skånekatalogen: extern katalog {self.settings.ldap_url}")
            return
        slapd = self.settings.slapd
        self.started_slapd = slapd.start()
        self._say(f"Skånekatalogen: slapd på {slapd.url} ({'startad' if self.started_slapd else 'körde redan'})")
        marker = slapd.root / "demo.json"
        if not marker.exists():
            self._say(f"Första start: läser in demodata ({self.demo_persons} personer) …")
            self._npo("demo", "load", "--persons", str(self.demo_persons), "--seed", str(self.demo_seed))
            marker.write_text(json.dumps({"persons": self.demo_persons, "seed": self.demo_seed}))

    def migrate(self) -> None:
        """Bring the SQL schema up to date."""
        self._npo("db", "upgrade")

    def start_web(self) -> None:
        """Start the web app (uvicorn) and wait until it answers."""
        self._spawn("web", [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                            "--host", self.settings.web_host, "--port", str(self.settings.web_port)])
        self._wait_http(f"{self.web_url}/api/health", "webbappen")

    # ------------------------------------------------------------------ helpers
    def _npo(self, *args: str) -> None:
        result = subprocess.run([sys.executable, "-m", "npo.cli", *args], cwd=ROOT)
        if result.returncode != 0:
            raise SystemExit(result.returncode)

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> Child:
        logs = self.settings.var_dir / "log"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{name}.log"
        handle = log.open("ab")
        process = subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def _wait_http(self, url: str, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for child in self.children:
                if child.process.poll() is not None:
                    raise SystemExit(f"{child.name} avslutades oväntat (kod {child.process.returncode}); "
                                     f"se {child.log}")
            try:
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback URL
                    return
            except urllib.error.HTTPError:
                return  # it answers (a 503 from /api/health still means the web app is up)
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"{what} svarade inte på {url} inom {timeout:.0f} s")

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
            self.settings.slapd.stop()
            self._say("slapd stoppad")

    def run_forever(self) -> None:
        """Start everything, print the URLs, and wait for Ctrl-C (or a child dying)."""
        stop_requested = False

        def on_signal(_signum: int, _frame: object) -> None:
            nonlocal stop_requested
            stop_requested = True

        signal.signal(signal.SIGTERM, on_signal)
        try:
            self.migrate()
            self.start_directory()
            self.start_web()
            self._say("")
            self._say("npo-access kör:")
            self._say(f"  Systemstatus        {self.web_url}/status")
            self._say(f"  API-dokumentation   {self.web_url}/api/docs")
            if self.settings.embedded_ldap:
                self._say(f"  Skånekatalogen      {self.settings.slapd.url}  (eval \"$(.venv/bin/npo catalog env)\")")
            self._say(f"  Loggar              {self.settings.var_dir / 'log'}")
            self._say("Avsluta med Ctrl-C.")
            while not stop_requested:
                for child in self.children:
                    if child.process.poll() is not None:
                        self._say(f"{child.name} avslutades (kod {child.process.returncode}); se {child.log}")
                        stop_requested = True
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self._say("Stoppar …")
            self.stop()
