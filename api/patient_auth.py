"""How a patient signs in to "Vem har läst min journal?" (/patient/): a pluggable authenticator (issue 15, D-76).

A patient is not staff: they have no SITHS card and no HSA-ID. The authenticator proves a personnummer and nothing
else; the patient session keeps it under its own key (``PATIENT_KEY``), never under the staff key, so a signed-in
patient is never an Actor and no staff page opens for them (and a staff session shows no patient page).

Two authenticators exist, chosen by ``NPO_PATIENT_AUTH``:

* ``dev``: the patient picks a demo patient (or types a personnummer of the patient register) on a page. Only with
  ``NPO_DEV_LOGIN=true`` outside production, as the staff dev login.
* ``oidc``: an OpenID Connect provider (the region's e-legitimation broker: BankID / Freja eID behind it), code flow
  with PKCE, the ID token's signature checked against the provider's JWKS (api/patient_oidc.py,
  docs/patient-view.md).

``off`` (the default in production until configured) answers every /patient/ page with a clear 503.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from fastapi import Request
from fastapi.responses import Response

from api.sessions import ServerSession

PATIENT_KEY = "patient_pnr"  # the signed-in patient's personnummer (12 digits)
PATIENT_NAME_KEY = "patient_name"
PATIENT_METHOD_KEY = "patient_method"  # which authenticator signed them in
SUBJECT_KEY = "patient_subject"  # whose view is shown: the patient's own, or a child's (guardian)
CSRF_KEY = "csrf"


@dataclass(frozen=True)
class PatientIdentity:
    """Who the authenticator proved: a personnummer (12 digits, validated) and the name it gave ('' if none)."""

    personnummer: str
    name: str
    method: str  # "dev" or "oidc"


class AuthenticationFailed(Exception):
    """The sign-in did not prove anyone (cancelled, a bad or replayed answer): ``message`` says what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class AuthenticatorUnavailable(Exception):
    """The identity provider cannot be reached or answered nonsense: sign-in is impossible for now (→ 503)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class PatientAuthenticator(Protocol):
    """Starts a sign-in and completes it."""

    method: str  # "dev" or "oidc"
    label: str  # what the start page's button says, in Swedish

    def begin(self, request: Request, next_path: str) -> Response:
        """The answer that starts a sign-in (a redirect to the provider, or the dev chooser page)."""
        ...

    async def complete(self, request: Request) -> tuple[PatientIdentity, str]:
        """The identity proven by the provider's answer to this request, and the path to go on to.
        Raises AuthenticationFailed or AuthenticatorUnavailable."""
        ...


# A demo patient the dev authenticator lists: (personnummer, name, what they show). The shell passes the demo's
# named patients (npo/web.py); the app never imports the demo (D-54).
PatientSignInList = Callable[[], Sequence[tuple[str, str, str]]]


def sign_in_patient(request: Request, identity: PatientIdentity) -> None:
    """A new session (new token, new CSRF token) for the patient; any staff sign-in of this browser ends."""
    session = cast(ServerSession, request.session)
    session.start(None)
    session[PATIENT_KEY] = identity.personnummer
    session[PATIENT_NAME_KEY] = identity.name[:200]
    session[PATIENT_METHOD_KEY] = identity.method
    session[CSRF_KEY] = secrets.token_urlsafe(24)


def signed_in_patient(request: Request) -> str | None:
    """The signed-in patient's personnummer, or None."""
    value = request.session.get(PATIENT_KEY)
    return value if isinstance(value, str) and len(value) == 12 and value.isdigit() else None


def safe_next(value: str | None) -> str:
    """Only a path under /patient/ (never another site, never a staff page)."""
    if value and value.startswith("/patient/") and "//" not in value and "\\" not in value and len(value) < 200:
        return value
    return "/patient/"
