"""The approvers' dashboard: their queues with counts and age, filters, decisions (single and bulk), and for a
failed provisioning retry or cancel."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import CurrentActor, check_csrf, flash
from api.pages import render
from api.routes.orders import render_order
from catalog import runtime as catalog_runtime
from catalog.model import RoleName
from flows.steps import provisioning_config
from flows.trigger import advance_later, bulk_later
from kernel import runtime
from kernel.clock import now
from kernel.sqltypes import stored_id
from provisioning import bulk, decisions, queries
from provisioning.authz import require_approver
from provisioning.errors import InvalidInput
from provisioning.models import OrderState
from provisioning.routing import QUEUE_LABELS
from provisioning.states import STATE_LABELS

router = APIRouter()


def _queue(value: str | None) -> tuple[RoleName | None, str | None]:
    if not value:
        return None, None
    role, _, scope = value.partition(":")
    try:
        return RoleName(role), scope or None
    except ValueError:
        return None, None


def _prefect_ui() -> str | None:
    """The Prefect UI of the configured server (linked from the dashboard)."""
    api_url = runtime.settings().prefect_api_url
    return api_url.removesuffix("/api") if api_url else None


def _state(value: str | None) -> OrderState | None:
    try:
        return OrderState(value) if value else None
    except ValueError:
        return None


@router.get("/attest", name="dashboard")
def dashboard(request: Request, actor: CurrentActor, q: str = "", ko: str = "", status: str = "",
              forsenade: int = 0) -> Response:
    """Attestera: queues, filters and the orders waiting."""
    require_approver(actor)
    role, scope = _queue(ko)
    with runtime.session_scope() as session:
        summaries = queries.queue_summaries(session, actor, now=now())
        orders = queries.queue_orders(session, actor, role=role, scope=scope, text=q[:100], state=_state(status),
                                      overdue_only=bool(forsenade), now=now())
    at = now()
    return render(request, "dashboard/index.html", actor=actor, summaries=summaries, orders=orders, q=q[:100], ko=ko,
                  status=status, overdue_only=bool(forsenade), labels=STATE_LABELS, queue_labels=QUEUE_LABELS,
                  roles=RoleName, now=at, prefect_ui=_prefect_ui(),
                  states=[s for s in OrderState if s.value.startswith("awaiting") or s.value == "provisioning_failed"])


@router.post("/attest/beslut", name="decide")
async def decide(request: Request, actor: CurrentActor, background: BackgroundTasks) -> Response:
    """Approve or reject one order (reason required to reject)."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    reference = str(form.get("order", ""))[:40]
    approve = str(form.get("approve", "")) == "1"
    reason = str(form.get("reason", ""))
    try:
        with runtime.session_scope() as session:
            order = decisions.get_order(session, actor, reference)
            decisions.decide(session=session, directory=catalog_runtime.directory(), config=provisioning_config(),
                             actor=actor, order_id=stored_id(order), approve=approve, reason=reason,
                             expected_stage=_state(str(form.get("stage", ""))), now=now())
            order_id = stored_id(order)
    except InvalidInput as exc:  # e.g. a rejection without a reason: back to the order, the message beside it
        return render_order(request, actor, reference, errors={exc.field: exc.message},
                            values={"reason": reason[:2000]}, status=422)
    background.add_task(advance_later, order_id)
    return RedirectResponse(f"/bestallningar/{reference}", status_code=303)


@router.post("/attest/godkann-flera", name="bulk_approve")
async def bulk_approve(request: Request, actor: CurrentActor, background: BackgroundTasks) -> Response:
    """Approve several orders at once: recorded as a massbeslut, decided one by one in the background, followed on
    its progress page (each order on its own; the page says which did not go through and why)."""
    require_approver(actor)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    references = [str(r)[:40] for r in form.getlist("order")][:bulk.MAX_ITEMS + 1]
    try:
        with runtime.session_scope() as session:
            job = bulk.start_approvals(session=session, actor=actor, now=now(), orders=[
                (r, str(form.get(f"stage-{r}", "")) or None) for r in references])
            job_id = stored_id(job)
    except InvalidInput as exc:  # nothing ticked, or too many: back to the queue with the sentence
        flash(request, exc.message)
        return RedirectResponse("/attest", status_code=303)
    background.add_task(bulk_later, job_id)
    return RedirectResponse(f"/massbeslut/{job_id}", status_code=303)


@router.post("/bestallningar/{reference}/forsok-igen", name="retry")
async def retry(request: Request, reference: str, actor: CurrentActor, background: BackgroundTasks) -> Response:
    """Send a failed provisioning back to the flows (system administrators)."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    with runtime.session_scope() as session:
        order = decisions.get_order(session, actor, reference[:40])
        decisions.retry(session=session, actor=actor, order_id=stored_id(order), now=now())
        order_id = stored_id(order)
    background.add_task(advance_later, order_id)
    return RedirectResponse(f"/bestallningar/{reference}", status_code=303)


@router.post("/bestallningar/{reference}/avbryt", name="cancel")
async def cancel(request: Request, reference: str, actor: CurrentActor, background: BackgroundTasks) -> Response:
    """Close a failed provisioning without carrying it out (system administrators, reason required); the flow run
    after it delivers the orderer's mail."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    reason = str(form.get("reason", ""))
    try:
        with runtime.session_scope() as session:
            order = decisions.get_order(session, actor, reference[:40])
            decisions.cancel(session=session, directory=catalog_runtime.directory(), config=provisioning_config(),
                             actor=actor, order_id=stored_id(order), reason=reason, now=now())
            order_id = stored_id(order)
    except InvalidInput as exc:
        return render_order(request, actor, reference, errors={"cancel_reason": exc.message},
                            values={"cancel_reason": reason[:2000]}, status=422)
    background.add_task(advance_later, order_id)
    return RedirectResponse(f"/bestallningar/{reference}", status_code=303)
