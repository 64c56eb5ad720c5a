"""Who is signed in (D7): a signed session cookie holding the HSA-ID, set by SITHS login or (dev only) the dev login.

Roles are not stored in the cookie: every request rebuilds the Actor from the directory and the delegations, so a
role taken away in Skånekatalogen counts at once. Every form and JSON write carries the session's CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from catalog import DirectoryUnavailable
from catalog.clock import now
from npo import runtime
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


def check_csrf(request: Request, supplied: str | None) -> None:
    """Refuse a write whose token does not match the session's."""
    expected = request.session.get(CSRF_KEY)
    if not expected or not supplied or not hmac.compare_digest(str(expected), str(supplied)):
        raise CsrfRejected()


def sign_in(request: Request, hsa_id: str) -> None:
    """Start a session for ``hsa_id`` (a new CSRF token with it)."""
    request.session.clear()
    request.session[SESSION_KEY] = hsa_id
    request.session[CSRF_KEY] = secrets.token_urlsafe(24)


def sign_out(request: Request) -> None:
    """End the session."""
    request.session.clear()


def optional_actor(request: Request) -> Actor | None:
    """The signed-in actor, or None (also None when the person was disabled since signing in)."""
    hsa_id = request.session.get(SESSION_KEY)
    if not hsa_id:
        return None
    try:
        with runtime.session_scope() as session:
            actor = load_actor(runtime.directory(), session, hsa_id, now=now())
    except DirectoryUnavailable:
        raise
    if actor is None:
        sign_out(request)
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
