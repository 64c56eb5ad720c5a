"""The automated steps of an order (D1): route, wait for the unit's commission, provision into the directory.

`advance_one` performs at most one transition and returns; the task commits between steps and calls again until the
order waits for a person or is finished. Every step is idempotent (D2): provisioning checks the directory before it
writes, so a crash between the LDAP write and the commit, or a retry, ends in the same state.

Two task workers may be handed the same order at once; the database decides which one works on it (D-58). A step
begins by locking the order's row: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, where the loser sees no row and does
nothing; on SQLite every transaction begins ``BEGIN IMMEDIATE`` (kernel.runtime), so the second waits and then
finds the step done. The transition's version check stays as the last guard.
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

BUSY = "en annan process arbetar med beställningen"
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


@dataclass(frozen=True)
class _Step:
    """What one automated step works with; ``run_id`` is the Prefect task run doing it (shown on the timeline)."""

    session: Session
    directory: Directory
    config: ProvisioningConfig
    now: dt.datetime
    run_id: str | None = None

    def move(self, order: Order, event: Event, reason: str | None = None, **workflow: object) -> OrderState:
        return transition(self.session, order, event, actor=SYSTEM, actor_name=SYSTEM_NAME, now=self.now,
                          reason=reason, run_id=self.run_id, **workflow)

    def to_queue(self, order: Order, event: Event) -> None:
        target = next_state(order.kind, order.state, event)
        role, scope = queue_for(order.kind, target, order.route, order.unit_hsa_id)
        self.move(order, event, queue=role.value, queue_scope=scope, due_at=due_at(self.now))
        notify.to_queue(self.session, self.directory, self.config, order, now=self.now)



def _set_commission(session: Session, order: Order, commission_hsa_id: str) -> None:
    session.execute(update(Order).where(col(Order.id) == order.id).values(commission_hsa_id=commission_hsa_id)
                    .execution_options(synchronize_session=False))
    session.refresh(order)


def _route(step: _Step, order: Order) -> None:
    if order.kind is OrderKind.MEMBERSHIP and order.commission_hsa_id is None:
        step.move(order, Event.WAIT_FOR_COMMISSION, reason="Enhetens medarbetaruppdrag är beställt")
        return
    step.to_queue(order, Event.ROUTE_PUBLIC if order.route is Route.PUBLIC else Event.ROUTE_PRIVATE)


def _check_commission(step: _Step, order: Order) -> bool:
    commission = vob_commission(step.directory, order.unit_hsa_id)
    if commission is not None:
        _set_commission(step.session, order, commission.hsa_id)
        step.to_queue(order, Event.COMMISSION_READY)
        return True
    awaited = step.session.get(Order, order.depends_on) if order.depends_on else None
    if awaited is None or awaited.state in NOT_CARRIED_OUT:
        why = f"Beställningen av uppdraget ({awaited.reference if awaited else 'saknas'}) genomfördes inte"
        step.move(order, Event.COMMISSION_REFUSED, reason=why)
        return True
    return False


def provision(session: Session, directory: Directory, order: Order, *, now: dt.datetime) -> None:
    """Write what the order asks for into the directory (idempotent)."""
    if order.kind is OrderKind.COMMISSION:
        commission, _created = directory.ensure_commission(
            order.unit_hsa_id, order_reference=order.reference, valid_from=local_midnight(order.requested_start))
        if order.commission_hsa_id != commission.hsa_id:
            _set_commission(session, order, commission.hsa_id)
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


def _record_failure(step: _Step, order: Order, error: str, *, permanent: bool) -> str:
    attempts = order.attempts + 1
    if permanent or attempts >= step.config.max_attempts:
        step.move(order, Event.FAIL, reason=error[:500], attempts=attempts, last_error=error,
                  queue="npo-forvaltning", queue_scope=None, next_attempt_at=None)
        notify.provisioning_failed(step.session, step.directory, step.config, order, error=error, now=step.now)
        return "failed"
    step.session.execute(update(Order).where(col(Order.id) == order.id, col(Order.version) == order.version).values(
        attempts=attempts, last_error=error, version=order.version + 1,
        next_attempt_at=step.now + dt.timedelta(seconds=step.config.retry_seconds))
        .execution_options(synchronize_session=False))
    step.session.refresh(order)
    return "retry later"


def _claim(session: Session, order_id: int) -> Order | None:
    """The order with its row locked for this transaction, or None while another transaction holds it.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``. SQLite has no row locks (SQLAlchemy leaves the clause out); there the
    transaction's ``BEGIN IMMEDIATE`` already holds the database's write lock, so the row is never taken."""
    return session.exec(select(Order).where(col(Order.id) == order_id).with_for_update(skip_locked=True)).first()


def _provision_step(step: _Step, order: Order, information: str) -> StepResult:
    state = order.state
    try:
        provision(step.session, step.directory, order, now=step.now)
    except DirectoryUnavailable as exc:
        note = _record_failure(step, order, exc.message, permanent=False)
        return StepResult(stored_id(order), order.state, order.state is not state, note=note)
    except DirectoryError as exc:
        _record_failure(step, order, exc.message, permanent=True)
        return StepResult(stored_id(order), order.state, True, note="failed")
    step.move(order, Event.PROVISIONED, attempts=order.attempts, last_error=None, next_attempt_at=None)
    notify.provisioned(step.session, step.directory, step.config, order, lines_of(step.session, order),
                       information=information, now=step.now)
    follow = waiting_orders(step.session, order.unit_hsa_id) if order.kind is OrderKind.COMMISSION else []
    return StepResult(stored_id(order), order.state, True, follow_ups=follow)


def advance_one(*, session: Session, directory: Directory, config: ProvisioningConfig, order_id: int,
                now: dt.datetime, information: str, run_id: str | None = None) -> StepResult:
    """Perform the next automated step of one order, if any (one transition at most).

    An order another transaction is working on is left alone (``note`` BUSY): that transaction does the step."""
    order = _claim(session, order_id)
    if order is None:
        current = session.get(Order, order_id)  # a plain read waits for no lock
        if current is None:
            raise LookupError(f"order {order_id} does not exist")
        return StepResult(order_id, current.state, False, note=BUSY)
    step = _Step(session, directory, config, now, run_id)
    state = order.state
    try:
        if state is OrderState.SUBMITTED:
            _route(step, order)
        elif state is OrderState.WAITING_FOR_COMMISSION:
            if not _check_commission(step, order):
                return StepResult(stored_id(order), order.state, False, note="väntar på uppdraget")
        elif state is OrderState.APPROVED:
            step.move(order, Event.START_PROVISIONING, attempts=0)
        elif state is OrderState.PROVISIONING:
            return _provision_step(step, order, information)
        else:
            return StepResult(stored_id(order), state, False,
                              note="väntar på en person" if state not in FINAL else "klar")
    except InvalidTransition:  # another worker moved it first; nothing of ours was written for this step
        session.refresh(order)
        return StepResult(order_id, order.state, False, note="ändrad av en annan process")
    return StepResult(stored_id(order), order.state, True)
