"""The unit manager's pages: order the commission, order staff access, follow my orders (Swedish forms)."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import CurrentActor, check_csrf
from api.pages import render
from catalog import EntryNotFound
from catalog import runtime as catalog_runtime
from flows.steps import provisioning_config
from flows.trigger import advance_later
from forms import orders as F
from kernel import runtime
from kernel.clock import local_date, now
from kernel.sqltypes import stored_id
from provisioning import decisions, proposals, queries
from provisioning.authz import Actor, require_orderer
from provisioning.errors import InvalidInput, InvalidInputs
from provisioning.inputs import read_commission_order, read_membership_order
from provisioning.models import Order, OrderState
from provisioning.ordering import UnitCommission, submit_commission_order, submit_membership_order, unit_commission
from provisioning.states import STATE_LABELS

router = APIRouter()
# While the automated steps work on an order, its page waits this long for them before it shows them as running
# (with a link to look again). It never reloads itself: a page that refreshes on its own fails WCAG 2.2.1 (F41).
WORKING = frozenset({OrderState.SUBMITTED, OrderState.APPROVED, OrderState.PROVISIONING})
SETTLE_SECONDS = 3.0


def _unit_options(actor: Actor) -> list[tuple[str, str]]:
    return [(u.hsa_id, f"{u.name} ({u.hsa_id})") for u in F.orderable_units(catalog_runtime.directory(), actor)]


@router.get("/bestall", name="order_start")
def order_start(request: Request, actor: CurrentActor) -> Response:
    """Start page of ordering."""
    require_orderer(actor)
    with runtime.read_scope() as session:
        waiting = len(proposals.visible(session, actor))
    return render(request, "orders/start.html", actor=actor, units=F.orderable_units(catalog_runtime.directory(),
                  actor), proposals_waiting=waiting)


@router.get("/bestall/uppdrag", name="commission_form")
def commission_form(request: Request, actor: CurrentActor) -> Response:
    """Beställ medarbetaruppdrag VoB SJF."""
    require_orderer(actor)
    return render(request, "forms/commission.html", actor=actor, fields=F.COMMISSION_FIELDS, errors={},
                  values=F.commission_defaults(actor, local_date(now())), unit_options=_unit_options(actor),
                  units=actor.orderable_units())


async def _submit(request: Request, actor: Actor, background: BackgroundTasks, *,
                  read: Callable[..., object], submit: Callable[..., Order],
                  again: Callable[[dict[str, object], dict[str, str]], Response]) -> Response:
    """Read the form, submit it and start the flow; on bad input, the same form with every message at once."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    raw = F.raw_values(form)
    try:
        data = read(raw, today=local_date(now()))
        with runtime.session_scope() as session:
            order = submit(session=session, directory=catalog_runtime.directory(), config=provisioning_config(),
                           actor=actor, data=data, now=now())
            reference, order_id = order.reference, stored_id(order)
    except (InvalidInputs, InvalidInput) as exc:
        return again(raw, exc.errors if isinstance(exc, InvalidInputs) else {exc.field: exc.message})
    background.add_task(advance_later, order_id)
    return RedirectResponse(f"/bestallningar/{reference}?skickad=1", status_code=303)


@router.post("/bestall/uppdrag", name="commission_submit")
async def commission_submit(request: Request, actor: CurrentActor, background: BackgroundTasks) -> Response:
    """Submit the commission order; on a bad field, the same form with the message beside it."""
    require_orderer(actor)

    def again(values: dict[str, object], errors: dict[str, str]) -> Response:
        return render(request, "forms/commission.html", actor=actor, status_code=422, fields=F.COMMISSION_FIELDS,
                      errors=errors, values=values, unit_options=_unit_options(actor), units=actor.orderable_units())

    return await _submit(request, actor, background, read=read_commission_order, submit=submit_commission_order,
                         again=again)


def _unit_commission(actor: Actor, unit_id: str | None) -> UnitCommission | None:
    """The unit's commission (or the order for it), for a unit the actor may order for."""
    if not unit_id or not actor.may_order_for(unit_id):
        return None
    try:
        with runtime.session_scope() as session:
            return unit_commission(session, catalog_runtime.directory(), unit_id)
    except EntryNotFound:
        return None


def _commission_note(unit: UnitCommission | None) -> str | None:
    if unit is None or unit.period is None:
        return None if unit is None else ("Enheten har ännu inte medarbetaruppdraget VoB SJF. Beställ uppdraget "
                                          "först; därefter kan behörigheter beställas.")
    if unit.commission is None:
        return (f"Enheten har ännu inte medarbetaruppdraget VoB SJF; det är beställt och ska gälla "
                f"{unit.period.text()}. Behörigheterna kan börja tidigast då; de läggs upp när uppdraget finns.")
    return (f"Enhetens medarbetaruppdrag VoB SJF gäller {unit.period.text()}. Behörigheterna måste ligga inom "
            "den tiden.")


def _membership_page(request: Request, actor: Actor, values: dict[str, object], errors: dict[str, str],
                     status: int = 200, *, search: str = "", unit: UnitCommission | None = None) -> Response:
    directory = catalog_runtime.directory()
    unit_id = str(values.get("unit_hsa_id") or "")
    everyone = F.unit_people(directory, actor, unit_id)
    unit = unit or (_unit_commission(actor, unit_id) if everyone else None)
    memberships = directory.memberships(unit.commission.hsa_id) if unit and unit.commission else []
    chosen = F.selected(values, "person_hsa_ids")
    found = {p.hsa_id for p in F.matching(everyone, search)}
    people = [p for p in everyone if p.hsa_id in found or p.hsa_id in chosen]
    return render(request, "forms/membership.html", actor=actor, status_code=status, fields=F.MEMBERSHIP_FIELDS,
                  values=values, errors=errors, unit_options=_unit_options(actor), units=actor.orderable_units(),
                  people=people, hidden=len(everyone) - len(people), search=search,
                  members=F.member_notes(memberships, now()), chosen=chosen, actions=F.ACTIONS,
                  commission_note=_commission_note(unit))


@router.get("/bestall/behorigheter", name="membership_form")
def membership_form(request: Request, actor: CurrentActor, unit: str | None = None, sok: str = "") -> Response:
    """Beställning av behörigheter (staff picked from the unit's people, filtered by name or HSA-ID)."""
    require_orderer(actor)
    units = actor.orderable_units()
    chosen = unit if unit and actor.may_order_for(unit) else (units[0] if units else None)
    unit_found = _unit_commission(actor, chosen)
    values = F.membership_defaults(local_date(now()), chosen, unit_found.period if unit_found else None)
    return _membership_page(request, actor, values, {}, search=sok[:100], unit=unit_found)


@router.post("/bestall/behorigheter", name="membership_submit")
async def membership_submit(request: Request, actor: CurrentActor, background: BackgroundTasks) -> Response:
    """Submit the membership order."""
    require_orderer(actor)
    return await _submit(request, actor, background, read=read_membership_order, submit=submit_membership_order,
                         again=lambda values, errors: _membership_page(request, actor, values, errors, status=422))


@router.get("/mina-bestallningar", name="my_orders")
def my_orders(request: Request, actor: CurrentActor) -> Response:
    """Mina beställningar."""
    with runtime.session_scope() as session:
        orders = queries.my_orders(session, actor)
    return render(request, "orders/mine.html", actor=actor, orders=orders, labels=STATE_LABELS)


@router.get("/bestallningar/{reference}", name="order_page")
def order_page(request: Request, reference: str, actor: CurrentActor, skickad: int = 0) -> Response:
    """One order: what was asked, its timeline, what will be written, and what the actor may do."""
    return render_order(request, actor, reference, submitted=bool(skickad))


def render_order(request: Request, actor: Actor, reference: str, *, submitted: bool = False,
                 errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                 status: int = 200) -> Response:
    """The order page; after a refused action (a rejection without a reason) with the message beside its field and
    what was typed kept."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        with runtime.session_scope() as session:
            order = decisions.get_order(session, actor, reference[:40])
            view = queries.order_view(session, actor, order, now=now())
        if view.order.state not in WORKING or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    # the automated steps' task runs are linked for NPÖ-förvaltningen, who operate Prefect (D-58)
    prefect_ui = runtime.settings().prefect_ui() if actor.is_system_admin else None
    return render(request, "orders/order.html", actor=actor, status_code=status, view=view, submitted=submitted,
                  state_labels=STATE_LABELS, errors=errors or {}, values=values or {}, prefect_ui=prefect_ui)


@router.post("/bestallningar/{reference}/aterkalla", name="order_withdraw")
async def order_withdraw(request: Request, reference: str, actor: CurrentActor) -> Response:
    """Withdraw an order before a decision."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    with runtime.session_scope() as session:
        order = decisions.get_order(session, actor, reference[:40])
        decisions.withdraw(session=session, actor=actor, order_id=stored_id(order), now=now())
    return RedirectResponse(f"/bestallningar/{reference}", status_code=303)
