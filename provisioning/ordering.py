"""Submitting orders: the rules that need the directory and the database, then one INSERT with its audit row."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from catalog import Directory
from catalog.identifiers import HsaId
from catalog.model import VOB_PURPOSE, Commission, Person
from kernel.clock import local_date
from kernel.sqltypes import stored_id
from provisioning.authz import Actor, require_orderer
from provisioning.config import ProvisioningConfig
from provisioning.errors import InvalidInput, InvalidInputs
from provisioning.inputs import CommissionOrderInput, MembershipOrderInput
from provisioning.models import AuditEvent, LineAction, Order, OrderKind, OrderLine, OrderState, Route
from provisioning.periods import Period
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
        col(Order.state).not_in([s.value for s in FINAL]))).first()


@dataclass(frozen=True)
class UnitCommission:
    """A unit's VoB SJF as a membership order sees it: in the directory, or still on order, or neither."""

    commission: Commission | None
    pending: Order | None

    @property
    def period(self) -> Period | None:
        """The days memberships may be valid: the commission's, or from the start its order asked for."""
        if self.commission is not None:
            return Period.of_commission(self.commission)
        return Period(self.pending.requested_start) if self.pending is not None else None

    @property
    def label(self) -> str:
        """How the messages name it."""
        return "Enhetens medarbetaruppdrag VoB SJF" if self.commission else (
            f"Det beställda medarbetaruppdraget ({self.pending.reference if self.pending else '–'})")


def unit_commission(session: Session, directory: Directory, unit_hsa_id: str) -> UnitCommission:
    """The unit's VoB SJF commission, or the commission order still on its way when there is none yet."""
    commission = vob_commission(directory, unit_hsa_id)
    return UnitCommission(commission, None if commission else open_commission_order(session, unit_hsa_id))


def _add(errors: dict[str, str], field: str, message: str) -> None:
    """One more message for a field (a field may have several problems)."""
    errors[field] = f"{errors[field]} {message}" if field in errors else message


def _placement(directory: Directory, config: ProvisioningConfig, actor: Actor, unit_hsa_id: str,
               errors: dict[str, str]) -> Placement | None:
    """Where the unit sits, or None with the reason in ``errors`` (a malformed unit is already there)."""
    require_orderer(actor)
    if "unit_hsa_id" in errors:
        return None
    if not actor.may_order_for(unit_hsa_id):
        errors["unit_hsa_id"] = ("Du kan bara beställa för vårdenheter där du är verksamhetschef eller har fått "
                                 "beställningsrätten delegerad.")
        return None
    try:
        return place_unit(directory, unit_hsa_id, region_provider_hsa_id=config.region_provider_hsa_id)
    except InvalidInput as exc:
        errors[exc.field] = exc.message
        return None


def _refuse_if(errors: dict[str, str]) -> None:
    if errors:
        raise InvalidInputs(errors)


def _new_order(session: Session, actor: Actor, placement: Placement, kind: OrderKind, now: dt.datetime,
               **request: Any) -> Order:  # the request columns, each checked against Order's own annotation
    order = Order(reference=new_reference(session, now), kind=kind, unit_hsa_id=placement.unit.hsa_id,
                  unit_name=placement.unit.name, provider_hsa_id=placement.provider.hsa_id,
                  provider_name=placement.provider.name, route=placement.route, requested_by=actor.hsa_id,
                  requested_by_name=actor.name, on_behalf_of=actor.manager_for(placement.unit.hsa_id),
                  submitted_at=now, state=OrderState.SUBMITTED, state_since=now, **request)
    session.add(order)
    session.flush()
    session.add(AuditEvent(order_id=stored_id(order), at=now, actor=actor.hsa_id, actor_name=actor.name, event="submit",
                           from_state=None, to_state=OrderState.SUBMITTED))
    return order


def submit_commission_order(*, session: Session, directory: Directory, config: ProvisioningConfig, actor: Actor,
                            data: CommissionOrderInput, now: dt.datetime) -> Order:
    """Order VoB SJF for a unit (Beställ medarbetaruppdrag); refuses with every problem of the submission at once."""
    errors = dict(data.errors)
    placement = _placement(directory, config, actor, data.unit_hsa_id, errors)
    if placement is None:
        raise InvalidInputs(errors)
    if placement.route is Route.PRIVATE and not data.care_agreement_reference:
        _add(errors, "care_agreement_reference", "Ange vårdavtalets referens (hälsovalsavtal) för privata "
                                                 "vårdenheter.")
    existing = vob_commission(directory, placement.unit.hsa_id)
    pending = None if existing else open_commission_order(session, placement.unit.hsa_id)
    if existing:
        errors["unit_hsa_id"] = (f"{placement.unit.name} har redan medarbetaruppdraget {existing.name} "
                                 f"({existing.hsa_id}). Beställ behörigheter för medarbetarna i stället.")
    elif pending:
        errors["unit_hsa_id"] = f"Uppdraget för {placement.unit.name} är redan beställt ({pending.reference})."
    _refuse_if(errors)
    assert data.requested_start is not None
    return _new_order(session, actor, placement, OrderKind.COMMISSION, now, justification=data.justification,
                      contact_name=data.contact_name, contact_phone=data.contact_phone,
                      contact_email=data.contact_email, requested_start=data.requested_start,
                      care_agreement_reference=data.care_agreement_reference)


def _staff(directory: Directory, placement: Placement, data: MembershipOrderInput, members: set[str]
           ) -> tuple[list[Person], list[str]]:
    """The persons of the order, and what is wrong with the others (each in one Swedish sentence)."""
    problems, people = [], []
    for hsa_id in data.person_hsa_ids:
        person = directory.find_person(hsa_id)
        if person is None:
            problems.append(f"{hsa_id} finns inte i Skånekatalogen.")
        elif person.unit_hsa_id != placement.unit.hsa_id:
            problems.append(f"{person.name} ({hsa_id}) tillhör inte {placement.unit.name}.")
        elif not person.usable:
            problems.append(f"{person.name} ({hsa_id}) är {'arkiverad' if person.active else 'inaktiverad'} i "
                            "Skånekatalogen.")
        elif data.action is not LineAction.ADD and HsaId(hsa_id) not in members:
            problems.append(f"{person.name} ({hsa_id}) har ingen behörighet på enhetens uppdrag.")
        else:
            people.append(person)
    return people, problems


def submit_membership_order(*, session: Session, directory: Directory, config: ProvisioningConfig, actor: Actor,
                            data: MembershipOrderInput, now: dt.datetime) -> Order:
    """Order access for staff on the unit's commission (Beställning av behörigheter); refuses with every problem
    of the submission at once, including a validity outside the commission's."""
    errors = dict(data.errors)
    placement = _placement(directory, config, actor, data.unit_hsa_id, errors)
    if placement is None:
        raise InvalidInputs(errors)
    unit = unit_commission(session, directory, placement.unit.hsa_id)
    if unit.commission is None and unit.pending is None:
        errors["unit_hsa_id"] = (f"{placement.unit.name} saknar medarbetaruppdraget VoB SJF. Beställ uppdraget "
                                 "först; därefter kan behörigheter beställas.")
    elif unit.commission is None and data.action is not LineAction.ADD:
        errors["action"] = "Uppdraget är ännu inte upplagt; det finns inga behörigheter att ändra."
    members = {m.person_hsa_id for m in directory.memberships(unit.commission.hsa_id)} if unit.commission else set()
    people, problems = _staff(directory, placement, data, members)
    if problems:
        _add(errors, "person_hsa_ids", " ".join(problems))
    if unit.period is not None and data.action is not LineAction.REMOVE:
        for field, message in unit.period.problems(data.valid_from, data.valid_to, what=unit.label).items():
            errors.setdefault(field, message)
    _refuse_if(errors)
    assert data.valid_from is not None
    contact = directory.find_person(actor.hsa_id)
    order = _new_order(session, actor, placement, OrderKind.MEMBERSHIP, now, justification=data.comment,
                       contact_name=actor.name, contact_phone="-",
                       contact_email=(contact.mail if contact and contact.mail else "-"),
                       requested_start=data.valid_from,
                       commission_hsa_id=unit.commission.hsa_id if unit.commission else None,
                       depends_on=unit.pending.id if unit.pending else None)
    for person in people:
        session.add(OrderLine(order_id=stored_id(order), action=data.action, person_hsa_id=person.hsa_id,
                              person_name=person.name, person_mail=person.mail, valid_from=data.valid_from,
                              valid_to=data.valid_to))
    session.flush()
    return order
