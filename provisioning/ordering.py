"""Submitting orders: the rules that need the directory and the database, then one INSERT with its audit row."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlmodel import Session, select

from catalog import Directory
from catalog.clock import local_date
from catalog.model import VOB_PURPOSE, Commission
from provisioning.authz import Actor, require_orderer
from provisioning.config import ProvisioningConfig
from provisioning.errors import InvalidInputs
from provisioning.inputs import CommissionOrderInput, MembershipOrderInput
from provisioning.models import AuditEvent, LineAction, Order, OrderKind, OrderLine, OrderState, Route
from provisioning.routing import Placement, place_unit
from provisioning.states import FINAL

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_reference(session: Session, now: dt.datetime) -> str:
    """A short, unique, human-readable order reference: NPO-YYMMDD-XXXX."""
    while True:
        candidate = f"NPO-{local_date(now):%y%m%d}-{''.join(secrets.choice(_ALPHABET) for _ in range(4))}"
        if session.exec(select(Order.id).where(Order.reference == candidate)).first() is None:
            return candidate


def vob_commission(directory: Directory, unit_hsa_id: str) -> Commission | None:
    """The unit's VoB SJF commission in the directory, if it has one."""
    for commission in directory.commissions_on_unit(unit_hsa_id):
        if commission.purpose.casefold() == VOB_PURPOSE.casefold():
            return commission
    return None


def open_commission_order(session: Session, unit_hsa_id: str) -> Order | None:
    """A commission order for the unit that is still on its way."""
    return session.exec(select(Order).where(
        Order.kind == OrderKind.COMMISSION, Order.unit_hsa_id == unit_hsa_id,
        Order.state.not_in([s.value for s in FINAL]))).first()  # type: ignore[union-attr]


def _placement(directory: Directory, config: ProvisioningConfig, actor: Actor, unit_hsa_id: str) -> Placement:
    require_orderer(actor)
    if not actor.may_order_for(unit_hsa_id):
        raise InvalidInputs({"unit_hsa_id": "Du kan bara beställa för vårdenheter där du är verksamhetschef eller "
                                            "har fått beställningsrätten delegerad."})
    return place_unit(directory, unit_hsa_id, region_provider_hsa_id=config.region_provider_hsa_id)


def _new_order(session: Session, actor: Actor, placement: Placement, kind: OrderKind, now: dt.datetime,
               **request: object) -> Order:
    order = Order(reference=new_reference(session, now), kind=kind, unit_hsa_id=placement.unit.hsa_id,
                  unit_name=placement.unit.name, provider_hsa_id=placement.provider.hsa_id,
                  provider_name=placement.provider.name, route=placement.route, requested_by=actor.hsa_id,
                  requested_by_name=actor.name, on_behalf_of=actor.manager_for(placement.unit.hsa_id),
                  submitted_at=now, state=OrderState.SUBMITTED, state_since=now, **request)
    session.add(order)
    session.flush()
    session.add(AuditEvent(order_id=order.id, at=now, actor=actor.hsa_id, actor_name=actor.name, event="submit",
                           from_state=None, to_state=OrderState.SUBMITTED))
    return order


def submit_commission_order(*, session: Session, directory: Directory, config: ProvisioningConfig, actor: Actor,
                            data: CommissionOrderInput, now: dt.datetime) -> Order:
    """Order VoB SJF for a unit (Beställ medarbetaruppdrag)."""
    placement = _placement(directory, config, actor, data.unit_hsa_id)
    if placement.route is Route.PRIVATE and not data.care_agreement_reference:
        raise InvalidInputs({"care_agreement_reference": "Ange vårdavtalets referens (hälsovalsavtal) för "
                                                         "privata vårdenheter."})
    existing = vob_commission(directory, placement.unit.hsa_id)
    if existing:
        raise InvalidInputs({"unit_hsa_id": f"{placement.unit.name} har redan medarbetaruppdraget {existing.name} "
                                            f"({existing.hsa_id}). Beställ behörigheter för medarbetarna i stället."})
    pending = open_commission_order(session, placement.unit.hsa_id)
    if pending:
        raise InvalidInputs({"unit_hsa_id": f"Uppdraget för {placement.unit.name} är redan beställt "
                                            f"({pending.reference})."})
    return _new_order(session, actor, placement, OrderKind.COMMISSION, now, justification=data.justification,
                      contact_name=data.contact_name, contact_phone=data.contact_phone,
                      contact_email=data.contact_email, requested_start=data.requested_start,
                      care_agreement_reference=data.care_agreement_reference)


def submit_membership_order(*, session: Session, directory: Directory, config: ProvisioningConfig, actor: Actor,
                            data: MembershipOrderInput, now: dt.datetime) -> Order:
    """Order access for staff on the unit's commission (Beställning av behörigheter)."""
    placement = _placement(directory, config, actor, data.unit_hsa_id)
    commission = vob_commission(directory, placement.unit.hsa_id)
    pending = None if commission else open_commission_order(session, placement.unit.hsa_id)
    if commission is None and pending is None:
        raise InvalidInputs({"unit_hsa_id": f"{placement.unit.name} saknar medarbetaruppdraget VoB SJF. Beställ "
                                            "uppdraget först; därefter kan behörigheter beställas."})
    if commission is None and data.action is not LineAction.ADD:
        raise InvalidInputs({"action": "Uppdraget är ännu inte upplagt; det finns inga behörigheter att ändra."})
    members = {m.person_hsa_id.upper(): m for m in directory.memberships(commission.hsa_id)} if commission else {}
    problems, people = [], []
    for hsa_id in data.person_hsa_ids:
        person = directory.find_person(hsa_id)
        if person is None:
            problems.append(f"{hsa_id} finns inte i Skånekatalogen.")
        elif (person.unit_hsa_id or "").upper() != placement.unit.hsa_id.upper():
            problems.append(f"{person.name} ({hsa_id}) tillhör inte {placement.unit.name}.")
        elif not person.usable:
            problems.append(f"{person.name} ({hsa_id}) är {'arkiverad' if person.active else 'inaktiverad'} i "
                            "Skånekatalogen.")
        elif data.action is not LineAction.ADD and hsa_id.upper() not in members:
            problems.append(f"{person.name} ({hsa_id}) har ingen behörighet på enhetens uppdrag.")
        else:
            people.append(person)
    if problems:
        raise InvalidInputs({"person_hsa_ids": " ".join(problems)})
    contact = directory.find_person(actor.hsa_id)
    order = _new_order(session, actor, placement, OrderKind.MEMBERSHIP, now,
                       justification=data.comment or "Beställning av behörigheter", contact_name=actor.name,
                       contact_phone="-", contact_email=(contact.mail if contact and contact.mail else "-"),
                       requested_start=data.valid_from, commission_hsa_id=commission.hsa_id if commission else None,
                       depends_on=pending.id if pending else None)
    for person in people:
        session.add(OrderLine(order_id=order.id, action=data.action, person_hsa_id=person.hsa_id,
                              person_name=person.name, person_mail=person.mail, valid_from=data.valid_from,
                              valid_to=data.valid_to))
    session.flush()
    return order
