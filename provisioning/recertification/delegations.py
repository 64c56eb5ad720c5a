"""Delegation of the ordering right: a unit manager lets another person order for one unit, for a limited time.

The delegate also reviews the unit's recertification rounds (the ordering right carries the duty to check). How
long a delegation may last and when it counts are the rules the log follow-up's delegations share (kernel.review).
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from catalog import Directory
from catalog.identifiers import InvalidIdentifier, validate_hsa_id
from kernel.clock import local_date
from kernel.hsaid import HsaId
from kernel.review import delegation_end, delegation_end_error, revoke_once
from provisioning.authz import Actor
from provisioning.errors import InvalidInputs, NotAllowed, NotFound
from provisioning.models import Delegation


def grant(*, session: Session, directory: Directory, actor: Actor, unit_hsa_id: str, delegate_hsa_id: str,
          valid_to: dt.date | None, now: dt.datetime) -> Delegation:
    """Delegate the ordering right for a unit the actor manages (until and including ``valid_to``)."""
    if not any(u.hsa_id == HsaId(unit_hsa_id) for u in actor.managed_units):
        raise NotAllowed("Bara enhetens verksamhetschef kan delegera beställningsrätten.")
    errors: dict[str, str] = {}
    delegate = None
    try:
        delegate = directory.find_person(validate_hsa_id(delegate_hsa_id.strip()))
        if delegate is None or not delegate.usable:
            errors["delegate_hsa_id"] = f"{delegate_hsa_id} finns inte som aktiv person i Skånekatalogen."
        elif delegate.hsa_id == actor.hsa_id:
            errors["delegate_hsa_id"] = "Du kan inte delegera till dig själv."
    except InvalidIdentifier as exc:
        errors["delegate_hsa_id"] = exc.message
    if (wrong_end := delegation_end_error(valid_to, local_date(now))) is not None:
        errors["valid_to"] = wrong_end
    if errors:
        raise InvalidInputs(errors)
    assert delegate is not None and valid_to is not None
    delegation = Delegation(unit_hsa_id=unit_hsa_id, manager_hsa_id=actor.hsa_id, delegate_hsa_id=delegate.hsa_id,
                            delegate_name=delegate.name, valid_from=now, valid_to=delegation_end(valid_to),
                            created_at=now)
    session.add(delegation)
    session.flush()
    return delegation


def revoke(*, session: Session, actor: Actor, delegation_id: int, now: dt.datetime) -> Delegation:
    """End a delegation now (the manager who granted it, or the unit's current manager)."""
    delegation = session.get(Delegation, delegation_id)
    if delegation is None:
        raise NotFound("Delegeringen finns inte.")
    if not any(u.hsa_id == delegation.unit_hsa_id for u in actor.managed_units):
        raise NotAllowed("Bara enhetens verksamhetschef kan återkalla delegeringen.")
    revoke_once(session, delegation, now)
    return delegation


def delegations_for(session: Session, actor: Actor, *, now: dt.datetime) -> list[Delegation]:
    """Current and future delegations of the units the actor manages."""
    units = [u.hsa_id for u in actor.managed_units]
    if not units:
        return []
    return list(session.exec(select(Delegation).where(
        col(Delegation.unit_hsa_id).in_(units), col(Delegation.revoked_at).is_(None),
        col(Delegation.valid_to) > now).order_by(col(Delegation.valid_to))).all())
