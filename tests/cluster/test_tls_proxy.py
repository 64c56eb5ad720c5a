"""SITHS behind nginx (issue 16, D7): a real nginx terminating mTLS in front of two real web processes
(`npo certs serve --behind-proxy`), checking the dev CA's chain, CRL and OCSP (`openssl ocsp` on its index.txt).

Each request opens a new TLS connection (a new httpx client): nginx checks a certificate at the handshake only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from kernel.settings import Settings
from npo.certs import DevCA, Issued
from npo.ocsp import OcspResponder, query
from npo.proxy import Nginx, siths_proxy
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
HSA_ID = "SE2321000255-PRX1"
NAME = "Petra Proxy"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.timeout(120),
    pytest.mark.skipif(NGINX is None or shutil.which("openssl") is None, reason="needs nginx and openssl"),
]


@dataclass
class Web:
    """One web process behind the proxy."""

    pid: int
    port: int


@dataclass
class TlsCluster:
    """nginx, the OCSP responder, two web processes, the dev CA and a CA nobody trusts."""

    ca: DevCA
    foreign: DevCA
    nginx: Nginx
    ocsp: OcspResponder
    webs: list[Web]
    files: Path

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.nginx.config.tls_port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.nginx.config.http_port}"

    def card(self) -> Issued:
        """A new card of the dev CA, once the OCSP responder knows it: nginx would keep an "unknown" for a minute.

        (`openssl ocsp` answers one request from its old index after a change; IndexWatcher makes that request
        within a quarter of a second, a person takes longer between `npo certs issue` and signing in.)"""
        issued = self.ca.issue_user(HSA_ID, NAME)
        _poll(lambda: query(self.ocsp.url, issued.cert, self.ca.cert).status == "good", 10)
        return issued

    def get(self, issued: Issued | None, path: str = "/api/siths/whoami") -> tuple[httpx.Response, str]:
        """GET ``path`` over a new TLS connection presenting ``issued``; the response and its access-log line."""
        context = ssl.create_default_context(cafile=str(self.ca.cert_path))
        if issued is not None:
            stem = self.files / format(issued.cert.serial_number, "x")
            stem.with_suffix(".crt").write_bytes(issued.cert_pem())
            stem.with_suffix(".key").write_bytes(issued.key_pem())
            context.load_cert_chain(stem.with_suffix(".crt"), stem.with_suffix(".key"))
        tag = uuid.uuid4().hex
        with httpx.Client(verify=context, timeout=15) as client:
            response = client.get(f"{self.https}{path}", params={"t": tag})
        return response, self.logged(tag)

    def logged(self, tag: str) -> str:
        """The access-log line of the request tagged ``tag`` (nginx writes it when the response is sent)."""
        deadline = time.monotonic() + 5
        while True:
            lines = [line for line in self.nginx.config.access_log.read_text().splitlines() if tag in line]
            if lines or time.monotonic() > deadline:
                return lines[-1] if lines else ""
            time.sleep(0.02)

    def error_log_since(self, mark: int) -> str:
        return self.nginx.config.error_log.read_text(errors="replace")[mark:]

    def error_log_mark(self) -> int:
        return len(self.nginx.config.error_log.read_text(errors="replace"))


# One process imports the app (the slow part) and migrates the database, then forks a web process per port: each
# runs what `npo certs serve --behind-proxy` runs (api.mtls.serve_proxied over npo.web's app). Pids go to a file.
LAUNCHER = """
import os, signal, sys
from kernel import runtime
from kernel.settings import Settings
from npo.db import upgrade
from npo.web import create_app
from api.mtls import serve_proxied

children = []


def stop(*_):
    for child in children:
        try:
            os.kill(child, signal.SIGTERM)
        except ProcessLookupError:
            pass  # a test killed it


signal.signal(signal.SIGTERM, stop)
upgrade(Settings().sql_url)
for port in map(int, sys.argv[2:]):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        settings = Settings().model_copy(update={"web_port": port})
        runtime.configure(settings)
        serve_proxied(create_app(), settings, log_level="warning")
        os._exit(0)
    children.append(pid)
with open(sys.argv[1], "w") as out:
    out.write(" ".join(map(str, children)))
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
"""


def _web_env(var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPO_")}
    return env | {"NPO_VAR_DIR": str(var), "NPO_ENV": "test", "NPO_TRUSTED_PROXIES": '["127.0.0.1"]',
                  "NPO_LDAP_URL": "ldap://127.0.0.1:1", "NPO_LDAP_BIND_DN": "cn=x", "NPO_LDAP_PASSWORD": "x"}


def _wait_for(launcher: subprocess.Popen[bytes], pids: Path, ports: list[int], log: Path,
              deadline: float) -> list[Web]:
    """The web processes once each listens on its port."""
    while not (pids.exists() and pids.read_text()):
        assert launcher.poll() is None and time.monotonic() < deadline, f"no web processes: {log.read_text()}"
        time.sleep(0.1)
    webs = [Web(int(pid), port) for pid, port in zip(pids.read_text().split(), ports, strict=True)]
    for web in webs:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", web.port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"web process did not listen: {log.read_text()}"
                time.sleep(0.1)
    return webs


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    tmp = tmp_path_factory.mktemp("tls-proxy")
    settings = Settings(var_dir=tmp / "var", env="test", trusted_proxies=["127.0.0.1"])
    ca = DevCA.open(settings.certs_dir)
    foreign = DevCA.open(tmp / "foreign", subject=x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                                                             x509.NameAttribute(NameOID.COMMON_NAME, "Annan CA")]))
    ports, pids, log = [free_port(), free_port()], tmp / "web.pids", tmp / "web.log"
    with log.open("wb") as out:  # started first: importing the app is what takes time
        launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(pids), *map(str, ports)], cwd=ROOT,
                                    env=_web_env(settings.var_dir), stdout=out, stderr=subprocess.STDOUT)
    responder = OcspResponder(ca, port=free_port(), log=tmp / "ocsp.log")
    nginx: Nginx | None = None
    try:
        responder.start()
        config = siths_proxy(settings, root=tmp / "nginx", tls_port=free_port(), http_port=free_port(),
                             upstreams=[f"127.0.0.1:{port}" for port in ports], ocsp_responder=responder.url)
        nginx = Nginx(config, binary=NGINX or "nginx").start()
        webs = _wait_for(launcher, pids, ports, log, time.monotonic() + 60)
        (tmp / "clients").mkdir()
        yield TlsCluster(ca, foreign, nginx, responder, webs, tmp / "clients")
    finally:
        if nginx is not None:
            nginx.stop()
        responder.stop()
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGTERM)  # it stops the web processes and waits for them
            launcher.wait(20)


def _gone(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def _refused_by_nginx(response: httpx.Response, logged: str, page: str) -> bool:
    """nginx's own refusal page, and the request never went upstream."""
    return (response.status_code == 400 and f"data-code={page}" in response.text
            and "upstream=-" in logged and "content-security-policy" not in response.headers)


# ---------------------------------------------------------------------- (a) a valid card
def test_a_valid_card_reaches_the_app_through_the_proxy_header(tls_cluster: TlsCluster) -> None:
    card = tls_cluster.card()
    whoami, logged = tls_cluster.get(card)
    assert whoami.status_code == 200, whoami.text
    body = whoami.json()
    assert (body["hsa_id"], body["name"], body["transport"]) == (HSA_ID, NAME, "proxy")
    assert body["serial"] == format(card.cert.serial_number, "X")
    assert "verify=SUCCESS" in logged and "upstream=127.0.0.1:" in logged
    page, _ = tls_cluster.get(card, "/siths/vem-ar-jag")
    assert page.status_code == 200 and f'data-hsa-id="{HSA_ID}"' in page.text


# ---------------------------------------------------------------------- (b, c) no card, a foreign card
def test_no_certificate_is_refused_by_nginx_and_never_reaches_the_app(tls_cluster: TlsCluster) -> None:
    response, logged = tls_cluster.get(None)
    assert _refused_by_nginx(response, logged, "proxy-496"), (response.status_code, response.text, logged)
    assert "Inget SITHS-certifikat skickades" in response.text and "0776-73 00 00" in response.text


def test_a_certificate_from_another_ca_is_refused_by_nginx(tls_cluster: TlsCluster) -> None:
    mark = tls_cluster.error_log_mark()
    response, logged = tls_cluster.get(tls_cluster.foreign.issue_user(HSA_ID, NAME))
    assert _refused_by_nginx(response, logged, "proxy-495"), (response.status_code, response.text, logged)
    assert "(21:unable to verify the first certificate)" in tls_cluster.error_log_since(mark)


# ---------------------------------------------------------------------- (d) revocation: OCSP, then the CRL
def _poll(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``condition`` held; fails after ``seconds``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, f"not within {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - start


def test_a_revoked_card_is_refused_by_ocsp_without_a_reload_and_by_the_crl_after_one(
        tls_cluster: TlsCluster) -> None:
    ca, url = tls_cluster.ca, tls_cluster.ocsp.url
    seen = tls_cluster.card()  # used before the revocation: nginx has its "good" in the OCSP cache
    assert tls_cluster.get(seen)[0].status_code == 200
    status = query(url, seen.cert, ca.cert)
    assert status.status == "good" and status.next_update is not None
    assert (status.next_update - status.this_update).total_seconds() <= 60  # nginx caches it until then
    unseen = tls_cluster.card()  # a second card of the same person, never shown to nginx
    mark = tls_cluster.error_log_mark()

    ca.revoke([seen.cert.serial_number, unseen.cert.serial_number])  # no reload: nginx still holds the old CRL
    watcher = tls_cluster.ocsp.watcher
    assert watcher is not None
    assert _poll(watcher.caught_up, 60) < 2  # it made the responder re-read index.txt: one question suffices
    assert query(url, seen.cert, ca.cert).status == "revoked"
    last: list[tuple[httpx.Response, str]] = []

    def refused() -> bool:
        last[:] = [tls_cluster.get(unseen)]
        return last[0][0].status_code != 200

    _poll(refused, 60)
    response, logged = last[0]
    assert _refused_by_nginx(response, logged, "proxy-495"), (response.status_code, response.text, logged)
    # OCSP said so ("certificate revoked"), not nginx's CRL, which it has not re-read ("(23:certificate revoked)")
    assert "verify error: certificate revoked" in tls_cluster.error_log_since(mark)
    assert "(23:" not in tls_cluster.error_log_since(mark)

    # the card nginx still holds as good (until nextUpdate) is refused all the same: the app reads the new CRL
    response, logged = tls_cluster.get(seen)
    assert response.status_code == 401 and response.json()["code"] == "revoked" or \
        _refused_by_nginx(response, logged, "proxy-495"), (response.status_code, response.text, logged)

    mark = tls_cluster.error_log_mark()
    tls_cluster.nginx.reload()  # re-reads ca.crl
    response, logged = tls_cluster.get(seen)
    assert _refused_by_nginx(response, logged, "proxy-495"), (response.status_code, response.text, logged)
    assert "(23:certificate revoked)" in tls_cluster.error_log_since(mark)
    assert tls_cluster.get(tls_cluster.card())[0].status_code == 200  # a new card of the person works


# ---------------------------------------------------------------------- (e) the plain listener
def test_a_certificate_header_sent_to_the_plain_listener_is_not_an_identity(tls_cluster: TlsCluster) -> None:
    header = {"X-SSL-Client-Cert": quote(tls_cluster.ca.issue_user(HSA_ID, NAME).cert_pem().decode())}
    direct = httpx.get(f"http://127.0.0.1:{tls_cluster.webs[0].port}/api/siths/whoami", headers=header, timeout=15)
    assert direct.status_code == 200 and direct.json()["hsa_id"] == HSA_ID  # what nginx must keep a client from
    proxied = httpx.get(f"{tls_cluster.http}/api/siths/whoami", headers=header, timeout=15)
    assert proxied.status_code == 401 and proxied.json()["code"] == "missing", proxied.text
    page = httpx.get(f"{tls_cluster.http}/siths/vem-ar-jag", headers=header, timeout=15)
    assert page.status_code == 401 and "Inget SITHS-certifikat skickades" in page.text


# ---------------------------------------------------------------------- (f) a web process dies
def test_requests_still_succeed_when_one_of_two_web_processes_is_killed(tls_cluster: TlsCluster) -> None:
    card = tls_cluster.card()
    ports = [f"127.0.0.1:{web.port}" for web in tls_cluster.webs]
    before = [tls_cluster.get(card) for _ in range(4)]
    assert all(response.status_code == 200 for response, _ in before)
    assert all(any(port in logged for _, logged in before) for port in ports), [logged for _, logged in before]

    victim = tls_cluster.webs[1]
    os.kill(victim.pid, signal.SIGKILL)
    _poll(lambda: _gone(victim.port), 10)
    after = [tls_cluster.get(card) for _ in range(6)]
    assert [response.status_code for response, _ in after] == [200] * 6, [logged for _, logged in after]
    # the first request sent to the dead process went on to the living one (upstream=dead, living)
    assert any(f"upstream={ports[1]}, {ports[0]}" in logged for _, logged in after), [line for _, line in after]
