"""Delegation of the ordering right (the unit manager's page)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import CurrentActor, check_csrf
from api.pages import render
from api.params import RowId
from catalog import runtime as catalog_runtime
from kernel import runtime
from kernel.clock import now
from provisioning.authz import Actor, require_manager
from provisioning.errors import InvalidInputs
from provisioning.recertification import delegations

router = APIRouter()


def _page(request: Request, actor: Actor, values: Mapping[str, object], errors: dict[str, str], flash: str = "",
          status: int = 200) -> Response:
    with runtime.session_scope() as session:
        current = delegations.delegations_for(session, actor, now=now())
    return render(request, "forms/delegation.html", actor=actor, status_code=status, units=list(actor.managed_units),
                  unit_names={u.hsa_id: u.name for u in actor.managed_units}, delegations=current, values=values,
                  errors=errors, flash=flash)


@router.get("/delegering", name="delegation_form")
def delegation_form(request: Request, actor: CurrentActor, klart: int = 0) -> Response:
    """Delegera beställningsrätten."""
    require_manager(actor)
    return _page(request, actor, {}, {}, flash="Delegeringen är sparad." if klart else "")


@router.post("/delegering", name="delegation_grant")
async def delegation_grant(request: Request, actor: CurrentActor) -> Response:
    """Grant a delegation; bad fields come back beside the field."""
    require_manager(actor)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    values = {key: str(form.get(key, ""))[:100] for key in ("unit_hsa_id", "delegate_hsa_id", "valid_to")}
    try:
        valid_to = dt.date.fromisoformat(values["valid_to"]) if values["valid_to"] else None
    except ValueError:
        return _page(request, actor, values, {"valid_to": "Ange datumet som ÅÅÅÅ-MM-DD."}, status=422)
    try:
        with runtime.session_scope() as session:
            delegations.grant(session=session, directory=catalog_runtime.directory(), actor=actor,
                              unit_hsa_id=values["unit_hsa_id"], delegate_hsa_id=values["delegate_hsa_id"],
                              valid_to=valid_to, now=now())
    except InvalidInputs as exc:
        return _page(request, actor, values, exc.errors, status=422)
    return RedirectResponse("/delegering?klart=1", status_code=303)


@router.post("/delegering/{delegation_id}/aterkalla", name="delegation_revoke")
async def delegation_revoke(request: Request, delegation_id: RowId, actor: CurrentActor) -> Response:
    """Revoke a delegation now."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    with runtime.session_scope() as session:
        delegations.revoke(session=session, actor=actor, delegation_id=delegation_id, now=now())
    return RedirectResponse("/delegering", status_code=303)
