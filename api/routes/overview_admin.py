"""Loggutdrag: a patient's log extract for NPÖ's system administration (role npo-forvaltning in the directory).

It shows which vårdenhet and vårdgivare read what, and when (HSLF-FS 2016:40 4 kap. 10 §). The extract reveals
whom a patient met, so it is served like the overview: identity from the SITHS certificate, never from the cookie
alone; the role is read from the directory on every request; taking an extract is itself logged (Administration).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from api.routes.overview_base import CertifiedForm, format_pnr, gatekeeper, is_admin, page
from api.siths import CurrentIdentity, SithsIdentity
from forms import overview as F
from kernel import runtime
from overview import accesslog, service
from overview.errors import NotAllowed

router = APIRouter()


def _extract_page(request: Request, identity: SithsIdentity, *, values: dict[str, object] | None = None,
                  errors: dict[str, str] | None = None, lines: list[accesslog.ExtractLine] | None = None,
                  pnr: str = "", status_code: int = 200) -> Response:
    return page(request, "overview/extract.html", identity=identity, status_code=status_code, admin=True,
                field=F.SEARCH_FIELD, values=values or {}, errors=errors or {}, lines=lines, pnr=pnr)


@router.get("/oversikt/loggutdrag", name="overview_log_extract_form")
def overview_log_extract_form(request: Request, who: CurrentIdentity) -> Response:
    """Loggutdrag: the search form (system administration only)."""
    if not is_admin(who):
        raise NotAllowed("Loggutdrag tas fram av NPÖ:s systemförvaltning (rollen npo-forvaltning i "
                         "Skånekatalogen). Patienten begär utdraget hos vårdgivaren.")
    return _extract_page(request, who)


@router.post("/oversikt/loggutdrag", name="overview_log_extract")
def overview_log_extract(request: Request, who: CurrentIdentity, form: CertifiedForm) -> Response:
    """The extract for one personnummer, as a table or (``format=text``) as plain text."""
    raw = F.raw_values(form)
    try:
        personnummer = F.parse_personnummer(raw)
    except F.FormInvalid as exc:
        if not is_admin(who):
            raise NotAllowed("Loggutdrag tas fram av NPÖ:s systemförvaltning.") from None
        return _extract_page(request, who, values=raw, errors=exc.errors, status_code=422)
    with runtime.session_scope() as session:
        lines = service.patient_log_extract(session=session, directory=gatekeeper(), user_hsa_id=who.hsa_id,
                                            personnummer=personnummer)
    if raw.get("format") == "text":
        response: Response = PlainTextResponse(accesslog.format_extract(personnummer, lines))
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Disposition"] = f'attachment; filename="loggutdrag-{personnummer[:8]}.txt"'
        return response
    return _extract_page(request, who, values=raw, lines=lines, pnr=format_pnr(personnummer))
