"""Health of each part of the stack, for the status page and /api/health."""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Engine, text

from api.logscan import describe, errors_since_start
from catalog import Directory, DirectoryError
from kernel.clock import local_minute
from kernel.settings import Settings

TIMEOUT = 2.0  # seconds per probe: the page must answer quickly also when a part hangs


@dataclass(frozen=True)
class PartStatus:
    """One part of the stack and how it answered."""

    key: str
    name: str
    healthy: bool
    detail: str
    where: str
    millis: float


def timed(key: str, name: str, where: str, probe: Callable[[], str]) -> PartStatus:
    """Run ``probe`` as the part ``key``: healthy with its text, or not healthy with the error it raised."""
    started = time.perf_counter()
    try:
        detail, healthy = probe(), True
    except Exception as exc:  # noqa: BLE001 - a status page reports every failure as "not healthy"
        detail, healthy = str(exc) or type(exc).__name__, False
    return PartStatus(key, name, healthy, detail, where, (time.perf_counter() - started) * 1000)


def database_status(engine: Engine) -> PartStatus:
    """Can we run a query?"""
    def probe() -> str:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return f"{engine.dialect.name} svarar"
    return timed("database", "SQL-databas", engine.url.render_as_string(hide_password=True), probe)


def directory_status(directory: Directory) -> PartStatus:
    """Does Skånekatalogen answer our bind and hold providers?"""
    def probe() -> str:
        try:
            providers = directory.providers()
        except DirectoryError as exc:
            raise RuntimeError(exc.message) from exc
        if not providers:
            return "svarar, men inga vårdgivare är inlästa (kör `npo demo load`)"
        return f"svarar; {len(providers)} vårdgivare"
    return timed("directory", "Skånekatalogen (LDAP)", directory.config.url, probe)


def smtp_status(host: str, port: int, waiting: Callable[[], tuple[int, object]]) -> PartStatus:
    """Does the SMTP server greet us, and how much mail waits in the outbox?"""
    def probe() -> str:
        import smtplib

        with smtplib.SMTP(host, port, timeout=TIMEOUT) as client:
            client.noop()
        count, oldest = waiting()
        return "svarar; utkorgen är tom" if not count else f"svarar; {count} meddelanden väntar (äldst {oldest})"
    return timed("smtp", "E-post (SMTP)", f"{host}:{port}", probe)


def prefect_status(api_url: str | None) -> PartStatus:
    """Is the Prefect server up (when one is configured)?"""
    if not api_url:
        return PartStatus("prefect", "Arbetsflöden (Prefect)", True,
                          "ingen server konfigurerad: flödena körs i webbprocessen", "–", 0.0)

    def probe() -> str:
        import httpx

        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=TIMEOUT)
        response.raise_for_status()
        return "svarar"
    return timed("prefect", "Arbetsflöden (Prefect)", api_url.removesuffix("/api"), probe)


def siths_status(settings: Settings, now: dt.datetime) -> PartStatus:
    """Can SITHS logins be verified: trusted CAs loaded, and the revocation list readable and current?"""
    from api.siths import CertificateRejected, crl_file, revocation_lists, trust_anchors, trust_file

    def probe() -> str:
        path = trust_file(settings)
        if path is not None and not settings.siths_ca_file and not path.exists():
            return "utvecklings-CA:n finns inte än; den skapas när SITHS-lyssnaren startar (npo certs serve)"
        try:
            anchors = trust_anchors(settings)
            crls = revocation_lists(settings)
        except CertificateRejected as exc:
            raise RuntimeError(exc.message) from exc
        text = f"{len(anchors)} betrodd(a) CA"
        if not crls:
            return text + "; ingen spärrlista" + (" (inget spärrat)" if crl_file(settings) else " konfigurerad")
        late = [c.next_update_utc for c in crls if c.next_update_utc is not None and c.next_update_utc < now]
        revoked = sum(len(c) for c in crls)
        if late:
            raise RuntimeError(f"spärrlistan skulle ha förnyats {min(late):%Y-%m-%d %H:%M} "
                               f"UTC; den används ändå ({revoked} spärrade) men hämta en ny")
        return text + f"; spärrlista med {revoked} spärrade certifikat"
    return timed("siths", "SITHS-inloggning", str(trust_file(settings) or "–"), probe)


def mtls_status(host: str, port: int, now: dt.datetime) -> PartStatus:
    """Does the SITHS (mTLS) listener accept a TLS connection, with a server certificate that is still valid?"""
    def probe() -> str:
        from cryptography import x509

        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # whether it answers TLS at all; the certificate's dates are checked below
        with socket.create_connection((host, port), timeout=TIMEOUT) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            der, version = tls.getpeercert(binary_form=True), tls.version()
        # getpeercert() is None only without a handshake's certificate; a TLS server always sends one
        expires = x509.load_der_x509_certificate(der).not_valid_after_utc  # type: ignore[arg-type]  # see above
        if expires < now:
            raise RuntimeError(f"servercertifikatet gick ut {local_minute(expires)}")
        return f"svarar med {version}; servercertifikatet gäller till {local_minute(expires)}"
    return timed("mtls", "SITHS-lyssnaren (mTLS)", f"https://{host}:{port}", probe)


def web_status(url: str) -> PartStatus:
    """The web app itself: it answers, since it is serving this page (the process is named: a cluster runs several)."""
    return PartStatus("web", "Webbappen", True, f"svarar (visar den här sidan; process {os.getpid()})", url, 0.0)


def with_log_errors(part: PartStatus, log: Path) -> PartStatus:
    """``part``, not healthy when its log (embedded stack) holds errors since the part last started."""
    errors = errors_since_start(log)
    if errors is None:
        return part
    return replace(part, healthy=False, detail=f"{part.detail}; {describe(errors)}")
