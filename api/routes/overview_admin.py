"""Loggutdrag: a patient's log extract for NPÖ's system administration (role npo-forvaltning in the directory).

It shows which vårdenhet and vårdgivare read what, and when (HSLF-FS 2016:40 4 kap. 10 §). The extract reveals
whom a patient met, so it is served like the overview: identity from the SITHS certificate, never from the cookie
alone; the role is read from the directory on every request; taking an extract is itself logged (Administration).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.routes.overview_base import CertifiedForm, format_pnr, gatekeeper, is_admin, page
from api.siths import CurrentIdentity, SithsIdentity
from forms import overview as F
from kernel import runtime
from kernel.clock import now
from overview import accesslog, log_extract, service
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
    wanted = str(raw.get("format") or "")
    if wanted not in ("", "html", *log_extract.FORMATS):
        return _extract_page(request, who, values=raw, status_code=422, errors={
            "personnummer": f"Okänt format {wanted[:20]!r}: välj text, csv eller pdf."})
    at = now()
    with runtime.session_scope() as session:
        lines = service.patient_log_extract(session=session, directory=gatekeeper(), user_hsa_id=who.hsa_id,
                                            personnummer=personnummer, now=at)
    name = f"loggutdrag-{personnummer[:8]}"
    if wanted == "text":
        return _download(accesslog.format_extract(personnummer, lines).encode("utf-8"), "text/plain; charset=utf-8",
                         f"{name}.txt")
    if wanted == "csv":
        return _download(log_extract.as_csv(lines), "text/csv; charset=utf-8", f"{name}.csv")
    if wanted == "pdf":
        return _download(log_extract.as_pdf(personnummer, lines, taken_at=at, taken_by=f"{who.name} ({who.hsa_id})"),
                         "application/pdf", f"{name}.pdf")
    return _extract_page(request, who, values=raw, lines=lines, pnr=format_pnr(personnummer))


def _download(body: bytes, media_type: str, filename: str) -> Response:
    """An extract as a file: never cached (it names whom the patient met)."""
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-store",
                                                          "Content-Disposition": f'attachment; filename="{filename}"'})
