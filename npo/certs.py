"""The dev CA of the embedded stack: SITHS-like user certificates and the mTLS listener's server certificate (D7).

Production never uses this CA: it trusts the real SITHS chain (NPO_SITHS_CA_FILE) and its own server certificate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import ipaddress
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kernel.settings import DEV_SERVICE_FUNCTION, Environment, Settings, export
from npo.cli_text import SwedishTyper

CA_CERT_NAME = "ca.crt"  # api.siths.trust_file() looks for the dev CA under this name
CA_KEY_NAME = "ca.key"
CA_CRL_NAME = "ca.crl"  # api.siths.crl_file() looks for the dev CA's revocation list under this name
CRL_DAYS = 7  # a re-signed CRL is "next update" this far ahead
SERVER_CERT_NAME = "server.crt"
SERVER_KEY_NAME = "server.key"
INDEX_NAME = "index.txt"  # OpenSSL's CA database: what `openssl ocsp -index` answers from (npo.ocsp)
OCSP_CERT_NAME = "ocsp.crt"  # the OCSP responder's signing certificate (EKU OCSPSigning) and key
OCSP_KEY_NAME = "ocsp.key"
INDEX_LOCK = ".index.lock"  # its own lock: certificates are issued (and indexed) while ".lock" is held
DEFAULT_P12_PASSWORD = "npo-dev"
DEFAULT_ORG = "Region Skåne"
SERVER_HOSTS = ("localhost", "127.0.0.1", "::1")

CA_SUBJECT = x509.Name([
    x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "npo-access utveckling"),
    x509.NameAttribute(NameOID.COMMON_NAME, "DEV SITHS e-id Person HSA-id CA v1"),
])

PrivateKey = ec.EllipticCurvePrivateKey


class CertPurpose(StrEnum):
    """Which certificate of a SITHS pair: they share issuer and HSA-ID and differ by Key Usage (DOMAIN §3)."""

    AUTHENTICATION = "authentication"
    SIGNING = "signing"


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    def cert_pem(self) -> bytes:
        """The certificate as PEM."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM."""
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


@dataclass(frozen=True)
class Bundle:
    """The files written for one user certificate."""

    cert: Path
    key: Path
    p12: Path


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as colon-separated hex (as browsers show it)."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by the owner only (0600), replacing any earlier file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_public(path: Path, data: bytes) -> None:
    """Write a certificate atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@contextmanager
def _locked(directory: Path, name: str = ".lock") -> Iterator[None]:
    """Serialise first-use creation between processes (tests and `make run` may race)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (directory / name).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# OpenSSL's short names for the subject in index.txt (the responder looks rows up by serial; the subject is for people)
_SHORT_NAMES = {NameOID.COUNTRY_NAME: "C", NameOID.ORGANIZATION_NAME: "O", NameOID.COMMON_NAME: "CN",
                NameOID.SERIAL_NUMBER: "serialNumber", NameOID.GIVEN_NAME: "GN", NameOID.SURNAME: "SN"}


def _oneline(name: x509.Name) -> str:
    """``name`` as OpenSSL's X509_NAME_oneline writes it: /C=SE/O=…, bytes outside printable ASCII as \\xHH."""
    def escaped(value: str) -> str:
        return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02X}" for b in value.encode())

    return "".join(f"/{_SHORT_NAMES.get(a.oid, a.rfc4514_attribute_name)}={escaped(str(a.value))}" for a in name)


def _index_time(value: dt.datetime) -> str:
    """ASN.1 time as index.txt holds it: UTCTime before 2050, GeneralizedTime after."""
    value = value.astimezone(dt.UTC)
    return f"{value:%y%m%d%H%M%S}Z" if value.year < 2050 else f"{value:%Y%m%d%H%M%S}Z"


def _parse_index_time(text: str) -> dt.datetime:
    text = text.split(",", 1)[0]  # a revocation time may carry ",reason"
    form = "%y%m%d%H%M%SZ" if len(text) == 13 else "%Y%m%d%H%M%SZ"
    return dt.datetime.strptime(text, form).replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class _IndexRow:
    """One line of OpenSSL's index.txt: V (valid) or R (revoked), expiry, revocation time, hex serial, subject."""

    serial: int
    expires: dt.datetime
    revoked: dt.datetime | None
    subject: str

    @classmethod
    def valid(cls, cert: x509.Certificate) -> _IndexRow:
        return cls(cert.serial_number, cert.not_valid_after_utc, None, _oneline(cert.subject))

    @classmethod
    def parse(cls, line: str) -> _IndexRow:
        status, expires, revoked, serial, _file, subject = line.rstrip("\n").split("\t", 5)
        return cls(int(serial, 16), _parse_index_time(expires),
                   _parse_index_time(revoked) if status == "R" and revoked else None, subject)

    def line(self) -> str:
        serial = format(self.serial, "X")
        serial = serial.zfill(len(serial) + len(serial) % 2)  # OpenSSL writes whole bytes
        revoked = _index_time(self.revoked) if self.revoked else ""
        return f"{'R' if self.revoked else 'V'}\t{_index_time(self.expires)}\t{revoked}\t{serial}\tunknown\t" \
               f"{self.subject}\n"


def _split_name(name: str) -> tuple[str, str]:
    parts = name.split()
    if len(parts) < 2:
        raise ValueError(f"Namnet {name!r} ska ha förnamn och efternamn / needs a given name and a surname.")
    return " ".join(parts[:-1]), parts[-1]


class DevCA:
    """A SITHS-like issuing CA kept under a directory (``settings.certs_dir``), created on first use."""

    def __init__(self, directory: Path, issued: Issued):
        self.directory = directory
        self.ca = issued

    # ------------------------------------------------------------------ the CA itself
    @classmethod
    def open(cls, directory: Path, *, subject: x509.Name = CA_SUBJECT) -> DevCA:
        """Load the CA under ``directory``, creating it (key 0600) when it does not exist yet."""
        with _locked(directory):
            cert_path, key_path = directory / CA_CERT_NAME, directory / CA_KEY_NAME
            if cert_path.exists() and key_path.exists():
                cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
                key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
                assert isinstance(key, ec.EllipticCurvePrivateKey)
                return cls(directory, Issued(cert, key))
            issued = make_ca(subject)
            write_private(key_path, issued.key_pem())
            write_public(cert_path, issued.cert_pem())
            return cls(directory, issued)

    @property
    def cert_path(self) -> Path:
        return self.directory / CA_CERT_NAME

    @property
    def cert(self) -> x509.Certificate:
        return self.ca.cert

    # ------------------------------------------------------------------ revocation
    @property
    def crl_path(self) -> Path:
        return self.directory / CA_CRL_NAME

    def revoked(self) -> dict[int, dt.datetime]:
        """Serial number → revocation time of every certificate revoked so far (from the CA's own CRL)."""
        if not self.crl_path.exists():
            return {}
        crl = x509.load_pem_x509_crl(self.crl_path.read_bytes())
        if not crl.is_signature_valid(self.cert.public_key()):  # type: ignore[arg-type]  # our CA key is EC, it signs
            raise ValueError(f"{self.crl_path} är inte signerad av utvecklings-CA:n; ta bort filen och spärra på nytt.")
        return {entry.serial_number: entry.revocation_date_utc for entry in crl}

    def revoke(self, serials: Sequence[int], *, at: dt.datetime | None = None) -> Path:
        """Add ``serials`` to the CA's CRL (kept ones keep their time) and re-sign it; the CRL's path."""
        with _locked(self.directory):
            at = at or _now()
            entries = self.revoked()
            for serial in serials:
                entries.setdefault(serial, at)
            builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                       .last_update(at).next_update(at + dt.timedelta(days=CRL_DAYS)))
            for serial, when in sorted(entries.items()):
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
            crl = builder.sign(self.ca.key, hashes.SHA256())
            write_public(self.crl_path, crl.public_bytes(serialization.Encoding.PEM))
            self._index_revoked(entries)
            return self.crl_path

    def ensure_crl(self) -> Path:
        """The CA's CRL, written (empty) when nothing was revoked yet: nginx's ``ssl_crl`` needs a file."""
        return self.crl_path if self.crl_path.exists() else self.revoke([])

    # ------------------------------------------------------------------ OCSP (the responder reads index.txt)
    @property
    def index_path(self) -> Path:
        return self.directory / INDEX_NAME

    def ocsp_index(self) -> Path:
        """OpenSSL's ``index.txt`` of every certificate this CA issued (V) or revoked (R), for ``openssl ocsp``.

        Created on first use from the certificates already under the CA's directory and its CRL, so that cards
        issued before the index existed are not answered "unknown" (which nginx refuses like "revoked").
        """
        with _locked(self.directory, INDEX_LOCK):
            if not self.index_path.exists():
                self._write_index(self._backfilled_rows())
            return self.index_path

    def _record(self, issued: Issued) -> Issued:
        """Add a newly issued certificate to the index as valid (V)."""
        with _locked(self.directory, INDEX_LOCK):
            rows = self._read_index() if self.index_path.exists() else self._backfilled_rows()
            rows[issued.cert.serial_number] = _IndexRow.valid(issued.cert)
            self._write_index(rows)
        return issued

    def _index_revoked(self, revoked: dict[int, dt.datetime]) -> None:
        """Mark ``revoked`` (serial → time) as R in the index; a serial it does not know gets a row of its own."""
        with _locked(self.directory, INDEX_LOCK):
            rows = self._read_index() if self.index_path.exists() else self._backfilled_rows()
            for serial, when in revoked.items():
                known = rows.get(serial) or _IndexRow(serial, self.cert.not_valid_after_utc, None, "/CN=unknown")
                rows[serial] = dataclasses.replace(known, revoked=known.revoked or when)
            self._write_index(rows)

    def _read_index(self) -> dict[int, _IndexRow]:
        rows = (_IndexRow.parse(line) for line in self.index_path.read_text().splitlines() if line.strip())
        return {row.serial: row for row in rows}

    def _write_index(self, rows: dict[int, _IndexRow]) -> None:
        # several valid certificates of one person share a subject: OpenSSL's default unique_subject refuses that
        write_public(self.index_path.with_name(INDEX_NAME + ".attr"), b"unique_subject = no\n")
        # replaced atomically (a new inode): `openssl ocsp` notices the change by stat() and reloads
        write_public(self.index_path, "".join(row.line() for row in rows.values()).encode())

    def _backfilled_rows(self) -> dict[int, _IndexRow]:
        rows: dict[int, _IndexRow] = {}
        for path in sorted(self.directory.rglob("*.crt")):
            try:
                cert = x509.load_pem_x509_certificate(path.read_bytes())
            except ValueError:
                continue
            if cert.serial_number != self.cert.serial_number and _signed_by(cert, self.cert):
                rows[cert.serial_number] = _IndexRow.valid(cert)
        for serial, when in (self.revoked() if self.crl_path.exists() else {}).items():
            known = rows.get(serial) or _IndexRow(serial, self.cert.not_valid_after_utc, None, "/CN=unknown")
            rows[serial] = dataclasses.replace(known, revoked=when)
        return rows

    def ocsp_signer(self, *, days: int = 397) -> tuple[Path, Path]:
        """The OCSP responder's certificate and key paths; (re)issued when missing, expiring or from another CA."""
        with _locked(self.directory):
            cert_path, key_path = self.directory / OCSP_CERT_NAME, self.directory / OCSP_KEY_NAME
            if not self._ocsp_signer_usable(cert_path, key_path):
                issued = self.issue_ocsp_signer(days=days)
                write_private(key_path, issued.key_pem())
                write_public(cert_path, issued.cert_pem())
            return cert_path, key_path

    def _ocsp_signer_usable(self, cert_path: Path, key_path: Path) -> bool:
        if not (cert_path.exists() and key_path.exists()):
            return False
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return _signed_by(cert, self.cert) and cert.not_valid_after_utc > _now() + dt.timedelta(days=7)

    def issue_ocsp_signer(self, *, days: int = 397) -> Issued:
        """A delegated OCSP signing certificate (EKU OCSPSigning, id-pkix-ocsp-nocheck) issued by this CA: OpenSSL
        and nginx accept a response signed by it for certificates of this CA only."""
        key = _new_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "npo-access utveckling"),
                             x509.NameAttribute(NameOID.COMMON_NAME, "DEV SITHS OCSP")])
        builder = (self._builder(subject, key, _now() - dt.timedelta(minutes=5), _now() + dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_key_usage(digital_signature=True), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
                   .add_extension(x509.OCSPNoCheck(), critical=False))
        return self._record(Issued(builder.sign(self.ca.key, hashes.SHA256()), key))

    # ------------------------------------------------------------------ server certificate
    def server_certificate(self, hosts: Sequence[str] = SERVER_HOSTS, *, days: int = 397) -> tuple[Path, Path]:
        """The mTLS listener's certificate and key paths; (re)issued when missing, expiring or from another CA."""
        with _locked(self.directory):
            cert_path, key_path = self.directory / SERVER_CERT_NAME, self.directory / SERVER_KEY_NAME
            if not self._server_cert_usable(cert_path, key_path, hosts):
                issued = self.issue_server(hosts, days=days)
                write_private(key_path, issued.key_pem())
                write_public(cert_path, issued.cert_pem())
            return cert_path, key_path

    def _server_cert_usable(self, cert_path: Path, key_path: Path, hosts: Sequence[str]) -> bool:
        if not (cert_path.exists() and key_path.exists()):
            return False
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        try:
            cert.verify_directly_issued_by(self.cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = {str(v) for v in san.get_values_for_type(x509.DNSName)}
        names |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
        return set(hosts) <= names and cert.not_valid_after_utc > _now() + dt.timedelta(days=7)

    def issue_server(self, hosts: Sequence[str] = SERVER_HOSTS, *, days: int = 397) -> Issued:
        """A TLS server certificate (EKU serverAuth) for ``hosts`` (DNS names and IP addresses)."""
        key = _new_key()
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "npo-access utveckling"),
                             x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
        builder = self._builder(subject, key, _now() - dt.timedelta(minutes=5), _now() + dt.timedelta(days=days))
        builder = (builder
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_key_usage(digital_signature=True, key_encipherment=True), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.SubjectAlternativeName(names), critical=False))
        return self._record(Issued(builder.sign(self.ca.key, hashes.SHA256()), key))

    # ------------------------------------------------------------------ user certificates
    def issue_user(
        self,
        hsa_id: str | None,
        name: str,
        *,
        org: str = DEFAULT_ORG,
        days: int = 365,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        purpose: CertPurpose = CertPurpose.AUTHENTICATION,
        check_hsa_id: bool = True,
    ) -> Issued:
        """A SITHS-like person certificate: subject C, O, serialNumber=HSA-ID, GN, SN, CN; EKU clientAuth.

        ``hsa_id=None`` leaves out serialNumber and ``check_hsa_id=False`` writes any value: both only for tests that
        prove such certificates are refused. ``not_after`` in the past gives an already expired certificate.
        """
        from catalog.identifiers import validate_hsa_id

        if hsa_id is not None and check_hsa_id:
            validate_hsa_id(hsa_id)
        given, surname = _split_name(name)
        start = not_before or _now() - dt.timedelta(minutes=5)
        end = not_after or start + dt.timedelta(days=days)
        if end <= start:
            start = end - dt.timedelta(days=1)  # an expired certificate still needs a sane period
        attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
        if hsa_id is not None:
            attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, hsa_id))
        attributes += [x509.NameAttribute(NameOID.GIVEN_NAME, given), x509.NameAttribute(NameOID.SURNAME, surname),
                       x509.NameAttribute(NameOID.COMMON_NAME, " ".join(name.split()))]
        key = _new_key()
        signing = purpose is CertPurpose.SIGNING
        builder = (self._builder(x509.Name(attributes), key, start, end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_key_usage(digital_signature=not signing, content_commitment=signing), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        return self._record(Issued(builder.sign(self.ca.key, hashes.SHA256()), key))

    def issue_function(self, hsa_id: str, name: str, *, org: str = DEFAULT_ORG, days: int = 365) -> Issued:
        """A SITHS-like function certificate (funktionscertifikat) of a system calling the service interfaces:
        subject C, O, serialNumber=the function's HSA-ID, CN=the system's name; EKU clientAuth."""
        from catalog.identifiers import validate_hsa_id

        validate_hsa_id(hsa_id)
        start = _now() - dt.timedelta(minutes=5)
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                             x509.NameAttribute(NameOID.SERIAL_NUMBER, hsa_id),
                             x509.NameAttribute(NameOID.COMMON_NAME, " ".join(name.split()))])
        key = _new_key()
        builder = (self._builder(subject, key, start, start + dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_key_usage(digital_signature=True), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        return self._record(Issued(builder.sign(self.ca.key, hashes.SHA256()), key))

    def write_user(self, issued: Issued, out: Path, *, password: str = DEFAULT_P12_PASSWORD) -> Bundle:
        """Write PEM certificate, PEM key (0600) and a PKCS#12 bundle (key, certificate, CA) for a browser."""
        stem = safe_stem(_hsa_id_of(issued.cert) or issued.cert.serial_number.to_bytes(20).hex())
        bundle = Bundle(out / f"{stem}.crt", out / f"{stem}.key", out / f"{stem}.p12")
        write_public(bundle.cert, issued.cert_pem())
        write_private(bundle.key, issued.key_pem())
        write_private(bundle.p12, pkcs12_bytes(issued, self.cert, password=password))
        return bundle

    def _builder(self, subject: x509.Name, key: PrivateKey, start: dt.datetime,
                 end: dt.datetime) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(self.cert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(start)
                .not_valid_after(end)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca.key.public_key()),
                               critical=False))


def make_ca(subject: x509.Name = CA_SUBJECT, *, years: int = 10) -> Issued:
    """A self-signed CA (BasicConstraints CA, KeyUsage keyCertSign and cRLSign)."""
    key = _new_key()
    start = _now() - dt.timedelta(minutes=5)
    cert = (x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Issued(cert, key)


def _key_usage(**set_bits: bool) -> x509.KeyUsage:
    bits = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                          "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
    bits.update(set_bits)
    return x509.KeyUsage(**bits)


def pkcs12_bytes(issued: Issued, ca: x509.Certificate, *, password: str) -> bytes:
    """PKCS#12 with legacy-compatible encryption (3DES/SHA-1 MAC) so that every browser and keychain imports it."""
    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder()
                  .kdf_rounds(50_000)
                  .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
                  .hmac_hash(hashes.SHA1())
                  .build(password.encode()))
    friendly = (_common_name(issued.cert) or "SITHS").encode()
    return pkcs12.serialize_key_and_certificates(friendly, issued.key, issued.cert, [ca], encryption)


def _hsa_id_of(cert: x509.Certificate) -> str | None:
    values = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(values[0].value) if values else None


def _common_name(cert: x509.Certificate) -> str | None:
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else None


def safe_stem(value: str) -> str:
    """A file name for an HSA-ID (which may hold spaces, ':' or '/')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", value)


# ---------------------------------------------------------------------- settings
def dev_ca(settings: Settings) -> DevCA:
    """The dev CA under ``settings.certs_dir``; refused in production, which trusts the real SITHS chain."""
    if settings.env is Environment.PRODUCTION:
        raise ValueError("Utvecklings-CA:n används inte i produktion (NPO_ENV=production); "
                         "ange SITHS-kedjan i NPO_SITHS_CA_FILE och serverns certifikat i NPO_TLS_CERT_FILE/_KEY_FILE.")
    return DevCA.open(settings.certs_dir)


def with_dev_certificates(settings: Settings) -> Settings:
    """``settings`` with the dev CA and server certificate filled in where NPO_SITHS_CA_FILE / NPO_TLS_* are unset."""
    if settings.siths_ca_file and settings.tls_cert_file and settings.tls_key_file:
        return settings
    if settings.env is Environment.PRODUCTION:
        raise ValueError("I produktion måste NPO_SITHS_CA_FILE, NPO_TLS_CERT_FILE och NPO_TLS_KEY_FILE vara satta.")
    ca = dev_ca(settings)
    update: dict[str, Path] = {}
    if not settings.siths_ca_file:
        update["siths_ca_file"] = ca.cert_path
    if not (settings.tls_cert_file and settings.tls_key_file):
        update["tls_cert_file"], update["tls_key_file"] = ca.server_certificate()
    return settings.model_copy(update=update)


APP_FACTORY = "npo.web:create_app"  # what each web worker process imports

# ---------------------------------------------------------------------- command line
certs_app = SwedishTyper(help="SITHS-liknande certifikat från utvecklings-CA:n (inte i produktion)",
                         no_args_is_help=True)

EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_BAD_INPUT = 3


def _fail(message: str, code: int) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    from kernel import runtime

    try:
        return runtime.settings()
    except ValueError as exc:
        _fail(f"Ogiltig konfiguration: {exc}", EXIT_BAD_INPUT)
        raise  # unreachable; keeps type checkers calm


def _ca(settings: Settings) -> DevCA:
    try:
        return dev_ca(settings)
    except ValueError as exc:
        _fail(str(exc), EXIT_REFUSED)
        raise


@certs_app.command("issue", help="Utfärda ett SITHS-liknande klientcertifikat: certifikat och nyckel (PEM) och en "
                                 "PKCS#12-fil att importera i webbläsaren.")
def issue(
    hsa_id: Annotated[str, typer.Option("--hsa-id", help="personens HSA-id, till exempel SE2321000255-ABC1")],
    name: Annotated[str, typer.Option("--name", help='"Förnamn Efternamn"')],
    days: Annotated[int, typer.Option(help="giltighet i dagar (negativt: redan utgånget)")] = 365,
    out: Annotated[Path | None, typer.Option(help="katalog för filerna (standard: <certs>/users)")] = None,
    org: Annotated[str, typer.Option(help="organisation (O) i subjektet")] = DEFAULT_ORG,
    signing: Annotated[bool, typer.Option("--signing", help="ett underskriftscertifikat (nonRepudiation) i stället "
                                                            "för ett för inloggning")] = False,
    password: Annotated[str, typer.Option(help="lösenord för .p12-filen")] = DEFAULT_P12_PASSWORD,
) -> None:
    """Issue a SITHS-like client certificate: PEM certificate + key and a PKCS#12 bundle for a browser."""
    from catalog.identifiers import InvalidIdentifier, validate_hsa_id

    try:
        validate_hsa_id(hsa_id)
    except InvalidIdentifier as exc:
        _fail(f"Ogiltigt HSA-id: {exc.message}", EXIT_BAD_INPUT)
    try:
        _split_name(name)
    except ValueError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    if not password:
        _fail("Lösenordet för .p12-filen får inte vara tomt.", EXIT_BAD_INPUT)
    settings = _settings()
    ca = _ca(settings)
    start = _now() - dt.timedelta(minutes=5)
    end = start + dt.timedelta(days=days)
    issued = ca.issue_user(hsa_id, name, org=org, not_before=min(start, end - dt.timedelta(days=1)), not_after=end,
                           purpose=CertPurpose.SIGNING if signing else CertPurpose.AUTHENTICATION)
    bundle = ca.write_user(issued, out or settings.certs_dir / "users", password=password)
    typer.echo(f"Certifikat för {' '.join(name.split())} ({hsa_id}), giltigt till "
               f"{issued.cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
               f"{' – UNDERSKRIFT (nonRepudiation), godtas inte för inloggning' if signing else ''}")
    typer.echo(f"  certifikat  {bundle.cert}")
    typer.echo(f"  nyckel      {bundle.key}")
    typer.echo(f"  PKCS#12     {bundle.p12}  (lösenord: {password})")
    typer.echo(f"  utfärdare   {ca.cert_path}  (SHA-256 {fingerprint(ca.cert)})")
    typer.echo("Importera .p12-filen i webbläsaren och lita på CA-filen; se docs/siths.md.")


@certs_app.command("function", help="Utfärda ett funktionscertifikat för ett system som anropar tjänsterna under "
                                    "/tjanster/ (standard: demons journalsystem): certifikat och nyckel (PEM).")
def function(
    hsa_id: Annotated[str, typer.Option("--hsa-id", help="HSA-id för systemet som ska anropa tjänsterna")
                      ] = DEV_SERVICE_FUNCTION,
    name: Annotated[str, typer.Option("--name", help="systemets namn i certifikatet (CN)")] = "Journalsystem Demo",
    days: Annotated[int, typer.Option(help="giltighet i dagar")] = 365,
    out: Annotated[Path | None, typer.Option(help="katalog för filerna (standard: <certs>/functions)")] = None,
) -> None:
    """Issue a SITHS-like function certificate for a system calling the service interfaces."""
    from catalog.identifiers import InvalidIdentifier, validate_hsa_id

    try:
        validate_hsa_id(hsa_id)
    except InvalidIdentifier as exc:
        _fail(f"Ogiltigt HSA-id: {exc.message}", EXIT_BAD_INPUT)
    if not name.strip() or days < 1:
        _fail("Ange systemets namn och en giltighet på minst en dag.", EXIT_BAD_INPUT)
    settings = _settings()
    ca = _ca(settings)
    issued = ca.issue_function(hsa_id, name, days=days)
    bundle = ca.write_user(issued, out or settings.certs_dir / "functions")
    typer.echo(f"Funktionscertifikat för {' '.join(name.split())} ({hsa_id}), giltigt till "
               f"{issued.cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    typer.echo(f"  certifikat  {bundle.cert}")
    typer.echo(f"  nyckel      {bundle.key}")
    typer.echo(f"  utfärdare   {ca.cert_path}")
    if hsa_id.upper() not in settings.allowed_service_functions:
        typer.echo(f"Lägg till {hsa_id} i NPO_SERVICE_FUNCTIONS för att systemet ska få anropa tjänsterna.")
    typer.echo("Se docs/services.md.")


@certs_app.command("revoke", help="Spärra utvecklingscertifikat: de hamnar på CA:ns spärrlista, och "
                                  "SITHS-inloggningen nekar dem från nästa anrop.")
def revoke(
    cert: Annotated[list[Path] | None, typer.Option("--cert", help="PEM-certifikat att spärra (kan upprepas)")] = None,
    hsa_id: Annotated[str | None, typer.Option("--hsa-id", help="spärra alla utfärdade certifikat för detta HSA-id "
                                                                 "(filerna under <certs>/users)")] = None,
) -> None:
    """Revoke dev certificates: the CA's CRL gets them, and SITHS login refuses them from the next request on."""
    settings = _settings()
    ca = _ca(settings)
    found: list[x509.Certificate] = []
    for path in cert or []:
        try:
            found.append(x509.load_pem_x509_certificate(path.read_bytes()))
        except (OSError, ValueError) as exc:
            _fail(f"Kunde inte läsa certifikatet {path}: {exc}", EXIT_BAD_INPUT)
    if hsa_id:
        users = sorted((settings.certs_dir / "users").glob("*.crt"))
        matching = [c for c in (x509.load_pem_x509_certificate(p.read_bytes()) for p in users)
                    if (_hsa_id_of(c) or "").upper() == hsa_id.upper()]
        if not matching:
            _fail(f"Inga utfärdade certifikat för {hsa_id} under {settings.certs_dir / 'users'}.", EXIT_BAD_INPUT)
        found += matching
    if not found:
        _fail("Ange --cert FIL eller --hsa-id HSA-ID.", EXIT_BAD_INPUT)
    foreign = [c for c in found if c.issuer != ca.cert.subject or not _signed_by(c, ca.cert)]
    if foreign:
        _fail(f"{foreign[0].subject.rfc4514_string()} är inte utfärdat av utvecklings-CA:n; bara dess egna "
              "certifikat kan spärras här.", EXIT_BAD_INPUT)
    try:
        path = ca.revoke([c.serial_number for c in found])
    except ValueError as exc:
        _fail(str(exc), EXIT_FAILED)
    for c in found:
        typer.echo(f"spärrat  {c.subject.rfc4514_string()}  (serienummer {c.serial_number:X})")
    typer.echo(f"spärrlista  {path}  ({len(ca.revoked())} spärrade)")


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


@certs_app.command("ca", help="Visa utvecklings-CA:ns sökväg, subjekt och SHA-256-fingeravtryck (CA:n skapas "
                              "första gången).")
def ca_info() -> None:
    """Print the dev CA's path, subject and SHA-256 fingerprint (creating the CA on first use)."""
    ca = _ca(_settings())
    typer.echo(f"CA-certifikat  {ca.cert_path}")
    typer.echo(f"subjekt        {ca.cert.subject.rfc4514_string()}")
    typer.echo(f"SHA-256        {fingerprint(ca.cert)}")
    typer.echo(f"giltigt till   {ca.cert.not_valid_after_utc:%Y-%m-%d} UTC")


@certs_app.command("server", help="Utfärda (eller återanvänd) servercertifikatet för mTLS-lyssnaren och visa "
                                  "var filerna ligger.")
def server_info() -> None:
    """Issue (or reuse) the mTLS listener's server certificate and print its paths."""
    ca = _ca(_settings())
    cert_path, key_path = ca.server_certificate()
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    typer.echo(f"servercertifikat  {cert_path}")
    typer.echo(f"nyckel            {key_path}")
    typer.echo(f"namn (SAN)        {', '.join(str(getattr(n, 'value', n)) for n in san)}")
    typer.echo(f"giltigt till      {cert.not_valid_after_utc:%Y-%m-%d} UTC")


@certs_app.command("serve", help="Kör webbappen med SITHS-inloggning: mTLS på NPO_OVERVIEW_PORT, eller vanlig HTTP "
                                 "bakom en betrodd proxy.")
def serve(
    behind_proxy: Annotated[bool, typer.Option("--behind-proxy",
                                               help="vanlig HTTP på NPO_WEB_PORT bakom en betrodd proxy")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=32,
                                         help="webbprocesser som delar porten (D-63)")] = 1,
) -> None:
    """Run the web app with SITHS login: mTLS on NPO_OVERVIEW_PORT, or plain HTTP behind a trusted proxy; with
    ``--workers N`` as N processes on one port (each worker imports the app: D9's stateless instances)."""
    from api.mtls import serve_mtls, serve_proxied
    from kernel import runtime
    from npo.web import create_app

    settings = _settings()
    if behind_proxy:
        if not settings.trusted_proxies:
            _fail("NPO_TRUSTED_PROXIES är tomt: ingen proxy får skicka certifikat, så ingen kan logga in.",
                  EXIT_BAD_INPUT)
        runtime.configure(settings)
        serve_proxied(create_app() if workers == 1 else APP_FACTORY, settings, workers=workers)
        return
    try:
        settings = with_dev_certificates(settings)
    except ValueError as exc:
        _fail(str(exc), EXIT_REFUSED)
    # the worker processes read their settings from the environment: the certificate files chosen here go with it
    export(settings, "siths_ca_file", "tls_cert_file", "tls_key_file")
    runtime.configure(settings)
    typer.echo(f"SITHS-inloggning (mTLS): https://{settings.web_host}:{settings.overview_port}/siths/vem-ar-jag")
    serve_mtls(create_app() if workers == 1 else APP_FACTORY, settings, workers=workers)


@certs_app.command("ocsp", help="Kör en OCSP-svarare för utvecklings-CA:n (openssl ocsp på CA:ns index), som SITHS "
                                "svarar för sina kort; nginx i klusterprofilen frågar den vid varje inloggning.")
def ocsp(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="porten svararen lyssnar på")] = 8444,
    next_update_minutes: Annotated[int, typer.Option("--minuter", min=1, max=60,
                                                     help="hur länge ett svar gäller (nextUpdate)")] = 1,
) -> None:
    """`openssl ocsp` for the dev CA's index.txt until stopped (SIGTERM or Ctrl-C), re-reading the index at once
    after each revocation (npo.ocsp)."""
    import signal
    import threading

    from npo.ocsp import OcspError, OcspResponder

    settings = _settings()
    ca = _ca(settings)
    responder = OcspResponder(ca, port=port, log=settings.var_dir / "log" / "ocsp-openssl.log",
                              next_update_minutes=next_update_minutes)
    try:
        responder.start()
    except OcspError as exc:
        _fail(f"OCSP-svararen startade inte: {exc}", EXIT_REFUSED)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    typer.echo(f"OCSP-svarare för {ca.cert_path} på http://127.0.0.1:{port} (svaren gäller {next_update_minutes} min)")
    try:
        while not stopped.wait(1.0):
            if not responder.running:
                _fail("openssl ocsp slutade oväntat; se var/log/ocsp-openssl.log", EXIT_REFUSED)
    except KeyboardInterrupt:
        pass
    finally:
        responder.stop()
