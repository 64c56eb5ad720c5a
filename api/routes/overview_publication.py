"""Publiceringsregler: the producers' publication rules (gate step 9) administered by NPÖ's system administration
(role npo-forvaltning): the version in force as YAML, a new version pasted in and validated (each error named with its
place), the history of versions with who stored each, when, why and what it changed, and each version as a file.

Served like the log extract: identity from the SITHS certificate, the role read from the directory on every request.
A stored version governs every read within seconds (overview.publication.current, D-64); nothing is changed in place.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from api.params import RowId
from api.routes.overview_base import CertifiedForm, is_admin, page, pop_flash, remember
from api.siths import CurrentIdentity, SithsIdentity, identify
from forms import overview as F
from kernel import runtime
from kernel.clock import now
from overview import publication
from overview.errors import InvalidInput, NotAllowed, NotFound

router = APIRouter()
PAGE = "/oversikt/publicering"


def _require_admin(identity: SithsIdentity) -> None:
    if not is_admin(identity):
        raise NotAllowed("Publiceringsreglerna förvaltas av NPÖ:s systemförvaltning (rollen npo-forvaltning i "
                         "Skånekatalogen).")


def _page(request: Request, identity: SithsIdentity, *, values: dict[str, object] | None = None,
          errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    with runtime.read_scope() as session:
        versions = publication.history(session)
    current = versions[0].row.document if versions else ""
    return page(request, "overview/publication.html", identity=identity, status_code=status_code, admin=True,
                versions=versions, values=values or {"document": current}, errors=errors or {},
                comment_field=F.PUBLICATION_COMMENT_FIELD, flash=pop_flash(request, identity))


@router.get(PAGE, name="overview_publication")
def overview_publication(request: Request, who: CurrentIdentity) -> Response:
    """The rules in force, the form for a new version, the history."""
    _require_admin(who)
    return _page(request, who)


@router.post(PAGE, name="overview_publication_import")
def overview_publication_import(request: Request, who: CurrentIdentity, form: CertifiedForm) -> Response:
    """Store a new version (validated first; the same text as the version in force adds nothing)."""
    _require_admin(who)
    raw = F.raw_values(form)
    try:
        comment = F.parse_publication_comment(raw)
        with runtime.session_scope() as session:
            before = publication.newest(session)
            row = publication.import_text(session, str(raw.get("document", "")), loaded_by=who.hsa_id,
                                          source=comment, now=now())
            changed = before is None or row.id != before.id
    except F.FormInvalid as exc:
        return _page(request, who, values=raw, errors=exc.errors, status_code=422)
    except InvalidInput as exc:
        return _page(request, who, values=raw, errors={exc.field: exc.message}, status_code=422)
    remember(request, who, flash=f"Version {row.id} av publiceringsreglerna gäller nu; översikten följer den inom "
                                 "några sekunder." if changed else
             "Texten är densamma som versionen som gäller; ingen ny version sparades.")
    return RedirectResponse(PAGE, status_code=303)


def _yaml(text: str, name: str) -> Response:
    response = PlainTextResponse(text, media_type="application/yaml; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.get(f"{PAGE}/export", name="overview_publication_export")
def overview_publication_export(who: CurrentIdentity) -> Response:
    """The version in force as a YAML file (the import format)."""
    _require_admin(who)
    with runtime.read_scope() as session:
        row = publication.newest(session)
    if row is None:
        raise NotFound("Inga publiceringsregler är inlästa ännu.")
    return _yaml(row.document, f"publiceringsregler-v{row.id}.yaml")


@router.get(f"{PAGE}/{{version_id}}", name="overview_publication_version")
def overview_publication_version(request: Request, version_id: RowId) -> Response:
    """One stored version as a YAML file. The number is checked before the certificate (a number SQL cannot hold is
    a 422 for everyone, as on every route with an id)."""
    _require_admin(identify(request))
    with runtime.read_scope() as session:
        row = publication.version(session, version_id)
    if row is None:
        raise NotFound(f"Version {version_id} av publiceringsreglerna finns inte.")
    return _yaml(row.document, f"publiceringsregler-v{row.id}.yaml")
