"""What both halves of the commission review share: the rules (ReviewConfig), the units under review, the review log
and the people a mail about a unit goes to (its verksamhetschef and their delegates of the ordering right).

The log (`commission_review_events`) records each fact once under a unique key (models.py); the deadlines, reminder
timing and delegation rules that recertification shares with the log follow-up are in kernel.review (D-53).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, select

from catalog import Directory
from catalog.model import CareUnit
from kernel.review import active_delegations, granted_by
from provisioning.automation import SYSTEM, SYSTEM_NAME
from provisioning.models import Delegation
from provisioning.ordering import vob_commission
from provisioning.recertification.models import CommissionReviewEvent, ReviewEventKind

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
    idle_days: int = 183  # the round's page flags a member with no NPÖ read through the commission for this long

    def link(self, round_id: int | None = None) -> str:
        """The review page (of one round)."""
        base = f"{self.public_base_url.rstrip('/')}/behorighetskontroll"
        return f"{base}/{round_id}" if round_id else base

    def order_link(self) -> str:
        """The page where a manager orders (a longer validity for) staff access."""
        return f"{self.public_base_url.rstrip('/')}/bestall/behorigheter"


# ---------------------------------------------------------------------- units, log, recipients
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
    addresses = []
    for delegation in active_delegations(session, Delegation, now, unit_hsa_id=unit.hsa_id):
        if not granted_by(delegation, unit.manager_hsa_id):
            continue  # a delegation lapses with the manager who granted it
        person = directory.find_person(delegation.delegate_hsa_id)
        if person is not None and person.active and person.mail:
            addresses.append(person.mail)
    return addresses


