"""SQL tables of orders, their lines, decisions, delegations, audit rows and the mail outbox.

An order's *request* (what was asked, by whom, for which unit) is immutable once submitted: a listener refuses any
UPDATE that touches those columns (ARCHITECTURE §4). Only the workflow columns move, and only through
`provisioning.states.transition`.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, String, Text, UniqueConstraint, event, inspect
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from kernel.sqltypes import UTCDateTime, hsa_id_field


class OrderKind(StrEnum):
    COMMISSION = "commission"  # Beställning av medarbetaruppdrag VoB SJF för en vårdenhet
    MEMBERSHIP = "membership"  # Beställning av behörigheter: staff on the unit's commission


class OrderState(StrEnum):
    SUBMITTED = "submitted"
    WAITING_FOR_COMMISSION = "waiting_for_commission"
    AWAITING_CONTRACT_MANAGER = "awaiting_contract_manager"
    AWAITING_CATALOG_ADMIN = "awaiting_catalog_admin"
    AWAITING_USER_ADMIN = "awaiting_user_admin"
    APPROVED = "approved"
    PROVISIONING = "provisioning"
    PROVISIONED = "provisioned"
    PROVISIONING_FAILED = "provisioning_failed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"  # a failed provisioning closed by NPÖ-förvaltningen without being carried out


class Route(StrEnum):
    PUBLIC = "public"  # Region Skåne's own units: Skåneförvaltningen / the unit's catalog administrator
    PRIVATE = "private"  # private health-choice units: Koncernkontoret → Vårdgivarservice / IT Kundtjänst Privata


class LineAction(StrEnum):
    ADD = "add"
    REMOVE = "remove"
    CHANGE_VALIDITY = "change_validity"


class Outcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


def _enum(kind: type[StrEnum], *, nullable: bool, index: bool | None = None) -> Any:
    """A column holding a StrEnum by value (VARCHAR on every database), read back as the enum.

    Any, like sqlmodel.Field itself: the field's type is the annotation of the attribute it is assigned to."""
    return Field(sa_column=Column(SAEnum(kind, native_enum=False, length=32, validate_strings=True,
                                         values_callable=lambda members: [m.value for m in members]),
                                  nullable=nullable, index=index))


def _utc(*, nullable: bool, index: bool | None = None) -> Any:
    """A timezone-aware UTC timestamp column (Any, like _enum)."""
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Order(SQLModel, table=True):
    """One order. Request columns are frozen at submission; workflow columns move with the state machine."""

    __tablename__ = "orders"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(sa_column=Column(String(24), unique=True, nullable=False))
    kind: OrderKind = _enum(OrderKind, nullable=False, index=True)
    # -- the request (immutable)
    unit_hsa_id: str = hsa_id_field(nullable=False, index=True)
    unit_name: str = Field(max_length=200)
    provider_hsa_id: str = hsa_id_field(nullable=False)
    provider_name: str = Field(max_length=200)
    route: Route = _enum(Route, nullable=False)
    requested_by: str = hsa_id_field(nullable=False, index=True)
    requested_by_name: str = Field(max_length=200)
    on_behalf_of: str | None = hsa_id_field(nullable=True)  # the manager, when a delegate ordered
    justification: str = Field(sa_column=Column(Text, nullable=False))
    contact_name: str = Field(max_length=120)
    contact_phone: str = Field(max_length=40)
    contact_email: str = Field(max_length=254)
    requested_start: dt.date
    care_agreement_reference: str | None = Field(default=None, max_length=120)
    submitted_at: dt.datetime = _utc(nullable=False)
    # -- the workflow
    state: OrderState = _enum(OrderState, nullable=False, index=True)
    state_since: dt.datetime = _utc(nullable=False)
    queue: str | None = Field(default=None, max_length=40, index=True)
    queue_scope: str | None = Field(default=None, max_length=32)
    due_at: dt.datetime | None = _utc(nullable=True)
    reminded_at: dt.datetime | None = _utc(nullable=True)
    escalated_at: dt.datetime | None = _utc(nullable=True)
    attempts: int = 0
    next_attempt_at: dt.datetime | None = _utc(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    commission_hsa_id: str | None = hsa_id_field(nullable=True)
    depends_on: int | None = Field(default=None, foreign_key="orders.id")
    version: int = Field(default=1, nullable=False)


REQUEST_COLUMNS = frozenset({
    "reference", "kind", "unit_hsa_id", "unit_name", "provider_hsa_id", "provider_name", "route", "requested_by",
    "requested_by_name", "on_behalf_of", "justification", "contact_name", "contact_phone", "contact_email",
    "requested_start", "care_agreement_reference", "submitted_at",
})


class OrderLine(SQLModel, table=True):
    """One staff member on a membership order (immutable like the order)."""

    __tablename__ = "order_lines"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    action: LineAction = _enum(LineAction, nullable=False)
    person_hsa_id: str = hsa_id_field(nullable=False)
    person_name: str = Field(max_length=200)
    person_mail: str | None = Field(default=None, max_length=254)
    valid_from: dt.date
    valid_to: dt.date | None = None  # last day, inclusive; None = until further notice


class Decision(SQLModel, table=True):
    """A person's decision at one stage; the unique key makes a second decision on the same stage impossible."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("order_id", "stage", name="uq_decision_stage"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    stage: OrderState = _enum(OrderState, nullable=False)
    outcome: Outcome = _enum(Outcome, nullable=False)
    decided_by: str = hsa_id_field(nullable=False)
    decided_by_name: str = Field(max_length=200)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    decided_at: dt.datetime = _utc(nullable=False)


class AuditEvent(SQLModel, table=True):
    """Every transition: who, when, from, to, why (written in the transition's transaction)."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    at: dt.datetime = _utc(nullable=False)
    actor: str = Field(max_length=64)  # an HSA-ID, or "system" for the flows
    actor_name: str = Field(max_length=200)
    event: str = Field(max_length=40)
    from_state: OrderState | None = _enum(OrderState, nullable=True)
    to_state: OrderState = _enum(OrderState, nullable=False)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    task_run_id: str | None = Field(default=None, max_length=36)  # the Prefect task run of an automated step


class Delegation(SQLModel, table=True):
    """A unit manager's time-boxed grant of the ordering right for one unit to another person."""

    __tablename__ = "delegations"

    id: int | None = Field(default=None, primary_key=True)
    unit_hsa_id: str = hsa_id_field(nullable=False, index=True)
    manager_hsa_id: str = hsa_id_field(nullable=False)
    delegate_hsa_id: str = hsa_id_field(nullable=False, index=True)
    delegate_name: str = Field(max_length=200)
    valid_from: dt.datetime = _utc(nullable=False)
    valid_to: dt.datetime = _utc(nullable=False)
    created_at: dt.datetime = _utc(nullable=False)
    revoked_at: dt.datetime | None = _utc(nullable=True)


class ImmutableOrder(Exception):
    """Something tried to change what an order asked for after submission."""


@event.listens_for(Order, "before_update")
def _refuse_request_changes(_mapper: object, _connection: object, order: Order) -> None:
    state = inspect(order)
    changed = {attr.key for attr in state.attrs if attr.history.has_changes()} & REQUEST_COLUMNS
    if changed:
        raise ImmutableOrder(f"order {order.reference}: {', '.join(sorted(changed))} cannot change after submission")


@event.listens_for(OrderLine, "before_update")
def _refuse_line_changes(_mapper: object, _connection: object, line: OrderLine) -> None:
    raise ImmutableOrder(f"order line {line.id} cannot change after submission")


class ConnectionState(StrEnum):
    """A connection order's state: submitted → connected (the directory written) or rejected; a disconnection is
    recorded as done at once."""

    SUBMITTED = "submitted"
    CONNECTED = "connected"
    REJECTED = "rejected"
    DISCONNECTED = "disconnected"


class ConnectionOrder(SQLModel, table=True):
    """An order to connect a vårdgivare to NPÖ as consumer and/or producer (issue 13 item 4), or a recorded
    disconnection: approved by Vårdgivarservice for private vårdgivare, by NPÖ-förvaltningen for Region Skåne's."""

    __tablename__ = "connection_orders"

    id: int | None = Field(default=None, primary_key=True)
    provider_hsa_id: str = hsa_id_field(nullable=False, index=True, length=64)
    provider_name: str = Field(max_length=200)
    route: str = Field(max_length=16)  # Route
    consumer: bool = False  # asked for (connect) or taken away (disconnect)
    producer: bool = False
    disconnect: bool = False
    state: str = Field(max_length=16, index=True)  # ConnectionState
    justification: str = Field(sa_column=Column(Text, nullable=False))
    requested_by: str = hsa_id_field(nullable=False, length=64)
    requested_by_name: str = Field(max_length=200)
    requested_at: dt.datetime = _utc(nullable=False)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: dt.datetime | None = _utc(nullable=True)
    decision_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ProposalOrigin(StrEnum):
    """Where a proposed membership order comes from (issue 14)."""

    MOVER = "mover"  # HR: the person moved to the unit
    JOINER = "joiner"  # HR: the person is new at a unit with the VoB SJF commission
    REQUEST = "request"  # the person asked for access from Felsökning ("Begär behörighet")


class ProposalState(StrEnum):
    """open → ordered (a membership order was submitted from it) | declined (with a reason) | closed (overtaken:
    the person left or moved on, or got the access another way)."""

    OPEN = "open"
    ORDERED = "ordered"
    DECLINED = "declined"
    CLOSED = "closed"


class AccessProposal(SQLModel, table=True):
    """A prefilled membership order waiting for the unit's manager or delegate: one click turns it into an order
    (with the validity editable), or it is declined with a reason."""

    __tablename__ = "access_proposals"

    id: int | None = Field(default=None, primary_key=True)
    origin: ProposalOrigin = _enum(ProposalOrigin, nullable=False)
    state: ProposalState = _enum(ProposalState, nullable=False, index=True)
    person_hsa_id: str = hsa_id_field(nullable=False, index=True)
    person_name: str = Field(max_length=200)
    person_mail: str | None = Field(default=None, max_length=254)
    person_title: str | None = Field(default=None, max_length=128)
    unit_hsa_id: str = hsa_id_field(nullable=False, index=True)
    unit_name: str = Field(max_length=200)
    from_unit_hsa_id: str | None = hsa_id_field(nullable=True)  # a mover's old unit
    from_unit_name: str | None = Field(default=None, max_length=200)
    valid_from: dt.date
    valid_to: dt.date | None = None
    comment: str = Field(sa_column=Column(Text, nullable=False))  # the requester's words, or what HR said
    no_manager: str | None = Field(default=None, sa_column=Column(Text))  # why it waits with NPÖ-förvaltningen
    created_at: dt.datetime = _utc(nullable=False)
    created_by: str = Field(max_length=64)  # the requester's HSA-ID, or "system" (the HR sync)
    created_by_name: str = Field(max_length=200)
    decided_at: dt.datetime | None = _utc(nullable=True)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_by_name: str | None = Field(default=None, max_length=200)
    decision_reason: str | None = Field(default=None, sa_column=Column(Text))
    order_id: int | None = Field(default=None, foreign_key="orders.id")


class ProposalEvent(SQLModel, table=True):
    """Every step of a proposal: who, when, what, why (the audit trail of requests and HR suggestions)."""

    __tablename__ = "proposal_events"

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="access_proposals.id", index=True)
    at: dt.datetime = _utc(nullable=False)
    actor: str = Field(max_length=64)
    actor_name: str = Field(max_length=200)
    event: str = Field(max_length=24)  # created / ordered / declined / closed
    detail: str | None = Field(default=None, sa_column=Column(Text))
