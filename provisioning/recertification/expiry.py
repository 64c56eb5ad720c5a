"""Commission review, part 1: memberships that end. Warn before the end, record the end, tell the people once.

A membership stops counting at its npoValidTo by itself (D-2; the gate checks validity), so an expired membership
needs no directory write: "ending" it means recording the end in the review log and mailing the member and the
unit's verksamhetschef, once per membership period (the log's unique key and the outbox's dedupe key). Memberships
ended on purpose (a removal order, HR, recertification) carry npoEndedReason and were announced by whatever ended
them, so they are left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlmodel import Session

from catalog import Directory
from catalog.model import Membership
from kernel import outbox
from kernel.clock import last_day, local_date, local_midnight
from provisioning.recertification.common import ReviewConfig, is_recorded, manager_addresses, record
from provisioning.recertification.models import ReviewEventKind


@dataclass
class EndingReport:
    """HSA-IDs warned and recorded as expired by one run over one unit."""

    warned: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------- expiry and warnings
def warn_from(end: dt.datetime, days: int) -> dt.datetime:
    """When warnings about an end start: local midnight ``days`` days before the end's date."""
    return local_midnight(local_date(end) - dt.timedelta(days=days))


def ending_kind(membership: Membership, *, now: dt.datetime, config: ReviewConfig) -> ReviewEventKind | None:
    """EXPIRED, EXPIRY_WARNING or None for one membership at ``now``."""
    end = membership.validity.end
    if end is None or membership.ended_reason:
        return None
    if end <= now:
        recent = end > now - dt.timedelta(days=config.expiry_lookback_days)
        return ReviewEventKind.EXPIRED if recent else None
    if membership.validity.start <= now and now >= warn_from(end, config.warn_days):
        return ReviewEventKind.EXPIRY_WARNING
    return None


def period_key(membership: Membership) -> str:
    """Names one membership period: a changed validity is a new period (and is warned about again)."""
    end = membership.validity.end
    stamp = f"{end:%Y%m%dT%H%M%SZ}" if end else "open"
    return f"{membership.commission_hsa_id}:{membership.person_hsa_id}:{stamp}".upper()


def notify_endings(*, session: Session, directory: Directory, config: ReviewConfig, unit_hsa_id: str,
                   commission_hsa_id: str, now: dt.datetime) -> EndingReport:
    """Warn about the unit's VoB SJF memberships that end soon and record those that ended; mail each once."""
    unit = directory.require_unit(unit_hsa_id)
    report = EndingReport()
    lines: dict[ReviewEventKind, list[dict[str, str]]] = {ReviewEventKind.EXPIRY_WARNING: [],
                                                          ReviewEventKind.EXPIRED: []}
    first_id = None
    for membership in sorted(directory.memberships(commission_hsa_id), key=lambda m: m.person_hsa_id):
        kind = ending_kind(membership, now=now, config=config)
        key = f"{kind.value}:{period_key(membership)}" if kind else ""
        if kind is None or is_recorded(session, key):
            continue
        assert membership.validity.end is not None
        person = directory.find_person(membership.person_hsa_id)
        name = person.name if person else membership.person_hsa_id
        day = last_day(membership.validity.end).isoformat()
        row = record(session, key=key, kind=kind, now=now, unit_hsa_id=unit.hsa_id,
                     commission_hsa_id=commission_hsa_id, person_hsa_id=membership.person_hsa_id,
                     detail=f"{name}: behörigheten gäller till och med {day}")
        if row is None:
            continue
        first_id = first_id or row.id
        expired = kind is ReviewEventKind.EXPIRED
        (report.expired if expired else report.warned).append(membership.person_hsa_id)
        lines[kind].append({"name": name, "hsa_id": membership.person_hsa_id, "last_day": day})
        outbox.enqueue(session, template="membership_end_member", to=[person.mail if person else None],
                       context={"person_name": name, "unit_name": unit.name, "last_day": day, "expired": expired},
                       dedupe_key=f"member-{key}"[:160], now=now)
    if first_id is not None:
        outbox.enqueue(session, template="membership_end_manager", to=manager_addresses(directory, unit),
                       context={"unit_name": unit.name, "expiring": lines[ReviewEventKind.EXPIRY_WARNING],
                                "expired": lines[ReviewEventKind.EXPIRED], "order_link": config.order_link()},
                       dedupe_key=f"membership-end-manager:{first_id}", now=now)
    return report
