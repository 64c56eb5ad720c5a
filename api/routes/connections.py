"""Anslutningar: which vårdgivare are connected to NPÖ as consumer and producer, orders to connect one, the
approvers' decisions and disconnections (provisioning/connections.py). Signed-in pages (dev login or SSO), CSRF on
every form; who may do what is the service's to decide."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import CurrentActor, check_csrf
from api.pages import render
from api.params import RowId
from catalog import runtime as catalog_runtime
from catalog.model import CareProvider
from flows.steps import provisioning_config
from flows.trigger import deliver_later
from kernel import runtime
from kernel.clock import now
from provisioning import connections
from provisioning.authz import Actor
from provisioning.config import ProvisioningConfig
from provisioning.errors import InvalidInput, InvalidInputs
from provisioning.models import Route

router = APIRouter()
PAGE = "/anslutningar"
FLASH = {"bestalld": "Beställningen är skickad till den som beslutar.", "godkand": "Vårdgivaren är ansluten.",
         "avslagen": "Beställningen är avslagen.", "bortkopplad": "Vårdgivaren är bortkopplad."}


def _page(request: Request, actor: Actor, *, values: Mapping[str, object] | None = None,
          errors: dict[str, str] | None = None, flash: str = "", status: int = 200) -> Response:
    directory = catalog_runtime.directory()
    config = provisioning_config()
    providers = directory.providers()
    decidable = {p.hsa_id for p in providers if _decides(actor, p, config)}
    with runtime.read_scope() as session:
        listed = connections.orders(session)
        for order in listed:
            session.expunge(order)
    return render(request, "dashboard/connections.html", actor=actor, status_code=status, providers=providers,
                  decidable=decidable, orderable=connections.orderable_providers(directory, actor), orders=listed,
                  may_decide_order=lambda o: connections.may_decide(actor, Route(o.route)),
                  values=values or {}, errors=errors or {}, flash=flash)


def _decides(actor: Actor, provider: CareProvider, config: ProvisioningConfig) -> bool:
    try:
        return connections.may_decide(actor, connections.route_of(provider, config))
    except InvalidInput:
        return False


@router.get(PAGE, name="connections")
def connections_page(request: Request, actor: CurrentActor, klart: str = "") -> Response:
    """Anslutningar till NPÖ."""
    return _page(request, actor, flash=FLASH.get(klart[:20], ""))


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    return {key: str(form.get(key, ""))[:3000] for key in form}


@router.post(PAGE, name="connection_order")
async def connection_order(request: Request, actor: CurrentActor, background: BackgroundTasks) -> Response:
    """Order a connection as consumer and/or producer."""
    values = await _form(request)
    try:
        with runtime.session_scope() as session:
            connections.submit_connection(
                session=session, directory=catalog_runtime.directory(), actor=actor, config=provisioning_config(),
                provider_hsa_id=values.get("provider_hsa_id", ""), consumer=values.get("consumer") == "1",
                producer=values.get("producer") == "1", justification=values.get("justification", ""), now=now())
    except InvalidInputs as exc:
        return _page(request, actor, values=values, errors=exc.errors, status=422)
    except InvalidInput as exc:
        return _page(request, actor, values=values, errors={exc.field: exc.message}, status=422)
    background.add_task(deliver_later)  # after the commit; SMTP down leaves the mail in the outbox for the sweep
    return RedirectResponse(f"{PAGE}?klart=bestalld", status_code=303)


@router.post(f"{PAGE}/{{order_id}}/beslut", name="connection_decide")
async def connection_decide(request: Request, order_id: RowId, actor: CurrentActor,
                            background: BackgroundTasks) -> Response:
    """Approve (the directory is written) or reject with a reason."""
    values = await _form(request)
    decision = values.get("decision", "")
    with runtime.session_scope() as session:
        connections.decide_connection(session=session, directory=catalog_runtime.directory(), actor=actor,
                                      config=provisioning_config(), order_id=order_id,
                                      approve={"godkann": True, "avsla": False}.get(decision),
                                      reason=values.get("reason", ""), now=now())
    background.add_task(deliver_later)
    return RedirectResponse(f"{PAGE}?klart={'godkand' if decision == 'godkann' else 'avslagen'}", status_code=303)


@router.post(f"{PAGE}/koppla-bort", name="connection_disconnect")
async def connection_disconnect(request: Request, actor: CurrentActor) -> Response:
    """Disconnect a vårdgivare as consumer and/or producer now, with a reason."""
    values = await _form(request)
    with runtime.session_scope() as session:
        connections.disconnect(session=session, directory=catalog_runtime.directory(), actor=actor,
                               config=provisioning_config(), provider_hsa_id=values.get("provider_hsa_id", ""),
                               consumer=values.get("consumer") == "1", producer=values.get("producer") == "1",
                               reason=values.get("reason", ""), now=now())
    return RedirectResponse(f"{PAGE}?klart=bortkopplad", status_code=303)
