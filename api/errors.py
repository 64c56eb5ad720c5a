"""Errors → HTTP, in one place (STYLE.md §8): one table from error class to status and rendering.

Routes and dependencies raise; they never build an error response. Every expected failure of the domain is a
kernel.errors.DomainError (``message`` Swedish); the catalog's, the SITHS refusal, the session and CSRF checks, the
order's state table and FastAPI's own validation errors have their rule here too. Under /api/ the answer is JSON
(``error``, and ``field``/``errors`` for bad values); elsewhere the Swedish error page, or, for a bad value or a
conflict on a form that asked for it (``keep_form``), the form again with the message beside its field.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import CsrfRejected, NotSignedIn, login_redirect
from api.pages import SeeOther
from api.params import CONTROL_ERROR, MAX_ROW_ID, ROW_ID_ERROR
from api.patient_auth import AuthenticationFailed, AuthenticatorUnavailable
from api.routes.overview_base import refused
from api.siths import CertificateRejected
from api.templating import templates
from catalog import DirectoryError, DirectoryUnavailable
from catalog.identifiers import InvalidIdentifier
from kernel.errors import Conflict, DomainError, InvalidInput, InvalidInputs, NotAllowed, NotFound
from provisioning.models import ImmutableOrder
from provisioning.states import InvalidTransition

log = logging.getLogger(__name__)

TITLES = {400: "Felaktig begäran", 401: "Inloggning krävs", 403: "Behörighet saknas", 404: "Finns inte",
          405: "Metoden stöds inte", 409: "Redan ändrad", 422: "Kontrollera uppgifterna", 503: "Tillfälligt avbrott"}
SERVICE_DESK = "ring servicedesk 30000 (internt) eller 0776-73 00 00 (externt)"
FORM_KEY = "form_page"

FormPage = Callable[[DomainError, int], Response | None]


@dataclass(frozen=True)
class Rule:
    """How one class of error is answered: its status, the sentence (None: the error's own ``message``), whether
    the directory's own text is logged, and whether a form that asked for it (``keep_form``) is shown again."""

    status: int
    message: str | None = None
    log: str | None = None
    form: bool = False


RULES: dict[type[Exception], Rule] = {
    InvalidInputs: Rule(422, form=True),
    InvalidInput: Rule(422, form=True),
    NotAllowed: Rule(403),
    NotFound: Rule(404),
    Conflict: Rule(409, form=True),
    DomainError: Rule(422),
    InvalidIdentifier: Rule(422),
    CsrfRejected: Rule(403, "Formuläret har gått ut eller kom inte från den här sidan. Ladda om sidan och försök "
                            "igen; inget har sparats."),
    InvalidTransition: Rule(409, "Beställningen har ändrats under tiden; ladda om sidan."),
    ImmutableOrder: Rule(409, "En inskickad beställning kan inte ändras; gör en ny beställning."),
    AuthenticationFailed: Rule(401),
    AuthenticatorUnavailable: Rule(503, log="patient sign-in unavailable"),
    DirectoryUnavailable: Rule(503, "Skånekatalogen svarar inte just nu. Inget har gått förlorat; försök igen om en "
                                    f"stund. Kvarstår felet: {SERVICE_DESK}.", log="directory unavailable"),
    # The directory's own text (DNs, result codes, English) is for NPÖ-förvaltningen: it goes to the log with the
    # time, the person gets a sentence they can act on.
    DirectoryError: Rule(422, "Skånekatalogen kunde inte utföra det du bad om, så inget har ändrats. Försök igen om "
                              f"en stund. Kvarstår felet: {SERVICE_DESK} och uppge tidpunkten; NPÖ-förvaltningen "
                              "ser orsaken i loggen.", log="directory refused"),
}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/tjanster/"))


def error_response(request: Request, status: int, message: str, *, field: str | None = None,
                   errors: dict[str, str] | None = None) -> Response:
    """A JSON error (API) or the Swedish error page (browser)."""
    if _wants_json(request):
        body: dict[str, object] = {"error": message}
        if field:
            body["field"] = field
        if errors:
            body["errors"] = errors
        return JSONResponse(body, status_code=status)
    context = {"status": status, "title": TITLES.get(status, "Fel"), "message": message, "errors": errors or {},
               "patient_page": request.url.path.startswith("/patient/")}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def keep_form(request: Request, page: FormPage) -> None:
    """A form route's way to be shown again when it raises a bad value or a conflict: ``page(error, status)`` is
    the form with what was typed and the message (None: the error page after all). The route only raises."""
    setattr(request.state, FORM_KEY, page)


def rule_for(exc: Exception) -> Rule:
    """The rule of the nearest class in RULES (a subclass is answered like its base unless it has its own)."""
    return next(RULES[cls] for cls in type(exc).__mro__ if cls in RULES)


def answer(request: Request, exc: Exception) -> Response:
    """The one answer to an error that RULES knows."""
    rule = rule_for(exc)
    if rule.log:
        log.warning("%s %s %s: %s", rule.log, request.method, request.url.path, getattr(exc, "message", exc))
    page: FormPage | None = getattr(request.state, FORM_KEY, None)
    if rule.form and page is not None and isinstance(exc, DomainError) and not _wants_json(request):
        setattr(request.state, FORM_KEY, None)  # once: a form that cannot be shown again gets the error page
        try:
            shown = page(exc, rule.status)
        except DomainError as refused_again:  # e.g. the task vanished meanwhile
            return answer(request, refused_again)
        if shown is not None:
            return shown
    message = rule.message or getattr(exc, "message", None) or "Fel."
    if isinstance(exc, InvalidInputs):
        return error_response(request, rule.status, message, errors=exc.errors)
    if isinstance(exc, InvalidInput):
        return error_response(request, rule.status, message, field=exc.field, errors={exc.field: message})
    return error_response(request, rule.status, message)


def install(app: FastAPI) -> None:
    """Register the handlers on the app: RULES, and the answers that are not an error page."""

    async def _rule(request: Request, exc: Exception) -> Response:
        return answer(request, exc)

    for cls in RULES:
        app.add_exception_handler(cls, _rule)

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _exc: NotSignedIn) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": "Logga in först (SITHS-kort)."}, status_code=401)
        return login_redirect(request)

    @app.exception_handler(CertificateRejected)
    async def _refused(request: Request, exc: CertificateRejected) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": exc.message, "code": exc.code}, status_code=exc.status)
        return refused(request, exc)

    @app.exception_handler(SeeOther)
    async def _see_other(_request: Request, exc: SeeOther) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = exc.errors()
        fields = {".".join(str(p) for p in e["loc"][1:]) or "body": _sv_validation(e) for e in problems}
        in_address = all(e["loc"] and e["loc"][0] in ("path", "query") for e in problems)
        lead = "Adressen är felaktig: " if in_address else "Kontrollera uppgifterna: "
        said = {f"{_sv_where(e['loc'])}: {_sv_validation(e)}": None for e in problems}  # in order, once each
        return error_response(request, 422, lead + "; ".join(said), errors=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else {
            404: "Sidan finns inte.", 405: "Metoden stöds inte för den här adressen."}.get(exc.status_code, "Fel.")
        return error_response(request, exc.status_code, message)


def _sv_where(loc: tuple[object, ...] | list[object]) -> str:
    """Where a refused value is, in words a person reads (``errors`` keeps the parameter's name for programs): an id
    in the path is "numret i adressen", not ``round_id``."""
    name = ".".join(str(p) for p in loc[1:])
    if loc and loc[0] == "path":
        return "numret i adressen" if name.endswith("id") else f"adressens del {name}"
    if loc and loc[0] == "query":
        return f"parametern {name} i adressen"
    return name or "innehållet"


def _sv_validation(error: dict) -> str:
    kind = error.get("type", "")
    if kind == ROW_ID_ERROR:
        return f"ska vara ett nummer från 1 till {MAX_ROW_ID}"
    if kind == CONTROL_ERROR:
        return "innehåller otillåtna styrtecken"
    if kind == "missing":
        return "saknas"
    if "int" in kind or "float" in kind:
        return "ska vara ett tal"
    if "bool" in kind:
        return "ska vara sant eller falskt"
    if "date" in kind:
        return "ska vara ett datum ÅÅÅÅ-MM-DD"
    if "too_long" in kind or "max_length" in kind:
        return "är för långt"
    return "har fel format"
