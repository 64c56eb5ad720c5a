"""The JSON API of ordering: the same services and rules as the forms (session cookie + X-CSRF-Token header)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse

from api.auth import CurrentActor, check_csrf, csrf_token
from api.jsonbody import json_object
from catalog import runtime as catalog_runtime
from flows.steps import provisioning_config
from flows.trigger import advance_later
from kernel import runtime
from kernel.clock import local_date, now
from kernel.sqltypes import stored_id
from provisioning import decisions, queries
from provisioning.authz import Actor, require_orderer
from provisioning.errors import InvalidInput, InvalidInputs
from provisioning.inputs import read_commission_order, read_membership_order
from provisioning.models import Order, OrderState
from provisioning.ordering import submit_commission_order, submit_membership_order

router = APIRouter(prefix="/api")


async def _body(request: Request) -> dict[str, Any]:
    check_csrf(request, request.headers.get("X-CSRF-Token"))
    return json_object(await request.body())


def order_json(order: Order, actor: Actor) -> dict[str, object]:
    """An order as JSON; ``last_error`` as the order page shows it to ``actor`` (the directory's own text only to
    NPÖ-förvaltningen, a Swedish sentence to everyone else)."""
    return {"reference": order.reference, "id": order.id, "kind": order.kind.value, "state": order.state.value,
            "unit_hsa_id": order.unit_hsa_id, "unit_name": order.unit_name, "route": order.route.value,
            "queue": order.queue, "queue_scope": order.queue_scope, "requested_by": order.requested_by,
            "submitted_at": order.submitted_at.isoformat(), "state_since": order.state_since.isoformat(),
            "due_at": order.due_at.isoformat() if order.due_at else None,
            "commission_hsa_id": order.commission_hsa_id, "attempts": order.attempts,
            "last_error": queries.shown_error(actor, order)}


@router.get("/session")
def session_info(request: Request, actor: CurrentActor) -> dict[str, object]:
    """Who is signed in, with the CSRF token for writes."""
    return {"hsa_id": actor.hsa_id, "name": actor.name, "csrf": csrf_token(request),
            "orderable_units": actor.orderable_units(),
            "queues": [{"role": role.value, "scope": scope} for role, scope in actor.queues]}


@router.get("/orders")
def list_orders(actor: CurrentActor) -> list[dict[str, object]]:
    """My orders."""
    with runtime.session_scope() as session:
        return [order_json(o, actor) for o in queries.my_orders(session, actor)]


@router.get("/orders/{reference}")
def get_order(reference: str, actor: CurrentActor) -> dict[str, object]:
    """One order with its timeline and planned directory writes."""
    with runtime.session_scope() as session:
        order = decisions.get_order(session, actor, reference[:40])
        view = queries.order_view(session, actor, order, now=now())
        return {**order_json(order, actor), "planned": view.planned,
                "lines": [{"person_hsa_id": line.person_hsa_id, "action": line.action.value,
                           "valid_from": line.valid_from.isoformat(),
                           "valid_to": line.valid_to.isoformat() if line.valid_to else None} for line in view.lines],
                "timeline": [{"at": e.at.isoformat(), "event": e.event, "to": e.to_state.value, "actor": e.actor,
                              "reason": e.reason} for e in view.timeline],
                "can_decide": view.can_decide, "can_withdraw": view.can_withdraw, "can_retry": view.can_retry}


@router.post("/orders/commission", status_code=201)
async def create_commission_order(request: Request, actor: CurrentActor,
                                  background: BackgroundTasks) -> dict[str, object]:
    """Beställ medarbetaruppdrag VoB SJF."""
    require_orderer(actor)
    data = read_commission_order(await _body(request), today=local_date(now()))
    with runtime.session_scope() as session:
        order = submit_commission_order(session=session, directory=catalog_runtime.directory(),
                                        config=provisioning_config(),
                                        actor=actor, data=data, now=now())
        result, order_id = order_json(order, actor), stored_id(order)
    background.add_task(advance_later, order_id)
    return result


@router.post("/orders/membership", status_code=201)
async def create_membership_order(request: Request, actor: CurrentActor,
                                  background: BackgroundTasks) -> dict[str, object]:
    """Beställning av behörigheter."""
    require_orderer(actor)
    data = read_membership_order(await _body(request), today=local_date(now()))
    with runtime.session_scope() as session:
        order = submit_membership_order(session=session, directory=catalog_runtime.directory(),
                                        config=provisioning_config(),
                                        actor=actor, data=data, now=now())
        result, order_id = order_json(order, actor), stored_id(order)
    background.add_task(advance_later, order_id)
    return result


def _stage(value: object) -> OrderState | None:
    if value in (None, ""):
        return None
    try:
        return OrderState(str(value))
    except ValueError:
        raise InvalidInputs({"stage": "Okänt steg."}) from None


@router.post("/orders/{reference}/decision")
async def decide(reference: str, request: Request, actor: CurrentActor,
                 background: BackgroundTasks) -> dict[str, object]:
    """Approve ({"approve": true}) or reject ({"approve": false, "reason": "…"})."""
    body = await _body(request)
    if not isinstance(body.get("approve"), bool):
        raise InvalidInput("approve", "Ange approve som true eller false.")
    with runtime.session_scope() as session:
        order = decisions.get_order(session, actor, reference[:40])
        decisions.decide(session=session, directory=catalog_runtime.directory(), config=provisioning_config(),
                         actor=actor,
                         order_id=stored_id(order), approve=body["approve"], reason=str(body.get("reason") or ""),
                         expected_stage=_stage(body.get("stage")), now=now())
        result, order_id = order_json(order, actor), stored_id(order)
    background.add_task(advance_later, order_id)
    return result


@router.post("/orders/{reference}/withdraw")
async def withdraw(reference: str, request: Request, actor: CurrentActor) -> dict[str, object]:
    """Withdraw before a decision."""
    await _body(request)
    with runtime.session_scope() as session:
        order = decisions.get_order(session, actor, reference[:40])
        decisions.withdraw(session=session, actor=actor, order_id=stored_id(order), now=now())
        return order_json(order, actor)


@router.post("/orders/{reference}/retry")
async def retry(reference: str, request: Request, actor: CurrentActor,
                background: BackgroundTasks) -> dict[str, object]:
    """Retry a failed provisioning (system administrators)."""
    await _body(request)
    with runtime.session_scope() as session:
        order = decisions.get_order(session, actor, reference[:40])
        decisions.retry(session=session, actor=actor, order_id=stored_id(order), now=now())
        result, order_id = order_json(order, actor), stored_id(order)
    background.add_task(advance_later, order_id)
    return result


@router.post("/orders/{reference}/cancel")
async def cancel(reference: str, request: Request, actor: CurrentActor,
                 background: BackgroundTasks) -> dict[str, object]:
    """Close a failed provisioning without carrying it out ({"reason": "…"}, system administrators)."""
    body = await _body(request)
    with runtime.session_scope() as session:
        order = decisions.get_order(session, actor, reference[:40])
        decisions.cancel(session=session, directory=catalog_runtime.directory(), config=provisioning_config(),
                         actor=actor,
                         order_id=stored_id(order), reason=str(body.get("reason") or ""), now=now())
        result, order_id = order_json(order, actor), stored_id(order)
    background.add_task(advance_later, order_id)
    return result


@router.get("/queues")
def queues(actor: CurrentActor) -> list[dict[str, object]]:
    """My queues with counts, overdue counts and the oldest age in business days."""
    with runtime.session_scope() as session:
        return [{"role": s.role.value, "scope": s.scope, "label": s.label, "count": s.count, "overdue": s.overdue,
                 "oldest_business_days": s.oldest_days} for s in queries.queue_summaries(session, actor, now=now())]


@router.get("/queues/orders")
def queue_orders(actor: CurrentActor, q: str = "") -> list[dict[str, object]]:
    """Orders waiting in my queues (free-text filter)."""
    with runtime.session_scope() as session:
        return [order_json(o, actor) for o in queries.queue_orders(session, actor, text=q[:100], now=now())]


@router.get("/units/{unit_hsa_id}/people")
def unit_people(unit_hsa_id: str, actor: CurrentActor) -> JSONResponse:
    """The staff of a unit the actor may order for."""
    if not actor.may_order_for(unit_hsa_id):
        return JSONResponse({"error": "Du kan inte beställa för den enheten."}, status_code=403)
    people = catalog_runtime.directory().people_of_unit(unit_hsa_id)
    return JSONResponse([{"hsa_id": p.hsa_id, "name": p.name, "title": p.title} for p in people])
