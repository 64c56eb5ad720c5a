"""The status page lists each part of the stack with its health, and never fails with a 500 when one is down."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from catalog.clock import now
from npo import runtime
from npo.certs import CRL_DAYS, dev_ca, with_dev_certificates
from npo.settings import Settings
from tests.conftest import MailSink, Org, free_port


def test_status_page_shows_every_part_healthy(app_settings: Settings, org: Org, smtp_sink: MailSink) -> None:
    runtime.configure(with_dev_certificates(app_settings.model_copy(update={"smtp_port": smtp_sink.port})))
    client = TestClient(create_app())
    page = client.get("/status")
    assert page.status_code == 200
    for part in ("database", "directory", "smtp", "prefect", "siths"):
        assert f'data-part="{part}"' in page.text
    assert "utkorgen är tom" in page.text
    assert "Alla delar svarar." in page.text
    health = client.get("/api/health").json()
    assert health["ok"] is True
    assert health["parts"]["directory"]["healthy"] and "vårdgivare" in health["parts"]["directory"]["detail"]
    assert health["parts"]["siths"]["detail"] == "1 betrodd(a) CA; ingen spärrlista (inget spärrat)"
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"  # nobody signed in


def test_siths_without_a_dev_ca_yet_says_so_and_a_configured_missing_ca_is_not_healthy(app_settings: Settings,
                                                                                      tmp_path: Path) -> None:
    runtime.configure(app_settings)
    with TestClient(create_app()) as client:
        siths = client.get("/api/health").json()["parts"]["siths"]
        assert siths["healthy"] and "utvecklings-CA:n finns inte än" in siths["detail"]
    runtime.configure(app_settings.model_copy(update={"siths_ca_file": tmp_path / "saknas.pem"}))
    with TestClient(create_app()) as client:
        siths = client.get("/api/health").json()["parts"]["siths"]
        assert not siths["healthy"] and "inte konfigurerad" in siths["detail"]


def test_siths_shows_the_revocation_list_and_a_late_one_is_not_healthy(app_settings: Settings) -> None:
    settings = with_dev_certificates(app_settings)
    runtime.configure(settings)
    ca = dev_ca(settings)
    lost = ca.issue_user("SE2321000255-LOST", "Kort Borta")
    ca.revoke([lost.cert.serial_number])
    with TestClient(create_app()) as client:
        assert client.get("/api/health").json()["parts"]["siths"]["detail"].endswith("spärrlista med 1 spärrade "
                                                                                     "certifikat")
        ca.revoke([lost.cert.serial_number], at=now() - dt.timedelta(days=CRL_DAYS + 1))  # re-signed long ago
        siths = client.get("/api/health").json()["parts"]["siths"]
        assert siths["healthy"] is False and "skulle ha förnyats" in siths["detail"]
        assert "SITHS-inloggning" in client.get("/status").text


def test_directory_down_is_shown_not_a_500(app_settings: Settings) -> None:
    runtime.configure(app_settings.model_copy(update={"ldap_url": f"ldap://127.0.0.1:{free_port()}"}))
    with TestClient(create_app()) as client:
        page = client.get("/status")
        assert page.status_code == 200
        assert "En eller flera delar svarar inte" in page.text and "cannot be reached" in page.text
        health = client.get("/api/health")
        assert health.status_code == 503
        assert health.json()["parts"]["directory"]["healthy"] is False
        assert health.json()["parts"]["database"]["healthy"] is True
        assert health.json()["parts"]["smtp"]["healthy"] is False  # no SMTP server in this test either
