"""Förslag att beställa (issue 14): prefilled membership orders from the HR sync (movers, joiners) and requests
from Felsökning, for the unit's manager or delegates (NPÖ-förvaltningen: those of units without a manager). One
click submits the order with the validity shown (editable); "Avböj" needs a reason. The service decides who may do
what (provisioning/proposals.py)."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import CurrentActor, check_csrf
from api.pages import render
from api.params import RowId
from catalog import runtime as catalog_runtime
from flows.steps import provisioning_config
from flows.trigger import advance_later, deliver_later
from kernel import runtime
from kernel.clock import now
from kernel.sqltypes import stored_id
from provisioning import proposals
from provisioning.authz import Actor
from provisioning.errors import InvalidInput, InvalidInputs, NotAllowed

router = APIRouter()
PAGE = "/bestall/forslag"
FLASH = {"avbojt": "Förslaget är avböjt; den som begärde får veta varför."}


def _require(actor: Actor) -> None:
    if not (actor.orderable_units() or actor.is_system_admin):
        raise NotAllowed("Förslag att beställa visas för verksamhetschefer och deras delegater. Du är inte "
                         "verksamhetschef för någon vårdenhet och har ingen delegering av beställningsrätten.")


def _page(request: Request, actor: Actor, *, errors: dict[int, dict[str, str]] | None = None,
          values: dict[int, dict[str, str]] | None = None, flash: str = "", status: int = 200) -> Response:
    with runtime.read_scope() as session:
        listed = proposals.visible(session, actor, include_decided=True)
        for proposal in listed:
            session.expunge(proposal)
    waiting = [p for p in listed if p.state.value == "open"]
    return render(request, "orders/proposals.html", actor=actor, status_code=status, waiting=waiting,
                  decided=[p for p in listed if p.state.value != "open"][:50], origins=proposals.ORIGIN_LABELS,
                  states=proposals.STATE_TEXT, errors=errors or {}, values=values or {}, flash=flash)


@router.get(PAGE, name="proposals")
def proposals_page(request: Request, actor: CurrentActor, klart: str = "") -> Response:
    """Förslag att beställa: waiting ones first, each with its own order and decline forms."""
    _require(actor)
    return _page(request, actor, flash=FLASH.get(klart[:20], ""))


@router.post(PAGE + "/{proposal_id}/bestall", name="proposal_order")
async def proposal_order(request: Request, proposal_id: RowId, actor: CurrentActor,
                         background: BackgroundTasks) -> Response:
    """Submit the proposal as a membership order; on a bad validity, the page with the message beside the field."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    valid_from, valid_to = str(form.get("valid_from", ""))[:20], str(form.get("valid_to", ""))[:20]
    try:
        with runtime.session_scope() as session:
            done = proposals.order_from(session=session, directory=catalog_runtime.directory(),
                                        config=provisioning_config(), actor=actor, proposal_id=proposal_id,
                                        valid_from=valid_from, valid_to=valid_to, now=now())
            reference = done.order.reference if done.order else None
            order_id = stored_id(done.order) if done.order else None
    except (InvalidInputs, InvalidInput) as exc:
        errors = exc.errors if isinstance(exc, InvalidInputs) else {exc.field: exc.message}
        return _page(request, actor, errors={proposal_id: errors}, status=422,
                     values={proposal_id: {"valid_from": valid_from, "valid_to": valid_to}})
    background.add_task(deliver_later)
    if order_id is None:
        return _page(request, actor, flash=done.closed or "", status=409)
    background.add_task(advance_later, order_id)
    return RedirectResponse(f"/bestallningar/{reference}?skickad=1", status_code=303)


@router.post(PAGE + "/{proposal_id}/avboj", name="proposal_decline")
async def proposal_decline(request: Request, proposal_id: RowId, actor: CurrentActor,
                           background: BackgroundTasks) -> Response:
    """Decline with a reason (required)."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    reason = str(form.get("reason", ""))
    try:
        with runtime.session_scope() as session:
            proposals.decline(session=session, actor=actor, config=provisioning_config(), proposal_id=proposal_id,
                              reason=reason, now=now())
    except InvalidInput as exc:
        return _page(request, actor, errors={proposal_id: {exc.field: exc.message}}, status=422,
                     values={proposal_id: {"reason": reason[:1000]}})
    background.add_task(deliver_later)
    return RedirectResponse(PAGE + "?klart=avbojt", status_code=303)
