"""The parts a cluster adds to the status page (issue 16): each server of a pooled Skånekatalogen, each web process,
and the OCSP responder SITHS logins are checked against. With none of them configured (`make run`) none is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from api.siths import DEV_CA_FILENAME, CertificateRejected, trust_anchors, trust_file
from api.status import TIMEOUT, PartStatus, timed
from catalog.ldapconn import DirectoryConfig, DirectoryError, LdapSession
from kernel.settings import Environment, Settings

OCSP = "SITHS-spärrkontroll (OCSP)"
DEV_OCSP_FILENAME = "ocsp.crt"  # the dev CA's OCSP signing certificate under settings.certs_dir (npo.certs writes it)
NOT_IN_STEP = ("servrarna har olika contextCSN: en ändring har ännu inte nått alla "
               "(replikeringen sker efter hand, så det är normalt en kort stund efter en ändring)")
CARD_STATUS = {"good": "giltigt", "revoked": "spärrat", "unknown": "okänt för svararen"}


def server_name(number: int) -> str:
    """The name of directory server ``number`` (1-based, in the order of NPO_LDAP_URL)."""
    return f"Skånekatalogen, server {number}"


def web_name(number: int) -> str:
    """The name of web process ``number`` (1-based, in the order of NPO_WEB_INSTANCES)."""
    return f"Webbprocess {number}"


@dataclass(frozen=True)
class ServerStatus:
    """One directory server's part, and the contextCSN of its base (None when it did not answer)."""

    part: PartStatus
    csns: frozenset[str] | None


def directory_server_status(config: DirectoryConfig, number: int, url: str) -> ServerStatus:
    """Does this one server of the pool answer our bind and hold the base, and how far has it come (contextCSN)?"""
    seen: list[frozenset[str]] = []  # the probe's second answer, beside its text

    def probe() -> str:
        session = LdapSession(replace(config, url=url, connect_timeout=TIMEOUT, receive_timeout=int(TIMEOUT)))
        try:
            entry = session.read(config.base, ["contextCSN"])  # operational: returned only when asked for by name
        except DirectoryError as exc:
            raise RuntimeError(exc.message) from exc
        finally:
            session.close()
        if entry is None:
            raise RuntimeError(f"svarar, men basen {config.base} saknas")
        csns = frozenset(entry[1].get("contextCSN") or ())
        seen.append(csns)
        return f"svarar; contextCSN {', '.join(sorted(csns))}" if csns else "svarar; ingen contextCSN (replikerar inte)"
    part = timed(f"directory-{number}", server_name(number), url, probe)
    return ServerStatus(part, seen[0] if seen else None)


def servers_in_step(answers: Sequence[ServerStatus | PartStatus]) -> list[PartStatus]:
    """The servers' parts; when every server answered and their contextCSN differ, each says so, still healthy
    (replication is asynchronous). A PartStatus in ``answers`` is a server that did not answer in time."""
    parts = [answer.part if isinstance(answer, ServerStatus) else answer for answer in answers]
    seen = [answer.csns for answer in answers if isinstance(answer, ServerStatus) and answer.csns is not None]
    if len(seen) < len(answers) or len(set(seen)) < 2:
        return parts
    return [replace(part, detail=f"{part.detail}; {NOT_IN_STEP}") for part in parts]


def web_instance_status(number: int, url: str) -> PartStatus:
    """Does this web process answer, and which process is it (a restarted one has a new pid)? It is asked at
    /api/alive, never /api/health: that would probe every instance again, and again."""
    def probe() -> str:
        response = httpx.get(f"{url.rstrip('/')}/api/alive", timeout=TIMEOUT)
        if response.status_code != 200:
            raise RuntimeError(f"svarade HTTP {response.status_code} på /api/alive")
        return f"svarar; process {response.json()['pid']}"
    return timed(f"web-{number}", web_name(number), url, probe)


def ocsp_status(settings: Settings, url: str) -> PartStatus:
    """Does the OCSP responder answer? About the dev CA's own OCSP certificate it must say good, revoked or unknown;
    with a real SITHS chain (no card of it at hand) any HTTP answer to a question about the first trusted CA counts."""
    def probe() -> str:
        dev = _dev_ocsp_certificate(settings)
        question = dev or _trusted_ca(settings)
        body = _ocsp_request(*question) if question else b""  # no CA readable (the siths part says why): any POST
        reply = httpx.post(url, content=body, timeout=TIMEOUT, headers={"Content-Type": "application/ocsp-request"})
        if dev is None:
            return f"svarar (HTTP {reply.status_code})"
        answer = ocsp.load_der_ocsp_response(reply.content)
        if answer.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise RuntimeError(f"svarar, men OCSP-svaret var {answer.response_status.name}")
        status = answer.certificate_status.name.lower()
        return f"svarar; utvecklings-CA:ns OCSP-certifikat är {CARD_STATUS.get(status, status)}"
    return timed("ocsp", OCSP, url, probe)


def _ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    # npo.ocsp.query asks the same way (as nginx asks); api may not import the shell (tests/test_layout.py)
    return ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)


def _dev_ocsp_certificate(settings: Settings) -> tuple[x509.Certificate, x509.Certificate] | None:
    """The dev CA's OCSP signing certificate and the CA, when the dev CA is the one trusted (never in production)."""
    ca_path, signer_path = settings.certs_dir / DEV_CA_FILENAME, settings.certs_dir / DEV_OCSP_FILENAME
    trusted = trust_file(settings)
    if settings.env is Environment.PRODUCTION or trusted is None or trusted.resolve() != ca_path.resolve() \
            or not signer_path.exists():
        return None
    return (x509.load_pem_x509_certificate(signer_path.read_bytes()),
            x509.load_pem_x509_certificate(ca_path.read_bytes()))


def _trusted_ca(settings: Settings) -> tuple[x509.Certificate, x509.Certificate] | None:
    """The first trusted CA and its issuer from the same bundle (itself when not there), or None when none loads."""
    try:
        anchors = trust_anchors(settings)
    except CertificateRejected:
        return None
    if not anchors:
        return None
    first = anchors[0]
    return first, next((anchor for anchor in anchors if anchor.subject == first.issuer), first)
