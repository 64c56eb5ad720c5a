"""HR → Skånekatalogen reconciliation: compute a plan (create / update / disable, never delete), then apply it.

The scope is one vårdgivare's subtree (Region Skåne's HR covers Region Skåne's employees). A person is matched by
personnummer. A leaver (missing from the export, or past their employment end) is disabled and their commission
memberships are ended. A plan that would disable more than a configured share of the scope is refused unless
forced. Applying is idempotent: the plan is computed against the directory's current state, so a second run of
the same export finds nothing to do.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from catalog import entries as E
from catalog.bulk import BulkWriter, search_entries
from catalog.directory import Directory, person_changes
from catalog.hrexport import HrExport, HrRow, RejectedRow, mask_personnummer
from catalog.identifiers import HsaId
from catalog.ldapconn import DirectoryError, DirectoryUnavailable, EntryNotFound
from catalog.model import CareUnit, Membership, Person, PersonStatus
from kernel.clock import STOCKHOLM, local_midnight

Progress = Callable[[str, int, int], None]


class ChangeKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DISABLE = "disable"


@dataclass(frozen=True)
class Change:
    """One planned change to one person."""

    kind: ChangeKind
    hsa_id: str
    personnummer: str | None
    wanted: Person | None = None
    current: Person | None = None
    fields: tuple[str, ...] = ()
    reason: str = ""
    line: int | None = None
    # a mover: when the memberships on the old unit's commissions end (the old employment's end plus the grace
    # period), and whether they hold any there now (the mass-change threshold counts those)
    memberships_end: dt.datetime | None = None
    holds_memberships: bool = False

    @property
    def moves(self) -> bool:
        """An update that changes the employing unit (a mover)."""
        return (self.kind is ChangeKind.UPDATE and self.current is not None and self.wanted is not None
                and self.current.unit_hsa_id != self.wanted.unit_hsa_id)

    def describe(self) -> str:
        """One line for the plan listing (personnummer masked)."""
        who = f"{self.hsa_id} ({mask_personnummer(self.personnummer)})"
        if self.kind is ChangeKind.CREATE:
            assert self.wanted is not None
            return f"skapa   {who} {self.wanted.name}, {self.wanted.title} vid {self.wanted.unit_hsa_id}"
        if self.moves:
            assert self.current is not None and self.wanted is not None
            start = (f"ny anställning från {self.wanted.employment_start.astimezone(STOCKHOLM):%Y-%m-%d}; "
                     if self.wanted.employment_start else "")
            ends = (f"upphör {self.memberships_end.astimezone(STOCKHOLM):%Y-%m-%d %H:%M}"
                    if self.memberships_end else "upphör när synkroniseringen körs")
            rights = f"behörigheterna där {ends}" if self.holds_memberships else "inga behörigheter där"
            return f"flytta  {who} från {self.current.unit_hsa_id} till {self.wanted.unit_hsa_id} ({start}{rights})"
        if self.kind is ChangeKind.UPDATE:
            return f"ändra   {who}: {', '.join(self.fields)}"
        return f"inaktivera {who}: {self.reason}"


@dataclass
class SyncPlan:
    """What reconciling one export would do."""

    source: str
    scope_provider: str
    scope_active: int
    creates: list[Change] = field(default_factory=list)
    updates: list[Change] = field(default_factory=list)
    disables: list[Change] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    mover_grace_days: int = 0

    @property
    def changes(self) -> list[Change]:
        return [*self.creates, *self.updates, *self.disables]

    @property
    def joiners(self) -> list[Change]:
        """New employees (created)."""
        return self.creates

    @property
    def movers(self) -> list[Change]:
        """Employees who change employing unit."""
        return [change for change in self.updates if change.moves]

    @property
    def leavers(self) -> list[Change]:
        """Employees who left (disabled)."""
        return self.disables

    @property
    def ending_memberships(self) -> int:
        """Movers who lose memberships on their old unit's commissions (the threshold counts them with the
        disables)."""
        return sum(1 for change in self.movers if change.holds_memberships)

    @property
    def disable_share(self) -> float:
        """Planned disables plus movers losing memberships, as a share of the active persons in scope."""
        lost = len(self.disables) + self.ending_memberships
        return lost / self.scope_active if self.scope_active else 0.0


class SyncRefused(Exception):
    """The plan disables more than the allowed share; nothing was applied."""


@dataclass(frozen=True)
class Arrival:
    """A person who came to a unit in an applied sync, a joiner or a mover: what the ordering side proposes a
    membership order from (provisioning/proposals.py)."""

    hsa_id: str
    unit_hsa_id: str
    title: str | None
    employment_start: dt.datetime | None
    employment_end: dt.datetime | None
    from_unit_hsa_id: str | None = None  # a mover's old unit
    memberships_end: dt.datetime | None = None  # when the mover's memberships there end; None: they held none


@dataclass
class SyncReport:
    """The outcome of one run: counts, what was applied, what was not, and every rejected row."""

    plan: SyncPlan
    dry_run: bool
    forced: bool = False
    applied: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    unknown: list[Change] = field(default_factory=list)
    not_attempted: list[Change] = field(default_factory=list)
    refused: str | None = None
    unavailable: str | None = None
    seconds: float = 0.0
    # per mover (HSA-ID): the memberships on the old unit that were ended or given the old employment's end
    moved_memberships: dict[str, list[Membership]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when everything planned was applied (or it was a dry run) and nothing was refused."""
        return not (self.refused or self.unavailable or self.failed or self.unknown or self.not_attempted)

    def counts(self) -> dict[str, int]:
        """Planned and applied counts per kind."""
        applied = {kind: sum(1 for c in self.applied if c.kind is kind) for kind in ChangeKind}
        return {
            "joiners": len(self.plan.joiners), "movers": len(self.plan.movers), "leavers": len(self.plan.leavers),
            "planned_create": len(self.plan.creates), "planned_update": len(self.plan.updates),
            "planned_disable": len(self.plan.disables), "unchanged": self.plan.unchanged,
            "rejected_rows": len(self.plan.rejected),
            "applied_create": applied[ChangeKind.CREATE], "applied_update": applied[ChangeKind.UPDATE],
            "applied_disable": applied[ChangeKind.DISABLE], "failed": len(self.failed),
            "unknown": len(self.unknown), "not_attempted": len(self.not_attempted),
        }

    def arrivals(self) -> list[Arrival]:
        """The joiners and movers that were applied."""
        found = []
        for change in self.applied:
            if change.wanted is None or not (change.kind is ChangeKind.CREATE or change.moves):
                continue
            ended = [m.validity.end for m in self.moved_memberships.get(change.hsa_id, []) if m.validity.end]
            found.append(Arrival(
                change.hsa_id, change.wanted.unit_hsa_id or "", change.wanted.title, change.wanted.employment_start,
                change.wanted.employment_end, change.current.unit_hsa_id if change.current else None,
                max(ended) if ended else None))
        return found

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly summary (personnummer masked)."""
        return {
            "source": self.plan.source, "dry_run": self.dry_run, "forced": self.forced, "ok": self.ok,
            "refused": self.refused, "unavailable": self.unavailable, "seconds": round(self.seconds, 3),
            "counts": self.counts(), "mover_grace_days": self.plan.mover_grace_days,
            "movers": [c.describe() for c in self.plan.movers],
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.plan.rejected],
            "failed": [{"change": c.describe(), "error": e} for c, e in self.failed],
            "unknown": [c.describe() for c in self.unknown],
            "not_attempted": [c.describe() for c in self.not_attempted],
        }

    def lines(self, *, list_changes: bool = False) -> list[str]:
        """The report as text lines (Swedish), for the CLI and the flow's artifact: the counts per kind, then the
        rejected rows in file order and the failures; every planned change only with ``list_changes``."""
        c = self.counts()
        head = "Förhandsgranskning (inget ändrat)" if self.dry_run else "Synkronisering"
        out = [f"{head} av {self.plan.source} mot {self.plan.scope_provider} "
               f"({self.plan.scope_active} aktiva personer i katalogen)",
               f"  nyanställda: {c['joiners']}  flyttar: {c['movers']}  slutat: {c['leavers']}",
               f"  skapa: {c['planned_create']}  ändra: {c['planned_update']}  inaktivera: {c['planned_disable']}"
               f"  oförändrade: {c['unchanged']}  avvisade rader: {c['rejected_rows']}"]
        if not self.dry_run and not self.refused:
            out.append(f"  genomfört: skapade {c['applied_create']}, ändrade {c['applied_update']}, "
                       f"inaktiverade {c['applied_disable']}; misslyckade {c['failed']}, okänt utfall "
                       f"{c['unknown']}, ej påbörjade {c['not_attempted']}")
        if self.refused:
            out.append(f"  AVBRUTET: {self.refused}")
        if self.unavailable:
            out.append(f"  KATALOGEN SVARAR INTE: {self.unavailable}. Det som står som genomfört är gjort; "
                       "kör samma fil igen när katalogen svarar, så slutförs resten.")
        movers = self.plan.movers
        if movers and (self.dry_run or list_changes):
            grace = self.plan.mover_grace_days
            out.append(f"Flyttar ({len(movers)}); behörigheter på den gamla enheten upphör när den gamla "
                       f"anställningen slutar{f' + {grace} dagar' if grace else ''}:")
            out += [f"  {change.describe()}" for change in movers[:MOVERS_LISTED]]
            if len(movers) > MOVERS_LISTED:
                out.append(f"  … och {len(movers) - MOVERS_LISTED} till (--json listar alla)")
        if self.plan.rejected:
            out.append(f"Avvisade rader ({len(self.plan.rejected)}), i filens ordning:")
            out += [f"  rad {r.line}: {r.reason}" for r in sorted(self.plan.rejected, key=lambda r: r.line)]
        out += [f"  FEL {change.describe()}: {error}" for change, error in self.failed]
        if list_changes and self.plan.changes:
            out.append(f"Planerade ändringar ({len(self.plan.changes)}):")
            out += [f"  {change.describe()}" for change in self.plan.changes]
        return out


MOVERS_LISTED = 200


def _new_hsa_id(org_hsa_prefix: str, taken: set[str], choice: Callable[[str], str]) -> str:
    """A random person HSA-ID under the prefix that no one in ``taken`` has."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    while True:
        candidate = HsaId(f"{org_hsa_prefix}-P{''.join(choice(alphabet) for _ in range(6))}")
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def _wanted(row: HrRow, hsa_id: str, current: Person | None) -> Person:
    start = local_midnight(row.employment_start)
    end = local_midnight(row.employment_end) if row.employment_end else None
    return Person(
        hsa_id=hsa_id, dn=current.dn if current else "", given_name=row.given_name, surname=row.surname,
        personnummer=row.personnummer, title=row.title,
        hsa_titles=row.hsa_titles if row.hsa_titles is not None else (current.hsa_titles if current else ()),
        pa_title_codes=(row.pa_title_codes if row.pa_title_codes is not None
                        else (current.pa_title_codes if current else ())),
        mail=row.mail if row.has_mail else (current.mail if current else None),
        status=PersonStatus.ACTIVE, unit_hsa_id=row.unit_hsa_id, employment_start=start, employment_end=end,
    )


_FIELD_NAMES = {"cn": "namn", "givenName": "förnamn", "sn": "efternamn", "title": "titel", "hsaTitle": "legitimation",
                "paTitleCode": "befattningskod", "mail": "e-post", "npoPersonStatus": "återaktiveras",
                "npoEmploymentStart": "anställningsstart", "npoEmploymentEnd": "anställningsslut",
                "personalIdentityNumber": "personnummer"}


def _hr_fields(person: Person) -> tuple[object, ...]:
    """The attributes HR manages, cheap to compare (the no-op path of 50,000 persons goes through here)."""
    return (person.given_name, person.surname, person.personnummer, person.title, person.hsa_titles,
            person.pa_title_codes, person.mail, person.status, person.employment_start, person.employment_end)


def old_memberships_end(row: HrRow, grace_days: int) -> dt.datetime:
    """When a mover's memberships on the old unit end: at the end of the old employment's last day (the earlier row's
    end, else the day before the new employment starts), plus the grace period."""
    last_day = row.previous_end or (row.employment_start - dt.timedelta(days=1))
    return local_midnight(last_day + dt.timedelta(days=1 + grace_days))


def _future(instant: dt.datetime, today: dt.date) -> dt.datetime | None:
    """``instant`` when it lies after today began, else None: already past, the memberships end when the sync runs."""
    return instant if instant > local_midnight(today) else None


def plan_sync(export: HrExport, current: list[Person], units: dict[str, CareUnit], *, provider_hsa_id: str,
              today: dt.date, choice: Callable[[str], str] = secrets.choice, mover_grace_days: int = 0,
              holders: Mapping[str, frozenset[str]] | None = None) -> SyncPlan:
    """Compare an export with the persons in scope; pure (no directory access). ``choice`` draws the characters
    of new HSA-IDs: the random source is an input, like ``today``. ``holders`` names, per person HSA-ID, the units on
    whose commissions they hold a membership in force (a mover who holds one there loses it)."""
    holders = holders or {}
    by_pnr: dict[str, Person] = {}
    for known in current:
        # a natural person has one HSA-ID per organisation; within one provider prefer the active one
        if known.personnummer and (known.personnummer not in by_pnr or known.active):
            by_pnr[known.personnummer] = known
    plan = SyncPlan(source=export.source, scope_provider=provider_hsa_id,
                    scope_active=sum(1 for p in current if p.active), rejected=list(export.rejected),
                    mover_grace_days=mover_grace_days)
    taken = {p.hsa_id for p in current}
    org_prefix = provider_hsa_id.split("-")[0]
    protected = {r.personnummer for r in export.rejected if r.personnummer}
    seen: set[str] = set()
    for row in export.rows:
        unit = units.get(HsaId(row.unit_hsa_id))
        if unit is None:
            plan.rejected.append(RejectedRow(row.line, f"enheten {row.unit_hsa_id} finns inte hos vårdgivaren "
                                                       f"{provider_hsa_id} i Skånekatalogen", row.personnummer))
            protected.add(row.personnummer)
            continue
        row = replace(row, unit_hsa_id=unit.hsa_id)
        seen.add(row.personnummer)
        person = by_pnr.get(row.personnummer)
        left = row.employment_end is not None and row.employment_end < today
        if person is None:
            if left:
                plan.unchanged += 1  # a former employee never registered: nothing to do
                continue
            hsa_id = _new_hsa_id(org_prefix, taken, choice)
            plan.creates.append(Change(ChangeKind.CREATE, hsa_id, row.personnummer,
                                       wanted=_wanted(row, hsa_id, None), line=row.line))
            continue
        if left:
            if person.active:
                plan.disables.append(Change(ChangeKind.DISABLE, person.hsa_id, row.personnummer, current=person,
                                            reason=f"anställningen upphörde {row.employment_end}", line=row.line))
            else:
                plan.unchanged += 1
            continue
        wanted = _wanted(row, person.hsa_id, person)
        same = _hr_fields(person) == _hr_fields(wanted)
        # the listing names what HR changed; the status bookkeeping that comes with re-enabling is not named
        fields = [] if same else [_FIELD_NAMES[name] for name in person_changes(person, wanted) if name in _FIELD_NAMES]
        moving = person.unit_hsa_id != unit.hsa_id
        if moving:
            fields.append("enhet")
        if fields:
            plan.updates.append(Change(
                ChangeKind.UPDATE, person.hsa_id, row.personnummer, wanted=wanted, current=person,
                fields=tuple(fields), line=row.line,
                memberships_end=_future(old_memberships_end(row, mover_grace_days), today) if moving else None,
                holds_memberships=moving and HsaId(person.unit_hsa_id or "") in holders.get(person.hsa_id, ())))
        else:
            plan.unchanged += 1
    for person in current:
        if person.active and person.personnummer not in seen and person.personnummer not in protected:
            plan.disables.append(Change(ChangeKind.DISABLE, person.hsa_id, person.personnummer, current=person,
                                        reason="saknas i HR-underlaget"))
    return plan


def persons_in_scope(directory: Directory, provider_hsa_id: str) -> tuple[list[Person], dict[str, CareUnit]]:
    """Every person and unit below one vårdgivare (paged reads)."""
    provider = directory.provider(provider_hsa_id)
    if provider is None:
        raise EntryNotFound(f"Vårdgivaren {provider_hsa_id} (NPO_HR_PROVIDER_HSA_ID) finns inte i Skånekatalogen.")
    units = {u.hsa_id: u for u in directory.units(provider_hsa_id)}
    persons = [E.to_person(dn, attrs) for dn, attrs in
               search_entries(directory.config, provider.dn, "objectClass", "hsaPerson", E.PERSON_ATTRS)]
    return persons, units


def memberships_in_scope(directory: Directory, provider_hsa_id: str, at: dt.datetime) -> dict[str, frozenset[str]]:
    """Per person HSA-ID, the units below the vårdgivare on whose commissions they hold a membership that is in
    force at ``at`` or starts later (one paged read)."""
    provider = directory.provider(provider_hsa_id)
    if provider is None:
        return {}
    found: dict[str, set[str]] = {}
    for dn, attrs in search_entries(directory.config, provider.dn, "objectClass", "npoCommissionMembership",
                                    E.MEMBERSHIP_ATTRS):
        membership = E.to_membership(dn, attrs)
        if membership.validity.end is None or membership.validity.end > at:
            unit = HsaId(E.rdn_value(E.parent_dn(E.parent_dn(dn))))
            found.setdefault(membership.person_hsa_id, set()).add(unit)
    return {person: frozenset(units) for person, units in found.items()}


def check_threshold(plan: SyncPlan, max_share: float, *, force: bool) -> str | None:
    """The refusal message when the plan disables (or ends movers' memberships) too much and is not forced."""
    if force or plan.disable_share <= max_share:
        return None
    movers = (f" och avslutar behörigheterna för {plan.ending_memberships} som flyttar"
              if plan.ending_memberships else "")
    return (f"planen inaktiverar {len(plan.disables)}{movers} av {plan.scope_active} personer "
            f"({plan.disable_share:.1%}), mer än tillåtna {max_share:.1%}. Kontrollera HR-filen; "
            "är ändringen avsedd, kör igen med --force.")


def apply_plan(directory: Directory, plan: SyncPlan, *, progress: Progress | None = None) -> SyncReport:
    """Apply a plan: creates and attribute updates pipelined, moves and disables one by one (they touch
    memberships too); stops cleanly and accounts for every change if LDAP goes away."""
    report = SyncReport(plan=plan, dry_run=False)
    total = len(plan.changes)
    done = 0

    def tick(phase: str, step: int = 1) -> None:
        nonlocal done
        done += step
        if progress and (done % 500 == 0 or done == total):
            progress(phase, done, total)

    by_tag: dict[Hashable, Change] = {change.hsa_id: change for change in plan.creates}
    units: dict[str, str] = {}
    with BulkWriter(directory.config) as writer:
        for change in plan.creates:
            assert change.wanted is not None
            unit_id = change.wanted.unit_hsa_id or ""
            if unit_id not in units:
                units[unit_id] = directory.require_unit(unit_id).dn
            writer.add(change.hsa_id, E.child_dn(units[unit_id], change.hsa_id), E.PERSON_CLASSES,
                       E.person_attributes(change.wanted))
            tick("skapar")
        result = writer.finish()
    report.applied += [by_tag[o.tag] for o in result.done]
    report.failed += [(by_tag[o.tag], f"{o.message} (resultCode {o.code})") for o in result.failed]
    report.unknown += [by_tag[t] for t in result.unknown]
    if result.unavailable:
        report.unavailable = result.unavailable
        report.not_attempted = [*plan.updates, *plan.disables]
        return report
    in_place = [c for c in plan.updates if not c.moves]
    by_update: dict[Hashable, Change] = {change.hsa_id: change for change in in_place}
    with BulkWriter(directory.config) as writer:  # attribute changes: pipelined like the creates
        for change in in_place:
            assert change.current is not None and change.wanted is not None
            writer.modify(change.hsa_id, change.current.dn, person_changes(change.current, change.wanted))
            tick("uppdaterar")
        result = writer.finish()
    report.applied += [by_update[o.tag] for o in result.done]
    report.failed += [(by_update[o.tag], f"{o.message} (resultCode {o.code})") for o in result.failed]
    report.unknown += [by_update[t] for t in result.unknown]
    rest = [*plan.movers, *plan.disables]
    if result.unavailable:
        report.unavailable = result.unavailable
        report.not_attempted = rest
        return report
    for index, change in enumerate(rest):
        try:
            if change.kind is ChangeKind.UPDATE:
                assert change.current is not None and change.wanted is not None
                # the old unit's memberships last until the old employment ends (never past; at once if it has)
                ends = max(change.memberships_end or dt.datetime.now(dt.UTC), dt.datetime.now(dt.UTC))
                report.moved_memberships[change.hsa_id] = directory.end_memberships_of(
                    change.hsa_id, unit_hsa_id=change.current.unit_hsa_id, reason="bytt enhet enligt HR", at=ends)
                directory.update_person(change.current, change.wanted)
            else:
                directory.disable_person(change.hsa_id, reason=change.reason)
            report.applied.append(change)
        except DirectoryUnavailable as exc:
            report.unavailable = exc.message
            report.unknown.append(change)
            report.not_attempted = rest[index + 1:]
            return report
        except DirectoryError as exc:
            report.failed.append((change, exc.message))
        tick("uppdaterar")
    return report


def run_sync(directory: Directory, export: HrExport, *, provider_hsa_id: str, max_disable_share: float,
             dry_run: bool = False, force: bool = False, today: dt.date | None = None,
             progress: Progress | None = None, mover_grace_days: int = 0) -> SyncReport:
    """Plan and (unless dry_run or refused) apply one export; the single entry point of CLI and flow."""
    started = time.monotonic()
    today = today or dt.datetime.now(STOCKHOLM).date()
    current, units = persons_in_scope(directory, provider_hsa_id)
    holders = memberships_in_scope(directory, provider_hsa_id, dt.datetime.now(dt.UTC))
    plan = plan_sync(export, current, units, provider_hsa_id=provider_hsa_id, today=today,
                     mover_grace_days=mover_grace_days, holders=holders)
    refused = check_threshold(plan, max_disable_share, force=force)
    if dry_run or refused:
        report = SyncReport(plan=plan, dry_run=dry_run, forced=force, refused=refused)
    else:
        report = apply_plan(directory, plan, progress=progress)
        report.forced = force
    report.seconds = time.monotonic() - started
    return report
