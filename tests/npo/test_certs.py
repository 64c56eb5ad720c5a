"""The dev CA: what it writes to disk, what its certificates look like, and `npo certs` as a real process."""

from __future__ import annotations

import datetime as dt
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from api.siths import CertificateRejected, revocation_lists, verify_certificate
from catalog.identifiers import InvalidIdentifier
from kernel.settings import Settings
from npo.certs import (
    CA_CERT_NAME,
    CA_KEY_NAME,
    DEFAULT_P12_PASSWORD,
    CertPurpose,
    DevCA,
    fingerprint,
    safe_stem,
    with_dev_certificates,
)
from tests.cli import npo as run_npo

ROOT = Path(__file__).resolve().parents[2]
HSA_ID = "SE2321000255-ABC1"


def now() -> dt.datetime:
    """The real clock (a time fixed at import goes stale in a long run; certificates are issued against now)."""
    return dt.datetime.now(dt.UTC)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_ca_is_created_once_with_a_private_key_only_the_owner_reads(tmp_path: Path) -> None:
    ca = DevCA.open(tmp_path / "certs")
    assert mode(tmp_path / "certs" / CA_KEY_NAME) == 0o600
    assert DevCA.open(tmp_path / "certs").cert == ca.cert  # reused, not replaced
    basic = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = ca.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert basic.critical and basic.value.ca
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert ca.cert.subject == ca.cert.issuer and ca.cert_path.name == CA_CERT_NAME


def test_the_server_certificate_names_localhost_and_is_reused(tmp_path: Path) -> None:
    ca = DevCA.open(tmp_path)
    cert_path, key_path = ca.server_certificate()
    assert mode(key_path) == 0o600
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH])
    cert.verify_directly_issued_by(ca.cert)
    before = cert_path.read_bytes()
    assert ca.server_certificate() == (cert_path, key_path) and cert_path.read_bytes() == before


def test_a_server_certificate_from_an_earlier_ca_is_replaced(tmp_path: Path) -> None:
    old = DevCA.open(tmp_path / "old")
    cert_path, _ = old.server_certificate()
    new = DevCA.open(tmp_path / "new")
    (tmp_path / "new" / "server.crt").write_bytes(cert_path.read_bytes())
    (tmp_path / "new" / "server.key").write_bytes((tmp_path / "old" / "server.key").read_bytes())
    replaced, _ = new.server_certificate()
    x509.load_pem_x509_certificate(replaced.read_bytes()).verify_directly_issued_by(new.cert)


def test_a_user_certificate_is_siths_like(tmp_path: Path) -> None:
    ca = DevCA.open(tmp_path)
    cert = ca.issue_user(HSA_ID, "Eva Lena Åkesson", org="Region Skåne", days=30).cert
    assert [a.oid for a in cert.subject] == [NameOID.COUNTRY_NAME, NameOID.ORGANIZATION_NAME,
                                             NameOID.SERIAL_NUMBER, NameOID.GIVEN_NAME, NameOID.SURNAME,
                                             NameOID.COMMON_NAME]
    assert [a.value for a in cert.subject] == ["SE", "Region Skåne", HSA_ID, "Eva Lena", "Åkesson",
                                               "Eva Lena Åkesson"]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.content_commitment
    assert ExtendedKeyUsageOID.CLIENT_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert dt.timedelta(days=29) < cert.not_valid_after_utc - now() <= dt.timedelta(days=30)
    signing = ca.issue_user(HSA_ID, "Eva Åkesson", purpose=CertPurpose.SIGNING).cert
    signing_usage = signing.extensions.get_extension_for_class(x509.KeyUsage).value
    assert signing_usage.content_commitment and not signing_usage.digital_signature
    expired = ca.issue_user(HSA_ID, "Eva Åkesson", not_after=now() - dt.timedelta(hours=1)).cert
    assert expired.not_valid_before_utc < expired.not_valid_after_utc < now()


def test_bad_input_is_refused_before_anything_is_issued(tmp_path: Path) -> None:
    ca = DevCA.open(tmp_path)
    with pytest.raises(InvalidIdentifier, match="kontrollsiffra"):
        ca.issue_user("SE2321000254-ABC1", "Eva Åkesson")
    with pytest.raises(ValueError, match="efternamn"):
        ca.issue_user(HSA_ID, "Cher")


def test_the_written_bundle_imports_with_its_password(tmp_path: Path) -> None:
    ca = DevCA.open(tmp_path / "certs")
    issued = ca.issue_user("SE2321000255-A B/1", "Eva Åkesson")
    bundle = ca.write_user(issued, tmp_path / "out")
    assert bundle.cert.name == f"{safe_stem('SE2321000255-A B/1')}.crt" == "SE2321000255-A_B_1.crt"
    assert mode(bundle.key) == 0o600 and mode(bundle.p12) == 0o600
    key, cert, extra = pkcs12.load_key_and_certificates(bundle.p12.read_bytes(), DEFAULT_P12_PASSWORD.encode())
    assert cert == issued.cert and extra == [ca.cert] and key is not None
    with pytest.raises(ValueError, match="Invalid password"):
        pkcs12.load_key_and_certificates(bundle.p12.read_bytes(), b"wrong")


def test_dev_certificates_fill_the_settings_but_never_in_production(tmp_path: Path) -> None:
    filled = with_dev_certificates(Settings(var_dir=tmp_path, env="test"))
    assert filled.siths_ca_file == tmp_path / "certs" / CA_CERT_NAME
    assert filled.tls_cert_file and filled.tls_cert_file.exists() and filled.tls_key_file
    production = Settings(var_dir=tmp_path, env="production", secret_key="x" * 40)
    with pytest.raises(ValueError, match="NPO_SITHS_CA_FILE"):
        with_dev_certificates(production)
    configured = production.model_copy(update={"siths_ca_file": filled.siths_ca_file,
                                               "tls_cert_file": filled.tls_cert_file,
                                               "tls_key_file": filled.tls_key_file})
    assert with_dev_certificates(configured) == configured


# ---------------------------------------------------------------------- npo certs (in this process, tests/cli.py)
def npo(*args: str, var: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_npo("certs", *args, env={"NPO_VAR_DIR": str(var), **env})


def test_npo_certs_issue_writes_a_certificate_the_verifier_accepts(tmp_path: Path) -> None:
    out = tmp_path / "mina-cert"
    result = npo("issue", "--hsa-id", HSA_ID, "--name", "Förnamn Efternamn", "--days", "10", "--out", str(out),
                 var=tmp_path / "var")
    assert result.returncode == 0, result.stderr
    assert f"Certifikat för Förnamn Efternamn ({HSA_ID})" in result.stdout and "lösenord: npo-dev" in result.stdout
    assert mode(out / f"{HSA_ID}.key") == 0o600 and (out / f"{HSA_ID}.p12").exists()
    ca = DevCA.open(tmp_path / "var" / "certs")
    identity = verify_certificate((out / f"{HSA_ID}.crt").read_text(), trust=[ca.cert], now=now())
    assert (identity.hsa_id, identity.given_name, identity.surname) == (HSA_ID, "Förnamn", "Efternamn")
    assert dt.timedelta(days=9) < identity.not_after - now() <= dt.timedelta(days=10)
    shown = npo("ca", var=tmp_path / "var")
    assert shown.returncode == 0 and fingerprint(ca.cert) in shown.stdout and str(ca.cert_path) in shown.stdout
    server = npo("server", var=tmp_path / "var")
    assert server.returncode == 0 and "localhost, 127.0.0.1" in server.stdout


def test_npo_certs_issue_an_expired_certificate_for_tests(tmp_path: Path) -> None:
    result = npo("issue", "--hsa-id", HSA_ID, "--name", "Anna Andersson", "--days", "-1", var=tmp_path)
    assert result.returncode == 0, result.stderr
    cert = x509.load_pem_x509_certificate((tmp_path / "certs" / "users" / f"{HSA_ID}.crt").read_bytes())
    assert cert.not_valid_after_utc < now()


@pytest.mark.parametrize(("args", "says"), [
    (["--hsa-id", "SE2321000254-ABC1", "--name", "Anna Andersson"], "kontrollsiffra"),
    (["--hsa-id", "2321000255-ABC1", "--name", "Anna Andersson"], "ska börja med landskoden SE"),
    (["--hsa-id", HSA_ID, "--name", "Anna"], "förnamn och efternamn"),
])
def test_npo_certs_issue_refuses_bad_input_with_exit_3(tmp_path: Path, args: list[str], says: str) -> None:
    result = npo("issue", *args, var=tmp_path)
    assert result.returncode == 3 and says in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "certs" / "users").exists()


def test_npo_certs_refuses_the_dev_ca_in_production(tmp_path: Path) -> None:
    result = npo("issue", "--hsa-id", HSA_ID, "--name", "Anna Andersson", var=tmp_path, NPO_ENV="production",
                 NPO_SECRET_KEY="x" * 40)
    assert result.returncode == 2 and "inte i produktion" in result.stderr
    assert not (tmp_path / "certs").exists()


def test_npo_certs_revoke_puts_a_card_on_the_crl_the_login_checks(tmp_path: Path) -> None:
    var = tmp_path / "var"
    assert npo("issue", "--hsa-id", HSA_ID, "--name", "Anna Andersson", var=var).returncode == 0
    assert npo("issue", "--hsa-id", "SE2321000255-ABC2", "--name", "Bo Berg", var=var).returncode == 0
    revoked = npo("revoke", "--hsa-id", HSA_ID.lower(), var=var)
    assert revoked.returncode == 0, revoked.stderr
    assert "spärrat" in revoked.stdout and "(1 spärrade)" in revoked.stdout
    settings = Settings(var_dir=var, env="test")
    ca, crls = DevCA.open(var / "certs"), revocation_lists(settings)
    users = var / "certs" / "users"
    with pytest.raises(CertificateRejected, match="spärrat sedan"):
        verify_certificate((users / f"{HSA_ID}.crt").read_text(), trust=[ca.cert], now=now(), crls=crls)
    assert verify_certificate((users / "SE2321000255-ABC2.crt").read_text(), trust=[ca.cert], now=now(),
                              crls=crls).hsa_id == "SE2321000255-ABC2"
    again = npo("revoke", "--cert", str(users / f"{HSA_ID}.crt"), var=var)  # idempotent
    assert again.returncode == 0 and "(1 spärrade)" in again.stdout


def test_npo_certs_revoke_refuses_what_it_cannot_revoke(tmp_path: Path) -> None:
    var = tmp_path / "var"
    nothing = npo("revoke", var=var)
    assert nothing.returncode == 3 and "--cert" in nothing.stderr
    unknown = npo("revoke", "--hsa-id", HSA_ID, var=var)
    assert unknown.returncode == 3 and "Inga utfärdade certifikat" in unknown.stderr
    foreign = DevCA.open(tmp_path / "foreign").issue_user(HSA_ID, "Anna Andersson")
    (tmp_path / "foreign.crt").write_bytes(foreign.cert_pem())
    refused = npo("revoke", "--cert", str(tmp_path / "foreign.crt"), var=var)
    assert refused.returncode == 3 and "inte utfärdat av utvecklings-CA:n" in refused.stderr
    (tmp_path / "junk.crt").write_text("junk")
    junk = npo("revoke", "--cert", str(tmp_path / "junk.crt"), var=var)
    assert junk.returncode == 3 and "Kunde inte läsa" in junk.stderr and "Traceback" not in junk.stderr
    assert not (var / "certs" / "ca.crl").exists()
