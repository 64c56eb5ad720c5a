"""The JSON API of ordering: the same services and rules as the forms (session cookie + X-CSRF-Token header).

Every body is a model of api/schemas.py: the answers are validated against their ``…Public`` model, the request
bodies are shown in OpenAPI from their ``…Create`` model and read as the forms are read (api/jsonbody.py, then
provisioning.inputs), so that every refusal keeps its Swedish sentence beside its field.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request

from api.auth import CurrentActor, check_csrf, csrf_token
from api.jsonbody import documented_body, json_object
from api.schemas import (
    CommissionOrderCreate,
    DecisionCreate,
    EmptyCreate,
    ErrorPublic,
    MembershipOrderCreate,
    OrderDetailPublic,
    OrderLinePublic,
    OrderPublic,
    PersonPublic,
    QueuePublic,
    QueueSummaryPublic,
    ReasonCreate,
    SessionPublic,
    TimelineEntryPublic,
)
from catalog import runtime as catalog_runtime
from flows.steps import provisioning_config
from flows.trigger import advance_later
from kernel import runtime
from kernel.clock import local_date, now
from kernel.sqltypes import stored_id
from provisioning import decisions, queries
from provisioning.authz import Actor, require_orderer
from provisioning.errors import InvalidInput, InvalidInputs, NotAllowed
from provisioning.inputs import read_commission_order, read_membership_order
from provisioning.models import Order, OrderState
from provisioning.ordering import submit_commission_order, submit_membership_order

# Every refusal under /api/ has the one shape of api/errors.py.
ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorPublic, "description": text} for status, text in (
    (401, "Inte inloggad"), (403, "Behörighet saknas eller CSRF-token fel"), (404, "Finns inte"),
    (409, "Redan ändrad"), (422, "Felaktiga uppgifter, med ett meddelande per fält"),
    (503, "Skånekatalogen svarar inte"))}

router = APIRouter(prefix="/api", responses=ERRORS)


async def _body(request: Request) -> dict[str, Any]:
    check_csrf(request, request.headers.get("X-CSRF-Token"))
    return json_object(await request.body())


def order_json(order: Order, actor: Actor) -> OrderPublic:
    """An order as JSON; ``last_error`` as the order page shows it to ``actor`` (the directory's own text only to
    NPÖ-förvaltningen, a Swedish sentence to everyone else)."""
    return OrderPublic.model_validate(_order_fields(order, actor))


def _order_fields(order: Order, actor: Actor) -> dict[str, Any]:
    return {"reference": order.reference, "id": stored_id(order), "kind": order.kind, "state": order.state,
            "unit_hsa_id": order.unit_hsa_id, "unit_name": order.unit_name, "route": order.route,
            "queue": order.queue, "queue_scope": order.queue_scope, "requested_by": order.requested_by,
            "submitted_at": order.submitted_at.isoformat(), "state_since": order.state_since.isoformat(),
            "due_at": order.due_at.isoformat() if order.due_at else None,
            "commission_hsa_id": order.commission_hsa_id, "attempts": order.attempts,
            "last_error": queries.shown_error(actor, order)}


@router.get("/session")
def session_info(request: Request, actor: CurrentActor) -> SessionPublic:
    """Who is signed in, with the CSRF token for writes."""
    return SessionPublic(hsa_id=actor.hsa_id, name=actor.name, csrf=csrf_token(request),
                         orderable_units=actor.orderable_units(),
                         queues=[QueuePublic(role=role, scope=scope) for role, scope in actor.queues])


@router.get("/orders")
def list_orders(actor: CurrentActor) -> list[OrderPublic]:
    """My orders."""
    with runtime.session_scope() as session:
        return [order_json(o, actor) for o in queries.my_orders(session, actor)]


@router.get("/orders/{reference}")
def get_order(reference: str, actor: CurrentActor) -> OrderDetailPublic:
    """One order with its timeline and planned directory writes."""
    with runtime.session_scope() as session:
        order = decisions.get_order(session, actor, reference[:40])
        view = queries.order_view(session, actor, order, now=now())
        return OrderDetailPublic(
            **_order_fields(order, actor), planned=view.planned,
            lines=[OrderLinePublic(person_hsa_id=line.person_hsa_id, action=line.action,
                                   valid_from=line.valid_from.isoformat(),
                                   valid_to=line.valid_to.isoformat() if line.valid_to else None)
                   for line in view.lines],
            timeline=[TimelineEntryPublic(at=e.at.isoformat(), event=e.event, to=e.to_state, actor=e.actor,
                                          reason=e.reason, task_run_id=e.task_run_id if actor.is_system_admin else None)
                      for e in view.timeline],
            can_decide=view.can_decide, can_withdraw=view.can_withdraw, can_retry=view.can_retry)


@router.post("/orders/commission", status_code=201, openapi_extra=documented_body(CommissionOrderCreate))
async def create_commission_order(request: Request, actor: CurrentActor,
                                  background: BackgroundTasks) -> OrderPublic:
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


@router.post("/orders/membership", status_code=201, openapi_extra=documented_body(MembershipOrderCreate))
async def create_membership_order(request: Request, actor: CurrentActor,
                                  background: BackgroundTasks) -> OrderPublic:
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


@router.post("/orders/{reference}/decision", openapi_extra=documented_body(DecisionCreate))
async def decide(reference: str, request: Request, actor: CurrentActor,
                 background: BackgroundTasks) -> OrderPublic:
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


@router.post("/orders/{reference}/withdraw", openapi_extra=documented_body(EmptyCreate))
async def withdraw(reference: str, request: Request, actor: CurrentActor) -> OrderPublic:
    """Withdraw before a decision."""
    await _body(request)
    with runtime.session_scope() as session:
        order = decisions.get_order(session, actor, reference[:40])
        decisions.withdraw(session=session, actor=actor, order_id=stored_id(order), now=now())
        return order_json(order, actor)


@router.post("/orders/{reference}/retry", openapi_extra=documented_body(EmptyCreate))
async def retry(reference: str, request: Request, actor: CurrentActor,
                background: BackgroundTasks) -> OrderPublic:
    """Retry a failed provisioning (system administrators)."""
    await _body(request)
    with runtime.session_scope() as session:
        order = decisions.get_order(session, actor, reference[:40])
        decisions.retry(session=session, actor=actor, order_id=stored_id(order), now=now())
        result, order_id = order_json(order, actor), stored_id(order)
    background.add_task(advance_later, order_id)
    return result


@router.post("/orders/{reference}/cancel", openapi_extra=documented_body(ReasonCreate))
async def cancel(reference: str, request: Request, actor: CurrentActor,
                 background: BackgroundTasks) -> OrderPublic:
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
def queues(actor: CurrentActor) -> list[QueueSummaryPublic]:
    """My queues with counts, overdue counts and the oldest age in business days."""
    with runtime.session_scope() as session:
        return [QueueSummaryPublic(role=s.role, scope=s.scope, label=s.label, count=s.count, overdue=s.overdue,
                                   oldest_business_days=s.oldest_days)
                for s in queries.queue_summaries(session, actor, now=now())]


@router.get("/queues/orders")
def queue_orders(actor: CurrentActor, q: str = "") -> list[OrderPublic]:
    """Orders waiting in my queues (free-text filter)."""
    with runtime.session_scope() as session:
        return [order_json(o, actor) for o in queries.queue_orders(session, actor, text=q[:100], now=now())]


@router.get("/units/{unit_hsa_id}/people")
def unit_people(unit_hsa_id: str, actor: CurrentActor) -> list[PersonPublic]:
    """The staff of a unit the actor may order for."""
    if not actor.may_order_for(unit_hsa_id):
        raise NotAllowed("Du kan inte beställa för den enheten.")
    people = catalog_runtime.directory().people_of_unit(unit_hsa_id)
    return [PersonPublic(hsa_id=p.hsa_id, name=p.name, title=p.title) for p in people]
