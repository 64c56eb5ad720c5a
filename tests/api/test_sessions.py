"""Sessions that end: logout, idling, age and a revoked SITHS card end them on the server; the cookie is only a
token (no data, no signature to forge); the secret is never a constant of the code."""

from __future__ import annotations

import datetime as dt
import hashlib
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from freezegun import freeze_time
from itsdangerous import TimestampSigner
from sqlmodel import select

from api.app import create_app
from api.sessions import COOKIE, WebSession
from kernel import runtime
from kernel.settings import Settings
from npo.certs import DevCA
from tests.api.conftest import Browser
from tests.world import World

START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def _signed_in(web: Browser, world: World) -> str:
    web.login(world.public_manager.hsa_id)
    assert web.client.get("/mina-bestallningar", follow_redirects=False).status_code == 200
    return web.client.cookies[COOKIE]


def _replay(client: TestClient, token: str, path: str = "/mina-bestallningar") -> object:
    client.cookies.clear()
    client.cookies.set(COOKIE, token)
    return client.get(path, follow_redirects=False)


def test_logout_ends_the_session_on_the_server_and_a_replayed_cookie_is_refused(web: Browser, world: World) -> None:
    token = _signed_in(web, world)
    response = web.client.post("/logout", data={"csrf": web.csrf()}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "Max-Age=0" in response.headers["set-cookie"]
    replayed = _replay(web.client, token)
    assert replayed.status_code == 303 and replayed.headers["location"].startswith("/login")
    assert _replay(web.client, token, "/api/orders").status_code == 401
    with runtime.session_scope() as session:
        ended = session.exec(select(WebSession)).all()
    assert [(row.hsa_id, row.ended_reason) for row in ended if row.hsa_id] == [(world.public_manager.hsa_id, "logout")]


def test_signing_in_issues_a_new_token_so_a_planted_cookie_is_not_kept(web: Browser, world: World) -> None:
    web.client.get("/login")
    before = web.client.cookies[COOKIE]
    after = _signed_in(web, world)
    assert after != before
    assert _replay(web.client, before).status_code == 303


def test_an_idle_session_ends_after_30_minutes_and_the_login_page_says_why(web: Browser, world: World) -> None:
    with freeze_time(START) as clock:
        token = _signed_in(web, world)
        clock.tick(dt.timedelta(minutes=29))
        assert web.client.get("/mina-bestallningar", follow_redirects=False).status_code == 200
        clock.tick(dt.timedelta(minutes=29))  # activity at minute 29 moved the idle clock
        assert web.client.get("/mina-bestallningar", follow_redirects=False).status_code == 200
        clock.tick(dt.timedelta(minutes=31))
        response = web.client.get("/mina-bestallningar")
        assert response.url.path == "/login"
        assert "inte har använt tjänsten på 30 minuter" in response.text
        assert _replay(web.client, token).status_code == 303


def test_a_busy_session_still_ends_8_hours_after_sign_in(web: Browser, world: World) -> None:
    with freeze_time(START) as clock:
        _signed_in(web, world)
        for _ in range(23):  # every 20 minutes for 7 h 40 min
            clock.tick(dt.timedelta(minutes=20))
            assert web.client.get("/mina-bestallningar", follow_redirects=False).status_code == 200
        clock.tick(dt.timedelta(minutes=20))
        response = web.client.get("/mina-bestallningar")
        assert response.url.path == "/login" and "inloggad i 8 timmar" in response.text


def test_the_limits_come_from_the_settings(app_settings: Settings, world: World) -> None:
    runtime.configure(app_settings.model_copy(update={"dev_login": True, "session_idle_minutes": 5}))
    with TestClient(create_app()) as client, freeze_time(START) as clock:
        web = Browser(client)
        _signed_in(web, world)
        clock.tick(dt.timedelta(minutes=6))
        assert client.get("/mina-bestallningar", follow_redirects=False).status_code == 303


def test_a_revoked_siths_card_ends_the_sessions_opened_with_it(app_settings: Settings, world: World) -> None:
    runtime.configure(app_settings.model_copy(update={"trusted_proxies": ["testclient"]}))
    ca = DevCA.open(app_settings.certs_dir)
    lost, kept = (ca.issue_user(world.public_manager.hsa_id, "Vera Chef") for _ in range(2))
    with TestClient(create_app()) as first, TestClient(create_app()) as second:
        for client, card in ((first, lost), (second, kept)):
            header = {"X-SSL-Client-Cert": card.cert_pem().decode()}
            assert client.get("/siths/login?next=/mina-bestallningar", headers=header).url.path == \
                "/mina-bestallningar"
        ca.revoke([lost.cert.serial_number])
        response = first.get("/mina-bestallningar")
        assert response.url.path == "/login" and "SITHS-kortet du loggade in med har spärrats" in response.text
        assert second.get("/mina-bestallningar", follow_redirects=False).status_code == 200


def test_a_session_opened_in_one_web_process_holds_and_ends_in_another(web: Browser, world: World) -> None:
    token = _signed_in(web, world)
    with TestClient(create_app()) as other:  # a second app instance: nothing shared but the database
        assert _replay(other, token).status_code == 200
        other.post("/logout", data={"csrf": web.csrf()})
    assert web.client.get("/mina-bestallningar", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("secret", ["dev-only-secret-change-me", "secret", ""])
def test_a_cookie_forged_with_a_constant_of_the_code_is_not_a_session(web: Browser, world: World,
                                                                      secret: str) -> None:
    import base64
    import json

    payload = base64.b64encode(json.dumps({"hsa_id": world.public_manager.hsa_id, "csrf": "x"}).encode())
    forged = TimestampSigner(secret or "x").sign(payload).decode()
    assert _replay(web.client, forged).status_code == 303


def test_the_cookie_is_an_opaque_token_and_holds_no_patient_or_person_data(web: Browser, world: World) -> None:
    token = _signed_in(web, world)
    assert len(token) >= 40 and world.public_manager.hsa_id not in token and "." not in token
    cookie = web.client.get("/login").headers.get("set-cookie", "")
    assert cookie == "" or "HttpOnly" in cookie
    with runtime.session_scope() as session:
        row = session.get(WebSession, hashlib.sha256(token.encode()).hexdigest())
    assert row is not None and row.hsa_id == world.public_manager.hsa_id  # the database holds only the token's hash


def test_pages_without_a_form_start_no_session(client: TestClient) -> None:
    response = client.get("/status")
    assert response.status_code in (200, 503) and COOKIE not in response.headers.get("set-cookie", "")


def test_outside_production_a_random_secret_is_kept_in_var(tmp_path: Path) -> None:
    first, second = Settings(var_dir=tmp_path).secret(), Settings(var_dir=tmp_path).secret()
    assert first == second and len(first) >= 48 and first != Settings(var_dir=tmp_path / "other").secret()
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    assert Settings(var_dir=tmp_path, secret_key="k" * 40).secret() == "k" * 40


def test_production_refuses_to_start_without_a_configured_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NPO_SECRET_KEY must be set"):
        Settings(var_dir=tmp_path, env="production")
    with pytest.raises(ValueError, match="NPO_SECRET_KEY must be set"):
        Settings(var_dir=tmp_path, env="production", secret_key="short")
    assert not (tmp_path / "secret.key").exists()


def test_the_migration_builds_exactly_the_session_table(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine
    from sqlmodel import SQLModel

    from tests.overview.test_models import _table_of

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = [d for d in compare_metadata(context, SQLModel.metadata) if _table_of(d) == "web_sessions"]
    finally:
        engine.dispose()
    assert differences == []


def test_success_messages_come_from_the_server_not_from_the_url(web: Browser, world: World) -> None:
    web.login(world.skf.hsa_id)
    fake = "Ring 0700-000000 och uppge ditt PIN"
    assert fake not in web.client.get("/attest", params={"meddelande": fake}).text
    done = web.client.post("/attest/godkann-flera", data={"csrf": web.csrf()})  # nothing ticked
    assert "Markera minst en beställning." in done.text
    assert "Markera minst en beställning." not in web.client.get("/attest").text  # shown once
