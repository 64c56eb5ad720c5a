"""Use of NPÖ on a behörighetskontroll: each member's last read and whether they have gone idle (issue 14 item 3).

The reads come from the overview's access log (`overview.usage.last_reads`, by the round's commission). The
provisioning package does not import the overview, so the caller (the api layer) reads them and hands them in here as
plain values: member HSA-ID → the instant of their last read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kernel.clock import local_date
from kernel.sqltypes import stored_id
from provisioning.recertification.models import ItemDecision, RecertificationItem

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class MemberUsage:
    """What the round's page says about one member's use of NPÖ through the unit's commission."""

    last_read: dt.datetime | None
    idle: bool  # no read for the idle period, although the member has held the commission at least that long
    text: str  # "Senaste läsning i NPÖ: 2026-03-01" or "Aldrig läst i NPÖ"


def idle_period(days: int) -> str:
    """The idle period in Swedish words: whole months when it is close to them (183 → "6 månader"), else days."""
    months = round(days / DAYS_PER_MONTH)
    if months >= 1 and abs(months * DAYS_PER_MONTH - days) <= 3:
        return "1 månad" if months == 1 else f"{months} månader"
    return "1 dag" if days == 1 else f"{days} dagar"


def member_usage(items: Iterable[RecertificationItem], last_reads: Mapping[str, dt.datetime], *, now: dt.datetime,
                 idle_days: int) -> dict[int, MemberUsage]:
    """Each item's usage by id. A member is idle when they have not read for ``idle_days`` and have held the
    membership at least that long: someone who got access last month and has not read yet is not flagged."""
    cutoff = now - dt.timedelta(days=idle_days)
    found = {}
    for item in items:
        last = last_reads.get(item.person_hsa_id)
        text = f"Senaste läsning i NPÖ: {local_date(last).isoformat()}" if last is not None else "Aldrig läst i NPÖ"
        idle = (last is None or last < cutoff) and item.valid_from <= cutoff
        found[stored_id(item)] = MemberUsage(last, idle, text)
    return found


def marked_by_default(items: Iterable[RecertificationItem], usage: Mapping[int, MemberUsage]) -> set[int]:
    """The members "Ta bort alla markerade" starts with: the idle ones nobody has decided on yet."""
    return {stored_id(item) for item in items
            if item.decision is ItemDecision.PENDING and usage[stored_id(item)].idle}
