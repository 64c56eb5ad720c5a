"""Who is signed in (D7): a server-side session (api.sessions) holding the HSA-ID, opened by SITHS login or (dev
only) the dev login, and ended by logout, idling, age or a revoked card.

Roles are not stored in the cookie: every request rebuilds the Actor from the directory and the delegations, so a
role taken away in Skånekatalogen counts at once. Every form and JSON write carries the session's CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from api.sessions import ServerSession
from catalog import DirectoryUnavailable
from catalog import runtime as catalog_runtime
from kernel import runtime
from kernel.clock import now
from provisioning.authz import Actor, load_actor

SESSION_KEY = "hsa_id"
CSRF_KEY = "csrf"


class NotSignedIn(Exception):
    """No (valid) session: HTML requests go to the login page, JSON requests get 401."""


class CsrfRejected(Exception):
    """A write without the session's CSRF token."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use)."""
    token = request.session.get(CSRF_KEY)
    if not token:
        token = secrets.token_urlsafe(24)
        request.session[CSRF_KEY] = token
    return token


class LazyCsrf:
    """The session's CSRF token, made only when a page prints it: a page without a form starts no session."""

    def __init__(self, request: Request):
        self.request = request

    def __str__(self) -> str:
        return csrf_token(self.request)

    __html__ = __str__


def check_csrf(request: Request, supplied: str | None) -> None:
    """Refuse a write whose token does not match the session's."""
    expected = request.session.get(CSRF_KEY)
    if not expected or not supplied or not hmac.compare_digest(str(expected), str(supplied)):
        raise CsrfRejected()


def sign_in(request: Request, hsa_id: str, *, card: tuple[str, str] | None = None) -> None:
    """Start a new session for ``hsa_id`` (new token and CSRF token; ``card``: the SITHS certificate's serial and
    issuer, whose revocation ends the session)."""
    session = cast(ServerSession, request.session)  # ServerSessionMiddleware puts it there; starlette types a dict
    session.start(card)
    session[SESSION_KEY] = hsa_id
    session[CSRF_KEY] = secrets.token_urlsafe(24)


def sign_out(request: Request, reason: str = "logout") -> None:
    """End the session for good: the same cookie is worthless afterwards."""
    session = cast(ServerSession, request.session)  # ServerSessionMiddleware puts it there; starlette types a dict
    session.end(reason)


def flash(request: Request, text: str) -> None:
    """A message for the next page of this browser, kept on the server (never in a URL or cookie)."""
    request.session["flash"] = text[:500]


def pop_flash(request: Request) -> str | None:
    """The pending message, once."""
    return request.session.pop("flash", None) if "flash" in request.session else None


def optional_actor(request: Request) -> Actor | None:
    """The signed-in actor, or None (also None when the person was disabled since signing in)."""
    hsa_id = request.session.get(SESSION_KEY)
    if not hsa_id:
        return None
    try:
        with runtime.session_scope() as session:
            actor = load_actor(catalog_runtime.directory(), session, hsa_id, now=now())
    except DirectoryUnavailable:
        raise
    if actor is None:
        sign_out(request, "disabled")
    return actor


def current_actor(request: Request) -> Actor:
    """The signed-in actor, or NotSignedIn."""
    actor = optional_actor(request)
    if actor is None:
        raise NotSignedIn()
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
OptionalActor = Annotated[Actor | None, Depends(optional_actor)]


def login_redirect(request: Request) -> RedirectResponse:
    """Send a browser to the login page, coming back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={target}", status_code=303)
