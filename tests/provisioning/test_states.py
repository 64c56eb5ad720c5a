"""The order state machine: every (kind, state, event) pair, table-driven (STYLE.md §2)."""

from __future__ import annotations

import itertools

import pytest

from provisioning.models import OrderKind, OrderState
from provisioning.states import TRANSITIONS, Event, InvalidTransition, next_state

S = OrderState
EXPECTED = {
    OrderKind.COMMISSION: {
        (S.SUBMITTED, Event.ROUTE_PRIVATE): S.AWAITING_CONTRACT_MANAGER,
        (S.SUBMITTED, Event.ROUTE_PUBLIC): S.AWAITING_CATALOG_ADMIN,
        (S.SUBMITTED, Event.WITHDRAW): S.WITHDRAWN,
        (S.AWAITING_CONTRACT_MANAGER, Event.APPROVE): S.AWAITING_CATALOG_ADMIN,
        (S.AWAITING_CONTRACT_MANAGER, Event.REJECT): S.REJECTED,
        (S.AWAITING_CONTRACT_MANAGER, Event.WITHDRAW): S.WITHDRAWN,
        (S.AWAITING_CATALOG_ADMIN, Event.APPROVE): S.APPROVED,
        (S.AWAITING_CATALOG_ADMIN, Event.REJECT): S.REJECTED,
        (S.AWAITING_CATALOG_ADMIN, Event.WITHDRAW): S.WITHDRAWN,
        (S.APPROVED, Event.START_PROVISIONING): S.PROVISIONING,
        (S.PROVISIONING, Event.PROVISIONED): S.PROVISIONED,
        (S.PROVISIONING, Event.FAIL): S.PROVISIONING_FAILED,
        (S.PROVISIONING_FAILED, Event.RETRY): S.PROVISIONING,
        (S.PROVISIONING_FAILED, Event.CANCEL): S.CANCELLED,
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
        (S.APPROVED, Event.START_PROVISIONING): S.PROVISIONING,
        (S.PROVISIONING, Event.PROVISIONED): S.PROVISIONED,
        (S.PROVISIONING, Event.FAIL): S.PROVISIONING_FAILED,
        (S.PROVISIONING_FAILED, Event.RETRY): S.PROVISIONING,
        (S.PROVISIONING_FAILED, Event.CANCEL): S.CANCELLED,
    },
}
ALL_PAIRS = [(kind, state, event) for kind in OrderKind for state, event in itertools.product(OrderState, Event)]


@pytest.mark.parametrize(("kind", "state", "event"), ALL_PAIRS,
                         ids=[f"{k.value}-{s.value}-{e.value}" for k, s, e in ALL_PAIRS])
def test_every_pair_is_either_in_the_lifecycle_or_refused(kind: OrderKind, state: OrderState, event: Event) -> None:
    expected = EXPECTED[kind].get((state, event))
    if expected is None:
        with pytest.raises(InvalidTransition, match=f"^{kind.value} order in state {state.value} does not accept "
                                                    f"{event.value}$"):
            next_state(kind, state, event)
    else:
        assert next_state(kind, state, event) is expected


def test_the_table_is_exactly_the_documented_lifecycle() -> None:
    assert TRANSITIONS == EXPECTED


def test_final_states_accept_nothing() -> None:
    for kind, final, event in itertools.product(OrderKind, (S.PROVISIONED, S.REJECTED, S.WITHDRAWN, S.CANCELLED),
                                                Event):
        with pytest.raises(InvalidTransition, match=f"in state {final.value} does not accept {event.value}$"):
            next_state(kind, final, event)
