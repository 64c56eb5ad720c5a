"""SITHS verification with real certificates from the dev CA, and where a request's certificate may come from."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from api.siths import (
    DEV_CA_FILENAME,
    PEER_EXTENSION,
    CertificateRejected,
    CurrentIdentity,
    client_certificate,
    crl_file,
    is_trusted_proxy,
    parse_certificates,
    peer_address,
    presented_certificate,
    revocation_lists,
    trust_anchors,
    verify_certificate,
)
from kernel.settings import Settings
from npo.certs import CA_CERT_NAME, CA_SUBJECT, CertPurpose, DevCA, Issued

HSA_ID = "SE2321000255-ABC1"


def now() -> dt.datetime:
    """The real clock: certificates are issued against it (a time fixed at import goes stale in a long run)."""
    return dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    return DevCA.open(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def impostor(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    """Another CA with exactly the dev CA's name: only the signature tells them apart."""
    return DevCA.open(tmp_path_factory.mktemp("impostor"), subject=CA_SUBJECT)


def pem(issued: Issued) -> str:
    return issued.cert_pem().decode()


def refusal(ca: DevCA, data: str | bytes, **kwargs: object) -> CertificateRejected:
    with pytest.raises(CertificateRejected) as caught:
        verify_certificate(data, trust=[ca.cert], now=kwargs.pop("now", now()), **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_a_valid_authentication_certificate_gives_the_hsa_id_and_name(ca: DevCA) -> None:
    issued = ca.issue_user(HSA_ID, "Anna Maria Andersson")
    identity = verify_certificate(pem(issued), trust=[ca.cert], now=now())
    assert identity.hsa_id == HSA_ID
    assert (identity.name, identity.given_name, identity.surname) == ("Anna Maria Andersson", "Anna Maria",
                                                                       "Andersson")
    assert identity.issuer == ca.cert.subject.rfc4514_string()
    assert identity.serial == format(issued.cert.serial_number, "X")
    assert identity.not_after == issued.cert.not_valid_after_utc
    der = issued.cert.public_bytes(serialization.Encoding.DER)
    assert verify_certificate(der, trust=[ca.cert], now=now()).hsa_id == HSA_ID  # DER works too


def test_expired_and_not_yet_valid_certificates_are_refused_with_the_date(ca: DevCA) -> None:
    expired = ca.issue_user(HSA_ID, "Anna Andersson", not_after=now() - dt.timedelta(days=2))
    rejected = refusal(ca, pem(expired))
    assert rejected.code == "expired" and rejected.message.startswith("Certifikatet har gått ut (")
    future = ca.issue_user(HSA_ID, "Anna Andersson", not_before=now() + dt.timedelta(days=3), days=30)
    rejected = refusal(ca, pem(future))
    assert rejected.code == "not_yet_valid" and "börjar gälla först" in rejected.message
    valid = ca.issue_user(HSA_ID, "Anna Andersson", days=10)
    assert refusal(ca, pem(valid), now=now() + dt.timedelta(days=11)).code == "expired"  # the clock is an input


def test_a_certificate_from_another_ca_is_refused_even_under_the_same_issuer_name(ca: DevCA,
                                                                                   impostor: DevCA) -> None:
    forged = impostor.issue_user(HSA_ID, "Anna Andersson")
    assert forged.cert.issuer == ca.cert.subject
    rejected = refusal(ca, pem(forged))
    assert rejected.code == "foreign_issuer"
    assert "inte utfärdat av SITHS" in rejected.message and "DEV SITHS" in rejected.message


def test_no_hsa_id_a_personnummer_and_a_malformed_hsa_id_are_refused(ca: DevCA) -> None:
    none = refusal(ca, pem(ca.issue_user(None, "Anna Andersson")))
    assert none.code == "no_hsa_id" and "saknar HSA-id" in none.message
    personnummer = refusal(ca, pem(ca.issue_user("19121212-1212", "Anna Andersson", check_hsa_id=False)))
    assert personnummer.code == "no_hsa_id" and "personnummer" in personnummer.message
    assert "1212" not in personnummer.message  # the number itself is not echoed
    bad = refusal(ca, pem(ca.issue_user("SE2321000254-ABC1", "Anna Andersson", check_hsa_id=False)))
    assert bad.code == "bad_hsa_id" and "kontrollsiffra" in bad.message


def test_the_signing_certificate_of_the_card_is_refused(ca: DevCA) -> None:
    signing = ca.issue_user(HSA_ID, "Anna Andersson", purpose=CertPurpose.SIGNING)
    usage = signing.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.content_commitment and not usage.digital_signature
    rejected = refusal(ca, pem(signing))
    assert rejected.code == "signing_certificate" and "underskriftscertifikatet" in rejected.message


def test_the_ca_certificate_itself_and_a_server_certificate_are_not_user_certificates(ca: DevCA) -> None:
    assert refusal(ca, ca.cert.public_bytes(serialization.Encoding.PEM)).code == "wrong_usage"
    server = ca.issue_server()
    assert refusal(ca, pem(server)).code == "wrong_usage"  # EKU serverAuth, no clientAuth


def test_an_unknown_critical_extension_is_refused_like_openssl_would(ca: DevCA) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    base = ca.issue_user(HSA_ID, "Anna Andersson").cert
    builder = (x509.CertificateBuilder().subject_name(base.subject).issuer_name(ca.cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(base.not_valid_before_utc).not_valid_after(base.not_valid_after_utc))
    for extension in base.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    cert = builder.add_extension(unknown, critical=True).sign(ca.ca.key, hashes.SHA256())
    assert refusal(ca, cert.public_bytes(serialization.Encoding.PEM)).code == "wrong_usage"


def test_garbage_and_an_empty_trust_list(ca: DevCA) -> None:
    assert refusal(ca, "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----").code == "malformed"
    assert refusal(ca, b"\x30\x03\x02\x01\x00").code == "malformed"
    with pytest.raises(CertificateRejected) as caught:
        verify_certificate(pem(ca.issue_user(HSA_ID, "Anna Andersson")), trust=[], now=now())
    assert caught.value.code == "not_configured" and caught.value.status == 503


# ---------------------------------------------------------------------- chains
def _sub_ca(root: Issued, name: str, *, path_length: int | None) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"), x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(root.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now() - dt.timedelta(days=1)).not_valid_after(now() + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .sign(root.key, hashes.SHA256()))
    return Issued(cert, key)


def test_a_chain_through_an_issuing_ca_like_siths_root_and_person_ca(tmp_path: Path) -> None:
    from npo.certs import make_ca

    root = make_ca(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DEV SITHS e-id Root CA v2")]))
    # make_ca limits its path length to 0, so a sub-CA under it is refused ...
    issuing = _sub_ca(root, "DEV SITHS e-id Person HSA-id 3 CA v1", path_length=0)
    person_ca = DevCA(tmp_path, issuing)
    leaf = person_ca.issue_user(HSA_ID, "Anna Andersson")
    chain = pem(leaf) + issuing.cert.public_bytes(serialization.Encoding.PEM).decode()
    assert refusal(DevCA(tmp_path, root), chain).code == "foreign_issuer"
    # ... while trusting the issuing CA itself (how NPO_SITHS_CA_FILE lists SITHS) needs no chain at all
    assert verify_certificate(pem(leaf), trust=[issuing.cert], now=now()).hsa_id == HSA_ID


def test_an_intermediate_sent_with_the_leaf_completes_the_chain_to_the_root() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Root with room for one sub-CA")])
    root_cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                 .serial_number(1).not_valid_before(now() - dt.timedelta(days=1))
                 .not_valid_after(now() + dt.timedelta(days=400))
                 .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                 .sign(key, hashes.SHA256()))
    issuing = _sub_ca(Issued(root_cert, key), "Issuing CA", path_length=0)
    leaf = DevCA(Path("/nonexistent"), issuing).issue_user(HSA_ID, "Anna Andersson")
    chain = pem(leaf) + issuing.cert.public_bytes(serialization.Encoding.PEM).decode()
    assert verify_certificate(chain, trust=[root_cert], now=now()).hsa_id == HSA_ID
    assert verify_certificate(pem(leaf), trust=[root_cert], now=now(), intermediates=[issuing.cert]).hsa_id == HSA_ID
    with pytest.raises(CertificateRejected, match="inte utfärdat av SITHS"):
        verify_certificate(pem(leaf), trust=[root_cert], now=now())


# ---------------------------------------------------------------------- transports
def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(var_dir=tmp_path, env="test", **values)  # type: ignore[arg-type]


def _scope(client: str, *, headers: dict[str, str] | None = None, peer: str | None = None,
           tls_chain: list[str] | None = None) -> dict[str, object]:
    extensions: dict[str, object] = {}
    if peer is not None:
        extensions[PEER_EXTENSION] = {"peer": (peer, 40000)}
    if tls_chain is not None:
        extensions["tls"] = {"client_cert_chain": tls_chain}
    return {"type": "http", "client": (client, 40000), "extensions": extensions,
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}


def test_the_mtls_certificate_comes_from_the_scope_extension(ca: DevCA, tmp_path: Path) -> None:
    leaf = pem(ca.issue_user(HSA_ID, "Anna Andersson"))
    settings = _settings(tmp_path)
    assert presented_certificate(_scope("192.0.2.7", tls_chain=[leaf]), settings) == (leaf, "mtls")
    assert client_certificate(_scope("192.0.2.7", tls_chain=[]), settings) is None


def test_the_proxy_header_counts_only_from_a_configured_proxy_address(ca: DevCA, tmp_path: Path) -> None:
    leaf = pem(ca.issue_user(HSA_ID, "Anna Andersson"))
    header = {"X-SSL-Client-Cert": quote(leaf)}  # nginx: $ssl_client_escaped_cert
    settings = _settings(tmp_path, trusted_proxies=["10.1.2.3", "10.8.0.0/16"])
    assert client_certificate(_scope("10.1.2.3", headers=header), settings) == leaf
    assert client_certificate(_scope("10.8.44.5", headers=header), settings) == leaf
    assert client_certificate(_scope("10.1.2.4", headers=header), settings) is None
    assert client_certificate(_scope("10.1.2.3", headers={"X-SSL-Client-Cert": ""}), settings) is None
    # uvicorn may have rewritten "client" from X-Forwarded-For; the TCP peer recorded by api.mtls decides
    assert client_certificate(_scope("10.1.2.3", headers=header, peer="203.0.113.9"), settings) is None
    assert client_certificate(_scope("203.0.113.9", headers=header, peer="10.1.2.3"), settings) == leaf
    renamed = _settings(tmp_path, trusted_proxies=["10.1.2.3"], proxy_cert_header="X-Client-Cert")
    assert client_certificate(_scope("10.1.2.3", headers=header), renamed) is None
    assert client_certificate(_scope("10.1.2.3", headers={"x-client-cert": quote(leaf)}), renamed) == leaf


def test_trusted_proxy_matching() -> None:
    trusted = ["127.0.0.1", "10.0.0.0/8", "::1", "not an address"]
    assert is_trusted_proxy("127.0.0.1", trusted) and is_trusted_proxy("10.200.3.4", trusted)
    assert is_trusted_proxy("::1", trusted)
    assert not is_trusted_proxy("127.0.0.2", trusted) and not is_trusted_proxy("testclient", trusted)
    assert not is_trusted_proxy(None, trusted) and not is_trusted_proxy("10.0.0.1", [])
    unix = {"type": "http", "client": None, "extensions": {PEER_EXTENSION: {"peer": "/run/npo.sock"}}}
    assert peer_address(unix) == "/run/npo.sock" and peer_address({"type": "http", "client": None}) is None


def test_proxy_formats_pem_with_spaces_and_base64_der(ca: DevCA) -> None:
    issued = ca.issue_user(HSA_ID, "Anna Andersson")
    flattened = pem(issued).replace("\n", " ")
    assert parse_certificates(flattened)[0] == issued.cert
    bare = base64.b64encode(issued.cert.public_bytes(serialization.Encoding.DER)).decode()
    assert parse_certificates(bare)[0] == issued.cert


def test_trust_comes_from_the_configured_file_else_the_dev_ca_but_never_in_production(tmp_path: Path) -> None:
    assert DEV_CA_FILENAME == CA_CERT_NAME
    ca = DevCA.open(tmp_path / "certs")
    assert trust_anchors(_settings(tmp_path)) == [ca.cert]
    other = DevCA.open(tmp_path / "other")
    assert trust_anchors(_settings(tmp_path, siths_ca_file=other.cert_path)) == [other.cert]
    production = Settings(var_dir=tmp_path, env="production", secret_key="x" * 40)
    with pytest.raises(CertificateRejected) as caught:
        trust_anchors(production)
    assert caught.value.code == "not_configured"


def test_the_current_identity_dependency_refuses_with_the_reason(ca: DevCA, tmp_path: Path) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from kernel import runtime

    app = FastAPI()

    @app.get("/who")
    def who(identity: CurrentIdentity) -> dict[str, str]:
        return {"hsa_id": identity.hsa_id, "transport": identity.transport}

    previous = runtime.settings()
    runtime.configure(_settings(tmp_path, siths_ca_file=ca.cert_path, trusted_proxies=["testclient"]))
    try:
        with TestClient(app) as client:
            good = {"X-SSL-Client-Cert": quote(pem(ca.issue_user(HSA_ID, "Anna Andersson")))}
            assert client.get("/who", headers=good).json() == {"hsa_id": HSA_ID, "transport": "proxy"}
            refused = client.get("/who")
            assert refused.status_code == 401 and "Inget SITHS-certifikat" in refused.json()["detail"]
    finally:
        runtime.configure(previous)


# ---------------------------------------------------------------------- revocation
def _crl(issuer: DevCA, serials: list[int], *, at: dt.datetime | None = None) -> x509.CertificateRevocationList:
    at = at or now()
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.cert.subject).last_update(at)
               .next_update(at + dt.timedelta(days=7)))
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(at).build())
    return builder.sign(issuer.ca.key, hashes.SHA256())


def test_a_revoked_card_is_refused_with_the_date_and_other_cards_still_work(ca: DevCA) -> None:
    lost, kept = ca.issue_user(HSA_ID, "Anna Andersson"), ca.issue_user("SE2321000255-ABC2", "Bo Berg")
    when = dt.datetime(2026, 3, 2, 13, 30, tzinfo=dt.UTC)
    crls = [_crl(ca, [lost.cert.serial_number], at=when)]
    refused = refusal(ca, pem(lost), crls=crls)
    assert (refused.code, refused.status) == ("revoked", 401)
    assert "spärrat sedan 2026-03-02 14:30" in refused.message and "ditt nya kort" in refused.message
    assert verify_certificate(pem(kept), trust=[ca.cert], now=now(), crls=crls).hsa_id == "SE2321000255-ABC2"
    late = now() + dt.timedelta(days=30)  # a CRL past its next update still revokes (D-30)
    assert refusal(ca, pem(lost), crls=crls, now=late).code == "revoked"


def test_a_forged_crl_under_the_cas_name_neither_revokes_nor_clears(ca: DevCA, impostor: DevCA) -> None:
    issued = ca.issue_user(HSA_ID, "Anna Andersson")
    forged = [_crl(impostor, [issued.cert.serial_number])]  # same issuer name, other key
    refused = refusal(ca, pem(issued), crls=forged)
    assert (refused.code, refused.status) == ("crl_invalid", 503) and "servicedesk" in refused.message


def test_a_crl_of_another_ca_does_not_apply(ca: DevCA, tmp_path: Path) -> None:
    issued = ca.issue_user(HSA_ID, "Anna Andersson")
    other = DevCA.open(tmp_path / "other", subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Other CA")]))
    crls = [_crl(other, [issued.cert.serial_number])]  # the same serial means nothing under another issuer
    assert verify_certificate(pem(issued), trust=[ca.cert], now=now(), crls=crls).hsa_id == HSA_ID


def test_the_crl_file_is_read_as_pem_or_der_and_a_configured_missing_one_refuses(tmp_path: Path) -> None:
    ca = DevCA.open(tmp_path / "certs")
    dev = _settings(tmp_path)
    assert revocation_lists(dev) == ()  # the dev CA has revoked nothing: no file, nothing to check
    issued = ca.issue_user(HSA_ID, "Anna Andersson")
    ca.revoke([issued.cert.serial_number])
    [from_pem] = revocation_lists(dev)
    assert from_pem.get_revoked_certificate_by_serial_number(issued.cert.serial_number) is not None
    der = tmp_path / "siths.crl"
    der.write_bytes(from_pem.public_bytes(serialization.Encoding.DER))
    assert len(revocation_lists(_settings(tmp_path, siths_crl_file=der))[0]) == 1
    for broken in (tmp_path / "missing.crl", tmp_path / "garbage.crl"):
        if broken.name == "garbage.crl":
            broken.write_text("-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n")
        with pytest.raises(CertificateRejected) as caught:
            revocation_lists(_settings(tmp_path, siths_crl_file=broken))
        assert (caught.value.code, caught.value.status) == ("crl_unreadable", 503)
    production = Settings(var_dir=tmp_path, env="production", secret_key="x" * 40)
    assert crl_file(production) is None


def test_the_dev_ca_keeps_earlier_revocations_when_it_revokes_more(tmp_path: Path) -> None:
    ca = DevCA.open(tmp_path / "certs")
    first, second = (ca.issue_user(HSA_ID, "Anna Andersson") for _ in range(2))
    ca.revoke([first.cert.serial_number], at=now() - dt.timedelta(days=1))
    ca.revoke([second.cert.serial_number, first.cert.serial_number])
    revoked = ca.revoked()
    assert set(revoked) == {first.cert.serial_number, second.cert.serial_number}
    assert revoked[first.cert.serial_number] < revoked[second.cert.serial_number]  # the first time is kept
