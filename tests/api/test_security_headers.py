"""Security headers on every response (issue 9 §5): every route of the app (enumerated from the app itself, so a new
route is covered), the static files, 404s, 405s, JSON, redirects and error pages; HSTS only over TLS, on the real
mTLS listener; the pages carry no inline script or style the policy would have to allow; the API docs exist only
outside production.
"""
# ruff: noqa: F811  (the module fixtures of test_mtls are imported and then requested by name)

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.security_headers import HSTS, PAGES
from api.templating import SEARCH_PATH
from kernel import runtime
from kernel.settings import Environment, Settings
from tests.api.conftest import Browser
from tests.api.test_bad_input import typed_routes
from tests.api.test_mtls import HSA_ID, NAME, Site, configured, running, site  # noqa: F401  (fixtures)
from tests.conftest import free_port
from tests.world import World

COMMON = {"content-security-policy": PAGES, "x-frame-options": "DENY", "x-content-type-options": "nosniff",
          "referrer-policy": "no-referrer"}


def assert_secured(response: httpx.Response, *, static: bool = False, tls: bool = False) -> None:
    """The headers every response carries; no-store unless static; HSTS exactly when the request came over TLS."""
    where = (response.request.method, str(response.request.url), response.status_code)
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (where, name, response.headers.get(name))
    if not static:
        assert response.headers.get("cache-control") == "no-store", (where, response.headers.get("cache-control"))
    assert response.headers.get("strict-transport-security") == (HSTS if tls else None), where


def test_the_policy_is_strict() -> None:
    directives = dict(d.split(" ", 1) for d in PAGES.split("; "))
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in PAGES and "*" not in PAGES and "data:" not in PAGES


def test_every_route_of_the_app_sends_the_headers_signed_in_and_anonymous(web: Browser, world: World) -> None:
    routes = typed_routes(web.client.app)
    assert len(routes) > 60
    for who in (world.public_manager.hsa_id, world.skf.hsa_id, None):
        if who:
            web.login(who)
        else:
            web.client.cookies.clear()
        for method, path, _params in routes:
            url = re.sub(r"\{[^}]+\}", "1", path)
            data = {"csrf": web.csrf()} if method == "POST" else None
            assert_secured(web.client.request(method, url, data=data, follow_redirects=False))


def test_static_files_errors_redirects_and_json_send_them_too(web: Browser, world: World) -> None:
    client = web.client
    assert_secured(client.get("/static/site.css"), static=True)
    assert_secured(client.get("/static/site.js"), static=True)
    assert client.get("/static/site.js").headers["content-type"].startswith("text/javascript")
    assert_secured(client.get("/static/finns-inte.css"), static=True)
    for response in (client.get("/finns-inte"), client.get("/api/finns-inte"), client.get("/", follow_redirects=False),
                     client.get("/attest", follow_redirects=False), client.get("/api/orders"),
                     client.get("/behorighetskontroll/abc"), client.post("/logout", data={"csrf": "fel"})):
        assert_secured(response)
    web.login(world.public_manager.hsa_id)
    for response in (client.get("/api/session"), client.get(f"/api/units/{world.public_unit.hsa_id}/people"),
                     client.get("/bestall/behorigheter"), client.get("/mina-bestallningar")):
        assert response.status_code == 200, response.request.url
        assert_secured(response)


def test_a_route_that_sets_its_own_cache_control_keeps_it() -> None:
    from api.security_headers import SecurityHeaders

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"cache-control", b"private, max-age=60")]})
        await send({"type": "http.response.body", "body": b"ok"})

    response = TestClient(SecurityHeaders(app)).get("/")  # type: ignore[arg-type]
    assert response.headers["cache-control"] == "private, max-age=60"
    assert response.headers["content-security-policy"] == PAGES


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/bestall/uppdrag", "GET, POST"),
    ("DELETE", "/status", "GET"),
    ("POST", "/status", "GET"),
    ("PATCH", "/oversikt/patient", "GET, POST"),
    ("PUT", "/api/orders/commission", "GET, POST"),  # GET /api/orders/{reference} serves the same address
    ("DELETE", "/api/orders/NPO-1/decision", "POST"),
    ("GET", "/logout", "POST"),
    ("POST", "/static/site.css", "GET, HEAD"),
    ("HEAD", "/status", "GET"),
])
def test_a_405_names_the_methods_the_address_serves(web: Browser, method: str, path: str, allow: str) -> None:
    response = web.client.request(method, path)
    assert response.status_code == 405 and response.headers.get("allow") == allow, response.headers
    assert_secured(response, static=path.startswith("/static/"))
    for listed in allow.split(", "):
        if listed in ("GET", "HEAD"):
            assert web.client.request(listed, path, follow_redirects=False).status_code != 405, (listed, path)


# ---------------------------------------------------------------------- the pages carry nothing inline
def _templates() -> list[Path]:
    return sorted(p for root in SEARCH_PATH for p in root.rglob("*.html"))


@pytest.mark.parametrize("pattern", [r"<script(?![^>]*\bsrc=)", r"<style", r"\sstyle=", r"\son[a-z]+=",
                                     r"javascript:"], ids=["inline script", "style element", "style attribute",
                                                           "event handler", "javascript URL"])
def test_no_template_has_what_a_strict_policy_refuses(pattern: str) -> None:
    found = [f"{p.name}: {m.group(0)}" for p in _templates() for m in re.finditer(pattern, p.read_text(), re.I)]
    assert len(_templates()) > 30 and found == []


def test_the_pages_load_only_their_own_script_and_style(web: Browser) -> None:
    page = web.client.get("/login").text
    assert '<script src="/static/site.js" defer></script>' in page and 'href="/static/site.css"' in page
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/site.js" defer>']


# ---------------------------------------------------------------------- HSTS over TLS only
def test_over_tls_the_headers_include_hsts(web: Browser) -> None:
    secure = TestClient(web.client.app, base_url="https://testserver")
    assert_secured(secure.get("/login"), tls=True)
    assert_secured(secure.get("/static/site.css"), static=True, tls=True)
    assert_secured(web.client.get("/login"))


def test_the_mtls_listener_sends_hsts_and_the_plain_listener_does_not(site: Site) -> None:
    from api.mtls import mtls_config

    config, _tls = mtls_config(create_app(), site.settings, port=free_port(), log_level="warning")
    plain = uvicorn.Config(create_app(), host="127.0.0.1", port=free_port(), log_level="warning")
    with running(config) as tls_url, running(plain) as plain_url, site.client(site.ca.issue_user(HSA_ID, NAME)) as c:
        over_tls = c.get(f"{tls_url}/siths/vem-ar-jag")
        assert over_tls.status_code == 200 and HSA_ID in over_tls.text
        assert_secured(over_tls, tls=True)
        assert_secured(c.get(f"{tls_url}/static/site.css"), static=True, tls=True)
        assert_secured(httpx.get(f"{plain_url}/login"))


def test_behind_a_trusted_proxy_the_forwarded_scheme_decides(site: Site) -> None:
    from api.mtls import proxied_config

    trusted = site.settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})
    with configured(trusted), running(proxied_config(create_app(), trusted, port=free_port(),
                                                     log_level="warning")) as url:
        assert_secured(httpx.get(f"{url}/login", headers={"X-Forwarded-Proto": "https"}), tls=True)
        assert_secured(httpx.get(f"{url}/login"))


# ---------------------------------------------------------------------- the API docs
def test_outside_production_the_docs_page_gets_its_own_policy_with_its_script_hashed(web: Browser) -> None:
    page = web.client.get("/api/docs")
    assert page.status_code == 200 and web.client.get("/api/openapi.json").status_code == 200
    policy = page.headers["content-security-policy"]
    scripts = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src "))
    assert f"'sha256-{digest}'" in script_src and "unsafe" not in script_src
    assert "frame-ancestors 'none'" in policy and page.headers["cache-control"] == "no-store"


def test_in_production_there_are_no_api_docs(app_settings: Settings) -> None:
    runtime.configure(app_settings.model_copy(update={"env": Environment.PRODUCTION, "secret_key": "p" * 40}))
    with TestClient(create_app()) as client:
        for path in ("/api/docs", "/api/openapi.json", "/docs/oauth2-redirect", "/docs", "/redoc"):
            response = client.get(path)
            assert response.status_code == 404 and "swagger" not in response.text.lower(), path
            assert_secured(response)
        assert client.get("/login").status_code == 200
