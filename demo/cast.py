"""The dev login's list of the demo cast, with what the directory says now about their VoB SJF commission.

The cast's notes (demo.organisation.CAST) say who a person is in the demo; whether they or their unit hold the
commission changes as the journeys run (an ordered commission is provisioned, a nurse is added), so it is read from the
directory when the list is shown: one search for the commissions and memberships below the listed units.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from catalog.directory import Directory
from catalog.model import SJF_READ_RIGHT, VOB_PURPOSE, Commission
from demo.organisation import CAST, CastMember

UNIT_WITH, UNIT_WITHOUT = "enheten har VoB SJF", "enheten saknar uppdrag"
PERSON_WITH, PERSON_WITHOUT = "har VoB SJF", "utan uppdrag"


@dataclass(frozen=True, slots=True)
class CastLine:
    """One person of the dev login's list."""

    member: CastMember
    note: str  # the cast note and, for a manager or clinician, whether they (their unit) hold VoB SJF now


def _vob_sjf(commission: Commission, at: dt.datetime) -> bool:
    """A VoB SJF commission in force (purpose and right compared as the directory does: case-insensitively)."""
    return (commission.is_valid_at(at) and commission.purpose.casefold() == VOB_PURPOSE.casefold()
            and any(r.replace(" ", "").casefold() == SJF_READ_RIGHT.casefold() for r in commission.rights))


def _watched(member: CastMember) -> tuple[str, ...]:
    """The units whose commission matters for this person's line: the ones they manage, else their own unit for a
    clinician (the approvers and administrators hold roles, not commissions)."""
    if member.manages:
        return member.manages
    return (member.unit_hsa_id,) if not any(scope is None for _name, scope in member.roles) else ()


def cast_lines(directory: Directory, at: dt.datetime, cast: Sequence[CastMember] = CAST) -> list[CastLine]:
    """The cast with notes that say who holds the commission now: a manager's unit, a clinician's membership."""
    commissions, memberships = directory.commissions_below(u for m in cast for u in _watched(m))
    held = {c.hsa_id.upper(): c.unit_hsa_id.upper() for c in commissions if _vob_sjf(c, at)}
    units_with = set(held.values())
    members = {(m.person_hsa_id.upper(), held[m.commission_hsa_id.upper()]) for m in memberships
               if m.commission_hsa_id.upper() in held and m.is_valid_at(at)}
    lines = []
    for member in cast:
        watched = [u.upper() for u in _watched(member)]
        if not watched:
            lines.append(CastLine(member, member.note))
            continue
        if member.manages:
            state = UNIT_WITH if units_with.intersection(watched) else UNIT_WITHOUT
        else:
            state = PERSON_WITH if (member.hsa_id.upper(), watched[0]) in members else PERSON_WITHOUT
        lines.append(CastLine(member, f"{member.note} ({state})"))
    return lines
