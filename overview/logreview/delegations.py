"""Who reviews a unit's access log: its verksamhetschef, or a person they delegated log review to (documented).

The verksamhetschef is the unit's ``hsaHealthCareUnitManager`` in Skånekatalogen, read now, not when the round opened.
A delegation is a row in SQL (who delegated to whom, for which unit, from when until when, with a note such as the
decision's reference); it is never deleted, only revoked, so the history is the documentation DOMAIN §1.5 asks for.
A delegation lapses when the person who granted it no longer manages the unit (the new manager decides anew). Its
longest period and when it counts are the rules the ordering right's delegations share (kernel.review, D-53).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, select

from catalog import Directory
from kernel.clock import local_date
from kernel.review import active_delegations, delegation_end, delegation_end_error, granted_by, revoke_once
from kernel.review import same_hsa_id as _same
from kernel.text import has_control_characters
from overview import inputs
from overview.errors import InvalidInput, NotAllowed, NotFound
from overview.logreview.models import LogReviewDelegation
from overview.logreview.rules import InvalidInputs, ReviewerRole

NOTE_MAX = 1000


@dataclass(frozen=True, slots=True)
class Reviewer:
    """A person who may review a unit's log now, and in which capacity."""

    hsa_id: str
    name: str
    mail: str | None
    role: ReviewerRole
    on_behalf_of: str | None = None  # the delegating manager, for a delegate
    delegation_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReviewUnit:
    """A unit whose log a person reviews."""

    hsa_id: str
    name: str
    reviewer: Reviewer


def _active(session: Session, now: dt.datetime, *, unit_hsa_id: str | None = None,
            delegate_hsa_id: str | None = None) -> list[LogReviewDelegation]:
    return active_delegations(session, LogReviewDelegation, now, unit_hsa_id=unit_hsa_id,
                              delegate_hsa_id=delegate_hsa_id)


def reviewers(session: Session, directory: Directory, unit_hsa_id: str, now: dt.datetime) -> list[Reviewer]:
    """The unit's verksamhetschef (if any) and its active, still-valid delegates."""
    unit = directory.unit(unit_hsa_id)
    manager_id = unit.manager_hsa_id if unit else None
    found: list[Reviewer] = []
    manager = directory.find_person(manager_id) if manager_id else None
    if manager is not None and manager.usable:
        found.append(Reviewer(manager.hsa_id, manager.name, manager.mail, ReviewerRole.MANAGER))
    for delegation in _active(session, now, unit_hsa_id=unit_hsa_id):
        if not granted_by(delegation, manager_id) or any(_same(r.hsa_id, delegation.delegate_hsa_id)
                                                                  for r in found):
            continue
        person = directory.find_person(delegation.delegate_hsa_id)
        if person is not None and person.usable:
            found.append(Reviewer(person.hsa_id, person.name, person.mail, ReviewerRole.DELEGATE,
                                  delegation.manager_hsa_id, delegation.id))
    return found


def reviewer(session: Session, directory: Directory, unit_hsa_id: str, hsa_id: str,
             now: dt.datetime) -> Reviewer | None:
    """The person as a reviewer of the unit's log now, or None."""
    return next((r for r in reviewers(session, directory, unit_hsa_id, now) if _same(r.hsa_id, hsa_id)), None)


def reviewable_units(session: Session, directory: Directory, hsa_id: str, now: dt.datetime) -> list[ReviewUnit]:
    """The units whose log the person reviews now: as verksamhetschef, or as a delegate (by unit name)."""
    found = {u.hsa_id: ReviewUnit(u.hsa_id, u.name, Reviewer(hsa_id, "", None, ReviewerRole.MANAGER))
             for u in directory.units_managed_by(hsa_id)}
    for delegation in _active(session, now, delegate_hsa_id=hsa_id):
        unit = directory.unit(delegation.unit_hsa_id)
        if unit is None or unit.hsa_id in found or not granted_by(delegation, unit.manager_hsa_id):
            continue
        found[unit.hsa_id] = ReviewUnit(unit.hsa_id, unit.name, Reviewer(
            hsa_id, "", None, ReviewerRole.DELEGATE, delegation.manager_hsa_id, delegation.id))
    return sorted(found.values(), key=lambda u: u.name)


def is_delegate(session: Session, hsa_id: str, now: dt.datetime) -> bool:
    """True when the person holds any active log review delegation (the menu's cheap check)."""
    return bool(_active(session, now, delegate_hsa_id=hsa_id))


def grant(*, session: Session, directory: Directory, manager_hsa_id: str, unit_hsa_id: str, delegate_hsa_id: str,
          valid_to: dt.date | None, note: str, now: dt.datetime) -> LogReviewDelegation:
    """Document that the unit's verksamhetschef delegates log review to a person until and including ``valid_to``."""
    unit = directory.unit(unit_hsa_id) if unit_hsa_id else None
    if unit is None or not _same(unit.manager_hsa_id, manager_hsa_id):
        raise NotAllowed("Bara enhetens verksamhetschef kan delegera logguppföljningen.")
    manager = directory.find_person(manager_hsa_id)
    errors: dict[str, str] = {}
    delegate = None
    try:
        delegate = directory.find_person(inputs.hsa_id(delegate_hsa_id.strip(), "delegate_hsa_id"))
        if delegate is None or not delegate.usable:
            errors["delegate_hsa_id"] = f"{delegate_hsa_id.strip()} finns inte som aktiv person i Skånekatalogen."
        elif _same(delegate.hsa_id, manager_hsa_id):
            errors["delegate_hsa_id"] = "Du kan inte delegera till dig själv."
    except InvalidInput as exc:
        errors["delegate_hsa_id"] = exc.message
    if (wrong_end := delegation_end_error(valid_to, local_date(now))) is not None:
        errors["valid_to"] = wrong_end
    text = note.strip()
    if len(text) > NOTE_MAX:
        errors["note"] = f"Anteckningen är {len(text)} tecken lång; högst {NOTE_MAX} tecken är tillåtet."
    elif has_control_characters(text):
        errors["note"] = "Anteckningen innehåller otillåtna styrtecken; skriv om den med vanliga tecken."
    if errors:
        raise InvalidInputs(errors)
    assert delegate is not None and valid_to is not None
    delegation = LogReviewDelegation(
        unit_hsa_id=unit.hsa_id, unit_name=unit.name, manager_hsa_id=manager_hsa_id,
        manager_name=manager.name if manager else "", delegate_hsa_id=delegate.hsa_id, delegate_name=delegate.name,
        note=text, valid_from=now, valid_to=delegation_end(valid_to), created_at=now)
    session.add(delegation)
    session.flush()
    return delegation


def revoke(*, session: Session, directory: Directory, manager_hsa_id: str, delegation_id: int,
           now: dt.datetime) -> LogReviewDelegation:
    """End a delegation now (the unit's current verksamhetschef); revoking twice changes nothing."""
    delegation = session.get(LogReviewDelegation, delegation_id)
    if delegation is None:
        raise NotFound("Delegeringen finns inte.")
    unit = directory.unit(delegation.unit_hsa_id)
    if unit is None or not _same(unit.manager_hsa_id, manager_hsa_id):
        raise NotAllowed("Bara enhetens verksamhetschef kan återkalla delegeringen.")
    revoke_once(session, delegation, now, revoked_by=manager_hsa_id)
    return delegation


def history(session: Session, unit_hsa_ids: list[str]) -> list[LogReviewDelegation]:
    """Every delegation of these units, current and past, newest first (the documentation)."""
    if not unit_hsa_ids:
        return []
    return list(session.exec(select(LogReviewDelegation).where(
        col(LogReviewDelegation.unit_hsa_id).in_(unit_hsa_ids))  # an HsaIdColumn: the values are normalised
        .order_by(col(LogReviewDelegation.created_at).desc(), col(LogReviewDelegation.id).desc())).all())
