"""Human decisions on orders: approve, reject (reason required), withdraw, and after failed provisioning retry or
cancel (reason required).

Called the same way by the dashboard form, the JSON API and tests. Exactly one decision per stage: the decision
row has a unique key on (order, stage), and the transition is a conditional update on the row version, so of two
approvers deciding at the same moment one wins and the other gets Conflict("… redan beslutad av …").
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from catalog import Directory
from kernel.clock import STOCKHOLM
from kernel.sqltypes import stored_id
from kernel.text import has_control_characters
from provisioning import notify
from provisioning.authz import Actor
from provisioning.automation import lines_of
from provisioning.config import ProvisioningConfig
from provisioning.errors import Conflict, InvalidInput, NotAllowed, NotFound
from provisioning.models import Decision, Order, OrderState, Outcome
from provisioning.routing import due_at, queue_for
from provisioning.states import AWAITING_PERSON, Event, InvalidTransition, transition

MAX_REASON = 1000


def get_order(session: Session, actor: Actor, reference_or_id: str | int) -> Order:
    """An order the actor may see, by reference or id; NotFound otherwise (existence is not revealed)."""
    if isinstance(reference_or_id, int):
        order = session.get(Order, reference_or_id)
    elif has_control_characters(reference_or_id):  # names no order, and PostgreSQL cannot even compare a NUL
        raise NotFound("Beställningen finns inte.")
    else:
        order = session.exec(select(Order).where(Order.reference == reference_or_id)).first()
    if order is None or not actor.may_view(order, decided=order.id is not None and _decided_by(session, order.id,
                                                                                               actor.hsa_id)):
        raise NotFound(f"Beställningen {reference_or_id} finns inte eller är inte synlig för dig.")
    return order


def _decided_by(session: Session, order_id: int, hsa_id: str) -> bool:
    """True when ``hsa_id`` decided a stage of the order (they keep seeing what they decided)."""
    return session.exec(select(Decision.id).where(Decision.order_id == order_id,
                                                  Decision.decided_by == hsa_id)).first() is not None


def _already_decided(session: Session, order: Order, stage: OrderState | None) -> Conflict:
    """The Conflict telling who decided ``stage`` (or, without a stage, the latest decision) and when."""
    session.expire_all()
    query = select(Decision).where(Decision.order_id == order.id)
    if stage is not None:
        query = query.where(Decision.stage == stage)
    earlier = session.exec(query.order_by(col(Decision.decided_at).desc())).first()
    if earlier is None:
        return Conflict(f"Beställningen {order.reference} väntar inte på något beslut nu; ladda om sidan.")
    word = "godkänd" if earlier.outcome is Outcome.APPROVED else "avslagen"
    when = earlier.decided_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
    return Conflict(f"Beställningen {order.reference} är redan {word} av {earlier.decided_by_name} {when}.")


def decide(*, session: Session, directory: Directory, config: ProvisioningConfig, actor: Actor, order_id: int,
           approve: bool, reason: str | None, now: dt.datetime, expected_stage: OrderState | None = None) -> Order:
    """Approve or reject the order at its current stage (``expected_stage``: the stage the approver looked at)."""
    reason = (reason or "").strip() or None
    if not approve and not reason:
        raise InvalidInput("reason", "Ange en motivering när du avslår en beställning.")
    if reason and len(reason) > MAX_REASON:
        raise InvalidInput("reason", f"Motiveringen får vara högst {MAX_REASON} tecken (nu {len(reason)}).")
    if reason and has_control_characters(reason):
        raise InvalidInput("reason", "Motiveringen innehåller otillåtna styrtecken; skriv om den med vanliga tecken.")
    order = get_order(session, actor, order_id)
    stage = order.state
    if stage not in AWAITING_PERSON or (expected_stage is not None and expected_stage is not stage):
        raise _already_decided(session, order, expected_stage)
    subjects = [line.person_hsa_id for line in lines_of(session, order)]
    if not actor.may_decide(order, subjects):
        raise NotAllowed(actor.conflict(order, subjects) or "Beställningen ligger inte i någon av dina köer.")
    try:  # one savepoint: a move that fails takes the decision row with it, so the Conflict names no phantom
        with session.begin_nested():
            session.add(Decision(order_id=stored_id(order), stage=stage, outcome=Outcome.APPROVED if approve else
                                 Outcome.REJECTED, decided_by=actor.hsa_id, decided_by_name=actor.name,
                                 reason=reason, decided_at=now))
            target = transition(session, order, Event.APPROVE if approve else Event.REJECT, actor=actor.hsa_id,
                                actor_name=actor.name, now=now, reason=reason, run_id=None,
                                **_workflow_after(order, approve, now))
    except (IntegrityError, InvalidTransition):  # the stage was decided, or the order moved, since it was read
        raise _already_decided(session, order, stage) from None
    notify.decision(session, directory, config, order, stage=stage, approved=approve, decided_by=actor.name,
                    reason=reason, now=now)
    if target in AWAITING_PERSON:
        notify.to_queue(session, directory, config, order, now=now)
    return order


def _workflow_after(order: Order, approve: bool, now: dt.datetime) -> dict[str, object]:
    """Queue, deadline and reminder columns for the state an approval or rejection leads to."""
    cleared: dict[str, object] = {"queue": None, "queue_scope": None, "due_at": None, "reminded_at": None,
                                  "escalated_at": None}
    if not approve or order.state is not OrderState.AWAITING_CONTRACT_MANAGER:
        return cleared
    role, scope = queue_for(order.kind, OrderState.AWAITING_CATALOG_ADMIN, order.route, order.unit_hsa_id)
    return {**cleared, "queue": role.value, "queue_scope": scope, "due_at": due_at(now)}


def withdraw(*, session: Session, actor: Actor, order_id: int, now: dt.datetime) -> Order:
    """Withdraw an order before anyone decided on it."""
    order = get_order(session, actor, order_id)
    if not actor.may_withdraw(order):
        raise NotAllowed("Bara beställaren eller enhetens verksamhetschef kan återkalla beställningen.")
    if session.exec(select(Decision.id).where(Decision.order_id == order.id)).first():
        raise Conflict(f"{order.reference} har redan beslutats och kan inte återkallas; kontakta handläggaren.")
    try:
        transition(session, order, Event.WITHDRAW, actor=actor.hsa_id, actor_name=actor.name, now=now,
                   reason="Återkallad av beställaren", queue=None, queue_scope=None, due_at=None)
    except InvalidTransition:
        raise Conflict(f"{order.reference} kan inte återkallas i läget den är i nu.") from None
    return order


def retry(*, session: Session, actor: Actor, order_id: int, now: dt.datetime) -> Order:
    """Send a failed provisioning back to the flows (system administrators, after remedying the cause)."""
    order = get_order(session, actor, order_id)
    if not actor.is_system_admin:
        raise NotAllowed("Bara NPÖ-förvaltningen kan starta om en misslyckad uppläggning.")
    try:  # the failure stays in the timeline (the FAIL audit row); the order page shows only new errors
        transition(session, order, Event.RETRY, actor=actor.hsa_id, actor_name=actor.name, now=now,
                   reason="Startad om efter åtgärd", attempts=0, next_attempt_at=None, last_error=None, queue=None,
                   queue_scope=None)
    except InvalidTransition:
        raise Conflict(f"{order.reference} väntar inte på åtgärd.") from None
    return order


def _required_reason(reason: str | None, missing: str) -> str:
    """A reason a person must give: stripped, present, within MAX_REASON, without control characters."""
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("reason", missing)
    if len(text) > MAX_REASON:
        raise InvalidInput("reason", f"Motiveringen får vara högst {MAX_REASON} tecken (nu {len(text)}).")
    if has_control_characters(text):
        raise InvalidInput("reason", "Motiveringen innehåller otillåtna styrtecken.")
    return text


def cancel(*, session: Session, directory: Directory, config: ProvisioningConfig, actor: Actor, order_id: int,
           reason: str | None, now: dt.datetime) -> Order:
    """Close a failed provisioning without carrying it out (system administrators, with a reason); tells the
    orderer. Nothing already written to the directory is undone."""
    order = get_order(session, actor, order_id)
    if not actor.is_system_admin:
        raise NotAllowed("Bara NPÖ-förvaltningen kan avbryta en misslyckad uppläggning.")
    text = _required_reason(reason, "Ange varför beställningen avbryts; motiveringen skickas till beställaren.")
    try:
        transition(session, order, Event.CANCEL, actor=actor.hsa_id, actor_name=actor.name, now=now, reason=text,
                   queue=None, queue_scope=None, next_attempt_at=None, due_at=None)
    except InvalidTransition:
        raise Conflict(f"{order.reference} väntar inte på åtgärd och kan inte avbrytas.") from None
    notify.cancelled(session, directory, config, order, cancelled_by=actor.name, reason=text, now=now)
    return order
