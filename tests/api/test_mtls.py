"""SITHS login over real TLS: a real uvicorn serving the real app, certificates from the dev CA, httpx clients.

Clients pass an ``ssl.SSLContext`` with ``load_cert_chain``: httpx drops ``cert=`` when ``verify`` is a path
(STACK.md §5).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.x509.oid import NameOID

from api.app import create_app
from api.mtls import ForeignCertificates, mtls_config, proxied_config
from catalog.ldapconn import DirectoryConfig
from kernel import runtime
from kernel.settings import Settings
from npo.certs import CertPurpose, DevCA, Issued, with_dev_certificates
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
HSA_ID = "SE2321000255-ABC1"
NAME = "Anna Andersson"


@dataclass
class Site:
    """The module's settings, dev CA and a CA nobody trusts."""

    settings: Settings
    ca: DevCA
    foreign: DevCA
    files: Path

    def client(self, issued: Issued | None = None) -> httpx.Client:
        """An httpx client that trusts the dev CA and presents ``issued`` (if any) as its client certificate."""
        context = ssl.create_default_context(cafile=str(self.ca.cert_path))
        if issued is not None:
            stem = self.files / format(issued.cert.serial_number, "x")
            stem.with_suffix(".crt").write_bytes(issued.cert_pem())
            stem.with_suffix(".key").write_bytes(issued.key_pem())
            context.load_cert_chain(stem.with_suffix(".crt"), stem.with_suffix(".key"))
        return httpx.Client(verify=context, timeout=15)


@contextmanager
def running(config: uvicorn.Config) -> Iterator[str]:
    """Run a uvicorn server in a background thread; yields its base URL."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"{'https' if config.is_ssl else 'http'}://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(15)


@contextmanager
def configured(settings: Settings) -> Iterator[None]:
    """Let the running app use ``settings`` for a while (runtime is process-wide)."""
    previous = runtime.settings()
    runtime.configure(settings)
    try:
        yield
    finally:
        runtime.configure(previous)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, directory_config: DirectoryConfig) -> Iterator[Site]:
    """Settings as in the app_settings fixture, with the dev CA and server certificate filled in."""
    from npo.db import upgrade

    tmp = tmp_path_factory.mktemp("mtls")
    settings = Settings(var_dir=tmp / "var", database_url=f"sqlite:///{tmp / 'npo.db'}", env="test",
                        ldap_url=directory_config.url, ldap_bind_dn=directory_config.bind_dn,
                        ldap_password=directory_config.password, ldap_cache_seconds=0)
    upgrade(settings.sql_url)
    settings = with_dev_certificates(settings)
    foreign = DevCA.open(tmp / "foreign", subject=x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                                                             x509.NameAttribute(NameOID.COMMON_NAME, "Annan CA")]))
    (tmp / "clients").mkdir()
    runtime.configure(settings)
    yield Site(settings, DevCA.open(settings.certs_dir), foreign, tmp / "clients")
    runtime.configure(Settings(var_dir=tmp / "unused"))


@pytest.fixture(scope="module")
def mtls(site: Site) -> Iterator[str]:
    """The mTLS listener (foreign certificates get a page)."""
    config, tls = mtls_config(create_app(), site.settings, port=free_port(), log_level="warning")
    assert tls.foreign is ForeignCertificates.PAGE and tls.advertises_ca_names
    with running(config) as url:
        yield url


def test_a_valid_certificate_gives_the_hsa_id(site: Site, mtls: str) -> None:
    issued = site.ca.issue_user(HSA_ID, NAME)
    with site.client(issued) as client:
        whoami = client.get(f"{mtls}/api/siths/whoami")
        assert whoami.status_code == 200, whoami.text
        body = whoami.json()
        assert (body["hsa_id"], body["name"], body["transport"]) == (HSA_ID, NAME, "mtls")
        assert body["serial"] == format(issued.cert.serial_number, "X")
        page = client.get(f"{mtls}/siths/vem-ar-jag")
        assert page.status_code == 200
        assert f'data-hsa-id="{HSA_ID}"' in page.text and "Du är inloggad med SITHS." in page.text


NOW = dt.datetime.now(dt.UTC)
REFUSALS: dict[str, tuple[Callable[[Site], Issued], str, str]] = {
    "expired": (lambda s: s.ca.issue_user(HSA_ID, NAME, not_after=NOW - dt.timedelta(days=1)),
                "expired", "Certifikatet har gått ut"),
    "not yet valid": (lambda s: s.ca.issue_user(HSA_ID, NAME, not_before=NOW + dt.timedelta(days=2)),
                      "not_yet_valid", "börjar gälla först"),
    "wrong CA": (lambda s: s.foreign.issue_user(HSA_ID, NAME), "foreign_issuer",
                 "Certifikatet är inte utfärdat av SITHS"),
    "no HSA-ID": (lambda s: s.ca.issue_user(None, NAME), "no_hsa_id", "Certifikatet saknar HSA-id"),
    "malformed HSA-ID": (lambda s: s.ca.issue_user("SE2321000255ABC1", NAME, check_hsa_id=False), "bad_hsa_id",
                         "Certifikatets HSA-id är ogiltigt"),
    "signing only": (lambda s: s.ca.issue_user(HSA_ID, NAME, purpose=CertPurpose.SIGNING), "signing_certificate",
                     "underskriftscertifikatet"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_certificate_gets_a_clear_page_and_a_401(site: Site, mtls: str, case: str) -> None:
    make, code, says = REFUSALS[case]
    with site.client(make(site)) as client:
        whoami = client.get(f"{mtls}/api/siths/whoami")
        assert whoami.status_code == 401
        assert whoami.json()["code"] == code and says in whoami.json()["error"]
        page = client.get(f"{mtls}/siths/vem-ar-jag")
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert f'data-code="{code}"' in page.text and says in page.text
    assert "http://test.siths.se" in page.text and "0776-73 00 00" in page.text


def test_no_certificate_gets_the_page_not_a_dropped_connection(site: Site, mtls: str) -> None:
    with site.client() as client:
        page = client.get(f"{mtls}/siths/vem-ar-jag")
        assert page.status_code == 401
        assert "Inget SITHS-certifikat skickades" in page.text and "Sätt i SITHS-kortet" in page.text
        assert "PIN-koden" in page.text and "30000 (internt)" in page.text and "0776-73 00 00" in page.text
        assert client.get(f"{mtls}/api/siths/whoami").json()["code"] == "missing"
        # a certificate header on the mTLS port from an address that is no trusted proxy is ignored
        header = {"X-SSL-Client-Cert": quote(site.ca.issue_user(HSA_ID, NAME).cert_pem().decode())}
        assert client.get(f"{mtls}/api/siths/whoami", headers=header).json()["code"] == "missing"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_the_listener_advertises_the_siths_ca_so_browsers_offer_only_siths_certificates(site: Site,
                                                                                        mtls: str) -> None:
    port = mtls.rsplit(":", 1)[1]
    probe = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}"], input="", text=True,
                           capture_output=True, timeout=30)
    assert "Acceptable client certificate CA names" in probe.stdout
    assert "DEV SITHS e-id Person HSA-id CA v1" in probe.stdout and "Annan CA" not in probe.stdout


def test_h11_serves_the_certificate_too(site: Site) -> None:
    config, _tls = mtls_config(create_app(), site.settings, port=free_port(), http="h11", log_level="warning")
    with running(config) as url, site.client(site.ca.issue_user(HSA_ID, NAME)) as client:
        assert client.get(f"{url}/api/siths/whoami").json()["hsa_id"] == HSA_ID


def test_handshake_mode_drops_a_foreign_certificate_but_still_pages_an_expired_one(site: Site) -> None:
    """The fallback when the libssl hook is unavailable: OpenSSL itself refuses certificates from other CAs."""
    config, tls = mtls_config(create_app(), site.settings, port=free_port(), foreign=ForeignCertificates.HANDSHAKE,
                              log_level="critical")
    assert tls.foreign is ForeignCertificates.HANDSHAKE
    with running(config) as url:
        with site.client(site.foreign.issue_user(HSA_ID, NAME)) as client, pytest.raises(httpx.TransportError):
            client.get(f"{url}/api/siths/whoami")
        expired = site.ca.issue_user(HSA_ID, NAME, not_after=NOW - dt.timedelta(days=1))
        with site.client(expired) as client:
            assert client.get(f"{url}/api/siths/whoami").json()["code"] == "expired"
        with site.client(site.ca.issue_user(HSA_ID, NAME)) as client:
            assert client.get(f"{url}/api/siths/whoami").json()["hsa_id"] == HSA_ID
        with site.client() as client:
            assert client.get(f"{url}/siths/vem-ar-jag").status_code == 401


# ---------------------------------------------------------------------- trusted proxy
@pytest.fixture(scope="module")
def proxied(site: Site) -> Iterator[str]:
    """The plain-HTTP listener a TLS-terminating proxy forwards to."""
    with running(proxied_config(create_app(), site.settings, port=free_port(), log_level="warning")) as url:
        yield url


def test_the_proxy_header_is_accepted_only_from_a_configured_proxy(site: Site, proxied: str) -> None:
    header = {"X-SSL-Client-Cert": quote(site.ca.issue_user(HSA_ID, NAME).cert_pem().decode())}
    spoofed = {**header, "X-Forwarded-For": "10.9.9.9"}
    with httpx.Client(timeout=15) as client:
        with configured(site.settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})):
            accepted = client.get(f"{proxied}/api/siths/whoami", headers=header)
            assert accepted.status_code == 200 and accepted.json()["hsa_id"] == HSA_ID
            assert accepted.json()["transport"] == "proxy"
            foreign = {"X-SSL-Client-Cert": quote(site.foreign.issue_user(HSA_ID, NAME).cert_pem().decode())}
            assert client.get(f"{proxied}/api/siths/whoami", headers=foreign).json()["code"] == \
                "foreign_issuer"  # the proxy path runs the same verification
        with configured(site.settings.model_copy(update={"trusted_proxies": ["10.9.9.9"]})):
            ignored = client.get(f"{proxied}/api/siths/whoami", headers=spoofed)
            assert ignored.status_code == 401 and ignored.json()["code"] == "missing"
            page = client.get(f"{proxied}/siths/vem-ar-jag", headers=spoofed)
            assert page.status_code == 401 and "Inget SITHS-certifikat skickades" in page.text


# ---------------------------------------------------------------------- as a process
def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"npo certs serve did not listen: {log.read_text()}")


def test_npo_certs_serve_runs_the_mtls_listener(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPO_")}
    env |= {"NPO_VAR_DIR": str(tmp_path / "var"), "NPO_OVERVIEW_PORT": str(port), "NPO_ENV": "test",
            "NPO_LDAP_URL": "ldap://127.0.0.1:1", "NPO_LDAP_BIND_DN": "cn=x", "NPO_LDAP_PASSWORD": "x"}
    ca = DevCA.open(tmp_path / "var" / "certs")
    site = Site(Settings(var_dir=tmp_path / "var"), ca, ca, tmp_path)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "npo.cli", "certs", "serve"], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process, log)
        with site.client(ca.issue_user(HSA_ID, NAME)) as client:
            assert client.get(f"https://127.0.0.1:{port}/api/siths/whoami").json()["hsa_id"] == HSA_ID
        with site.client() as client:
            assert client.get(f"https://127.0.0.1:{port}/siths/vem-ar-jag").status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert "främmande certifikat får en sida" in log.read_text()


# ---------------------------------------------------------------------- several workers on one port (D-63)
def _web_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPO_")}
    return env | {"NPO_VAR_DIR": str(tmp_path / "var"), "NPO_WEB_PORT": str(port), "NPO_ENV": "test",
                  "NPO_LDAP_URL": "ldap://127.0.0.1:1", "NPO_LDAP_BIND_DN": "cn=x", "NPO_LDAP_PASSWORD": "x"}


def _workers_serving(supervisor: int, port: int, status: str = "ESTABLISHED") -> dict[int, int]:
    """Each process below ``supervisor`` with a TCP socket on ``port`` in ``status`` (psutil's names): how many."""
    import psutil

    found: dict[int, int] = {}
    for child in psutil.Process(supervisor).children():
        count = sum(1 for c in child.net_connections(kind="tcp") if c.status == status and c.laddr.port == port)
        if count:
            found[child.pid] = count
    return found


@dataclass
class WebWorkers:
    """`npo web --workers 2` on ``port``, its log, and the worker pids once both listen."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    listening: dict[int, int]

    def wait_for_two_listening(self, deadline: float, without: int | None = None) -> dict[int, int]:
        """Each worker's pid once two listen (``without`` not among them), each on a socket of its own."""
        while len(found := _workers_serving(self.process.pid, self.port, "LISTEN")) < 2 or without in found:
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.2)
        return found


@contextmanager
def web_workers(tmp_path: Path) -> Iterator[WebWorkers]:
    port = free_port()
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "npo.cli", "web", "--workers", "2"], cwd=ROOT,
                                   env=_web_env(tmp_path, port), stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process, log)
        web = WebWorkers(process, port, log, {})
        web.listening = web.wait_for_two_listening(time.monotonic() + 120)
        yield web
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_burst_of_kept_alive_connections_is_spread_over_the_web_workers(tmp_path: Path) -> None:
    """With one shared listening socket, the first worker to wake took a whole burst (bench/gate.py: 32 clients on
    one of two workers); each worker now listens on a socket of its own (SO_REUSEPORT) and the kernel spreads them.

    The burst is made exact: both workers are stopped (SIGSTOP) while 24 connections are opened, so every one waits
    in a listen queue when the workers go on."""
    import psutil

    connections: list[socket.socket] = []
    with web_workers(tmp_path) as web:
        try:
            stopped = [psutil.Process(pid) for pid in web.listening]
            for worker in stopped:
                worker.suspend()
            try:
                connections = [socket.create_connection(("127.0.0.1", web.port), timeout=30) for _ in range(24)]
            finally:
                for worker in stopped:
                    worker.resume()
            for connection in connections:
                connection.sendall(b"GET /static/site.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert all(c.recv(64).startswith(b"HTTP/1.1 200") for c in connections)
            serving = _workers_serving(web.process.pid, web.port)
            assert sum(serving.values()) == len(connections), serving
            assert len(serving) == 2 and min(serving.values()) >= 3, f"connections per worker: {serving}"
        finally:
            for connection in connections:
                connection.close()


def test_a_killed_web_worker_is_started_again_on_a_socket_of_its_own(tmp_path: Path) -> None:
    import signal

    with web_workers(tmp_path) as web:
        killed = next(iter(web.listening))
        os.kill(killed, signal.SIGKILL)
        # the new worker imports the app (5 s alone here; CI's two busy cores once took over a minute)
        web.wait_for_two_listening(time.monotonic() + 180, without=killed)
        assert f"webbprocessen [{killed}] dog och startas om" in web.log.read_text()
        assert httpx.get(f"http://127.0.0.1:{web.port}/static/site.css", timeout=30).status_code == 200


def test_web_workers_on_a_port_another_program_holds_get_a_clear_error(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "npo.cli", "web", "--workers", "2"], cwd=ROOT,
                                env=_web_env(tmp_path, port), capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"Port {port} på 127.0.0.1 kan inte användas" in result.stdout + result.stderr
