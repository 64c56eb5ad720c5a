"""Who may do what (D7), in one place for the pages, the JSON API and the flows.

Roles come from the directory: a unit manager is the unit's hsaHealthCareUnitManager; queues and administrator
roles are npoRole entries. Delegations of the ordering right are recorded in SQL by the manager.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import Session

from catalog import Directory
from catalog.identifiers import HsaId
from catalog.model import CareUnit, RoleName
from kernel.review import active_delegations, granted_by
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "hsa_id", HsaId(self.hsa_id))
        object.__setattr__(self, "delegated_units", tuple((HsaId(u), HsaId(m)) for u, m in self.delegated_units))
        object.__setattr__(self, "roles", frozenset((r, HsaId(s) if s else s) for r, s in self.roles))

    def has_role(self, role: RoleName, scope: str | None = None) -> bool:
        """True when the actor holds ``role`` (for that scope)."""
        return (role, HsaId(scope) if scope else scope) in self.roles

    @property
    def is_system_admin(self) -> bool:
        """NPÖ-förvaltningen (system administration: remediation, log extracts, audit)."""
        return self.has_role(RoleName.SYSTEM_ADMIN)

    @property
    def is_approver(self) -> bool:
        """A member of an approver queue, or a system administrator (the dashboard is theirs)."""
        return any(role in APPROVER_ROLES or role is RoleName.SYSTEM_ADMIN for role, _scope in self.roles)

    def placed(self, order: Order) -> bool:
        """The actor placed ``order``, or it was placed on their behalf (the own-order rule's first half)."""
        return self.hsa_id in {order.requested_by, order.on_behalf_of}

    @property
    def queues(self) -> list[tuple[RoleName, str | None]]:
        """The approver queues the actor works in."""
        return sorted((r for r in self.roles if r[0] is not RoleName.SERVICE_DESK), key=lambda r: (r[0], r[1] or ""))

    def orderable_units(self) -> list[str]:
        """HSA-IDs of the units the actor may order for (managed or delegated)."""
        return sorted({u.hsa_id for u in self.managed_units} | {unit for unit, _m in self.delegated_units})

    def may_order_for(self, unit_hsa_id: str) -> bool:
        """Unit managers order for their units; delegates within their delegation."""
        return HsaId(unit_hsa_id) in self.orderable_units()

    def manager_for(self, unit_hsa_id: str) -> str | None:
        """When ordering as a delegate: the manager who delegated (None when the actor is the manager)."""
        unit = HsaId(unit_hsa_id)
        if any(u.hsa_id == unit for u in self.managed_units):
            return None
        return next((m for u, m in self.delegated_units if u == unit), None)

    def conflict(self, order: Order, subjects: Iterable[str] = ()) -> str | None:
        """Why the actor may not decide ``order`` although it may be in their queue (the own-order rule, the one
        place it is written): they placed it, it was placed on their behalf, or it changes their own access
        (``subjects``: the persons the order's lines concern)."""
        if self.placed(order):
            return "Du kan inte besluta om en beställning som du själv har gjort eller som har gjorts åt dig."
        if self.hsa_id in {HsaId(subject) for subject in subjects}:
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
        return order.state is OrderState.PROVISIONING_FAILED and self.is_system_admin

    def may_view(self, order: Order, *, decided: bool = False) -> bool:
        """The orderer, the unit's manager and delegates, the system admins, whoever decided on it (``decided``),
        and approvers of the queues on the order's route (not every approver: contact details stay in the queues
        that handle the order)."""
        if decided or self.placed(order):
            return True
        if self.may_order_for(order.unit_hsa_id) or self.is_system_admin:
            return True
        return any(self.has_role(role, scope) for role, scope in queues_on_route(order.kind, order.route,
                                                                                 order.unit_hsa_id))

    def may_withdraw(self, order: Order) -> bool:
        """The orderer, or the unit's manager."""
        return self.hsa_id == order.requested_by or any(u.hsa_id == order.unit_hsa_id for u in self.managed_units)


APPROVER_ROLES = frozenset({RoleName.SKANEFORVALTNINGEN, RoleName.CONTRACT_MANAGER, RoleName.VARDGIVARSERVICE,
                            RoleName.IT_KUNDTJANST_PRIVATA, RoleName.UNIT_CATALOG_ADMIN})


def load_actor(directory: Directory, session: Session, hsa_id: str, *, now: dt.datetime) -> Actor | None:
    """Build the actor for a signed-in HSA-ID from the directory and the delegations; None if unknown/disabled."""
    person = directory.find_person(hsa_id)
    if person is None or not person.usable:
        return None
    delegations = active_delegations(session, Delegation, now, delegate_hsa_id=person.hsa_id)
    return Actor(
        hsa_id=person.hsa_id, name=person.name, mail=person.mail,
        managed_units=tuple(directory.units_managed_by(person.hsa_id)),
        delegated_units=tuple((d.unit_hsa_id, d.manager_hsa_id) for d in delegations
                              if _still_granted(directory, d)),
        roles=frozenset((r.name, r.scope) for r in directory.roles_of(person.hsa_id)),
    )


def _still_granted(directory: Directory, delegation: Delegation) -> bool:
    """A delegation lapses when the person who granted it no longer manages the unit (kernel.review.granted_by)."""
    unit = directory.unit(delegation.unit_hsa_id)
    return unit is not None and granted_by(delegation, unit.manager_hsa_id)


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
    if not actor.is_approver:
        raise NotAllowed("Du ingår inte i någon attestkö. Kontakta Skånekatalogens katalogansvariga om du ska "
                         "attestera beställningar.")
