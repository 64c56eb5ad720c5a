"""Commission review, part 1: memberships that end. Warn before the end, record the end, tell the people once.

A membership stops counting at its npoValidTo by itself (D-2; the gate checks validity), so an expired membership
needs no directory write: "ending" it means recording the end in the review log and mailing the member and the
unit's verksamhetschef, once per membership period (the log's unique key and the outbox's dedupe key). Memberships
ended on purpose (a removal order, HR, recertification) carry npoEndedReason and were announced by whatever ended
them, so they are left out. The parts both halves of the review share (config, log, recipients) live here too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select

from catalog import Directory
from catalog.model import CareUnit, Membership
from kernel import outbox
from kernel.clock import last_day, local_date, local_midnight
from provisioning.automation import SYSTEM, SYSTEM_NAME
from provisioning.models import Delegation
from provisioning.ordering import vob_commission
from provisioning.review_models import CommissionReviewEvent, ReviewEventKind

ADMINISTRATIVE_KIND = "förvaltning"  # administrative units hold no VoB SJF (D-11)


@dataclass(frozen=True)
class ReviewConfig:
    """The review's rules (defaults here; the commission-review deployment's parameters override them)."""

    public_base_url: str
    warn_days: int = 14  # warn this many calendar days before a membership ends
    expiry_lookback_days: int = 30  # an end older than this when first seen is history, not news: not announced
    interval_months: int = 12  # recertify each unit this often
    deadline_business_days: int = 10  # the manager decides within this many Swedish business days
    reminder_business_days: tuple[int, ...] = (3, 1)  # remind when this many business days are left

    def link(self, round_id: int | None = None) -> str:
        """The review page (of one round)."""
        base = f"{self.public_base_url.rstrip('/')}/behorighetskontroll"
        return f"{base}/{round_id}" if round_id else base

    def order_link(self) -> str:
        """The page where a manager orders (a longer validity for) staff access."""
        return f"{self.public_base_url.rstrip('/')}/bestall/behorigheter"


@dataclass
class EndingReport:
    """HSA-IDs warned and recorded as expired by one run over one unit."""

    warned: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------- shared: units, log, recipients
def units_with_commission(directory: Directory, provider_hsa_id: str | None = None) -> list[tuple[str, str]]:
    """(unit HSA-ID, commission HSA-ID) of every unit holding VoB SJF (of one vårdgivare when given)."""
    found = []
    for unit in directory.units(provider_hsa_id):
        if unit.kind == ADMINISTRATIVE_KIND:
            continue
        commission = vob_commission(directory, unit.hsa_id)
        if commission is not None:
            found.append((unit.hsa_id, commission.hsa_id))
    return found


def is_recorded(session: Session, key: str) -> bool:
    """True when the review log already holds the fact named ``key``."""
    return session.exec(select(CommissionReviewEvent.id).where(CommissionReviewEvent.key == key)).first() is not None


def insert_once(session: Session, model: type[SQLModel], unique: str, **values: object) -> int | None:
    """INSERT … ON CONFLICT (``unique``) DO NOTHING; the new row's id, or None when the row exists already.

    A plain statement rather than a savepoint: with pysqlite a SAVEPOINT opened before the transaction's first write
    commits on release, which would make a crash before our commit keep half a step. A concurrent insert of the same
    key waits for the other transaction and then does nothing (PostgreSQL).
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(model).values(**values).on_conflict_do_nothing(index_elements=[unique])
    # every model passed has an integer id; SQLModel, the type that covers them all, declares none
    return session.execute(statement.returning(model.id)).scalar_one_or_none()  # type: ignore[attr-defined]


def record(session: Session, *, key: str, kind: ReviewEventKind, now: dt.datetime, unit_hsa_id: str,
           commission_hsa_id: str, person_hsa_id: str | None = None, round_id: int | None = None,
           actor: str = SYSTEM, actor_name: str = SYSTEM_NAME, detail: str | None = None
           ) -> CommissionReviewEvent | None:
    """Record one fact of the review unless its key is recorded already; the new row, or None."""
    if is_recorded(session, key):
        return None
    row_id = insert_once(session, CommissionReviewEvent, "key", key=key, at=now, kind=kind, unit_hsa_id=unit_hsa_id,
                         commission_hsa_id=commission_hsa_id, person_hsa_id=person_hsa_id, round_id=round_id,
                         actor=actor, actor_name=actor_name, detail=detail)
    return session.get(CommissionReviewEvent, row_id) if row_id is not None else None


def manager_addresses(directory: Directory, unit: CareUnit) -> list[str]:
    """The verksamhetschef's address, or the unit's mailbox when the manager has none."""
    manager = directory.find_person(unit.manager_hsa_id) if unit.manager_hsa_id else None
    if manager is not None and manager.active and manager.mail:
        return [manager.mail]
    return [unit.mail] if unit.mail else []


def delegate_addresses(session: Session, directory: Directory, unit: CareUnit, *, now: dt.datetime) -> list[str]:
    """Addresses of the active delegates of the unit's current verksamhetschef."""
    if not unit.manager_hsa_id:
        return []
    rows = session.exec(select(Delegation).where(
        Delegation.unit_hsa_id == unit.hsa_id, Delegation.valid_from <= now, Delegation.valid_to > now,
        col(Delegation.revoked_at).is_(None))).all()
    addresses = []
    for delegation in rows:
        if delegation.manager_hsa_id.upper() != unit.manager_hsa_id.upper():
            continue  # a delegation lapses with the manager who granted it
        person = directory.find_person(delegation.delegate_hsa_id)
        if person is not None and person.active and person.mail:
            addresses.append(person.mail)
    return addresses


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
