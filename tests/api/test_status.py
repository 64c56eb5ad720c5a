"""The status page tells the truth: every part of the stack (the web app, database, directory, SMTP, Prefect, the
worker, the scheduler, the mTLS listener, SITHS) and each deployment, never a 500 when one is down. Anonymous users
see only whether everything works; NPÖ-förvaltningen (npo-forvaltning) sees the detail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from freezegun import freeze_time

from api.app import create_app
from api.logscan import start_line
from api.mtls import mtls_config
from kernel import runtime
from kernel.clock import now
from kernel.settings import Environment, Settings
from npo.certs import CRL_DAYS, dev_ca, with_dev_certificates
from tests.api.conftest import Browser
from tests.api.test_mtls import running
from tests.conftest import free_port
from tests.prefect_stack import PrefectStack
from tests.world import World

EVERY_PART = ["web", "database", "directory", "smtp", "prefect", "worker", "task_workers", "scheduler", "mtls",
              "siths"]


def configure(**updates: object) -> Settings:
    """Let the app use the current settings with ``updates`` (runtime is process-wide)."""
    settings = runtime.settings().model_copy(update=updates)
    runtime.configure(settings)
    return settings


@pytest.fixture
def listener(web: Browser) -> Iterator[int]:
    """The real SITHS mTLS listener (dev certificates) on a free port; the app's settings point at it."""
    port = free_port()
    settings = configure(**with_dev_certificates(runtime.settings()).model_dump(
        include={"siths_ca_file", "tls_cert_file", "tls_key_file"}), overview_port=port)
    config, _tls = mtls_config(create_app(), settings, port=port, log_level="warning")
    with running(config):
        yield port


def parts(browser: Browser) -> dict[str, dict]:
    response = browser.client.get("/api/health")
    return response.json()["parts"]


def test_anonymous_users_see_only_whether_everything_works(web: Browser, listener: int) -> None:
    web.client.cookies.clear()
    page = web.client.get("/status")
    assert page.status_code == 200
    assert "Alla delar fungerar." in page.text and 'data-overall="ok"' in page.text
    assert "data-part=" not in page.text and "sqlite" not in page.text and "127.0.0.1" not in page.text
    assert "Detaljer om varje del visas för NPÖ-förvaltningen." in page.text
    health = web.client.get("/api/health")
    assert health.status_code == 200 and health.json() == {"ok": True}


def test_forvaltning_sees_every_part_healthy(admin: Browser, listener: int, world: World) -> None:
    page = admin.client.get("/status")
    assert page.status_code == 200 and "Alla delar fungerar." in page.text
    for part in EVERY_PART:
        assert f'<tr class="ok" data-part="{part}">' in page.text, part
    assert "utkorgen är tom" in page.text
    assert "Ingen Prefect-server är konfigurerad: flödena körs i webbprocessen." in page.text
    found = parts(admin)
    assert list(found) == EVERY_PART
    assert found["worker"]["detail"] == found["task_workers"]["detail"] == found["scheduler"]["detail"] == (
        "ingen Prefect-server konfigurerad: flödena körs i webbprocessen")
    assert found["mtls"]["detail"].startswith("svarar med TLSv1.3; servercertifikatet gäller till ")
    assert found["mtls"]["where"] == f"https://127.0.0.1:{listener}"
    assert found["siths"]["detail"] == "1 betrodd(a) CA; ingen spärrlista (inget spärrat)"
    assert "vårdgivare" in found["directory"]["detail"]


def test_other_signed_in_users_get_no_detail(web: Browser, world: World) -> None:
    web.login(world.public_manager.hsa_id)
    assert "data-part=" not in web.client.get("/status").text
    assert set(web.client.get("/api/health").json()) == {"ok"}


def test_a_listener_that_does_not_answer_and_errors_in_a_log_are_not_working(admin: Browser, listener: int) -> None:
    logs = runtime.settings().var_dir / "log"
    logs.mkdir(parents=True, exist_ok=True)
    old = start_line("smtp", now() - dt.timedelta(hours=2)) + "ERROR:mail.log:an error before the last start\n"
    (logs / "smtp.log").write_text(old + start_line("smtp", now()) + "INFO:mail.log:Server is listening\n")
    (logs / "siths.log").write_text(start_line("siths", now()) + "ERROR:    Exception in ASGI application\n"
                                    "Traceback (most recent call last):\n  File \"x.py\", line 1\n")
    found = parts(admin)
    assert found["smtp"]["healthy"] is True  # the error was logged before the part's last start
    assert found["mtls"]["healthy"] is False
    assert "1 fel i loggen sedan start" in found["mtls"]["detail"] and "Exception in ASGI application" in \
        found["mtls"]["detail"]
    configure(overview_port=free_port())  # nobody listens there
    found = parts(admin)
    assert found["mtls"]["healthy"] is False and "refused" in found["mtls"]["detail"].lower()
    admin.client.cookies.clear()
    assert "Driftstörning" in admin.client.get("/status").text


def test_siths_without_a_dev_ca_yet_says_so_and_a_configured_missing_ca_is_not_healthy(admin: Browser,
                                                                                      tmp_path: Path) -> None:
    siths = parts(admin)["siths"]
    assert siths["healthy"] and "utvecklings-CA:n finns inte än" in siths["detail"]
    configure(siths_ca_file=tmp_path / "saknas.pem")
    siths = parts(admin)["siths"]
    assert not siths["healthy"] and "inte konfigurerad" in siths["detail"]


def test_siths_shows_the_revocation_list_and_a_late_one_is_not_healthy(admin: Browser) -> None:
    settings = configure(**with_dev_certificates(runtime.settings()).model_dump(
        include={"siths_ca_file", "tls_cert_file", "tls_key_file"}))
    ca = dev_ca(settings)
    lost = ca.issue_user("SE2321000255-LOST", "Kort Borta")
    ca.revoke([lost.cert.serial_number])
    assert parts(admin)["siths"]["detail"].endswith("spärrlista med 1 spärrade certifikat")
    ca.revoke([lost.cert.serial_number], at=now() - dt.timedelta(days=CRL_DAYS + 1))  # re-signed long ago
    siths = parts(admin)["siths"]
    assert siths["healthy"] is False and "skulle ha förnyats" in siths["detail"]
    assert "SITHS-inloggning" in admin.client.get("/status").text


def test_directory_down_is_shown_not_a_500(app_settings: Settings) -> None:
    runtime.configure(app_settings.model_copy(update={"ldap_url": f"ldap://127.0.0.1:{free_port()}"}))
    with TestClient(create_app()) as client:
        page = client.get("/status")
        assert page.status_code == 200
        assert "Driftstörning" in page.text and "cannot be reached" not in page.text  # no error text for anonymous
        health = client.get("/api/health")
        assert health.status_code == 503 and health.json() == {"ok": False}


def test_a_prefect_server_that_does_not_answer_makes_worker_and_scheduler_unknown(admin: Browser) -> None:
    configure(prefect_api_url=f"http://127.0.0.1:{free_port()}/api")
    found = parts(admin)
    for key in ("prefect", "worker", "task_workers", "scheduler"):
        assert found[key]["healthy"] is False, key
    assert found["worker"]["detail"].startswith("okänt: Prefect svarar inte")
    assert "Inga driftsättningar kunde läsas från Prefect." in admin.client.get("/status").text


@pytest.mark.prefect
@pytest.mark.timeout(600)  # may be the test that starts the session's Prefect server
def test_worker_scheduler_and_deployments_from_a_real_prefect_server_and_an_overdue_one_in_red(
        admin: Browser, world: World, prefect_stack: PrefectStack) -> None:
    configure(prefect_api_url=prefect_stack.api_url, var_dir=prefect_stack.settings.var_dir)
    found = parts(admin)
    assert found["prefect"]["healthy"] and found["worker"]["healthy"], found
    assert "npo-embedded: senaste livstecken" in found["worker"]["detail"]
    assert found["task_workers"]["healthy"] and found["task_workers"]["detail"].startswith("2 anslutna: "), \
        found["task_workers"]
    assert found["scheduler"]["healthy"] and "schemalagda driftsättningar har en kommande körning" in \
        found["scheduler"]["detail"]
    page = admin.client.get("/status").text
    for name in ("catalog-sync", "commission-review", "log-followup", "sweep"):
        assert f'<tr class="ok" data-deployment="{name}">' in page, name
    assert "dagligen kl. 02:30 (Stockholmstid)" in page and "advance-order" not in page  # a task, not a deployment
    with freeze_time(now() + dt.timedelta(hours=3), tick=True):  # three hours on, no sweep has completed since
        admin.login(world.sysadmin.hsa_id)  # three idle hours ended the session (D-33)
        response = admin.client.get("/api/health")
        assert response.status_code == 503 and response.json()["ok"] is False
        sweep = next(d for d in response.json()["deployments"] if d["name"] == "sweep")
        assert sweep["healthy"] is False and sweep["verdict"].startswith("försenad: skulle ha körts ")
        assert response.json()["parts"]["worker"]["healthy"] is False  # and no heartbeat for three hours
        page = admin.client.get("/status").text
        assert '<tr class="bad" data-deployment="sweep">' in page and "Driftstörning" in page


def test_the_api_docs_are_served_outside_production_only(app_settings: Settings) -> None:
    with TestClient(create_app()) as client:
        assert client.get("/api/docs").status_code == 200
        assert client.get("/api/openapi.json").status_code == 200
    runtime.configure(app_settings.model_copy(update={"env": Environment.PRODUCTION, "secret_key": "x" * 40}))
    with TestClient(create_app()) as client:
        assert client.get("/api/docs").status_code == 404
        assert client.get("/api/openapi.json").status_code == 404
        assert client.get("/api/health").json().keys() == {"ok"}  # the app still runs
