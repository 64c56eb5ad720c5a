"""SITHS authentication (ARCHITECTURE D7): a client certificate becomes an HSA-ID, or a refusal a user can act on.

Two transports feed the same verification: direct mTLS (api.mtls puts the certificate into the ASGI scope as
``scope["extensions"]["tls"]``) and a TLS-terminating proxy that forwards the certificate in a header, trusted only
when the request's TCP peer is one of ``settings.trusted_proxies``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import functools
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi import Depends, HTTPException, Request

from catalog.identifiers import InvalidIdentifier, validate_hsa_id
from kernel import runtime
from kernel.settings import Environment, Settings

DEV_CA_FILENAME = "ca.crt"  # the dev CA under settings.certs_dir (npo.certs writes it)
DEV_CRL_FILENAME = "ca.crl"  # its revocation list (npo certs revoke writes it)
PEER_EXTENSION = "npo.transport"  # api.mtls records the TCP peer here, before any X-Forwarded-For rewriting
MAX_CHAIN_DEPTH = 4

_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)
_PERSONNUMMER = re.compile(r"(19|20)?\d{6}[-+]?\d{4}")


class CertificateRejected(HTTPException):
    """A client certificate that does not identify a SITHS user; ``message`` tells the user what to do.

    It is an HTTPException (``status``, the message as ``detail``), so that even an app without our handlers answers
    it; api/errors.py renders it as the refusal page (or JSON under /api/)."""

    def __init__(self, code: str, message: str, *, status: int = 401):
        super().__init__(status_code=status, detail=message)
        self.code = code
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class SithsIdentity:
    """A verified SITHS user."""

    hsa_id: str
    name: str
    given_name: str
    surname: str
    serial: str
    issuer: str
    not_after: dt.datetime
    fingerprint: str = ""
    transport: str = ""  # "mtls" or "proxy" when it came from a request


# ---------------------------------------------------------------------- parsing
def parse_certificates(data: str | bytes) -> list[x509.Certificate]:
    """Certificates from PEM (one or more blocks, any line breaks), DER, or comma-separated base64 DER; leaf first."""
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    blocks = _PEM_BLOCK.findall(text)
    try:
        if blocks:
            ders = [base64.b64decode("".join(block.split()), validate=True) for block in blocks]
        elif isinstance(data, bytes):
            ders = [data]
        else:  # Traefik/HAProxy style: base64 DER without armour
            ders = [base64.b64decode("".join(part.split()), validate=True) for part in text.split(",") if part.strip()]
        certificates = [x509.load_der_x509_certificate(der) for der in ders]
    except (ValueError, binascii.Error):
        certificates = []
    if not certificates:
        raise CertificateRejected("malformed", "Certifikatet kunde inte läsas. Ta ut SITHS-kortet, sätt i det igen "
                                               "och ladda om sidan; hjälper inte det, kontakta servicedesk.")
    return certificates


# ---------------------------------------------------------------------- verification
def verify_certificate(pem_or_der: str | bytes, *, trust: Sequence[x509.Certificate], now: dt.datetime,
                       intermediates: Iterable[x509.Certificate] = (),
                       crls: Sequence[x509.CertificateRevocationList] = ()) -> SithsIdentity:
    """Verify a SITHS authentication certificate (chain, validity, revocation, key usage, HSA-ID) and return its
    identity. ``crls``: revocation lists; the one signed by the certificate's issuer decides whether it is revoked."""
    if not trust:
        raise _not_configured()
    leaf, *chain = parse_certificates(pem_or_der)
    pool = [*chain, *intermediates]
    _check_issuer(leaf, trust, pool, now)
    _check_validity(leaf, now)
    _check_revocation(leaf, [*trust, *pool], crls)
    _check_usage(leaf)
    hsa_id = _hsa_id(leaf)
    given, surname = _attribute(leaf, NameOID.GIVEN_NAME), _attribute(leaf, NameOID.SURNAME)
    return SithsIdentity(
        hsa_id=hsa_id, name=_attribute(leaf, NameOID.COMMON_NAME) or f"{given} {surname}".strip(),
        given_name=given, surname=surname, serial=format(leaf.serial_number, "X"),
        issuer=leaf.issuer.rfc4514_string(), not_after=leaf.not_valid_after_utc,
        fingerprint=leaf.fingerprint(hashes.SHA256()).hex())


def _check_issuer(cert: x509.Certificate, trust: Sequence[x509.Certificate], pool: list[x509.Certificate],
                  now: dt.datetime, depth: int = 0) -> None:
    """Find a path from ``cert`` to a trusted CA; ``depth`` counts the intermediate CAs already below ``cert``."""
    for anchor in trust:
        if _issued_by(cert, anchor, depth):
            if not (anchor.not_valid_before_utc <= now < anchor.not_valid_after_utc):
                raise CertificateRejected("ca_expired", "SITHS-utfärdarens certifikat på servern är inte giltigt "
                                                        "just nu. Kontakta servicedesk.", status=503)
            return
    for intermediate in pool if depth < MAX_CHAIN_DEPTH else []:
        valid = intermediate.not_valid_before_utc <= now < intermediate.not_valid_after_utc
        if valid and _issued_by(cert, intermediate, depth):
            return _check_issuer(intermediate, trust, [c for c in pool if c is not intermediate], now, depth + 1)
    raise CertificateRejected(
        "foreign_issuer",
        f"Certifikatet är inte utfärdat av SITHS (utfärdare: {cert.issuer.rfc4514_string()}). Välj ditt "
        "SITHS-certifikat när webbläsaren frågar; visas inget, sätt i SITHS-kortet och starta om webbläsaren.")


def _check_revocation(cert: x509.Certificate, issuers: Sequence[x509.Certificate],
                      crls: Sequence[x509.CertificateRevocationList]) -> None:
    """Refuse a certificate on its issuer's CRL. A CRL that names the issuer but is not signed by it is refused as a
    whole (a forged list must neither revoke nor clear anyone). A CRL past its next update is still used: it is the
    best knowledge there is, and refusing every login at night because a list is late would stop care (D-30)."""
    issuer = next((c for c in issuers if _issued_by(cert, c, 0)), None)
    for crl in crls:
        if issuer is None or crl.issuer != issuer.subject:
            continue
        # public_key() is typed with the key-agreement keys too (X25519, X448, DH), which cannot sign and no CA has
        if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]  # a CA key signs
            raise CertificateRejected("crl_invalid", "Spärrlistan för SITHS-certifikat på servern är inte giltig, så "
                                                     "inloggningen kan inte kontrolleras. Kontakta servicedesk.",
                                      status=503)
        revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if revoked is not None:
            raise CertificateRejected(
                "revoked", f"Ditt SITHS-certifikat är spärrat sedan {_sv_time(revoked.revocation_date_utc)}. Det "
                           "händer när ett kort har anmälts förlorat eller bytts ut. Använd ditt nya kort, eller "
                           "kontakta din id-administratör (SITHS) eller servicedesk för ett nytt.")


@functools.lru_cache(maxsize=4096)
def _issued_by(cert: x509.Certificate, issuer: x509.Certificate, depth: int) -> bool:
    """True when ``issuer`` is a CA (allowing ``depth`` CAs below it) whose key signed ``cert``.

    Memoised (certificates hash and compare by their DER): a signature stays valid, and each request presents the
    same card, so it is checked once per card and process; validity, usage and revocation are checked every time."""
    if cert.issuer != issuer.subject or not _is_ca(issuer, depth):
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate, depth: int) -> bool:
    basic = _extension(cert, x509.BasicConstraints)
    if basic is None or not basic.ca or (basic.path_length is not None and basic.path_length < depth):
        return False
    usage = _extension(cert, x509.KeyUsage)
    return usage is None or usage.key_cert_sign


def _check_validity(cert: x509.Certificate, now: dt.datetime) -> None:
    if now >= cert.not_valid_after_utc:
        raise CertificateRejected(
            "expired", f"Certifikatet har gått ut ({_sv_time(cert.not_valid_after_utc)}). Du behöver ett nytt "
                       "SITHS-kort eller nya certifikat: kontakta din SITHS-administratör eller servicedesk.")
    if now < cert.not_valid_before_utc:
        raise CertificateRejected(
            "not_yet_valid", f"Certifikatet börjar gälla först {_sv_time(cert.not_valid_before_utc)}. Försök igen "
                             "då, eller kontrollera att datorns klocka går rätt.")


def _check_usage(cert: x509.Certificate) -> None:
    for extension in cert.extensions:
        if extension.critical and isinstance(extension.value, x509.UnrecognizedExtension):
            raise CertificateRejected("wrong_usage", "Certifikatet har en kritisk tilläggsuppgift som tjänsten inte "
                                                     "förstår och kan inte användas för inloggning.")
    basic = _extension(cert, x509.BasicConstraints)
    usage = _extension(cert, x509.KeyUsage)
    if (basic is not None and basic.ca) or usage is None:
        raise CertificateRejected("wrong_usage", "Certifikatet är inte ett legitimeringscertifikat. Välj "
                                                 "legitimeringscertifikatet från ditt SITHS-kort.")
    if usage.content_commitment or not usage.digital_signature:
        raise CertificateRejected(
            "signing_certificate",
            "Det här är underskriftscertifikatet på SITHS-kortet, inte legitimeringscertifikatet. Stäng alla "
            "webbläsarfönster, öppna sidan igen och välj certifikatet för legitimering (inloggning).")
    eku = _extension(cert, x509.ExtendedKeyUsage)
    if eku is not None and ExtendedKeyUsageOID.CLIENT_AUTH not in eku and \
            ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
        raise CertificateRejected("wrong_usage", "Certifikatet är inte avsett för inloggning (saknar "
                                                 "klientautentisering). Välj legitimeringscertifikatet från "
                                                 "ditt SITHS-kort.")


def _hsa_id(cert: x509.Certificate) -> str:
    values = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)]
    if not values:
        raise CertificateRejected("no_hsa_id", "Certifikatet saknar HSA-id. Välj certifikatet med ditt HSA-id från "
                                               "SITHS-kortet (inte det med personnummer).")
    if len(values) > 1:
        raise CertificateRejected("bad_hsa_id", "Certifikatet har flera HSA-id och kan inte användas. Kontakta "
                                                "servicedesk.")
    if _PERSONNUMMER.fullmatch(values[0]):
        raise CertificateRejected("no_hsa_id", "Certifikatet innehåller ett personnummer i stället för HSA-id. Välj "
                                               "certifikatet med ditt HSA-id från SITHS-kortet.")
    try:
        return validate_hsa_id(values[0])
    except InvalidIdentifier as exc:
        raise CertificateRejected("bad_hsa_id", f"Certifikatets HSA-id är ogiltigt: {exc.message} "
                                                "Kontakta servicedesk.") from None


def _extension(cert: x509.Certificate, kind: type[Any]) -> Any:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _attribute(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _sv_time(value: dt.datetime) -> str:
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%d %H:%M")


def _not_configured() -> CertificateRejected:
    return CertificateRejected("not_configured", "Inloggning med SITHS är inte konfigurerad på servern (ingen "
                                                 "SITHS-CA). Kontakta servicedesk.", status=503)


# ---------------------------------------------------------------------- trust
def _configured_or_dev(configured: Path | None, settings: Settings, dev_name: str) -> Path | None:
    """A configured file, else (never in production) the dev CA's file of that name under settings.certs_dir."""
    if configured:
        return configured
    return None if settings.env is Environment.PRODUCTION else settings.certs_dir / dev_name


def trust_file(settings: Settings) -> Path | None:
    """The PEM bundle of trusted SITHS CAs: NPO_SITHS_CA_FILE, else (not in production) the dev CA."""
    return _configured_or_dev(settings.siths_ca_file, settings, DEV_CA_FILENAME)


def trust_anchors(settings: Settings) -> list[x509.Certificate]:
    """The trusted CA certificates, or a 503-refusal when none are configured or readable."""
    path = trust_file(settings)
    if path is None:
        raise _not_configured()
    try:
        stat = path.stat()
        return list(_load_trust(str(path), stat.st_mtime_ns, stat.st_size))
    except (OSError, CertificateRejected):
        raise _not_configured() from None


def crl_file(settings: Settings) -> Path | None:
    """The revocation list(s): NPO_SITHS_CRL_FILE, else (not in production) the dev CA's (once it revoked any)."""
    return _configured_or_dev(settings.siths_crl_file, settings, DEV_CRL_FILENAME)


def revocation_lists(settings: Settings) -> tuple[x509.CertificateRevocationList, ...]:
    """The configured CRLs (re-read when the file changes). A configured file that is missing or unreadable
    refuses logins (503): without it nobody can tell a revoked card from a valid one."""
    path = crl_file(settings)
    if path is None:
        return ()
    try:
        stat = path.stat()
    except FileNotFoundError:
        if settings.siths_crl_file:
            raise _crl_unreadable() from None
        return ()  # the dev CA has revoked nothing yet
    try:
        return _load_crls(str(path), stat.st_mtime_ns, stat.st_size)
    except (OSError, ValueError):
        raise _crl_unreadable() from None


def _crl_unreadable() -> CertificateRejected:
    return CertificateRejected("crl_unreadable", "Spärrlistan för SITHS-certifikat kunde inte läsas på servern, "
                                                 "så inloggningen kan inte kontrolleras. Kontakta servicedesk.",
                               status=503)


@functools.lru_cache(maxsize=8)
def _load_crls(path: str, _mtime_ns: int, _size: int) -> tuple[x509.CertificateRevocationList, ...]:
    data = Path(path).read_bytes()
    if b"-----BEGIN X509 CRL-----" not in data:
        return (x509.load_der_x509_crl(data),)
    blocks = re.findall(rb"-----BEGIN X509 CRL-----.*?-----END X509 CRL-----", data, re.DOTALL)
    return tuple(x509.load_pem_x509_crl(block) for block in blocks)


@functools.lru_cache(maxsize=8)
def _load_trust(path: str, _mtime_ns: int, _size: int) -> tuple[x509.Certificate, ...]:
    return tuple(parse_certificates(Path(path).read_text("latin-1")))


def card_revoked(serial: str, issuer: str, settings: Settings | None = None) -> bool:
    """True when the certificate ``serial`` (hex) of ``issuer`` (RFC 4514) is on its issuer's current, validly
    signed revocation list: a session opened with that card ends at its next request. An unreadable list ends
    nothing here (logins are refused meanwhile, and the status page says so)."""
    settings = settings or runtime.settings()
    try:
        crls, anchors = revocation_lists(settings), trust_anchors(settings)
    except CertificateRejected:
        return False
    number = int(serial, 16)
    for crl in crls:
        if crl.issuer.rfc4514_string() != issuer:
            continue
        signer = next((ca for ca in anchors if ca.subject == crl.issuer), None)
        if (signer is not None
                and crl.is_signature_valid(signer.public_key())  # type: ignore[arg-type]  # a CA key signs (above)
                and crl.get_revoked_certificate_by_serial_number(number) is not None):
            return True
    return False


# ---------------------------------------------------------------------- transports
def _scope(source: Request | Mapping[str, Any]) -> Mapping[str, Any]:
    return source.scope if isinstance(source, Request) else source


def peer_address(source: Request | Mapping[str, Any]) -> str | None:
    """The TCP peer: recorded by api.mtls before proxy-header rewriting, else the scope's client."""
    scope = _scope(source)
    peer = ((scope.get("extensions") or {}).get(PEER_EXTENSION) or {}).get("peer") or scope.get("client")
    if isinstance(peer, str):  # a unix socket path
        return peer or None
    return str(peer[0]) if peer else None


def is_trusted_proxy(address: str | None, trusted: Iterable[str]) -> bool:
    """True when ``address`` is one of ``trusted`` (addresses or networks such as 10.0.0.0/24)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None
    for entry in trusted:
        if entry == address:
            return True
        try:
            if ip is not None and ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _header(scope: Mapping[str, Any], name: str) -> str | None:
    wanted = name.lower().encode("latin-1")
    for key, value in scope.get("headers") or ():
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


def presented_certificate(source: Request | Mapping[str, Any], settings: Settings) -> tuple[str, str] | None:
    """(PEM, transport) of the client certificate: the mTLS one, else a trusted proxy's header; None if neither."""
    scope = _scope(source)
    chain = ((scope.get("extensions") or {}).get("tls") or {}).get("client_cert_chain") or []
    if chain:
        return "".join(chain), "mtls"
    value = _header(scope, settings.proxy_cert_header)
    if value and value.strip() not in {"", "(null)", "-"} and is_trusted_proxy(peer_address(scope),
                                                                                 settings.trusted_proxies):
        return unquote(value), "proxy"  # nginx $ssl_client_escaped_cert is URL-encoded PEM
    return None


def client_certificate(source: Request | Mapping[str, Any], settings: Settings) -> str | None:
    """The client certificate as PEM (leaf first), from mTLS or, only from a trusted proxy address, its header."""
    found = presented_certificate(source, settings)
    return found[0] if found else None


# ---------------------------------------------------------------------- FastAPI dependencies
def missing_certificate() -> CertificateRejected:
    """The refusal when no certificate arrived."""
    return CertificateRejected(
        "missing", "Inget SITHS-certifikat skickades. Sätt i ditt SITHS-kort i kortläsaren, stäng alla "
                   "webbläsarfönster och öppna sidan igen; välj ditt SITHS-certifikat och ange PIN-koden.")


def identify(request: Request, settings: Settings | None = None, *, now: dt.datetime | None = None) -> SithsIdentity:
    """The verified identity of a request, or raise :class:`CertificateRejected` (cached on the request)."""
    cached = getattr(request.state, "siths", None)
    if cached is not None:
        if isinstance(cached, CertificateRejected):
            raise cached
        return cached
    settings = settings or runtime.settings()
    try:
        found = presented_certificate(request, settings)
        if found is None:
            raise missing_certificate()
        identity = verify_certificate(found[0], trust=trust_anchors(settings), now=now or dt.datetime.now(dt.UTC),
                                      crls=revocation_lists(settings))
        result: SithsIdentity | CertificateRejected = dataclasses.replace(identity, transport=found[1])
    except CertificateRejected as exc:
        result = exc
    request.state.siths = result
    if isinstance(result, CertificateRejected):
        raise result
    return result


def identity_or_refusal(request: Request) -> SithsIdentity | CertificateRejected:
    """For pages that explain a refusal: the identity or the refusal, never an exception."""
    try:
        return identify(request)
    except CertificateRejected as exc:
        return exc


def current_identity(request: Request) -> SithsIdentity:
    """Dependency: the verified SITHS user; else CertificateRejected (HTTP 401, 503 when unconfigured) with the
    Swedish reason, which api/errors.py answers with the refusal page."""
    return identify(request)


CurrentIdentity = Annotated[SithsIdentity, Depends(current_identity)]
IdentityOrRefusal = Annotated[SithsIdentity | CertificateRejected, Depends(identity_or_refusal)]
