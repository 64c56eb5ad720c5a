"""Who may do what (D7), in one place for the pages, the JSON API and the flows.

Roles come from the directory: a unit manager is the unit's hsaHealthCareUnitManager; queues and administrator
roles are npoRole entries. Delegations of the ordering right are recorded in SQL by the manager.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from catalog import Directory
from catalog.model import CareUnit, RoleName
from provisioning.errors import NotAllowed
from provisioning.models import Delegation, Order, OrderState
from provisioning.routing import queue_for, queues_on_route


@dataclass(frozen=True)
class Actor:
    """A signed-in person with everything the rules need."""

    hsa_id: str
    name: str
    mail: str | None = None
    managed_units: tuple[CareUnit, ...] = ()
    delegated_units: tuple[tuple[str, str], ...] = ()  # (unit HSA-ID, manager HSA-ID) of active delegations
    roles: frozenset[tuple[RoleName, str | None]] = field(default_factory=frozenset)

    def has_role(self, role: RoleName, scope: str | None = None) -> bool:
        """True when the actor holds ``role`` (for that scope)."""
        return (role, scope) in self.roles

    @property
    def queues(self) -> list[tuple[RoleName, str | None]]:
        """The approver queues the actor works in."""
        return sorted((r for r in self.roles if r[0] is not RoleName.SERVICE_DESK), key=lambda r: (r[0], r[1] or ""))

    def orderable_units(self) -> list[str]:
        """HSA-IDs of the units the actor may order for (managed or delegated)."""
        return sorted({u.hsa_id for u in self.managed_units} | {unit for unit, _m in self.delegated_units})

    def may_order_for(self, unit_hsa_id: str) -> bool:
        """Unit managers order for their units; delegates within their delegation."""
        return unit_hsa_id.upper() in {u.upper() for u in self.orderable_units()}

    def manager_for(self, unit_hsa_id: str) -> str | None:
        """When ordering as a delegate: the manager who delegated (None when the actor is the manager)."""
        if any(u.hsa_id.upper() == unit_hsa_id.upper() for u in self.managed_units):
            return None
        return next((m for u, m in self.delegated_units if u.upper() == unit_hsa_id.upper()), None)

    def conflict(self, order: Order, subjects: Iterable[str] = ()) -> str | None:
        """Why the actor may not decide ``order`` although it may be in their queue (the own-order rule, the one
        place it is written): they placed it, it was placed on their behalf, or it changes their own access
        (``subjects``: the persons the order's lines concern)."""
        me = self.hsa_id.upper()
        if me in {order.requested_by.upper(), (order.on_behalf_of or "").upper()}:
            return "Du kan inte besluta om en beställning som du själv har gjort eller som har gjorts åt dig."
        if me in {subject.upper() for subject in subjects}:
            return "Du kan inte besluta om en beställning som gäller din egen behörighet; en kollega i kön gör det."
        return None

    def may_decide(self, order: Order, subjects: Iterable[str] = ()) -> bool:
        """Approvers act only in their own queue, and never on an order of their own interest."""
        if order.queue is None or order.state not in {OrderState.AWAITING_CONTRACT_MANAGER,
                                                      OrderState.AWAITING_CATALOG_ADMIN,
                                                      OrderState.AWAITING_USER_ADMIN}:
            return False
        if self.conflict(order, subjects) is not None:
            return False
        role, scope = queue_for(order.kind, order.state, order.route, order.unit_hsa_id)
        return self.has_role(role, scope)

    def may_retry(self, order: Order) -> bool:
        """The system administrators remedy failed provisioning."""
        return order.state is OrderState.PROVISIONING_FAILED and self.has_role(RoleName.SYSTEM_ADMIN)

    def may_view(self, order: Order, *, decided: bool = False) -> bool:
        """The orderer, the unit's manager and delegates, the system admins, whoever decided on it (``decided``),
        and approvers of the queues on the order's route (not every approver: contact details stay in the queues
        that handle the order)."""
        if decided or self.hsa_id.upper() in {order.requested_by.upper(), (order.on_behalf_of or "").upper()}:
            return True
        if self.may_order_for(order.unit_hsa_id) or self.has_role(RoleName.SYSTEM_ADMIN):
            return True
        return any(self.has_role(role, scope) for role, scope in queues_on_route(order.kind, order.route,
                                                                                 order.unit_hsa_id))

    def may_withdraw(self, order: Order) -> bool:
        """The orderer, or the unit's manager."""
        return self.hsa_id.upper() == order.requested_by.upper() or any(
            u.hsa_id.upper() == order.unit_hsa_id.upper() for u in self.managed_units)


APPROVER_ROLES = frozenset({RoleName.SKANEFORVALTNINGEN, RoleName.CONTRACT_MANAGER, RoleName.VARDGIVARSERVICE,
                            RoleName.IT_KUNDTJANST_PRIVATA, RoleName.UNIT_CATALOG_ADMIN})


def load_actor(directory: Directory, session: Session, hsa_id: str, *, now: dt.datetime) -> Actor | None:
    """Build the actor for a signed-in HSA-ID from the directory and the delegations; None if unknown/disabled."""
    person = directory.find_person(hsa_id)
    if person is None or not person.usable:
        return None
    delegations = session.exec(select(Delegation).where(
        Delegation.delegate_hsa_id == person.hsa_id, Delegation.valid_from <= now, Delegation.valid_to > now,
        col(Delegation.revoked_at).is_(None))).all()
    return Actor(
        hsa_id=person.hsa_id, name=person.name, mail=person.mail,
        managed_units=tuple(directory.units_managed_by(person.hsa_id)),
        delegated_units=tuple((d.unit_hsa_id, d.manager_hsa_id) for d in delegations
                              if _still_manages(directory, d.unit_hsa_id, d.manager_hsa_id)),
        roles=frozenset((r.name, r.scope) for r in directory.roles_of(person.hsa_id)),
    )


def _still_manages(directory: Directory, unit_hsa_id: str, manager_hsa_id: str) -> bool:
    """A delegation lapses when the person who granted it no longer manages the unit."""
    unit = directory.unit(unit_hsa_id)
    return bool(unit and unit.manager_hsa_id and unit.manager_hsa_id.upper() == manager_hsa_id.upper())


def require_orderer(actor: Actor) -> None:
    """Ordering pages: unit managers and their delegates."""
    if not actor.orderable_units():
        raise NotAllowed("Du är inte verksamhetschef för någon vårdenhet och har ingen delegering av "
                         "beställningsrätten. Be din verksamhetschef om en delegering.")


def require_manager(actor: Actor) -> None:
    """Delegation: only the unit's verksamhetschef."""
    if not actor.managed_units:
        raise NotAllowed("Bara en vårdenhets verksamhetschef kan delegera beställningsrätten.")


def require_approver(actor: Actor) -> None:
    """The dashboard: members of an approver queue or the system administrators."""
    if not any(role in APPROVER_ROLES or role is RoleName.SYSTEM_ADMIN for role, _scope in actor.roles):
        raise NotAllowed("Du ingår inte i någon attestkö. Kontakta Skånekatalogens katalogansvariga om du ska "
                         "attestera beställningar.")
