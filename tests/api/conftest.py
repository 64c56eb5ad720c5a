"""The web app on the session's slapd, a fresh database, a real SMTP sink and the dev login."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kernel import runtime
from kernel.settings import Settings
from tests.conftest import MailSink
from tests.world import World


class Browser:
    """A TestClient with a signed-in person and their CSRF token."""

    def __init__(self, client: TestClient):
        self.client = client

    def login(self, hsa_id: str) -> Browser:
        self.client.cookies.clear()
        token = self._token(self.client.get("/login").text)  # the login page of the new session carries its token
        response = self.client.post("/dev/login", data={"hsa_id": hsa_id, "csrf": token, "next": "/status"},
                                    follow_redirects=False)
        assert response.status_code == 303, response.text
        return self

    def csrf(self) -> str:
        return self._token(self.client.get("/login").text)

    @staticmethod
    def _token(page: str) -> str:
        marker = 'name="csrf" value="'
        return page.split(marker, 1)[1].split('"', 1)[0] if marker in page else ""

    def api_csrf(self) -> str:
        return self.client.get("/api/session").json()["csrf"]


@pytest.fixture
def web(app_settings: Settings, world: World, smtp_sink: MailSink) -> Iterator[Browser]:
    """A browser-like client on an app configured for the test's world."""
    runtime.configure(app_settings.model_copy(update={
        "dev_login": True, "region_provider_hsa_id": world.region.provider.hsa_id, "smtp_port": smtp_sink.port,
        "public_base_url": "http://npo.test"}))
    with TestClient(create_app()) as client:
        yield Browser(client)


@pytest.fixture
def admin(web: Browser, world: World) -> Browser:
    """A browser signed in as NPÖ-förvaltningen (the directory role npo-forvaltning)."""
    return web.login(world.sysadmin.hsa_id)
