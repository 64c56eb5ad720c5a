"""Signing in and out. SITHS is the way in (D7); the dev login exists only with NPO_DEV_LOGIN=true outside
production, and lists the people the shell handed to ``create_app(sign_in_list=…)`` (the demo's cast, D-54)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import OptionalActor, check_csrf, sign_in, sign_out
from api.devlogin import SignInList
from api.errors import error_response
from api.pages import render
from api.siths import CertificateRejected, identity_or_refusal
from catalog import runtime as catalog_runtime
from kernel import runtime
from kernel.clock import now
from kernel.settings import Environment

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only local paths (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def dev_login_enabled() -> bool:
    """The dev login is on only when configured and never in production."""
    settings = runtime.settings()
    return settings.dev_login and settings.env is not Environment.PRODUCTION


@router.get("/login", name="login")
def login_page(request: Request, actor: OptionalActor, next: str | None = None) -> Response:  # noqa: A002
    """Logga in: SITHS, or the dev identities."""
    dev = dev_login_enabled()
    listed: SignInList | None = getattr(request.app.state, "sign_in_list", None)
    cast = listed(catalog_runtime.directory(), now()) if dev and listed is not None else []
    return render(request, "login.html", actor=actor, next=_safe_next(next), dev=dev, cast=cast,
                  siths_url=f"https://{runtime.settings().web_host}:{runtime.settings().overview_port}/siths/login"
                            f"?next={_safe_next(next)}")


@router.post("/dev/login", name="dev_login")
def dev_login(request: Request, hsa_id: Annotated[str, Form(max_length=64)], csrf: Annotated[str, Form()] = "",
              next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002
    """Sign in as a demo identity (development only)."""
    if not dev_login_enabled():
        return error_response(request, 404, "Sidan finns inte.")
    check_csrf(request, csrf)
    person = catalog_runtime.directory().find_person(hsa_id.strip())
    if person is None or not person.usable:
        return error_response(request, 422, f"{hsa_id} finns inte som aktiv person i Skånekatalogen.",
                              field="hsa_id", errors={"hsa_id": "Okänd eller inaktiverad person."})
    sign_in(request, person.hsa_id)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.get("/siths/login", name="siths_login")
def siths_login(request: Request, next: str | None = None) -> Response:  # noqa: A002
    """Sign in with the SITHS certificate of this (mTLS) connection; a refusal explains what to do."""
    result = identity_or_refusal(request)
    if isinstance(result, CertificateRejected):
        return RedirectResponse("/siths/vem-ar-jag", status_code=303)
    person = catalog_runtime.directory().find_person(result.hsa_id)
    if person is None or not person.usable:
        return error_response(request, 403, f"Ditt HSA-id {result.hsa_id} finns inte som aktiv person i "
                                            "Skånekatalogen. Kontakta enhetens katalogadministratör.")
    sign_in(request, person.hsa_id, card=(result.serial, result.issuer))
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", name="logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    """Sign out."""
    check_csrf(request, csrf)
    sign_out(request)
    return RedirectResponse("/login", status_code=303)
