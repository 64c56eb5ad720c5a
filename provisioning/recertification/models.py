"""SQL tables of the commission review: recertification rounds and their items, and the review log.

The log (`commission_review_events`) is the documentation the law asks for (DOMAIN §1.5: the verksamhetschef grants
*and checks* rights): every warning, expiry, round, decision, reminder and lapse, with who and when. Each row has a
unique ``key`` that names the fact it records, so a step run twice records it once; rows are never updated.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column, String, Text, UniqueConstraint, event
from sqlmodel import Field, SQLModel

from kernel.sqltypes import hsa_id_field
from provisioning.models import _enum, _utc


class RoundState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class RoundTrigger(StrEnum):
    SCHEDULE = "schedule"  # the yearly recertification opened by the commission-review flow
    MANUAL = "manual"  # started by the unit manager (or a delegate) from the page


class ItemDecision(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"  # bekräftad: keeps the membership
    REMOVED = "removed"  # borttagen: the membership was ended at the decision
    LAPSED = "lapsed"  # not confirmed by the deadline: the membership was ended by the flow
    ENDED = "ended"  # the membership had ended some other way (order, HR, expiry) before anyone decided


class ReviewEventKind(StrEnum):
    EXPIRY_WARNING = "expiry_warning"
    EXPIRED = "expired"
    ROUND_OPENED = "round_opened"
    REMINDER = "reminder"
    CONFIRMED = "confirmed"
    REMOVED = "removed"
    LAPSED = "lapsed"
    ENDED = "ended"
    ROUND_CLOSED = "round_closed"


class RecertificationRound(SQLModel, table=True):
    """One behörighetskontroll of a unit's VoB SJF members; ``open_unit`` allows one open round per unit."""

    __tablename__ = "recertification_rounds"

    id: int | None = Field(default=None, primary_key=True)
    unit_hsa_id: str = hsa_id_field(nullable=False, index=True)
    unit_name: str = Field(max_length=200)
    commission_hsa_id: str = hsa_id_field(nullable=False)
    manager_hsa_id: str | None = hsa_id_field(nullable=True)  # the verksamhetschef when the round opened
    trigger: RoundTrigger = _enum(RoundTrigger, nullable=False)
    opened_by: str = Field(max_length=64)  # an HSA-ID, or "system" for the flow
    opened_by_name: str = Field(max_length=200)
    opened_at: dt.datetime = _utc(nullable=False)
    # the deadline is exclusive: local midnight after the last day the manager may decide
    deadline: dt.datetime = _utc(nullable=False)
    state: RoundState = _enum(RoundState, nullable=False, index=True)
    open_unit: str | None = hsa_id_field(nullable=True, unique=True)
    closed_at: dt.datetime | None = _utc(nullable=True)

    @property
    def reference(self) -> str:
        """The round's short name in pages, mails and the directory's npoEndedReason."""
        return f"BK-{self.id}"


class RecertificationItem(SQLModel, table=True):
    """One member on a round, as listed when it opened, and the decision about them."""

    __tablename__ = "recertification_items"
    __table_args__ = (UniqueConstraint("round_id", "person_hsa_id", name="uq_recert_item_person"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="recertification_rounds.id", index=True)
    person_hsa_id: str = hsa_id_field(nullable=False)
    person_name: str = Field(max_length=200)
    person_mail: str | None = Field(default=None, max_length=254)
    valid_from: dt.datetime = _utc(nullable=False)
    valid_to: dt.datetime | None = _utc(nullable=True)
    decision: ItemDecision = _enum(ItemDecision, nullable=False, index=True)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_by_name: str | None = Field(default=None, max_length=200)
    on_behalf_of: str | None = hsa_id_field(nullable=True)  # the manager, when a delegate decided
    decided_at: dt.datetime | None = _utc(nullable=True)
    reason: str | None = Field(default=None, sa_column=Column(Text))


class CommissionReviewEvent(SQLModel, table=True):
    """One recorded fact of the review (append-only); ``key`` makes recording it twice impossible."""

    __tablename__ = "commission_review_events"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    at: dt.datetime = _utc(nullable=False)
    kind: ReviewEventKind = _enum(ReviewEventKind, nullable=False, index=True)
    unit_hsa_id: str = hsa_id_field(nullable=False, index=True)
    commission_hsa_id: str = hsa_id_field(nullable=False)
    person_hsa_id: str | None = hsa_id_field(nullable=True, index=True)
    round_id: int | None = Field(default=None, foreign_key="recertification_rounds.id", index=True)
    actor: str = Field(max_length=64)
    actor_name: str = Field(max_length=200)
    detail: str | None = Field(default=None, sa_column=Column(Text))


class ImmutableReviewEvent(Exception):
    """Something tried to change a recorded review event."""


@event.listens_for(CommissionReviewEvent, "before_update")
def _refuse_event_changes(_mapper: object, _connection: object, row: CommissionReviewEvent) -> None:
    raise ImmutableReviewEvent(f"review event {row.key} cannot change once recorded")
