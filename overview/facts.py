"""Fact loaders: Skånekatalogen and the SQL tables → ``gate.GateFacts``. Loading only; ``gate.decide`` decides.

Commissions come from the directory on every load (D4), through :class:`GrantCache` when the caller keeps one
("with a short cache"). Everything about the patient, and the publication rules in force (overview.publication,
D-54), come from SQL in the caller's session.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import replace
from typing import Any

from sqlalchemy import Row, Table, func
from sqlmodel import Session, select

from catalog import Directory
from catalog.model import CareProvider, CareUnit, Commission, Membership
from kernel.hsaid import HsaId
from overview import info
from overview import publication as rules_in_force
from overview.gate import (
    BlockFacts,
    BlockKind,
    BlockState,
    CommissionFacts,
    ConsentFacts,
    ConsentPurpose,
    ConsentScope,
    EmergencyFacts,
    GateFacts,
    IncapacityFacts,
    ItemFacts,
    PatientFacts,
    RelationEvidence,
    RelationKind,
    RevokeReason,
    TemporaryRevoke,
    UserFacts,
)
from overview.models import (
    AssertedRelation,
    Block,
    BlockRevoke,
    CareContact,
    Consent,
    EmergencyOpening,
    EmergencyProviderOpening,
    IncapacityAssessment,
    InfoAcknowledgement,
    Patient,
    ProducerItem,
)
from overview.producers import PublicationRules


class GrantCache:
    """A short, thread-safe cache of the commissions each user holds and of the person's own directory facts (D4: a
    read asks Skånekatalogen once per ``seconds`` per user and process, not on every page); ``seconds`` 0 turns it
    off."""

    def __init__(self, seconds: float = 30.0):
        self.seconds = seconds
        self._data: dict[str, tuple[float, tuple[CommissionFacts, ...]]] = {}
        self._users: dict[str, tuple[float, UserFacts]] = {}
        self._lock = threading.Lock()

    def get(self, hsa_id: str) -> tuple[CommissionFacts, ...] | None:
        with self._lock:
            hit = self._data.get(HsaId(hsa_id))
        return hit[1] if hit and time.monotonic() - hit[0] < self.seconds else None

    def put(self, hsa_id: str, commissions: tuple[CommissionFacts, ...]) -> None:
        if self.seconds > 0:
            with self._lock:
                self._data[HsaId(hsa_id)] = (time.monotonic(), commissions)

    def drop(self, hsa_id: str) -> None:
        with self._lock:
            self._data.pop(HsaId(hsa_id), None)
            self._users.pop(HsaId(hsa_id), None)

    def user(self, hsa_id: str) -> UserFacts | None:
        """The person's directory facts (found, active, archived, feigned) when fetched within ``seconds``."""
        with self._lock:
            hit = self._users.get(HsaId(hsa_id))
        return hit[1] if hit and time.monotonic() - hit[0] < self.seconds else None

    def put_user(self, hsa_id: str, user: UserFacts) -> None:
        if self.seconds > 0:
            with self._lock:
                self._users[HsaId(hsa_id)] = (time.monotonic(), user)


# ---------------------------------------------------------------------- directory
def commission_facts(commission: Commission, membership: Membership, unit: CareUnit | None,
                     provider: CareProvider) -> CommissionFacts:
    """A commission as the gate sees it: valid where both the link and the commission are in force."""
    starts = [membership.validity.start] + ([commission.validity.start] if commission.validity else [])
    ends = [e for e in (membership.validity.end, commission.validity.end if commission.validity else None) if e]
    return CommissionFacts(
        hsa_id=commission.hsa_id, name=commission.name, purpose=commission.purpose, rights=commission.rights,
        valid_from=max(starts), valid_to=min(ends) if ends else None,
        unit_hsa_id=unit.hsa_id if unit else None, unit_name=unit.name if unit else "",
        provider_hsa_id=provider.hsa_id, provider_name=provider.name, provider_consumer=provider.consumer)


def load_commissions(directory: Directory, hsa_id: str, *, cache: GrantCache | None = None
                     ) -> tuple[CommissionFacts, ...]:
    """Every commission the user is linked to, valid or not (the gate explains expired and future ones)."""
    cached = cache.get(hsa_id) if cache else None
    if cached is not None:
        return cached
    found = []
    for membership in directory.memberships_of(hsa_id):
        commission = directory.find_commission(membership.commission_hsa_id)
        if commission is None:
            continue
        unit = directory.unit(commission.unit_hsa_id)
        # A commission directly below a vårdgivare has no unit (the gate refuses it for SJF).
        provider = directory.provider(unit.provider_hsa_id if unit else commission.unit_hsa_id)
        if provider is None:
            continue  # orphaned, as HSA's GetMiuForPerson leaves it out (DOMAIN §2.3)
        found.append(commission_facts(commission, membership, unit, provider))
    result = tuple(sorted(found, key=lambda c: (c.unit_name, c.name, c.valid_from or dt.datetime.min.replace(
        tzinfo=dt.UTC))))
    if cache:
        cache.put(hsa_id, result)
    return result


def load_user(directory: Directory, hsa_id: str | None, *, certificate_error: str | None = None,
              cache: GrantCache | None = None) -> UserFacts:
    """Who is asking: found in the directory, active, and not archived or feigned (HSA's markers)."""
    if not hsa_id or certificate_error is not None:
        return UserFacts(hsa_id=hsa_id, certificate_error=certificate_error)
    cached = cache.user(hsa_id) if cache else None
    if cached is not None:
        return cached
    person = directory.find_person(hsa_id)
    user = (UserFacts(hsa_id=hsa_id, in_directory=False, active=False) if person is None else
            UserFacts(hsa_id=person.hsa_id, active=person.active, archived=person.archived, feigned=person.feigned))
    if cache:
        cache.put_user(hsa_id, user)
    return user


# ---------------------------------------------------------------------- SQL
def load_patient(session: Session, personnummer: str) -> PatientFacts:
    """The patient (``found`` False when unknown)."""
    patient = session.get(Patient, personnummer)
    if patient is None:
        return PatientFacts(personnummer=personnummer, found=False)
    return PatientFacts(personnummer=personnummer, protected_identity=patient.protected_identity,
                        birth_date=patient.birth_date)


def load_relations(session: Session, personnummer: str) -> tuple[RelationEvidence, ...]:
    """Care contacts, bookings and asserted relations of the patient, at every unit."""
    contacts, asserted = _table(CareContact), _table(AssertedRelation)
    return (tuple(RelationEvidence(c.care_unit_hsa_id, RelationKind(c.kind), c.start, c.end) for c in session.execute(
        contacts.select().where(contacts.c.personnummer == personnummer)))
            + tuple(RelationEvidence(a.care_unit_hsa_id, RelationKind.ASSERTED, a.start, a.end, a.reason,
                                     a.employee_hsa_id) for a in session.execute(
                asserted.select().where(asserted.c.personnummer == personnummer))))


def _table(model: type) -> Table:
    """A model's table: the loaders read rows, not ORM objects (a page reads dozens, and the ORM's bookkeeping cost
    more than the queries)."""
    return model.__table__  # type: ignore[attr-defined]


def consent_facts(consent: Consent | Row[Any]) -> ConsentFacts:
    """A stored consent (an object or a row) as the gate sees it."""
    return ConsentFacts(
        consent_id=consent.id, purpose=ConsentPurpose(consent.purpose), scope=ConsentScope(consent.scope),
        care_provider_hsa_id=consent.care_provider_hsa_id, care_unit_hsa_id=consent.care_unit_hsa_id,
        employee_hsa_id=consent.employee_hsa_id, start=consent.start, end=consent.end,
        registered_at=consent.registered_at, ended_at=consent.ended_at, voided_at=consent.voided_at,
        represented_by=consent.represented_by, registered_by=consent.registered_by)


def load_consents(session: Session, personnummer: str) -> tuple[ConsentFacts, ...]:
    """Every consent of the patient (ended and voided ones too: the gate tells them apart)."""
    table = _table(Consent)
    rows = session.execute(table.select().where(table.c.personnummer == personnummer)
                           .order_by(table.c.registered_at))
    return tuple(consent_facts(c) for c in rows)


def load_emergencies(session: Session, personnummer: str, now: dt.datetime) -> tuple[EmergencyFacts, ...]:
    """The patient's emergency openings that have not expired, with the steps taken for blocked data."""
    table, steps = _table(EmergencyOpening), _table(EmergencyProviderOpening)
    rows = session.execute(table.select().where(table.c.personnummer == personnummer,
                                                table.c.expires_at > now)).all()
    opened: dict[str, set[str]] = {}
    if rows:
        for step in session.execute(steps.select().where(steps.c.emergency_id.in_([r.id for r in rows]))):
            opened.setdefault(step.emergency_id, set()).add(step.care_provider_hsa_id)
    return tuple(emergency_facts(r, opened.get(r.id, set())) for r in rows)


def load_incapacities(session: Session, personnummer: str, now: dt.datetime) -> tuple[IncapacityFacts, ...]:
    """The patient's incapacity assessments that have not run out (ended ones too: the gate reads ``ended_at``)."""
    table = _table(IncapacityAssessment)
    rows = session.execute(table.select().where(table.c.personnummer == personnummer, table.c.end > now)).all()
    return tuple(IncapacityFacts(r.id, r.care_provider_hsa_id, r.care_unit_hsa_id, r.start, r.end, r.registered_at,
                                 r.ended_at) for r in rows)


def emergency_facts(row: EmergencyOpening | Row[Any], opened: set[str]) -> EmergencyFacts:
    """A stored emergency opening as the gate sees it."""
    return EmergencyFacts(
        opening_id=row.id, employee_hsa_id=row.employee_hsa_id, care_provider_hsa_id=row.care_provider_hsa_id,
        care_unit_hsa_id=row.care_unit_hsa_id, reason=row.reason, opened_at=row.opened_at,
        expires_at=row.expires_at, blocked_providers_revealed=row.providers_revealed_at is not None,
        blocked_providers_opened=frozenset(opened))


def _revoke_end(end: dt.datetime, cancelled_at: dt.datetime | None) -> dt.datetime:
    """A cancelled temporary revoke has no effect from its cancellation on: to the gate, it ended then."""
    return end if cancelled_at is None or cancelled_at >= end else cancelled_at


def load_blocks(session: Session, personnummer: str) -> tuple[BlockFacts, ...]:
    """The patient's blocks in every state, each with its temporary revokes."""
    table, revoke_table = _table(Block), _table(BlockRevoke)
    blocks = session.execute(table.select().where(table.c.personnummer == personnummer)).all()
    revokes: dict[str, list[TemporaryRevoke]] = {}
    if blocks:
        for r in session.execute(revoke_table.select().where(revoke_table.c.block_id.in_([b.id for b in blocks]))):
            revokes.setdefault(r.block_id, []).append(TemporaryRevoke(
                r.id, r.care_unit_hsa_id, r.employee_hsa_id, _revoke_end(r.end, r.cancelled_at), RevokeReason(r.reason),
                r.start))
    return tuple(BlockFacts(
        block_id=b.id, kind=BlockKind(b.kind), care_provider_hsa_id=b.care_provider_hsa_id,
        care_unit_hsa_id=b.care_unit_hsa_id, info_start=b.info_start, info_end=b.info_end,
        excluded_types=frozenset(t for t in b.excluded_types.split(",") if t), state=BlockState(b.state),
        revokes=tuple(revokes.get(b.id, ())), registered_by_guardian=b.registered_by_guardian) for b in blocks)


def load_items(session: Session, personnummer: str) -> tuple[ItemFacts, ...]:
    """Everything the producers delivered about the patient, newest first."""
    table = _table(ProducerItem)
    rows = session.execute(table.select().where(table.c.personnummer == personnummer)
                           .order_by(table.c.date.desc(), table.c.id)).all()
    return tuple(ItemFacts(
        item_id=r.id, system=r.system, category=r.category, care_provider_hsa_id=r.care_provider_hsa_id,
        care_unit_hsa_id=r.care_unit_hsa_id, date=r.date, document_kind=r.document_kind, profession=r.profession,
        setting=r.setting, info_type=r.info_type, title=r.title, body=r.body, date_end=r.date_end) for r in rows)


_ACKNOWLEDGED: dict[tuple[str, str], int] = {}  # (database, HSA-ID) -> a version this process saw confirmed (D-64)
_ACKNOWLEDGED_MAX = 100_000


def acknowledged_version(session: Session, hsa_id: str | None) -> int | None:
    """The highest version of "Information innan start" the employee has confirmed.

    A confirmation of the current version is remembered in the process: confirmations are never taken back and the
    current version only changes with a new release, so the answer cannot become false (D-64). Anything lower is
    asked again on each read, so a confirmation made through another process counts at once."""
    if not hsa_id:
        return None
    key = (str(session.get_bind().engine.url), hsa_id)
    known = _ACKNOWLEDGED.get(key)
    if known is not None and known >= info.VERSION:
        return known
    version = session.exec(select(func.max(InfoAcknowledgement.version))
                           .where(InfoAcknowledgement.employee_hsa_id == hsa_id)).one()
    if version is not None and version >= info.VERSION:
        if len(_ACKNOWLEDGED) >= _ACKNOWLEDGED_MAX:
            _ACKNOWLEDGED.clear()
        _ACKNOWLEDGED[key] = version
    return version


def forget_acknowledged() -> None:
    """Ask the database again for every employee (tests: a new database under the same URL)."""
    _ACKNOWLEDGED.clear()


# ---------------------------------------------------------------------- everything
def load_facts(*, session: Session, directory: Directory, user_hsa_id: str | None, commission_hsa_id: str | None,
               now: dt.datetime, production: bool, personnummer: str | None = None,
               certificate_error: str | None = None, cache: GrantCache | None = None,
               publication: PublicationRules | None = None) -> GateFacts:
    """The facts for (user, chosen commission, patient, now); without ``personnummer`` only checks 1–5 apply.
    ``publication`` None: the rules in force, read from the table."""
    user = load_user(directory, user_hsa_id, certificate_error=certificate_error, cache=cache)
    commissions = load_commissions(directory, user.hsa_id, cache=cache) if user.hsa_id and user.in_directory else ()
    facts = GateFacts(user=user, commissions=commissions, chosen_commission=commission_hsa_id,
                      production=production, info_version_current=info.VERSION,
                      info_version_acknowledged=acknowledged_version(session, user.hsa_id),
                      publication=publication if publication is not None else rules_in_force.current(session))
    if personnummer is None:
        return facts
    patient = load_patient(session, personnummer)
    if not patient.found:
        return replace(facts, patient=patient)
    return replace(facts, patient=patient, relations=load_relations(session, personnummer),
                   consents=load_consents(session, personnummer),
                   emergencies=load_emergencies(session, personnummer, now),
                   blocks=load_blocks(session, personnummer), items=load_items(session, personnummer),
                   incapacities=load_incapacities(session, personnummer, now))
