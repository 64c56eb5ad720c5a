"""Security headers on every response, in one ASGI middleware of its own (independent of the session machinery).

* A strict Content-Security-Policy: scripts and styles only from this origin's /static (the pages carry no inline
  script, style element or ``style=`` attribute), no plugins, no framing, forms only to this origin. The API docs
  page (outside production) loads Swagger UI from its CDN and gets a policy of its own, with its one inline script
  allowed by hash.
* ``X-Frame-Options: DENY`` for browsers without ``frame-ancestors``, ``X-Content-Type-Options: nosniff`` and
  ``Referrer-Policy: no-referrer``.
* HSTS on requests that arrived over TLS (the SITHS mTLS listener, or a proxy that says so in X-Forwarded-Proto
  when trusted): the same app serves the plain listener, which must not send it.
* ``Cache-Control: no-store`` on every response but the static files: pages show personnummer and patient data,
  and a whitelist of such pages would rot. A route that sets its own Cache-Control keeps it.
* A 405 says in ``Allow`` which methods the address does serve (Starlette names only one route's methods, and the
  Swedish error page lost even those).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.datastructures import MutableHeaders
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_PREFIX = "/static/"
HSTS = "max-age=31536000"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SWAGGER_CDN = "https://cdn.jsdelivr.net"


def policy(*, scripts: Iterable[str] = ("'self'",), styles: Iterable[str] = ("'self'",),
           images: Iterable[str] = ("'self'",), connect: Iterable[str] = ("'none'",)) -> str:
    """A Content-Security-Policy that denies everything not named (default-src 'none')."""
    return "; ".join([
        "default-src 'none'", f"script-src {' '.join(scripts)}", f"style-src {' '.join(styles)}",
        f"img-src {' '.join(images)}", f"connect-src {' '.join(connect)}", "form-action 'self'",
        "frame-ancestors 'none'", "base-uri 'none'"])


PAGES = policy()
STATIC_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def docs_policy(app: FastAPI) -> str:
    """The policy of the Swagger UI page: its CDN, its inline script by hash (as FastAPI renders it), the API."""
    page = get_swagger_ui_html(openapi_url=app.openapi_url or "", title=f"{app.title} - Swagger UI",
                               oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
                               init_oauth=app.swagger_ui_init_oauth,
                               swagger_ui_parameters=app.swagger_ui_parameters).body
    inline = re.findall(rb"<script>(.*?)</script>", bytes(page), re.DOTALL)
    hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in inline]
    return policy(scripts=[SWAGGER_CDN, *hashes], styles=[SWAGGER_CDN, "'unsafe-inline'"],
                  images=["'self'", "data:", "https://fastapi.tiangolo.com"], connect=["'self'"])


def allowed_methods(scope: Scope) -> list[str]:
    """The methods some route of the app serves at this request's path (the framework's own matching)."""
    routes = scope["app"].router.routes
    root_path = scope.get("app_root_path", scope.get("root_path", ""))  # a Mount has extended root_path by now
    allowed = set()
    for method in METHODS:  # a fresh scope per probe: matching writes into the scope it is given
        probe = {"type": "http", "path": scope["path"], "root_path": root_path, "method": method, "headers": [],
                 "query_string": b"", "app": scope["app"]}
        for route in routes:
            match, _child = route.matches(probe)
            if match is Match.FULL:
                if not (isinstance(route, Mount) and isinstance(route.app, StaticFiles)) or method in ("GET", "HEAD"):
                    allowed.add(method)
                break
    return [m for m in METHODS if m in allowed]


class SecurityHeaders:
    """ASGI middleware: adds the headers above to every HTTP response of the app it wraps."""

    def __init__(self, app: ASGIApp, *, docs_paths: Iterable[str] = (), docs_csp: str = PAGES):
        self.app, self.docs_paths, self.docs_csp = app, frozenset(docs_paths), docs_csp

    def headers_for(self, scope: Scope, status: int) -> dict[str, str]:
        """The headers a response to ``scope`` with ``status`` gets (where it has none of its own)."""
        path = scope.get("path", "")
        headers = {"Content-Security-Policy": self.docs_csp if path in self.docs_paths else PAGES, **STATIC_HEADERS}
        if scope.get("scheme") == "https":
            headers["Strict-Transport-Security"] = HSTS
        if not path.startswith(STATIC_PREFIX):
            headers["Cache-Control"] = "no-store"
        if status == 405:
            headers["Allow"] = ", ".join(allowed_methods(scope))
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers_for(scope, message["status"]).items():
                    if name == "Allow" or name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
