"""Domain errors → HTTP, in one place (STYLE.md §8). JSON under /api/, a Swedish page everywhere else."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import CsrfRejected, NotSignedIn, login_redirect
from api.params import CONTROL_ERROR, MAX_ROW_ID, ROW_ID_ERROR
from api.templating import templates
from catalog import DirectoryError, DirectoryUnavailable
from overview import errors as overview_errors
from provisioning import errors as order_errors
from provisioning.models import ImmutableOrder
from provisioning.states import InvalidTransition

log = logging.getLogger(__name__)

TITLES = {400: "Felaktig begäran", 401: "Inloggning krävs", 403: "Behörighet saknas", 404: "Finns inte",
          405: "Metoden stöds inte", 409: "Redan ändrad", 422: "Kontrollera uppgifterna", 503: "Tillfälligt avbrott"}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


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
    return templates.TemplateResponse(request, "error.html", {"status": status, "title": TITLES.get(status, "Fel"),
                                                               "message": message, "errors": errors or {}},
                                      status_code=status)


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _exc: NotSignedIn) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": "Logga in först (SITHS-kort)."}, status_code=401)
        return login_redirect(request)

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, _exc: CsrfRejected) -> Response:
        return error_response(request, 403, "Formuläret har gått ut eller kom inte från den här sidan. Ladda om "
                                            "sidan och försök igen; inget har sparats.")

    @app.exception_handler(order_errors.InvalidInputs)
    async def _invalid_inputs(request: Request, exc: order_errors.InvalidInputs) -> Response:
        return error_response(request, 422, exc.message, errors=exc.errors)

    @app.exception_handler(order_errors.InvalidInput)
    async def _invalid(request: Request, exc: order_errors.InvalidInput) -> Response:
        return error_response(request, 422, exc.message, field=exc.field, errors={exc.field: exc.message})

    @app.exception_handler(order_errors.NotAllowed)
    async def _not_allowed(request: Request, exc: order_errors.NotAllowed) -> Response:
        return error_response(request, 403, exc.message)

    @app.exception_handler(order_errors.NotFound)
    async def _not_found(request: Request, exc: order_errors.NotFound) -> Response:
        return error_response(request, 404, exc.message)

    @app.exception_handler(order_errors.Conflict)
    async def _conflict(request: Request, exc: order_errors.Conflict) -> Response:
        return error_response(request, 409, exc.message)

    # The gated overview's domain errors (overview/errors.py): refused by the gate, not found, a bad value.
    @app.exception_handler(overview_errors.InvalidInput)
    async def _overview_invalid(request: Request, exc: overview_errors.InvalidInput) -> Response:
        return error_response(request, 422, exc.message, field=exc.field, errors={exc.field: exc.message})

    @app.exception_handler(overview_errors.NotAllowed)
    async def _overview_not_allowed(request: Request, exc: overview_errors.NotAllowed) -> Response:
        return error_response(request, 403, exc.message)

    @app.exception_handler(overview_errors.NotFound)
    async def _overview_not_found(request: Request, exc: overview_errors.NotFound) -> Response:
        return error_response(request, 404, exc.message)

    @app.exception_handler(InvalidTransition)
    async def _transition(request: Request, _exc: InvalidTransition) -> Response:
        return error_response(request, 409, "Beställningen har ändrats under tiden; ladda om sidan.")

    @app.exception_handler(ImmutableOrder)
    async def _immutable(request: Request, _exc: ImmutableOrder) -> Response:
        return error_response(request, 409, "En inskickad beställning kan inte ändras; gör en ny beställning.")

    @app.exception_handler(DirectoryUnavailable)
    async def _ldap_down(request: Request, exc: DirectoryUnavailable) -> Response:
        log.warning("directory unavailable: %s", exc.message)
        return error_response(request, 503, "Skånekatalogen svarar inte just nu. Inget har gått förlorat; försök "
                                            "igen om en stund. Kvarstår felet: ring servicedesk 30000 (internt) "
                                            "eller 0776-73 00 00 (externt).")

    @app.exception_handler(DirectoryError)
    async def _ldap_refused(request: Request, exc: DirectoryError) -> Response:
        # The directory's own text (DNs, result codes, English) is for NPÖ-förvaltningen: it goes to the log with
        # the time, the person gets a sentence they can act on.
        log.warning("directory refused %s %s: %s", request.method, request.url.path, exc.message)
        return error_response(request, 422, "Skånekatalogen kunde inte utföra det du bad om, så inget har ändrats. "
                                            "Försök igen om en stund. Kvarstår felet: ring servicedesk 30000 "
                                            "(internt) eller 0776-73 00 00 (externt) och uppge tidpunkten; "
                                            "NPÖ-förvaltningen ser orsaken i loggen.")

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
