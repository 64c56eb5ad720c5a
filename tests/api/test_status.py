"""The status page lists each part of the stack with its health, and never fails with a 500 when one is down."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from npo import runtime
from npo.settings import Settings
from tests.conftest import MailSink, Org, free_port


def test_status_page_shows_every_part_healthy(app_settings: Settings, org: Org, smtp_sink: MailSink) -> None:
    runtime.configure(app_settings.model_copy(update={"smtp_port": smtp_sink.port}))
    client = TestClient(create_app())
    page = client.get("/status")
    assert page.status_code == 200
    for part in ("database", "directory", "smtp", "prefect"):
        assert f'data-part="{part}"' in page.text
    assert "utkorgen är tom" in page.text
    assert "Alla delar svarar." in page.text
    health = client.get("/api/health").json()
    assert health["ok"] is True
    assert health["parts"]["directory"]["healthy"] and "vårdgivare" in health["parts"]["directory"]["detail"]
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"  # nobody signed in


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
