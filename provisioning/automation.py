"""The automated steps of an order (D1): route, wait for the unit's commission, provision into the directory.

`advance_one` performs at most one transition and returns; the flow commits between steps and calls again until the
order waits for a person or is finished. Every step is idempotent (D2): provisioning checks the directory before it
writes, so a crash between the LDAP write and the commit, a retry or two workers end in the same state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlmodel import Session, col, select

from catalog import Directory, DirectoryError, DirectoryUnavailable
from catalog.model import Validity
from kernel.clock import end_of_day, local_midnight
from kernel.sqltypes import stored_id, stored_ids
from provisioning import notify
from provisioning.config import ProvisioningConfig
from provisioning.models import LineAction, Order, OrderKind, OrderLine, OrderState, Route
from provisioning.ordering import vob_commission
from provisioning.routing import due_at, queue_for
from provisioning.states import AUTOMATED, FINAL, NOT_CARRIED_OUT, Event, InvalidTransition, next_state, transition

SYSTEM = "system"
SYSTEM_NAME = "NPÖ-behörigheter (automatiskt)"


@dataclass
class StepResult:
    """What one call did; ``follow_ups`` are orders that can move because this one finished."""

    order_id: int
    state: OrderState
    moved: bool
    follow_ups: list[int] = field(default_factory=list)
    note: str = ""

    @property
    def more(self) -> bool:
        """True when another automated step can run right away."""
        return self.moved and self.state in AUTOMATED


def _move(session: Session, order: Order, event: Event, now: dt.datetime, reason: str | None = None,
          **workflow: object) -> OrderState:
    return transition(session, order, event, actor=SYSTEM, actor_name=SYSTEM_NAME, now=now, reason=reason,
                      **workflow)


def _to_queue(session: Session, directory: Directory, config: ProvisioningConfig, order: Order, event: Event,
              now: dt.datetime) -> None:
    target = next_state(order.kind, order.state, event)
    role, scope = queue_for(order.kind, target, order.route, order.unit_hsa_id)
    _move(session, order, event, now, queue=role.value, queue_scope=scope, due_at=due_at(now))
    notify.to_queue(session, directory, config, order, now=now)


def _route(session: Session, directory: Directory, config: ProvisioningConfig, order: Order, now: dt.datetime) -> None:
    if order.kind is OrderKind.MEMBERSHIP and order.commission_hsa_id is None:
        _move(session, order, Event.WAIT_FOR_COMMISSION, now, reason="Enhetens medarbetaruppdrag är beställt")
        return
    event = Event.ROUTE_PUBLIC if order.route is Route.PUBLIC else Event.ROUTE_PRIVATE
    _to_queue(session, directory, config, order, event, now)


def _check_commission(session: Session, directory: Directory, config: ProvisioningConfig, order: Order,
                      now: dt.datetime) -> bool:
    commission = vob_commission(directory, order.unit_hsa_id)
    if commission is not None:
        session.execute(update(Order).where(col(Order.id) == order.id).values(commission_hsa_id=commission.hsa_id)
                        .execution_options(synchronize_session=False))
        session.refresh(order)
        _to_queue(session, directory, config, order, Event.COMMISSION_READY, now)
        return True
    awaited = session.get(Order, order.depends_on) if order.depends_on else None
    if awaited is None or awaited.state in NOT_CARRIED_OUT:
        why = f"Beställningen av uppdraget ({awaited.reference if awaited else 'saknas'}) genomfördes inte"
        _move(session, order, Event.COMMISSION_REFUSED, now, reason=why)
        return True
    return False


def provision(session: Session, directory: Directory, order: Order, *, now: dt.datetime) -> None:
    """Write what the order asks for into the directory (idempotent)."""
    if order.kind is OrderKind.COMMISSION:
        commission, _created = directory.ensure_commission(
            order.unit_hsa_id, order_reference=order.reference, valid_from=local_midnight(order.requested_start))
        if order.commission_hsa_id != commission.hsa_id:
            session.execute(update(Order).where(col(Order.id) == order.id).values(commission_hsa_id=commission.hsa_id)
                            .execution_options(synchronize_session=False))
            session.refresh(order)
        return
    assert order.commission_hsa_id is not None
    for line in lines_of(session, order):
        if line.action is LineAction.REMOVE:
            directory.end_membership(order.commission_hsa_id, line.person_hsa_id, at=max(
                now, local_midnight(line.valid_from)), reason=f"Borttagen enligt {order.reference}")
        else:
            validity = Validity(local_midnight(line.valid_from), end_of_day(line.valid_to) if line.valid_to else None)
            directory.ensure_membership(order.commission_hsa_id, line.person_hsa_id, validity,
                                        order_reference=order.reference)


def planned_writes(order: Order, lines: list[OrderLine]) -> list[str]:
    """What provisioning will write to Skånekatalogen, in words (shown to approvers before they decide)."""
    if order.kind is OrderKind.COMMISSION:
        return [f"Nytt hsaCommission under {order.unit_name} ({order.unit_hsa_id}): cn=VoB SJF, "
                f"hsaCommissionPurpose=Vård och behandling, hsaCommissionRight=Läsa;Alla;SJF, "
                f"giltigt från {order.requested_start}"]
    target = order.commission_hsa_id or "enhetens VoB SJF (när det är upplagt)"
    out = []
    for line in lines:
        if line.action is LineAction.REMOVE:
            out.append(f"Avsluta {line.person_name} ({line.person_hsa_id}) på {target} från {line.valid_from}")
        else:
            end = f"till och med {line.valid_to}" if line.valid_to else "tills vidare"
            out.append(f"npoCommissionMembership för {line.person_name} ({line.person_hsa_id}) på {target}: "
                       f"giltig från {line.valid_from} {end}")
    return out


def lines_of(session: Session, order: Order) -> list[OrderLine]:
    """The staff lines of a membership order."""
    return list(session.exec(select(OrderLine).where(OrderLine.order_id == order.id)
                             .order_by(col(OrderLine.id))).all())


def waiting_orders(session: Session, unit_hsa_id: str) -> list[int]:
    """Membership orders of a unit that wait for its commission."""
    return stored_ids(session.exec(select(col(Order.id)).where(col(Order.unit_hsa_id) == unit_hsa_id,
                                                    Order.state == OrderState.WAITING_FOR_COMMISSION)).all())


def _record_failure(session: Session, directory: Directory, config: ProvisioningConfig, order: Order,
                    error: str, *, now: dt.datetime, permanent: bool) -> str:
    attempts = order.attempts + 1
    if permanent or attempts >= config.max_attempts:
        _move(session, order, Event.FAIL, now, reason=error[:500], attempts=attempts, last_error=error,
              queue="npo-forvaltning", queue_scope=None, next_attempt_at=None)
        notify.provisioning_failed(session, directory, config, order, error=error, now=now)
        return "failed"
    session.execute(update(Order).where(col(Order.id) == order.id, col(Order.version) == order.version).values(
        attempts=attempts, last_error=error, version=order.version + 1,
        next_attempt_at=now + dt.timedelta(seconds=config.retry_seconds)).execution_options(synchronize_session=False))
    session.refresh(order)
    return "retry later"


def advance_one(*, session: Session, directory: Directory, config: ProvisioningConfig, order_id: int,
                now: dt.datetime, information: str) -> StepResult:
    """Perform the next automated step of one order, if any (one transition at most)."""
    order = session.get(Order, order_id)
    if order is None:
        raise LookupError(f"order {order_id} does not exist")
    state = order.state
    try:
        if state is OrderState.SUBMITTED:
            _route(session, directory, config, order, now)
        elif state is OrderState.WAITING_FOR_COMMISSION:
            if not _check_commission(session, directory, config, order, now):
                return StepResult(stored_id(order), order.state, False, note="väntar på uppdraget")
        elif state is OrderState.APPROVED:
            _move(session, order, Event.START_PROVISIONING, now, attempts=0)
        elif state is OrderState.PROVISIONING:
            try:
                provision(session, directory, order, now=now)
            except DirectoryUnavailable as exc:
                note = _record_failure(session, directory, config, order, exc.message, now=now, permanent=False)
                return StepResult(stored_id(order), order.state, order.state is not state, note=note)
            except DirectoryError as exc:
                _record_failure(session, directory, config, order, exc.message, now=now, permanent=True)
                return StepResult(stored_id(order), order.state, True, note="failed")
            _move(session, order, Event.PROVISIONED, now, attempts=order.attempts, last_error=None,
                  next_attempt_at=None)
            notify.provisioned(session, directory, config, order, lines_of(session, order), information=information,
                               now=now)
            follow = waiting_orders(session, order.unit_hsa_id) if order.kind is OrderKind.COMMISSION else []
            return StepResult(stored_id(order), order.state, True, follow_ups=follow)
        else:
            return StepResult(stored_id(order), state, False,
                              note="väntar på en person" if state not in FINAL else "klar")
    except InvalidTransition:  # another worker moved it first; nothing of ours was written for this step
        session.refresh(order)
        return StepResult(order_id, order.state, False, note="ändrad av en annan process")
    return StepResult(stored_id(order), order.state, True)
