"""The review-round core that both reviews share: deadlines in Swedish business days, reminder timing, delegations.

Two reviews work in rounds with a deadline: recertification of a unit's members (provisioning.recertification) and
the follow-up of a unit's access log (overview.logreview). They may not import each other, so what is the same in
both lives here, on the ground floor (D-53): a round's deadline is the end of its N-th Swedish business day and
shows as that last day ("till och med"); reminders are counted in business days and go out on business days, once
a day; a delegation to a reviewer lasts at most one year, counted as the law counts years (same date next year),
runs from when it is granted to the end of its last day, and counts only while it is unrevoked and the person who
granted it still manages the unit. Each review keeps its own tables; the delegation helpers read either table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Protocol, TypeVar

from sqlmodel import Session, col, select

from kernel.clock import (
    add_business_days,
    end_of_day,
    is_business_day,
    last_day,
    local_date,
    local_midnight,
    years_later,
)
from kernel.hsaid import HsaId

__all__ = ["DELEGATION_YEARS", "DelegationRow", "active_delegations", "business_days_left", "deadline_after",
           "delegation_end", "delegation_end_error", "granted_by", "is_reminder_day", "last_day", "reminder_threshold",
           "revoke_once", "same_hsa_id", "start_of_today"]


# ---------------------------------------------------------------------- deadlines in business days
def deadline_after(opened: dt.datetime, business_days: int) -> dt.datetime:
    """The end (local midnight after) of the ``business_days``-th Swedish business day after ``opened``."""
    return end_of_day(local_date(add_business_days(opened, business_days)))


def business_days_left(now: dt.datetime, deadline: dt.datetime) -> int:
    """Swedish business days from today up to and including the last day (0 once the deadline has passed)."""
    if now >= deadline:
        return 0
    day, last, count = local_date(now), last_day(deadline), 0
    while day <= last:
        count += is_business_day(day)
        day += dt.timedelta(days=1)
    return count


# ---------------------------------------------------------------------- reminders
def reminder_threshold(left: int, thresholds: Iterable[int]) -> int | None:
    """The smallest threshold (business days left) that ``left`` has reached, or None before the first one."""
    return next((t for t in sorted(thresholds) if left <= t), None)


def is_reminder_day(now: dt.datetime) -> bool:
    """Reminders about overdue work go out on Swedish business days only."""
    return is_business_day(local_date(now))


def start_of_today(now: dt.datetime) -> dt.datetime:
    """Local midnight of today: a reminder sent before it was sent on an earlier day (at most one a day)."""
    return local_midnight(local_date(now))


# ---------------------------------------------------------------------- delegations to reviewers
DELEGATION_YEARS = 1  # a delegation is renewed (and so documented anew) at least yearly (D-15, D-26, D-53)


def delegation_end_error(valid_to: dt.date | None, today: dt.date) -> str | None:
    """What is wrong with a delegation's last day (to and including), in Swedish; None when it may be granted."""
    if valid_to is None:
        return "Ange till och med vilket datum delegeringen gäller."
    if valid_to < today:
        return "Slutdatumet kan inte ligga bakåt i tiden."
    if valid_to > years_later(today, DELEGATION_YEARS):
        return "En delegering kan gälla högst ett år; förnya den vid behov."
    return None


def delegation_end(valid_to: dt.date) -> dt.datetime:
    """The stored (exclusive) end of a delegation whose last day is ``valid_to``."""
    return end_of_day(valid_to)


class DelegationRow(Protocol):
    """What both delegation tables have: for which unit, granted by which manager, to whom, for when."""

    id: int | None
    unit_hsa_id: str
    manager_hsa_id: str
    delegate_hsa_id: str
    valid_from: dt.datetime
    valid_to: dt.datetime
    revoked_at: dt.datetime | None


Row = TypeVar("Row", bound=DelegationRow)


def same_hsa_id(a: str | None, b: str | None) -> bool:
    """True when both are given and name the same HSA-ID (as `HsaId`s: HSA-IDs compare without case)."""
    return bool(a and b and HsaId(a) == HsaId(b))


def active_delegations(session: Session, table: type[Row], now: dt.datetime, *, unit_hsa_id: str | None = None,
                       delegate_hsa_id: str | None = None) -> list[Row]:
    """The delegations in force at ``now`` (begun, not ended, not revoked), of one unit or delegate when given."""
    query = select(table).where(col(table.valid_from) <= now, col(table.valid_to) > now,
                                col(table.revoked_at).is_(None))
    if unit_hsa_id:
        query = query.where(col(table.unit_hsa_id) == unit_hsa_id)  # an HsaIdColumn: the value is normalised
    if delegate_hsa_id:
        query = query.where(col(table.delegate_hsa_id) == delegate_hsa_id)
    return list(session.exec(query.order_by(col(table.id))).all())


def granted_by(delegation: DelegationRow, manager_hsa_id: str | None) -> bool:
    """True while the person who granted the delegation is the unit's manager: it lapses with them."""
    return same_hsa_id(delegation.manager_hsa_id, manager_hsa_id)


def revoke_once(session: Session, delegation: Row, now: dt.datetime, **also: object) -> bool:
    """Revoke a delegation now (setting the columns ``also`` names too) unless it is revoked already; True when this
    call revoked it. Revoking twice changes nothing: the first revocation is the one documented."""
    if delegation.revoked_at is not None:
        return False
    delegation.revoked_at = now
    for name, value in also.items():
        setattr(delegation, name, value)
    session.add(delegation)
    session.flush()
    return True
