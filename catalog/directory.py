"""`Directory`: the typed gateway to Skånekatalogen. Small methods, typed values in and out, idempotent writes.

Reads never return raw ldap3 entries. Writes check before they write, so running one twice (a retry, two workers,
a crash after the LDAP write and before the SQL commit) ends in the same state (ARCHITECTURE D2).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable
from dataclasses import replace

from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE

from catalog import entries as E
from catalog.identifiers import HsaId, validate_hsa_id
from catalog.ldapconn import (
    DirectoryConfig,
    DirectoryError,
    DirectoryUnavailable,
    Entry,
    EntryNotFound,
    LdapSession,
    escape,
    ldap_time,
)
from catalog.model import (
    SJF_READ_RIGHT,
    VOB_PURPOSE,
    VOB_SJF_NAME,
    CareProvider,
    CareUnit,
    Commission,
    CommissionGrant,
    Membership,
    Person,
    PersonStatus,
    Role,
    RoleName,
    Validity,
)

__all__ = ["Directory", "DirectoryConfig", "DirectoryError", "DirectoryUnavailable", "EntryNotFound"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _TTLCache:
    """A tiny time-bounded cache for entries that rarely change (units, providers)."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._data: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> object | None:
        with self._lock:
            hit = self._data.get(key)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        return None

    def put(self, key: str, value: object) -> None:
        with self._lock:
            self._data[key] = (time.monotonic(), value)

    def drop(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


class Directory:
    """Skånekatalogen over LDAP. One instance per process; safe to share between threads."""

    def __init__(self, config: DirectoryConfig, *, cache_seconds: float = 30.0):
        self.config = config
        self.base = config.base
        self.ldap = LdapSession(config)
        self._cache = _TTLCache(cache_seconds)

    def close(self) -> None:
        """Unbind all connections."""
        self.ldap.close()

    def ping(self) -> None:
        """Raise DirectoryUnavailable/DirectoryError unless the directory answers."""
        self.ldap.ping()

    # ================================================================== reads
    def _one(self, filter_: str, attrs: list[str]) -> Entry | None:
        found = self.ldap.search(self.base, filter_, attributes=attrs, paged=False)
        return found[0] if found else None

    def find_person(self, hsa_id: str) -> Person | None:
        """The person with this HSA-ID, or None."""
        hit = self._one(f"(&(objectClass=hsaPerson)(hsaIdentity={escape(hsa_id)}))", E.PERSON_ATTRS)
        return E.to_person(*hit) if hit else None

    def persons_by_personnummer(self, personnummer: str) -> list[Person]:
        """Every employee identity of one natural person (one per organisation)."""
        filter_ = f"(&(objectClass=hsaPerson)(personalIdentityNumber={escape(personnummer)}))"
        found = self.ldap.search(self.base, filter_, attributes=E.PERSON_ATTRS)
        return [E.to_person(dn, attrs) for dn, attrs in found]

    def people_of_unit(self, unit_hsa_id: str, *, include_disabled: bool = False) -> list[Person]:
        """The persons employed at a unit, sorted by name (without disabled and archived ones unless asked)."""
        unit = self.require_unit(unit_hsa_id)
        found = self.ldap.search(unit.dn, "(objectClass=hsaPerson)", scope="one", attributes=E.PERSON_ATTRS)
        people = [E.to_person(dn, attrs) for dn, attrs in found]
        return sorted((p for p in people if include_disabled or p.usable), key=lambda p: (p.surname, p.given_name))

    def provider(self, hsa_id: str) -> CareProvider | None:
        """The vårdgivare with this HSA-ID, or None (cached briefly)."""
        key = f"provider:{HsaId(hsa_id)}"
        cached = self._cache.get(key)
        if isinstance(cached, CareProvider):
            return cached
        hit = self._one(f"(&(objectClass=hsaHealthCareProvider)(hsaIdentity={escape(hsa_id)}))", E.PROVIDER_ATTRS)
        if not hit:
            return None
        provider = E.to_provider(*hit)
        self._cache.put(key, provider)
        return provider

    def providers(self) -> list[CareProvider]:
        """All vårdgivare, by name."""
        found = self.ldap.search(self.base, "(objectClass=hsaHealthCareProvider)", scope="one",
                                 attributes=E.PROVIDER_ATTRS)
        return sorted((E.to_provider(dn, a) for dn, a in found), key=lambda p: p.name)

    def unit(self, hsa_id: str) -> CareUnit | None:
        """The vårdenhet with this HSA-ID, or None (cached briefly)."""
        key = f"unit:{HsaId(hsa_id)}"
        cached = self._cache.get(key)
        if isinstance(cached, CareUnit):
            return cached
        hit = self._one(f"(&(objectClass=hsaHealthCareUnit)(hsaIdentity={escape(hsa_id)}))", E.UNIT_ATTRS)
        if not hit:
            return None
        unit = E.to_unit(*hit)
        self._cache.put(key, unit)
        return unit

    def require_unit(self, hsa_id: str) -> CareUnit:
        """The vårdenhet, or EntryNotFound with a message a person can act on."""
        unit = self.unit(hsa_id)
        if unit is None:
            raise EntryNotFound(f"Vårdenheten {hsa_id} finns inte i Skånekatalogen.")
        return unit

    def units(self, provider_hsa_id: str | None = None) -> list[CareUnit]:
        """All vårdenheter (of one vårdgivare when given), by name."""
        filter_ = "(objectClass=hsaHealthCareUnit)"
        if provider_hsa_id:
            filter_ = f"(&{filter_}(hsaResponsibleHealthCareProvider={escape(provider_hsa_id)}))"
        found = self.ldap.search(self.base, filter_, attributes=E.UNIT_ATTRS)
        return sorted((E.to_unit(dn, a) for dn, a in found), key=lambda u: u.name)

    def units_managed_by(self, person_hsa_id: str) -> list[CareUnit]:
        """The vårdenheter whose verksamhetschef (hsaHealthCareUnitManager) is this person."""
        found = self.ldap.search(
            self.base, f"(&(objectClass=hsaHealthCareUnit)(hsaHealthCareUnitManager={escape(person_hsa_id)}))",
            attributes=E.UNIT_ATTRS)
        return sorted((E.to_unit(dn, a) for dn, a in found), key=lambda u: u.name)

    def commissions_on_unit(self, unit_hsa_id: str) -> list[Commission]:
        """The medarbetaruppdrag directly below a unit."""
        unit = self.require_unit(unit_hsa_id)
        found = self.ldap.search(unit.dn, "(objectClass=hsaCommission)", scope="one", attributes=E.COMMISSION_ATTRS)
        return [E.to_commission(dn, a) for dn, a in found]

    def commissions_below(self, unit_hsa_ids: Iterable[str]) -> tuple[list[Commission], list[Membership]]:
        """The medarbetaruppdrag on these units and every membership of them, in one search."""
        units = sorted({HsaId(u) for u in unit_hsa_ids if u})
        if not units:
            return [], []
        below = "".join(f"(hsaIdentity:dn:={escape(u)})" for u in units)  # a DN component: the unit or below it
        found = self.ldap.search(
            self.base, f"(&(|(objectClass=hsaCommission)(objectClass=npoCommissionMembership))(|{below}))",
            attributes=["objectClass", *E.COMMISSION_ATTRS, *E.MEMBERSHIP_ATTRS])
        commissions, memberships = [], []
        for dn, attrs in found:
            classes = {c.casefold() for c in attrs.get("objectClass", [])}
            if "hsacommission" in classes and HsaId(E.rdn_value(E.parent_dn(dn))) in units:
                commissions.append(E.to_commission(dn, attrs))
            elif "npocommissionmembership" in classes:
                memberships.append(E.to_membership(dn, attrs))
        held = {c.hsa_id for c in commissions}
        return commissions, [m for m in memberships if m.commission_hsa_id in held]

    def find_commission(self, hsa_id: str) -> Commission | None:
        """The medarbetaruppdrag with this HSA-ID, or None."""
        hit = self._one(f"(&(objectClass=hsaCommission)(hsaIdentity={escape(hsa_id)}))", E.COMMISSION_ATTRS)
        return E.to_commission(*hit) if hit else None

    def require_commission(self, hsa_id: str) -> Commission:
        """The medarbetaruppdrag, or EntryNotFound."""
        commission = self.find_commission(hsa_id)
        if commission is None:
            raise EntryNotFound(f"Medarbetaruppdraget {hsa_id} finns inte i Skånekatalogen.")
        return commission

    def memberships(self, commission_hsa_id: str) -> list[Membership]:
        """Every membership entry (past, current and future) of a commission."""
        commission = self.require_commission(commission_hsa_id)
        found = self.ldap.search(commission.dn, "(objectClass=npoCommissionMembership)", scope="one",
                                 attributes=E.MEMBERSHIP_ATTRS)
        return [E.to_membership(dn, a) for dn, a in found]

    def memberships_of(self, person_hsa_id: str) -> list[Membership]:
        """Every membership entry of one person, on any commission."""
        found = self.ldap.search(
            self.base, f"(&(objectClass=npoCommissionMembership)(hsaCommissionMember={escape(person_hsa_id)}))",
            attributes=E.MEMBERSHIP_ATTRS)
        return [E.to_membership(dn, a) for dn, a in found]

    def commissions_of(self, person_hsa_id: str, at: dt.datetime | None = None) -> list[CommissionGrant]:
        """The commissions a person holds at ``at`` (membership and commission in force, person active)."""
        at = at or _now()
        person = self.find_person(person_hsa_id)
        if person is None or not person.active:
            return []
        grants = []
        for membership in self.memberships_of(person_hsa_id):
            if not membership.is_valid_at(at):
                continue
            hit = self.ldap.read(E.parent_dn(membership.dn), E.COMMISSION_ATTRS)
            if hit is None:
                continue
            commission = E.to_commission(*hit)
            if not commission.is_valid_at(at):
                continue
            unit = self.unit(commission.unit_hsa_id)
            provider = self.provider(unit.provider_hsa_id) if unit else None
            if unit is None or provider is None:
                continue  # an orphaned commission is left out, as HSA's GetMiuForPerson does (DOMAIN §2.3)
            grants.append(CommissionGrant(commission, membership, unit, provider))
        return sorted(grants, key=lambda g: (g.unit.name, g.commission.name))

    def roles(self, name: RoleName | None = None) -> list[Role]:
        """All roles (of one name when given)."""
        filter_ = "(objectClass=npoRole)" if name is None else f"(&(objectClass=npoRole)(npoRoleName={escape(name)}))"
        found = self.ldap.search(f"ou=Roller,{self.base}", filter_, scope="one", attributes=E.ROLE_ATTRS)
        return [E.to_role(dn, a) for dn, a in found]

    def role(self, name: RoleName, scope: str | None = None) -> Role | None:
        """One role by name and scope, or None."""
        hit = self.ldap.read(E.role_dn(self.base, name.value, scope), E.ROLE_ATTRS)
        return E.to_role(*hit) if hit else None

    def roles_of(self, person_hsa_id: str) -> list[Role]:
        """The roles (queues, administrator roles) a person holds."""
        found = self.ldap.search(f"ou=Roller,{self.base}",
                                 f"(&(objectClass=npoRole)(npoRoleMember={escape(person_hsa_id)}))",
                                 scope="one", attributes=E.ROLE_ATTRS)
        return [E.to_role(dn, a) for dn, a in found]

    # ================================================================== writes: organisation
    def create_provider(self, provider: CareProvider) -> CareProvider:
        """Add a vårdgivare unless it exists; return what the directory holds."""
        validate_hsa_id(provider.hsa_id)
        existing = self.provider(provider.hsa_id)
        if existing:
            return existing
        dn = E.child_dn(self.base, provider.hsa_id)
        self.ldap.add(dn, E.PROVIDER_CLASSES, E.provider_attributes(provider))
        return replace(provider, dn=dn)

    def create_unit(self, unit: CareUnit) -> CareUnit:
        """Add a vårdenhet below its vårdgivare unless it exists."""
        validate_hsa_id(unit.hsa_id)
        existing = self.unit(unit.hsa_id)
        if existing:
            return existing
        provider = self.provider(unit.provider_hsa_id)
        if provider is None:
            raise EntryNotFound(f"Vårdgivaren {unit.provider_hsa_id} finns inte i Skånekatalogen.")
        dn = E.child_dn(provider.dn, unit.hsa_id)
        self.ldap.add(dn, E.UNIT_CLASSES, E.unit_attributes(unit))
        return replace(unit, dn=dn)

    def set_provider_connection(self, provider_hsa_id: str, *, consumer: bool | None = None,
                                producer: bool | None = None) -> CareProvider:
        """Connect or disconnect a vårdgivare to NPÖ as consumer and/or producer (npoConsumer, npoProducer; None
        leaves one as it is); returns the vårdgivare as the directory holds it now."""
        provider = self.provider(provider_hsa_id)
        if provider is None:
            raise EntryNotFound(f"Vårdgivaren {provider_hsa_id} finns inte i Skånekatalogen.")
        changes: dict[str, list[tuple[str, list[object]]]] = {
            name: [(MODIFY_REPLACE, ["TRUE" if value else "FALSE"])]
            for name, value in (("npoConsumer", consumer), ("npoProducer", producer)) if value is not None}
        if changes:
            self.ldap.modify(provider.dn, changes)
            self._cache.drop(f"provider:{HsaId(provider_hsa_id)}")
        return replace(provider, consumer=provider.consumer if consumer is None else consumer,
                       producer=provider.producer if producer is None else producer)

    def set_unit_manager(self, unit_hsa_id: str, manager_hsa_id: str | None) -> None:
        """Set (or clear) the verksamhetschef of a unit."""
        unit = self.require_unit(unit_hsa_id)
        value = [manager_hsa_id] if manager_hsa_id else []
        self.ldap.modify(unit.dn, {"hsaHealthCareUnitManager": [(MODIFY_REPLACE, value)]})
        self._cache.drop(f"unit:{HsaId(unit_hsa_id)}")

    # ================================================================== writes: persons
    def create_person(self, person: Person) -> Person:
        """Add a person below ``person.unit_hsa_id`` unless the HSA-ID exists; return the stored person."""
        validate_hsa_id(person.hsa_id)
        existing = self.find_person(person.hsa_id)
        if existing:
            return existing
        unit = self.require_unit(person.unit_hsa_id or "")
        dn = E.child_dn(unit.dn, person.hsa_id)
        self.ldap.add(dn, E.person_classes(person), E.person_attributes(person))
        return replace(person, dn=dn)

    def update_person(self, current: Person, wanted: Person) -> bool:
        """Bring a person's attributes (and unit) to ``wanted``; True when anything changed."""
        if current.hsa_id != wanted.hsa_id:
            raise ValueError("update_person cannot change an HSA-ID")
        dn = current.dn
        if wanted.unit_hsa_id and current.unit_hsa_id != wanted.unit_hsa_id:
            unit = self.require_unit(wanted.unit_hsa_id)
            self.ldap.move(dn, E.hsa_rdn(current.hsa_id), unit.dn)
            dn = E.child_dn(unit.dn, current.hsa_id)
        changes = person_changes(current, wanted)
        if changes:
            self.ldap.modify(dn, changes)
        return bool(changes) or dn != current.dn

    def mark_person(self, hsa_id: str, *, archived: bool | None = None, feigned: bool | None = None) -> Person:
        """Set or clear HSA's archived / feigned marker on a person (idempotent); the stored person."""
        person = self.find_person(hsa_id)
        if person is None:
            raise EntryNotFound(f"Personen {hsa_id} finns inte i Skånekatalogen.")
        changes: list[tuple[str, list[str]]] = []
        for wanted, have, name in ((archived, person.archived, E.ARCHIVED_CLASS),
                                   (feigned, person.feigned, E.FEIGNED_CLASS)):
            if wanted is not None and wanted != have:
                changes.append((MODIFY_ADD if wanted else MODIFY_DELETE, [name]))
        if changes:
            self.ldap.modify(person.dn, {"objectClass": changes})
        return self.find_person(hsa_id) or person

    def disable_person(self, hsa_id: str, *, reason: str, at: dt.datetime | None = None) -> bool:
        """Disable a person (never delete) and end their memberships; True when the person was active."""
        at = at or _now()
        person = self.find_person(hsa_id)
        if person is None:
            raise EntryNotFound(f"Personen {hsa_id} finns inte i Skånekatalogen.")
        self.end_memberships_of(hsa_id, at=at, reason=reason)
        if not person.active:
            return False
        self.ldap.modify(person.dn, {
            "npoPersonStatus": [(MODIFY_REPLACE, [PersonStatus.DISABLED.value])],
            "npoStatusChanged": [(MODIFY_REPLACE, [ldap_time(at)])],
            "npoEndedReason": [(MODIFY_REPLACE, [reason[:256]])],
        })
        return True

    def enable_person(self, hsa_id: str, *, at: dt.datetime | None = None) -> bool:
        """Re-activate a disabled person (a returning employee); True when it changed anything."""
        person = self.find_person(hsa_id)
        if person is None:
            raise EntryNotFound(f"Personen {hsa_id} finns inte i Skånekatalogen.")
        if person.active:
            return False
        self.ldap.modify(person.dn, {
            "npoPersonStatus": [(MODIFY_REPLACE, [PersonStatus.ACTIVE.value])],
            "npoStatusChanged": [(MODIFY_REPLACE, [ldap_time(at or _now())])],
            "npoEndedReason": [(MODIFY_REPLACE, [])],
        })
        return True

    # ================================================================== writes: commissions
    def ensure_commission(self, unit_hsa_id: str, *, name: str = VOB_SJF_NAME, purpose: str = VOB_PURPOSE,
                          rights: tuple[str, ...] = (SJF_READ_RIGHT,), hsa_id: str | None = None,
                          order_reference: str | None = None,
                          valid_from: dt.datetime | None = None) -> tuple[Commission, bool]:
        """Make sure the unit holds a commission with this purpose and rights; (commission, created).

        An existing commission on the unit with the same purpose and all the rights (case-insensitive) counts as
        done. The HSA-ID defaults to ``<unit HSA-ID>-SJF``-style derivation so that a retry finds its own write.
        """
        unit = self.require_unit(unit_hsa_id)
        wanted = {r.casefold() for r in rights}
        for commission in self.commissions_on_unit(unit_hsa_id):
            have = {r.casefold() for r in commission.rights}
            if commission.purpose.casefold() == purpose.casefold() and wanted <= have:
                return commission, False
        commission_id = validate_hsa_id(hsa_id or derived_commission_id(unit_hsa_id))
        commission = Commission(
            hsa_id=commission_id, dn=E.child_dn(unit.dn, commission_id), name=name, purpose=purpose,
            rights=tuple(rights), unit_hsa_id=unit.hsa_id,
            validity=Validity(valid_from) if valid_from else None, order_reference=order_reference)
        created = self.ldap.add(commission.dn, E.COMMISSION_CLASSES, E.commission_attributes(commission))
        if not created:  # a commission with this HSA-ID exists but lacks a right or the purpose: complete it
            existing = self.require_commission(commission_id)
            missing = [r for r in rights if r.casefold() not in {x.casefold() for x in existing.rights}]
            changes: dict[str, list[tuple[str, list[str]]]] = {}
            if missing:
                changes["hsaCommissionRight"] = [(MODIFY_ADD, missing)]
            if existing.purpose.casefold() != purpose.casefold():
                changes["hsaCommissionPurpose"] = [(MODIFY_REPLACE, [purpose])]
            if changes:
                self.ldap.modify(existing.dn, changes)
            return self.require_commission(commission_id), bool(changes)
        return commission, True

    def ensure_membership(self, commission_hsa_id: str, person_hsa_id: str, validity: Validity, *,
                          order_reference: str | None = None) -> tuple[Membership, bool]:
        """Make ``person`` a member of the commission for ``validity``; (membership, changed)."""
        validity = _whole_seconds(validity)
        commission = self.require_commission(commission_hsa_id)
        person = self.find_person(person_hsa_id)
        if person is None:
            raise EntryNotFound(f"Personen {person_hsa_id} finns inte i Skånekatalogen.")
        wanted = Membership(commission_hsa_id=commission.hsa_id, person_hsa_id=person.hsa_id,
                            dn=E.membership_dn(commission.dn, person.hsa_id), validity=validity,
                            order_reference=order_reference)
        hit = self.ldap.read(wanted.dn, E.MEMBERSHIP_ATTRS)
        if hit is None:
            if self.ldap.add(wanted.dn, E.MEMBERSHIP_CLASSES, E.membership_attributes(wanted)):
                return wanted, True
            hit = self.ldap.read(wanted.dn, E.MEMBERSHIP_ATTRS)  # a concurrent writer got there first
            assert hit is not None
        current = E.to_membership(*hit)
        if current.validity == validity and current.ended_reason is None:
            return current, False
        self.ldap.modify(wanted.dn, {
            "npoValidFrom": [(MODIFY_REPLACE, [ldap_time(validity.start)])],
            "npoValidTo": [(MODIFY_REPLACE, [ldap_time(validity.end)] if validity.end else [])],
            "npoOrderReference": [(MODIFY_REPLACE, [order_reference] if order_reference else [])],
            "npoEndedReason": [(MODIFY_REPLACE, [])],
        })
        return wanted, True

    def end_membership(self, commission_hsa_id: str, person_hsa_id: str, *, reason: str,
                       at: dt.datetime | None = None) -> Membership | None:
        """End a membership at ``at`` (kept as history, never deleted); None when there was none."""
        commission = self.require_commission(commission_hsa_id)
        hit = self.ldap.read(E.membership_dn(commission.dn, person_hsa_id), E.MEMBERSHIP_ATTRS)
        if hit is None:
            return None
        return self._end(E.to_membership(*hit), at or _now(), reason)

    def end_memberships_of(self, person_hsa_id: str, *, reason: str, at: dt.datetime | None = None,
                           unit_hsa_id: str | None = None) -> list[Membership]:
        """End every open membership of a person (only on ``unit_hsa_id``'s commissions when given)."""
        at = at or _now()
        ended = []
        for membership in self.memberships_of(person_hsa_id):
            if unit_hsa_id and HsaId(E.rdn_value(E.parent_dn(E.parent_dn(membership.dn)))) != HsaId(unit_hsa_id):
                continue
            result = self._end(membership, at, reason)
            if result is not membership:
                ended.append(result)
        return ended

    def _end(self, membership: Membership, at: dt.datetime, reason: str) -> Membership:
        end = membership.validity.end
        if end is not None and end <= at:
            return membership  # already over: nothing to do
        new_end = max(at, membership.validity.start).replace(microsecond=0)
        self.ldap.modify(membership.dn, {
            "npoValidTo": [(MODIFY_REPLACE, [ldap_time(new_end)])],
            "npoEndedReason": [(MODIFY_REPLACE, [reason[:256]])],
        })
        return replace(membership, validity=Validity(membership.validity.start, new_end), ended_reason=reason)

    # ================================================================== writes: roles
    def ensure_role(self, name: RoleName, *, scope: str | None = None, mail: str | None = None,
                    description: str | None = None) -> Role:
        """Create a role entry unless it exists."""
        existing = self.role(name, scope)
        if existing:
            return existing
        role = Role(name=name, dn=E.role_dn(self.base, name.value, scope), scope=scope, mail=mail,
                    description=description)
        self.ldap.add(role.dn, E.ROLE_CLASSES, E.role_attributes(role))
        return role

    def add_role_member(self, name: RoleName, person_hsa_id: str, *, scope: str | None = None) -> bool:
        """Give a person a role; True when they did not have it."""
        role = self.role(name, scope) or self.ensure_role(name, scope=scope)
        if HsaId(person_hsa_id) in role.members:
            return False
        self.ldap.modify(role.dn, {"npoRoleMember": [(MODIFY_ADD, [person_hsa_id])]})
        return True

    def remove_role_member(self, name: RoleName, person_hsa_id: str, *, scope: str | None = None) -> bool:
        """Take a role from a person; True when they had it."""
        role = self.role(name, scope)
        if role is None:
            return False
        held = [m for m in role.members if m == HsaId(person_hsa_id)]
        if not held:
            return False
        self.ldap.modify(role.dn, {"npoRoleMember": [(MODIFY_DELETE, held)]})
        return True


def _whole_seconds(validity: Validity) -> Validity:
    """The directory stores whole seconds; compare and write in the same precision."""
    end = validity.end.replace(microsecond=0) if validity.end else None
    return Validity(validity.start.replace(microsecond=0), end)


def derived_commission_id(unit_hsa_id: str) -> str:
    """A stable HSA-ID for the VoB SJF commission of a unit, so retries find their own write."""
    candidate = f"{unit_hsa_id}-SJF"
    if len(candidate) <= 31:
        return candidate
    org, _, local = unit_hsa_id.partition("-")
    return f"{org}-{local[: 31 - len(org) - 5]}-SJF"


def person_changes(current: Person, wanted: Person) -> dict[str, list[tuple[str, list[str]]]]:
    """The LDAP modifications that turn ``current`` into ``wanted`` (HR-managed attributes only)."""
    have = E.person_attributes(current)
    want = E.person_attributes(wanted)
    changes: dict[str, list[tuple[str, list[str]]]] = {}
    for name in ("cn", "givenName", "sn", "personalIdentityNumber", "title", "hsaTitle", "paTitleCode", "mail",
                 "npoPersonStatus", "npoEmploymentStart", "npoEmploymentEnd"):
        old, new = have.get(name), want.get(name)
        old_l = old if isinstance(old, list) else ([] if old is None else [old])
        new_l = new if isinstance(new, list) else ([] if new is None else [new])
        if old_l != new_l:
            changes[name] = [(MODIFY_REPLACE, new_l)]
    if "npoPersonStatus" in changes:
        changes["npoStatusChanged"] = [(MODIFY_REPLACE, [ldap_time(_now())])]
        if wanted.active:
            changes["npoEndedReason"] = [(MODIFY_REPLACE, [])]
    return changes
