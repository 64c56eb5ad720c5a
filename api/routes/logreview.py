"""Logguppföljning: the reviewer's open tasks, reviewing one access, a round's documentation, the delegation page.

Thin routes over overview.logreview_*: who may review is decided there (the unit's verksamhetschef in Skånekatalogen,
or a documented delegate), from the signed-in HSA-ID. The routes only raise; api/errors.py answers the log review's
domain errors like every other (refused, not found, a stale or final judgement, bad fields), and a form route that
asked for it (``keep_form``) comes back with the message beside its field and nothing typed lost.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import CurrentActor, check_csrf
from api.errors import keep_form
from api.pages import render
from api.params import RowId
from catalog import runtime as catalog_runtime
from kernel import runtime
from kernel.clock import now
from kernel.errors import DomainError
from kernel.review import last_day
from overview.errors import NotAllowed
from overview.logreview import delegations as delegation
from overview.logreview import queries, tasks
from overview.logreview.rules import (
    DECISIONS,
    OUTCOME_LABELS,
    TRANSITIONS,
    WHY_LABELS,
    WHY_TEXTS,
    Conflict,
    InvalidInputs,
    InvalidTransition,
    Outcome,
)
from provisioning.authz import Actor

router = APIRouter()
LABELS = {"outcomes": OUTCOME_LABELS, "why": WHY_LABELS, "why_text": WHY_TEXTS, "last_day": last_day}


@router.get("/loggranskning", name="logreview_index")
def index(request: Request, actor: CurrentActor, klart: int = 0) -> Response:
    """Logguppföljning: per unit the open accesses to review (oldest deadline first), rounds and summaries."""
    at = now()
    with runtime.session_scope() as session:
        work = queries.work_of(session=session, directory=catalog_runtime.directory(), reviewer_hsa_id=actor.hsa_id,
                               now=at)
    if not work:
        raise NotAllowed("Logguppföljningen görs av enhetens verksamhetschef, eller av den som verksamhetschefen "
                         "dokumenterat har delegerat den till. Du har ingen sådan uppgift just nu.")
    return render(request, "logreview/index.html", actor=actor, work=work, now=at, labels=LABELS,
                  flash="Granskningen är sparad." if klart else "")


def _task_page(request: Request, actor: Actor, task_id: int, *, values: dict[str, str] | None = None,
               errors: dict[str, str] | None = None, message: str = "", flash: str = "",
               status: int = 200) -> Response:
    at = now()
    with runtime.session_scope() as session:
        seen = tasks.view(session=session, directory=catalog_runtime.directory(), task_id=task_id,
                          reviewer_hsa_id=actor.hsa_id, now=at)
    current = Outcome(seen.task.outcome)
    own = seen.log.user_hsa_id.upper() == actor.hsa_id.upper()
    return render(request, "logreview/task.html", actor=actor, status_code=status, seen=seen, now=at, labels=LABELS,
                  choices=[o for o in DECISIONS if o in TRANSITIONS[current]], own=own, values=values or {},
                  errors=errors or {}, message=message, flash=flash, basis_label=tasks.basis_label)


@router.get("/loggranskning/atkomst/{task_id}", name="logreview_task")
def task_page(request: Request, task_id: RowId, actor: CurrentActor, klart: int = 0) -> Response:
    """Granska en åtkomst: what was read, by whom, when, on what basis; and the three outcomes."""
    return _task_page(request, actor, task_id,
                      flash="Bedömningen är sparad. Här är nästa åtkomst i omgången." if klart else "")


@router.post("/loggranskning/atkomst/{task_id}", name="logreview_decide")
async def decide(request: Request, task_id: RowId, actor: CurrentActor) -> Response:
    """Record the judgement; a bad field comes back beside the field with everything typed kept."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    values = {"outcome": str(form.get("outcome", ""))[:40], "comment": str(form.get("comment", ""))[:4000]}

    def again(exc: DomainError, _status: int) -> Response | None:
        if isinstance(exc, InvalidInputs):
            return _task_page(request, actor, task_id, values=values, errors=exc.errors, status=422)
        if isinstance(exc, (Conflict, InvalidTransition)):
            return _task_page(request, actor, task_id, message=exc.message, status=409)
        return None

    keep_form(request, again)
    with runtime.session_scope() as session:
        decided = tasks.decide(session=session, directory=catalog_runtime.directory(), task_id=task_id,
                               reviewer_hsa_id=actor.hsa_id, reviewer_name=actor.name, outcome=values["outcome"],
                               comment=values["comment"], expected=str(form.get("expected", ""))[:40] or None,
                               now=now())
        following = queries.next_open_task(session, decided.round_id)
        round_id = decided.round_id
    target = f"/loggranskning/atkomst/{following}?klart=1" if following else f"/loggranskning/omgang/{round_id}"
    return RedirectResponse(target + ("" if following else "?klart=1"), status_code=303)


@router.get("/loggranskning/omgang/{round_id}", name="logreview_round")
def round_page(request: Request, round_id: RowId, actor: CurrentActor, klart: int = 0) -> Response:
    """A round's documentation: the day, the sample, every access picked, the outcomes and who judged them."""
    at = now()
    with runtime.session_scope() as session:
        doc = queries.documentation(session=session, directory=catalog_runtime.directory(), round_id=round_id,
                                    reviewer_hsa_id=actor.hsa_id, now=at)
    return render(request, "logreview/round.html", actor=actor, doc=doc, now=at, labels=LABELS,
                  flash="Alla uttagna åtkomster i omgången är granskade." if klart else "")


def _require_manager(actor: Actor) -> None:
    if not actor.managed_units:
        raise NotAllowed("Bara en vårdenhets verksamhetschef kan delegera logguppföljningen.")


def _delegation_page(request: Request, actor: Actor, *, values: dict[str, str] | None = None,
                     errors: dict[str, str] | None = None, flash: str = "", status: int = 200) -> Response:
    units = list(actor.managed_units)
    with runtime.session_scope() as session:
        kept = delegation.history(session, [u.hsa_id for u in units])
    return render(request, "logreview/delegation.html", actor=actor, status_code=status, units=units,
                  delegations=kept, now=now(), values=values or {}, errors=errors or {}, flash=flash)


@router.get("/loggranskning/delegering", name="logreview_delegation")
def delegation_page(request: Request, actor: CurrentActor, klart: int = 0) -> Response:
    """Delegera logguppföljningen (the verksamhetschef), with every delegation made kept as documentation."""
    _require_manager(actor)
    return _delegation_page(request, actor, flash="Delegeringen är dokumenterad." if klart else "")


@router.post("/loggranskning/delegering", name="logreview_delegate")
async def delegate(request: Request, actor: CurrentActor) -> Response:
    """Document a delegation; bad fields come back beside the field."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    values = {key: str(form.get(key, ""))[:limit] for key, limit in (
        ("unit_hsa_id", 64), ("delegate_hsa_id", 64), ("valid_to", 20), ("note", 2000))}
    _require_manager(actor)
    try:
        valid_to = dt.date.fromisoformat(values["valid_to"]) if values["valid_to"] else None
    except ValueError:
        return _delegation_page(request, actor, values=values, errors={"valid_to": "Ange datumet som ÅÅÅÅ-MM-DD."},
                                status=422)

    def again(exc: DomainError, _status: int) -> Response | None:
        if isinstance(exc, InvalidInputs):
            return _delegation_page(request, actor, values=values, errors=exc.errors, status=422)
        return None

    keep_form(request, again)
    with runtime.session_scope() as session:
        delegation.grant(session=session, directory=catalog_runtime.directory(), manager_hsa_id=actor.hsa_id,
                         unit_hsa_id=values["unit_hsa_id"], delegate_hsa_id=values["delegate_hsa_id"],
                         valid_to=valid_to, note=values["note"], now=now())
    return RedirectResponse("/loggranskning/delegering?klart=1", status_code=303)


@router.post("/loggranskning/delegering/{delegation_id}/aterkalla", name="logreview_revoke")
async def revoke(request: Request, delegation_id: RowId, actor: CurrentActor) -> Response:
    """End a delegation now (it stays in the documentation as revoked)."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    with runtime.session_scope() as session:
        delegation.revoke(session=session, directory=catalog_runtime.directory(), manager_hsa_id=actor.hsa_id,
                          delegation_id=delegation_id, now=now())
    return RedirectResponse("/loggranskning/delegering", status_code=303)
