"""Typed values the directory gateway returns: persons, vårdgivare, vårdenheter, medarbetaruppdrag, roles.

These are plain frozen dataclasses; nothing here talks to LDAP. Times are timezone-aware (UTC in the directory).
Every HSA-ID a value holds is an `HsaId` (upper-cased when the value is made), so callers compare them with ``==``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from catalog.identifiers import HsaId, hsa_id_or_none

VOB_PURPOSE = "Vård och behandling"
SJF_READ_RIGHT = "Läsa;Alla;SJF"
VOB_SJF_NAME = "VoB SJF"


class PersonStatus(StrEnum):
    """Whether a person (employee identity) may be used at all."""

    ACTIVE = "active"
    DISABLED = "disabled"


class Management(StrEnum):
    """Driftsform of a vårdgivare: public (a region) or private."""

    PUBLIC = "offentlig"
    PRIVATE = "privat"


class RoleName(StrEnum):
    """Approver queues and administrator roles held in the directory (ARCHITECTURE §1, D7)."""

    SKANEFORVALTNINGEN = "skaneforvaltningen"  # approves public units' commissions
    CONTRACT_MANAGER = "avtalsforvaltare"  # Koncernkontoret: private health-choice commissions, stage 1
    VARDGIVARSERVICE = "vardgivarservice"  # private units' setup in Skånekatalogen
    IT_KUNDTJANST_PRIVATA = "it-kundtjanst-privata"  # private units' users
    UNIT_CATALOG_ADMIN = "katalogadministrator"  # a public unit's catalog administrator (scoped to the unit)
    SYSTEM_ADMIN = "npo-forvaltning"  # system administration: remediation, log extracts, audit
    SERVICE_DESK = "servicedesk"  # receives fault reports


@dataclass(frozen=True, slots=True)
class Validity:
    """A half-open period [start, end); ``end`` None means open-ended."""

    start: dt.datetime
    end: dt.datetime | None = None

    def contains(self, at: dt.datetime) -> bool:
        """True when ``at`` lies inside the period."""
        return self.start <= at and (self.end is None or at < self.end)


@dataclass(frozen=True, slots=True)
class Person:
    """An employee identity (one HSA-ID) in Skånekatalogen."""

    hsa_id: str
    dn: str
    given_name: str
    surname: str
    personnummer: str | None = None
    title: str | None = None
    hsa_titles: tuple[str, ...] = ()
    pa_title_codes: tuple[str, ...] = ()
    mail: str | None = None
    status: PersonStatus = PersonStatus.ACTIVE
    unit_hsa_id: str | None = None
    employment_start: dt.datetime | None = None
    employment_end: dt.datetime | None = None
    archived: bool = False  # hsaArchivedObject: kept for history, never usable
    feigned: bool = False  # hsaFeignedDataObject: a test person, not usable in production

    def __post_init__(self) -> None:
        object.__setattr__(self, "hsa_id", HsaId(self.hsa_id))
        object.__setattr__(self, "unit_hsa_id", hsa_id_or_none(self.unit_hsa_id))

    @property
    def name(self) -> str:
        """Full display name."""
        return f"{self.given_name} {self.surname}".strip()

    @property
    def active(self) -> bool:
        """True unless the person is disabled."""
        return self.status is PersonStatus.ACTIVE

    @property
    def usable(self) -> bool:
        """Active and not archived: may sign in, order, approve and be given access (HSA: an archived object must
        not be used). Feigned (test) persons are usable here; the PDL gate refuses them in production."""
        return self.active and not self.archived


@dataclass(frozen=True, slots=True)
class CareProvider:
    """Vårdgivare."""

    hsa_id: str
    dn: str
    name: str
    org_no: str
    management: Management = Management.PUBLIC
    care_agreement: str | None = None
    consumer: bool = False
    producer: bool = False
    mail: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hsa_id", HsaId(self.hsa_id))


@dataclass(frozen=True, slots=True)
class CareUnit:
    """Vårdenhet."""

    hsa_id: str
    dn: str
    name: str
    provider_hsa_id: str
    manager_hsa_id: str | None = None
    kind: str | None = None
    care_agreement: str | None = None
    mail: str | None = None
    locality: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hsa_id", HsaId(self.hsa_id))
        object.__setattr__(self, "provider_hsa_id", HsaId(self.provider_hsa_id))
        object.__setattr__(self, "manager_hsa_id", hsa_id_or_none(self.manager_hsa_id))


@dataclass(frozen=True, slots=True)
class Commission:
    """Medarbetaruppdrag (hsaCommission) on a vårdenhet."""

    hsa_id: str
    dn: str
    name: str
    purpose: str
    rights: tuple[str, ...]
    unit_hsa_id: str
    validity: Validity | None = None
    order_reference: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hsa_id", HsaId(self.hsa_id))
        object.__setattr__(self, "unit_hsa_id", HsaId(self.unit_hsa_id))

    def is_valid_at(self, at: dt.datetime) -> bool:
        """True when the commission itself is in force at ``at`` (no dates = always)."""
        return self.validity is None or self.validity.contains(at)


@dataclass(frozen=True, slots=True)
class Membership:
    """One person's link to a medarbetaruppdrag, with its validity period."""

    commission_hsa_id: str
    person_hsa_id: str
    dn: str
    validity: Validity
    order_reference: str | None = None
    ended_reason: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "commission_hsa_id", HsaId(self.commission_hsa_id))
        object.__setattr__(self, "person_hsa_id", HsaId(self.person_hsa_id))

    def is_valid_at(self, at: dt.datetime) -> bool:
        """True when the link is in force at ``at``."""
        return self.validity.contains(at)


@dataclass(frozen=True, slots=True)
class CommissionGrant:
    """A commission a person holds, with everything the gate and the UI need to show it."""

    commission: Commission
    membership: Membership
    unit: CareUnit
    provider: CareProvider


@dataclass(frozen=True, slots=True)
class Role:
    """An approver queue or administrator role; ``scope`` is a unit/provider HSA-ID for scoped roles."""

    name: RoleName
    dn: str
    scope: str | None = None
    members: tuple[str, ...] = field(default=())
    mail: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", hsa_id_or_none(self.scope))
        object.__setattr__(self, "members", tuple(HsaId(m) for m in self.members))
