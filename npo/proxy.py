"""A private nginx in front of the web processes (issue 16, D7): it terminates SITHS mTLS, verifies the chain, the CRL
and the card's OCSP status, and forwards the verified certificate in the trusted-proxy header.

Everything lives under one root (config, pid, logs, temp dirs); nginx runs in the foreground as our child
(``nginx -p ROOT -c ROOT/nginx.conf -g 'daemon off;'``), so the system nginx and /etc/nginx are never touched.

Revocation, two ways:

- **CRL** (``ssl_crl``): nginx reads the file at start and on :meth:`Nginx.reload` only. Call ``reload()`` after
  ``DevCA.revoke`` (or after the cron job that fetches Inera's CRLs) and the card is refused at once.
- **OCSP** (``ssl_ocsp``): asked on every full handshake, cached until the answer's nextUpdate (a minute with
  npo.ocsp's responder). This is what refuses a revoked card within a minute *without* a reload. TLS session
  resumption is off (a resumed session is not asked again), and a kept-alive connection lives at most
  ``KEEPALIVE_MAX`` so one verified before the revocation cannot outlast the minute either.

The header carries ``$ssl_client_escaped_cert``: the PEM, URL-escaped, which api.siths unquotes. The app verifies it
again (chain, validity, usage, HSA-ID, its own CRL) and trusts it only from ``settings.trusted_proxies``. The
plain-HTTP listener forwards to the same web processes and blanks the header, so a client cannot supply one.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from kernel.settings import Settings
from npo.certs import dev_ca, with_dev_certificates

START_SECONDS = 15.0
KEEPALIVE_MAX = "50s"  # keepalive_time: a connection's whole life, so that OCSP is asked again within a minute
OCSP_CACHE = "shared:npo_ocsp:1m"  # 1 MB, a few thousand cards; each entry lives until its nextUpdate
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")  # Debian's defaults are under /var/lib/nginx

# What a refused user reads (nginx answers these itself: the request never reaches the app).
REFUSED_PAGES = {
    495: "Ditt SITHS-certifikat godtogs inte: det är spärrat, har gått ut eller är inte utfärdat av SITHS. "
         "Använd ditt giltiga SITHS-kort, stäng alla webbläsarfönster och försök igen.",
    496: "Inget SITHS-certifikat skickades. Sätt i ditt SITHS-kort i kortläsaren, stäng alla webbläsarfönster och "
         "öppna sidan igen; välj ditt SITHS-certifikat och ange PIN-koden.",
}
SERVICE_DESK = "Testa kortet på http://test.siths.se. Servicedesk: 30000 (internt) eller 0776-73 00 00 (externt)."


class ProxyError(RuntimeError):
    """nginx did not start, reload or stop as asked; the message holds the end of its error log."""


@dataclass(frozen=True)
class ProxyConfig:
    """What the private nginx serves: where it lives, its two listeners, the trust it checks and its upstreams."""

    root: Path
    tls_port: int
    http_port: int | None  # the plain listener (admin pages); None: no plain listener
    upstreams: Sequence[str]  # "host:port" of each web process (`npo certs serve --behind-proxy`)
    server_cert: Path
    server_key: Path
    client_ca: Path  # the SITHS CA bundle: verifies client certificates, its names are sent to the browser
    crl: Path
    ocsp_responder: str | None  # e.g. http://127.0.0.1:8890; None: CRL only
    verify_depth: int = 2  # SITHS: person certificate → issuing CA → root
    host: str = "127.0.0.1"
    cert_header: str = "X-SSL-Client-Cert"  # settings.proxy_cert_header
    workers: int = 1

    @property
    def conf_path(self) -> Path:
        return self.root / "nginx.conf"

    @property
    def error_log(self) -> Path:
        return self.root / "logs" / "error.log"

    @property
    def access_log(self) -> Path:
        return self.root / "logs" / "access.log"

    @property
    def pid_path(self) -> Path:
        return self.root / "nginx.pid"


def siths_proxy(settings: Settings, *, root: Path, tls_port: int, http_port: int | None, upstreams: Sequence[str],
                ocsp_responder: str | None) -> ProxyConfig:
    """The proxy for ``settings``: its SITHS CA, CRL and server certificate (the dev CA's where none is set)."""
    settings = with_dev_certificates(settings)
    assert settings.siths_ca_file and settings.tls_cert_file and settings.tls_key_file  # filled in above
    crl = settings.siths_crl_file or dev_ca(settings).ensure_crl()
    return ProxyConfig(root=root, tls_port=tls_port, http_port=http_port, upstreams=tuple(upstreams),
                       server_cert=settings.tls_cert_file, server_key=settings.tls_key_file,
                       client_ca=settings.siths_ca_file, crl=crl, ocsp_responder=ocsp_responder,
                       host=settings.web_host, cert_header=settings.proxy_cert_header)


def _quoted(value: str | Path) -> str:
    text = str(value)
    if any(c in text for c in "\"\\\n\r"):
        raise ValueError(f"ogiltigt tecken i nginx-värdet {text!r}")
    return f'"{text}"'


def _forward(header: str, certificate: str, proto: str) -> str:
    # proxy_set_header is inherited only by a level that sets none itself: every location gets the full list
    return (f"            proxy_pass http://npo_web;\n"
            f"            proxy_set_header Host $http_host;\n"
            f"            proxy_set_header {header} {certificate};\n"
            f"            proxy_set_header X-Forwarded-For $remote_addr;\n"
            f"            proxy_set_header X-Forwarded-Proto {proto};\n")


def _refusal_pages() -> str:
    pages = ""
    for status, text in REFUSED_PAGES.items():
        body = (f"<!doctype html><html lang=sv><meta charset=utf-8><title>SITHS-inloggning</title>"
                f"<h1>SITHS-inloggning</h1><p data-code=proxy-{status}>{text}</p><p>{SERVICE_DESK}</p></html>")
        pages += (f"        location @refused_{status} {{\n"
                  f"            default_type \"text/html; charset=utf-8\";\n"
                  f"            return 400 '{body}';\n"
                  f"        }}\n")
    return pages


def render(config: ProxyConfig) -> str:
    """nginx.conf for ``config``."""
    root = config.root
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    upstream = "".join(f"        server {server} max_fails=1 fail_timeout=10s;\n" for server in config.upstreams)
    temp = "".join(f"    {name}_temp_path {_quoted(root / 'tmp' / name)};\n" for name in TEMP_DIRS)
    ocsp = (f"        ssl_ocsp on;\n"
            f"        ssl_ocsp_responder {_quoted(config.ocsp_responder)};\n"
            f"        ssl_ocsp_cache {OCSP_CACHE};\n") if config.ocsp_responder else ""
    blanked = _forward(config.cert_header, '""', "http")  # an empty value: nginx drops the client's header
    plain = (f"    server {{  # plain HTTP: the admin pages\n"
             f"        listen {config.host}:{config.http_port};\n"
             f"        location / {{\n{blanked}        }}\n"
             f"    }}\n") if config.http_port else ""
    verified = _forward(config.cert_header, "$ssl_client_escaped_cert", "https")
    return f"""# written by npo.proxy on every start; edits are lost
{user}worker_processes {config.workers};
pid {_quoted(config.pid_path)};
lock_file {_quoted(root / 'nginx.lock')};
error_log {_quoted(config.error_log)} info;
events {{
    worker_connections 512;
}}
http {{
    log_format npo '$remote_addr [$time_iso8601] "$request" $status upstream=$upstream_addr '
                   'verify=$ssl_client_verify serial=$ssl_client_serial';
    access_log {_quoted(config.access_log)} npo;
{temp}    server_tokens off;
    keepalive_timeout 30s;
    keepalive_time {KEEPALIVE_MAX};
    proxy_http_version 1.1;
    proxy_connect_timeout 2s;
    proxy_next_upstream error timeout;  # a dead web process is skipped (not for a sent POST: no double orders)
    upstream npo_web {{
{upstream}    }}
    server {{  # SITHS: mTLS terminated here
        listen {config.host}:{config.tls_port} ssl;
        ssl_certificate {_quoted(config.server_cert)};
        ssl_certificate_key {_quoted(config.server_key)};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_client_certificate {_quoted(config.client_ca)};
        ssl_verify_client on;
        ssl_verify_depth {config.verify_depth};
        ssl_crl {_quoted(config.crl)};
{ocsp}        ssl_session_tickets off;  # a resumed session skips the certificate and OCSP checks
        ssl_session_cache off;
        error_page 495 @refused_495;
        error_page 496 @refused_496;
{_refusal_pages()}        location / {{
{verified}        }}
    }}
{plain}}}
"""


class Nginx:
    """The private nginx of ``config`` as a child process: start, reload (re-reads the CRL), stop, kill."""

    def __init__(self, config: ProxyConfig, *, binary: str = "nginx"):
        self.config = config
        self.binary = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin") or binary
        self.process: subprocess.Popen[bytes] | None = None

    def command(self, *extra: str) -> list[str]:
        """nginx with our prefix, config and error log (``-e``: before the config names one)."""
        c = self.config
        return [self.binary, "-p", str(c.root), "-c", str(c.conf_path), "-e", str(c.error_log), *extra]

    def write_config(self) -> Path:
        """Render nginx.conf and create the directories it names; check it with ``nginx -t``."""
        c = self.config
        for name in TEMP_DIRS:
            (c.root / "tmp" / name).mkdir(parents=True, exist_ok=True)
        c.error_log.parent.mkdir(parents=True, exist_ok=True)
        c.conf_path.write_text(render(c))
        test = subprocess.run(self.command("-t", "-q"), capture_output=True, text=True, timeout=30)
        if test.returncode != 0:
            raise ProxyError(f"nginx godtar inte {c.conf_path}: {test.stderr.strip()}")
        return c.conf_path

    def start(self, timeout: float = START_SECONDS) -> Nginx:
        """Start nginx in the foreground (its own session) and return once every listener accepts."""
        self.write_config()
        out = (self.config.root / "logs" / "nginx.out").open("ab")
        with out:
            self.process = subprocess.Popen(self.command("-g", "daemon off;"), stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        ports = [self.config.tls_port] + ([self.config.http_port] if self.config.http_port else [])
        deadline = time.monotonic() + timeout
        for port in ports:
            while not _accepts(self.config.host, port):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise ProxyError(f"nginx startade inte på port {port}: {self._log_tail()}")
                time.sleep(0.05)
        return self

    def workers(self) -> set[int]:
        """The pids of the current worker processes."""
        if not self.running:
            return set()
        assert self.process is not None
        # nginx's workers are its master's only children (Linux: the kernel lists them per thread)
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            return {int(pid) for pid in children.read_text().split()}
        return set()

    def reload(self, timeout: float = 15.0) -> None:
        """Re-read the config, the certificates and the CRL (SIGHUP); return once only new workers serve."""
        if not self.running:
            raise ProxyError("nginx körs inte")
        assert self.process is not None
        self.write_config()
        old = self.workers()
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while (now := self.workers()) & old or not now:
            if time.monotonic() > deadline:
                raise ProxyError(f"nginx laddade inte om: {self._log_tail()}")
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop nginx (SIGTERM: fast shutdown), killing what is left after ``timeout``."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """End the master and its workers at once (workers outlive a killed master otherwise)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the group is nginx and nothing else
        self.process.wait(5)

    def _log_tail(self) -> str:
        log = self.config.error_log
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

    def __enter__(self) -> Nginx:
        return self if self.running else self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
