"""The order lifecycle of ARCHITECTURE §4 as a transition table, and the one function that moves an order.

`next_state` is pure and refuses every move the table does not list. `transition` is the only code that assigns
`Order.state`; it writes the audit row in the caller's transaction and bumps the row version, so that a concurrent
writer who read the old version fails instead of overwriting (D9).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import Session, col

from kernel.sqltypes import rowcount, stored_id
from provisioning.models import AuditEvent, Order, OrderKind, OrderState

S = OrderState


class Event(StrEnum):
    ROUTE_PUBLIC = "route_public"
    ROUTE_PRIVATE = "route_private"
    WAIT_FOR_COMMISSION = "wait_for_commission"
    COMMISSION_READY = "commission_ready"
    COMMISSION_REFUSED = "commission_refused"  # the order it waited for was rejected or withdrawn
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    START_PROVISIONING = "start_provisioning"
    PROVISIONED = "provisioned"
    FAIL = "fail"
    RETRY = "retry"
    CANCEL = "cancel"  # NPÖ-förvaltningen closes a failed provisioning without carrying it out (reason required)


_COMMON = {
    (S.APPROVED, Event.START_PROVISIONING): S.PROVISIONING,
    (S.PROVISIONING, Event.PROVISIONED): S.PROVISIONED,
    (S.PROVISIONING, Event.FAIL): S.PROVISIONING_FAILED,
    (S.PROVISIONING_FAILED, Event.RETRY): S.PROVISIONING,
    (S.PROVISIONING_FAILED, Event.CANCEL): S.CANCELLED,
}

TRANSITIONS: dict[OrderKind, dict[tuple[OrderState, Event], OrderState]] = {
    OrderKind.COMMISSION: {
        (S.SUBMITTED, Event.ROUTE_PRIVATE): S.AWAITING_CONTRACT_MANAGER,
        (S.SUBMITTED, Event.ROUTE_PUBLIC): S.AWAITING_CATALOG_ADMIN,
        (S.SUBMITTED, Event.WITHDRAW): S.WITHDRAWN,
        (S.AWAITING_CONTRACT_MANAGER, Event.APPROVE): S.AWAITING_CATALOG_ADMIN,
        (S.AWAITING_CONTRACT_MANAGER, Event.REJECT): S.REJECTED,
        (S.AWAITING_CONTRACT_MANAGER, Event.WITHDRAW): S.WITHDRAWN,
        (S.AWAITING_CATALOG_ADMIN, Event.APPROVE): S.APPROVED,
        (S.AWAITING_CATALOG_ADMIN, Event.REJECT): S.REJECTED,
        (S.AWAITING_CATALOG_ADMIN, Event.WITHDRAW): S.WITHDRAWN,  # only before any decision (service guard)
        **_COMMON,
    },
    OrderKind.MEMBERSHIP: {
        (S.SUBMITTED, Event.ROUTE_PUBLIC): S.AWAITING_USER_ADMIN,
        (S.SUBMITTED, Event.ROUTE_PRIVATE): S.AWAITING_USER_ADMIN,
        (S.SUBMITTED, Event.WAIT_FOR_COMMISSION): S.WAITING_FOR_COMMISSION,
        (S.SUBMITTED, Event.WITHDRAW): S.WITHDRAWN,
        (S.WAITING_FOR_COMMISSION, Event.COMMISSION_READY): S.AWAITING_USER_ADMIN,
        (S.WAITING_FOR_COMMISSION, Event.COMMISSION_REFUSED): S.REJECTED,
        (S.WAITING_FOR_COMMISSION, Event.WITHDRAW): S.WITHDRAWN,
        (S.AWAITING_USER_ADMIN, Event.APPROVE): S.APPROVED,
        (S.AWAITING_USER_ADMIN, Event.REJECT): S.REJECTED,
        (S.AWAITING_USER_ADMIN, Event.WITHDRAW): S.WITHDRAWN,
        **_COMMON,
    },
}

AWAITING_PERSON = frozenset({S.AWAITING_CONTRACT_MANAGER, S.AWAITING_CATALOG_ADMIN, S.AWAITING_USER_ADMIN})
AUTOMATED = frozenset({S.SUBMITTED, S.WAITING_FOR_COMMISSION, S.APPROVED, S.PROVISIONING})
FINAL = frozenset({S.PROVISIONED, S.REJECTED, S.WITHDRAWN, S.CANCELLED})
NOT_CARRIED_OUT = frozenset({S.REJECTED, S.WITHDRAWN, S.CANCELLED})  # final, and nothing was written

STATE_LABELS = {  # Swedish, for every page and mail
    S.SUBMITTED: "Inskickad",
    S.WAITING_FOR_COMMISSION: "Väntar på enhetens medarbetaruppdrag",
    S.AWAITING_CONTRACT_MANAGER: "Väntar på avtalsförvaltaren (Koncernkontoret)",
    S.AWAITING_CATALOG_ADMIN: "Väntar på katalogförvaltningen",
    S.AWAITING_USER_ADMIN: "Väntar på behörighetsadministratören",
    S.APPROVED: "Godkänd, läggs upp i Skånekatalogen",
    S.PROVISIONING: "Läggs upp i Skånekatalogen",
    S.PROVISIONED: "Klar – upplagd i Skånekatalogen",
    S.PROVISIONING_FAILED: "Uppläggningen misslyckades – åtgärdas av förvaltningen",
    S.REJECTED: "Avslagen",
    S.WITHDRAWN: "Återkallad av beställaren",
    S.CANCELLED: "Avbruten av NPÖ-förvaltningen",
}


class InvalidTransition(Exception):
    """The move is not in the transition table (or the order changed under us)."""

    def __init__(self, kind: OrderKind, state: OrderState, event: Event, message: str | None = None):
        super().__init__(message or f"{kind.value} order in state {state.value} does not accept {event.value}")
        self.kind, self.state, self.event = kind, state, event


def next_state(kind: OrderKind, state: OrderState, event: Event) -> OrderState:
    """The state ``event`` leads to from ``state``; raises InvalidTransition when the table has no such move."""
    try:
        return TRANSITIONS[kind][(state, event)]
    except KeyError:
        raise InvalidTransition(kind, state, event) from None


def transition(session: Session, order: Order, event: Event, *, actor: str, actor_name: str, now: dt.datetime,
               reason: str | None = None, run_id: str | None = None, **workflow: object) -> OrderState:
    """Move ``order`` by ``event``: conditional UPDATE on (id, version), audit row, workflow columns in one go.

    ``run_id`` is the Prefect task run of an automated step (the timeline links to it). Extra keyword arguments
    set workflow columns (queue, due_at, attempts, …) in the same UPDATE. Raises
    InvalidTransition when the move is illegal or another transaction moved the order first.
    """
    target = next_state(order.kind, order.state, event)
    values = {"state": target, "state_since": now, "version": order.version + 1, **workflow}
    result = session.execute(
        update(Order).where(col(Order.id) == order.id, col(Order.version) == order.version).values(**values)
        .execution_options(synchronize_session=False))
    if rowcount(result) != 1:
        raise InvalidTransition(order.kind, order.state, event, f"order {order.reference} was changed concurrently")
    session.add(AuditEvent(order_id=stored_id(order), at=now, actor=actor, actor_name=actor_name, event=event.value,
                           from_state=order.state, to_state=target, reason=reason, task_run_id=run_id))
    session.flush()
    session.refresh(order)
    return target
