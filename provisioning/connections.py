"""A vårdgivare's connection to NPÖ as consumer and/or producer (issue 13 item 4; the seed's "Producent och konsument
i NPÖ"): ordered on a form, approved by Vårdgivarservice for private vårdgivare and by NPÖ-förvaltningen for Region
Skåne's own, then written to the directory (``npoConsumer``, ``npoProducer``), where the gate's check 4 reads it as
before. The approvers also disconnect a vårdgivare, with a reason; that is recorded as an order done at once.

Who orders: a unit manager (or their delegate) of a unit of the vårdgivare, or an approver of its route on the
vårdgivare's behalf. Nobody decides their own order. The directory is written in the approver's request (one modify
of one entry, idempotent): when Skånekatalogen is down the decision is refused with a clear message and nothing is
stored, and the approver tries again (D-68). Each step writes its mail to the outbox in the same transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from catalog import Directory
from catalog.identifiers import HsaId
from catalog.model import CareProvider, Management, RoleName
from kernel import outbox
from kernel.text import has_control_characters
from provisioning.authz import Actor
from provisioning.config import ProvisioningConfig
from provisioning.errors import Conflict, InvalidInput, InvalidInputs, NotAllowed, NotFound
from provisioning.models import ConnectionOrder, ConnectionState, Route
from provisioning.notify import queue_addresses

APPROVERS = {Route.PRIVATE: RoleName.VARDGIVARSERVICE, Route.PUBLIC: RoleName.SYSTEM_ADMIN}
APPROVER_LABELS = {Route.PRIVATE: "Vårdgivarservice", Route.PUBLIC: "NPÖ-förvaltningen"}
JUSTIFICATION_MIN, TEXT_MAX = 10, 2000
WHAT = {(True, False): "konsument", (False, True): "producent", (True, True): "konsument och producent"}


def route_of(provider: CareProvider, config: ProvisioningConfig) -> Route:
    """Region Skåne's own vårdgivare, or a private one with a care agreement; others do not connect through us."""
    if provider.hsa_id == HsaId(config.region_provider_hsa_id):
        return Route.PUBLIC
    if provider.management is Management.PRIVATE:
        return Route.PRIVATE
    raise InvalidInput("provider_hsa_id", f"{provider.name} ansluts inte till NPÖ via Region Skåne (vårdgivaren "
                                          "varken tillhör regionen eller är privat med vårdavtal).")


def may_decide(actor: Actor, route: Route) -> bool:
    """Vårdgivarservice decides for private vårdgivare, NPÖ-förvaltningen for the region's own (and may for all)."""
    return actor.has_role(APPROVERS[route]) or actor.is_system_admin


def orderable_providers(directory: Directory, actor: Actor) -> list[CareProvider]:
    """The vårdgivare the actor may order a connection for: those of the units they order for."""
    found: dict[str, CareProvider] = {}
    for unit_id in actor.orderable_units():
        unit = directory.unit(unit_id)
        provider = directory.provider(unit.provider_hsa_id) if unit else None
        if provider is not None:
            found[provider.hsa_id] = provider
    return sorted(found.values(), key=lambda p: p.name)


def _provider(directory: Directory, provider_hsa_id: str) -> CareProvider:
    provider = directory.provider(provider_hsa_id.strip()) if provider_hsa_id and provider_hsa_id.strip() else None
    if provider is None:
        raise InvalidInput("provider_hsa_id", "Välj en vårdgivare som finns i Skånekatalogen.")
    return provider


def _text(value: str, field: str, *, what: str, minimum: int = 1) -> str:
    text = (value or "").strip()
    if len(text) < minimum:
        raise InvalidInput(field, f"Ange {what} (minst {minimum} tecken)." if minimum > 1 else f"Ange {what}.")
    if len(text) > TEXT_MAX:
        raise InvalidInput(field, f"Texten är {len(text)} tecken lång; högst {TEXT_MAX} tecken är tillåtet.")
    if has_control_characters(text):
        raise InvalidInput(field, "Texten innehåller otillåtna styrtecken; skriv om den med vanliga tecken.")
    return text


def _mail(session: Session, template: str, to: list[str | None], order: ConnectionOrder, link: str,
          now: dt.datetime, key: str) -> None:
    outbox.enqueue(session, template=template, to=to, dedupe_key=f"connection-{order.id}-{key}", now=now,
                   context={"order": order, "what": WHAT.get((order.consumer, order.producer), ""), "link": link,
                            "approver": APPROVER_LABELS[Route(order.route)]})


def submit_connection(*, session: Session, directory: Directory, actor: Actor, config: ProvisioningConfig,
                      provider_hsa_id: str, consumer: bool, producer: bool, justification: str,
                      now: dt.datetime) -> ConnectionOrder:
    """Order a connection; the approver's queue is told by mail."""
    errors: dict[str, str] = {}
    provider: CareProvider | None = None
    try:
        provider = _provider(directory, provider_hsa_id)
    except InvalidInput as exc:
        errors[exc.field] = exc.message
    if not (consumer or producer):
        errors["consumer"] = "Välj om vårdgivaren ska anslutas som konsument, producent eller båda."
    try:
        text = _text(justification, "justification", what="varför vårdgivaren ska anslutas",
                     minimum=JUSTIFICATION_MIN)
    except InvalidInput as exc:
        errors[exc.field] = exc.message
    if errors:
        raise InvalidInputs(errors)
    assert provider is not None
    route = route_of(provider, config)
    ordering_for_own = provider.hsa_id in {p.hsa_id for p in orderable_providers(directory, actor)}
    if not (ordering_for_own or may_decide(actor, route)):
        raise NotAllowed(f"Anslutning av {provider.name} beställs av en verksamhetschef (eller delegat) på en av "
                         f"vårdgivarens vårdenheter, eller av {APPROVER_LABELS[route]}.")
    if (not consumer or provider.consumer) and (not producer or provider.producer):
        raise Conflict(f"{provider.name} är redan ansluten som {WHAT[(consumer, producer)]}.")
    pending = session.exec(select(ConnectionOrder).where(ConnectionOrder.provider_hsa_id == provider.hsa_id,
                                                         ConnectionOrder.state == ConnectionState.SUBMITTED)).first()
    if pending is not None:
        raise Conflict(f"En beställning för {provider.name} (nr {pending.id}) väntar redan hos "
                       f"{APPROVER_LABELS[Route(pending.route)]}.")
    order = ConnectionOrder(provider_hsa_id=provider.hsa_id, provider_name=provider.name, route=route.value,
                            consumer=consumer, producer=producer, state=ConnectionState.SUBMITTED.value,
                            justification=text, requested_by=actor.hsa_id, requested_by_name=actor.name,
                            requested_at=now)
    session.add(order)
    session.flush()
    _mail(session, "connection_to_queue", list(queue_addresses(directory, APPROVERS[route], None)), order,
          _link(config), now, "submitted")
    return order


def _link(config: ProvisioningConfig) -> str:
    return f"{config.public_base_url.rstrip('/')}/anslutningar"


def decide_connection(*, session: Session, directory: Directory, actor: Actor, config: ProvisioningConfig,
                      order_id: int, approve: bool | None, reason: str, now: dt.datetime) -> ConnectionOrder:
    """Approve (the directory is written: the gate's check 4 passes from then on) or reject with a reason; the
    orderer is told by mail. ``approve`` None: the decision was not chosen (InvalidInput, after the order is found)."""
    order = session.get(ConnectionOrder, order_id)
    if order is None:
        raise NotFound(f"Anslutningsbeställning {order_id} finns inte.")
    if approve is None:
        raise InvalidInput("decision", "Välj godkänn eller avslå.")
    route = Route(order.route)
    if not may_decide(actor, route):
        raise NotAllowed(f"Beställningen beslutas av {APPROVER_LABELS[route]}.")
    if HsaId(order.requested_by) == actor.hsa_id:
        raise NotAllowed("Du kan inte besluta om en beställning du själv har lagt.")
    if order.state != ConnectionState.SUBMITTED:
        done = "godkänd" if order.state == ConnectionState.CONNECTED else "avslagen"
        raise Conflict(f"Beställningen är redan {done}.")
    text = (reason or "").strip()
    if not approve:
        text = _text(reason, "reason", what="skälet till avslaget")
    elif text:
        text = _text(reason, "reason", what="en kommentar")
    if approve:
        directory.set_provider_connection(order.provider_hsa_id, consumer=True if order.consumer else None,
                                          producer=True if order.producer else None)
    order.state = (ConnectionState.CONNECTED if approve else ConnectionState.REJECTED).value
    order.decided_by, order.decided_at, order.decision_reason = actor.hsa_id, now, text or None
    session.add(order)
    person = directory.find_person(order.requested_by)
    _mail(session, "connection_decided", [person.mail if person else None], order, _link(config), now, "decided")
    return order


def disconnect(*, session: Session, directory: Directory, actor: Actor, config: ProvisioningConfig,
               provider_hsa_id: str, consumer: bool, producer: bool, reason: str,
               now: dt.datetime) -> ConnectionOrder:
    """Take away the connection as consumer and/or producer now (the approver of the route), with a reason."""
    provider = _provider(directory, provider_hsa_id)
    route = route_of(provider, config)
    if not may_decide(actor, route):
        raise NotAllowed(f"{provider.name} kopplas bort av {APPROVER_LABELS[route]}.")
    if not (consumer and provider.consumer) and not (producer and provider.producer):
        raise InvalidInput("consumer", f"{provider.name} är inte ansluten på det sättet; välj det som ska tas bort.")
    text = _text(reason, "reason", what="varför vårdgivaren kopplas bort")
    directory.set_provider_connection(provider.hsa_id, consumer=False if consumer else None,
                                      producer=False if producer else None)
    order = ConnectionOrder(provider_hsa_id=provider.hsa_id, provider_name=provider.name, route=route.value,
                            consumer=consumer, producer=producer, disconnect=True,
                            state=ConnectionState.DISCONNECTED.value, justification=text, requested_by=actor.hsa_id,
                            requested_by_name=actor.name, requested_at=now, decided_by=actor.hsa_id, decided_at=now,
                            decision_reason=text)
    session.add(order)
    session.flush()
    return order


def orders(session: Session, *, limit: int = 200) -> list[ConnectionOrder]:
    """The newest connection orders and disconnections, newest first."""
    return list(session.exec(select(ConnectionOrder).order_by(col(ConnectionOrder.id).desc()).limit(limit)).all())
