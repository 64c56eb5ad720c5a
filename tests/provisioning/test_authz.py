"""Who may do what with an order (provisioning/authz.py), rule by rule: the Actor's answers on built orders (no
database), and load_actor's reading of delegations at their exact boundaries (real slapd and database).

HSA-IDs are compared without regard to case (a person may type one in lower case): they are upper-cased where they
enter (kernel.hsaid.HsaId, D-57), so an actor made from a lower-case id matches, and an order's ids are upper-cased by
their columns when the order is stored (the last test reads one back from the database).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlmodel import Session

from catalog.model import CareUnit, RoleName
from provisioning.authz import Actor, load_actor, require_approver, require_manager, require_orderer
from provisioning.errors import NotAllowed
from provisioning.models import Delegation, Order, OrderKind, OrderState, Route
from tests.provisioning.conftest import NOW
from tests.world import World

UNIT, OTHER = "SE2321000255-VC01", "SE2321000255-VC02"
MANAGER, DELEGATE, ADMIN, STAFF = "SE2321000255-CHEF", "SE2321000255-DEL1", "SE2321000255-KADM", "SE2321000255-SSK1"


def order(*, kind: OrderKind = OrderKind.MEMBERSHIP, state: OrderState = OrderState.AWAITING_USER_ADMIN,
          route: Route = Route.PUBLIC, unit: str = UNIT, by: str = MANAGER, on_behalf_of: str | None = None,
          queue: str | None = RoleName.UNIT_CATALOG_ADMIN.value) -> Order:
    return Order(reference="NPO-1", kind=kind, unit_hsa_id=unit, unit_name="Vårdcentralen",
                 provider_hsa_id="SE2321000255-E1", provider_name="Region Skåne", route=route, requested_by=by,
                 requested_by_name="X",
                 on_behalf_of=on_behalf_of, justification="", contact_name="", contact_phone="", contact_email="",
                 requested_start=NOW.date(), submitted_at=NOW, state=state, state_since=NOW, queue=queue, id=1)


def unit(hsa_id: str = UNIT) -> CareUnit:
    return CareUnit(hsa_id, "", "Vårdcentralen", "SE2321000255-E1", manager_hsa_id=MANAGER)


MANAGER_ACTOR = Actor(MANAGER, "Maria Chef", managed_units=(unit(),))
DELEGATE_ACTOR = Actor(DELEGATE, "Dan Delegat", delegated_units=((UNIT, MANAGER),))
ADMIN_ACTOR = Actor(ADMIN, "Kalle Katalog", roles=frozenset({(RoleName.UNIT_CATALOG_ADMIN, UNIT)}))
SYSADMIN = Actor("SE2321000255-ADM1", "Lena", roles=frozenset({(RoleName.SYSTEM_ADMIN, None)}))
NOBODY = Actor(STAFF, "Sara")


def test_who_orders_for_which_unit_and_on_whose_behalf() -> None:
    assert MANAGER_ACTOR.orderable_units() == [UNIT] and DELEGATE_ACTOR.orderable_units() == [UNIT]
    assert MANAGER_ACTOR.may_order_for(UNIT.lower()) and not MANAGER_ACTOR.may_order_for(OTHER)
    assert MANAGER_ACTOR.manager_for(UNIT.lower()) is None  # the manager orders in their own name
    assert DELEGATE_ACTOR.manager_for(UNIT.lower()) == MANAGER  # a delegate orders on the manager's behalf
    assert DELEGATE_ACTOR.manager_for(OTHER) is None and NOBODY.manager_for(UNIT) is None
    both = Actor(MANAGER, "Maria", managed_units=(unit(OTHER),), delegated_units=((UNIT, "SE2321000255-CHEF2"),))
    assert both.manager_for(OTHER) is None and both.manager_for(UNIT) == "SE2321000255-CHEF2"
    now_manages = Actor(MANAGER, "Maria", managed_units=(unit(),), delegated_units=((UNIT, "SE2321000255-CHEF2"),))
    assert now_manages.manager_for(UNIT.lower()) is None  # managing the unit beats a delegation for it


@pytest.mark.parametrize(("actor", "the_order", "subjects", "reason"), [
    (Actor(MANAGER.lower(), "M"), order(), [], "som du själv har gjort eller som har gjorts åt dig"),
    (Actor(MANAGER.lower(), "M"), order(by=DELEGATE, on_behalf_of=MANAGER), [], "som har gjorts åt dig"),
    (ADMIN_ACTOR, order(), [STAFF, ADMIN.lower()], "gäller din egen behörighet; en kollega i kön gör det"),
    (ADMIN_ACTOR, order(), [STAFF], None),
    (ADMIN_ACTOR, order(on_behalf_of=None), [], None),  # no on_behalf_of is nobody, not an empty HSA-ID
])
def test_the_own_order_rule(actor: Actor, the_order: Order, subjects: list[str], reason: str | None) -> None:
    found = actor.conflict(the_order, subjects)
    assert (found is None) == (reason is None)
    if reason:
        assert found is not None and found.startswith("Du kan inte besluta om en beställning") and reason in found
    assert actor.may_decide(the_order, subjects) is (reason is None and actor is ADMIN_ACTOR)


@pytest.mark.parametrize("state", [s for s in OrderState if s is not OrderState.AWAITING_USER_ADMIN])
def test_nobody_decides_an_order_that_waits_for_no_person_or_another_stage(state: OrderState) -> None:
    assert not ADMIN_ACTOR.may_decide(order(state=state))


def test_deciding_needs_a_queue_and_the_role_of_that_queue_for_that_unit() -> None:
    assert ADMIN_ACTOR.may_decide(order())
    assert not ADMIN_ACTOR.may_decide(order(queue=None))  # not (yet) routed to a queue
    assert not ADMIN_ACTOR.may_decide(order(unit=OTHER))  # another unit's catalog administrator
    itkp = Actor("SE2321000255-ITKP", "J", roles=frozenset({(RoleName.IT_KUNDTJANST_PRIVATA, None)}))
    assert not itkp.may_decide(order()) and itkp.may_decide(order(route=Route.PRIVATE))
    skf = Actor("SE2321000255-SKF1", "K", roles=frozenset({(RoleName.SKANEFORVALTNINGEN, None)}))
    commission = order(kind=OrderKind.COMMISSION, state=OrderState.AWAITING_CATALOG_ADMIN,
                       queue=RoleName.SKANEFORVALTNINGEN.value)
    assert skf.may_decide(commission) and not skf.may_decide(order())  # the queue follows the order's kind


def test_only_npo_forvaltningen_retries_and_only_a_failed_order() -> None:
    failed = order(state=OrderState.PROVISIONING_FAILED)
    assert SYSADMIN.may_retry(failed)
    assert not SYSADMIN.may_retry(order(state=OrderState.PROVISIONING))
    assert not ADMIN_ACTOR.may_retry(failed) and not MANAGER_ACTOR.may_retry(failed)


@pytest.mark.parametrize(("actor", "the_order", "decided", "visible"), [
    (Actor(MANAGER.lower(), "orderer"), order(), False, True),
    (Actor(MANAGER.lower(), "the manager the delegate ordered for"), order(by=DELEGATE, on_behalf_of=MANAGER),
     False, True),
    (DELEGATE_ACTOR, order(), False, True),  # orders for the unit they may order for
    (ADMIN_ACTOR, order(), False, True),  # the queue on the order's route
    (ADMIN_ACTOR, order(unit=OTHER), False, False),  # another unit's administrator
    (ADMIN_ACTOR, order(unit=OTHER), True, True),  # ... unless they decided on it
    (SYSADMIN, order(unit=OTHER), False, True),
    (NOBODY, order(on_behalf_of=None), False, False),
])
def test_who_sees_an_order(actor: Actor, the_order: Order, decided: bool, visible: bool) -> None:
    assert (actor.may_view(the_order, decided=True) if decided else actor.may_view(the_order)) is visible


def test_the_orderer_or_the_units_manager_withdraws() -> None:
    placed_by_delegate = order(by=DELEGATE, on_behalf_of=MANAGER)
    assert Actor(DELEGATE.lower(), "D").may_withdraw(placed_by_delegate)
    assert MANAGER_ACTOR.may_withdraw(order(by=DELEGATE, unit=UNIT))
    assert not MANAGER_ACTOR.may_withdraw(order(by=DELEGATE, unit=OTHER))
    assert not ADMIN_ACTOR.may_withdraw(order(by=DELEGATE))


def test_the_pages_refuse_with_a_sentence_saying_what_to_do() -> None:
    for guard, allowed, refused, message in (
            (require_orderer, DELEGATE_ACTOR, ADMIN_ACTOR,
             "Du är inte verksamhetschef för någon vårdenhet och har ingen delegering av beställningsrätten. Be din "
             "verksamhetschef om en delegering."),
            (require_manager, MANAGER_ACTOR, DELEGATE_ACTOR,
             "Bara en vårdenhets verksamhetschef kan delegera beställningsrätten."),
            (require_approver, ADMIN_ACTOR, MANAGER_ACTOR,
             "Du ingår inte i någon attestkö. Kontakta Skånekatalogens katalogansvariga om du ska attestera "
             "beställningar.")):
        guard(allowed)
        with pytest.raises(NotAllowed) as caught:
            guard(refused)
        assert caught.value.message == message
    require_approver(SYSADMIN)  # the förvaltning works the remediation queue
    with pytest.raises(NotAllowed, match="^Du ingår inte i någon attestkö"):
        require_approver(Actor(STAFF, "S", roles=frozenset({(RoleName.SERVICE_DESK, None)})))


# ---------------------------------------------------------------------- load_actor: the directory and delegations
Sessions = Callable[[], AbstractContextManager[Session]]


def _delegate(sessions: Sessions, world: World, *, since: dt.datetime, until: dt.datetime,
              revoked: dt.datetime | None = None, to: str | None = None) -> None:
    with sessions() as session:
        session.add(Delegation(unit_hsa_id=world.public_unit.hsa_id, manager_hsa_id=world.public_manager.hsa_id,
                               delegate_hsa_id=to or world.public_staff[0].hsa_id, delegate_name="Sara",
                               valid_from=since, valid_to=until, created_at=since, revoked_at=revoked))


def _loaded(world: World, sessions: Sessions, hsa_id: str, at: dt.datetime) -> Actor | None:
    with sessions() as session:
        return load_actor(world.directory, session, hsa_id, now=at)


def test_load_actor_reads_the_person_their_units_and_roles(world: World, sessions: Sessions) -> None:
    manager = _loaded(world, sessions, world.public_manager.hsa_id, NOW)
    assert manager is not None and manager.mail == world.public_manager.mail and manager.name == "Maria Chef"
    assert [u.hsa_id for u in manager.managed_units] == [world.public_unit.hsa_id]
    admin = _loaded(world, sessions, world.public_admin.hsa_id, NOW)
    assert admin is not None and admin.roles == frozenset({(RoleName.UNIT_CATALOG_ADMIN, world.public_unit.hsa_id)})
    assert _loaded(world, sessions, "SE2321000255-NOONE", NOW) is None
    world.directory.disable_person(world.public_staff[2].hsa_id, reason="test")
    assert _loaded(world, sessions, world.public_staff[2].hsa_id, NOW) is None


def test_a_delegation_holds_from_its_first_instant_until_just_before_its_end(world: World,
                                                                            sessions: Sessions) -> None:
    since, until = NOW, NOW + dt.timedelta(days=2)
    _delegate(sessions, world, since=since, until=until)
    _delegate(sessions, world, since=since, until=until, to=world.public_staff[1].hsa_id,
              revoked=NOW + dt.timedelta(minutes=1))
    delegate, other = world.public_staff[0].hsa_id, world.public_staff[1].hsa_id
    tick = dt.timedelta(microseconds=1)
    units = {at: (_loaded(world, sessions, delegate, at) or NOBODY).delegated_units
             for at in (since - tick, since, until - tick, until)}
    assert units == {since - tick: (), since: ((world.public_unit.hsa_id, world.public_manager.hsa_id),),
                     until - tick: ((world.public_unit.hsa_id, world.public_manager.hsa_id),), until: ()}
    assert (_loaded(world, sessions, other, NOW + dt.timedelta(hours=1)) or NOBODY).delegated_units == ()  # revoked
    assert (_loaded(world, sessions, world.public_staff[2].hsa_id, NOW) or NOBODY).delegated_units == ()  # not theirs


def test_a_delegation_lapses_with_the_manager_who_granted_it(world: World, sessions: Sessions) -> None:
    _delegate(sessions, world, since=NOW, until=NOW + dt.timedelta(days=2))
    delegate = world.public_staff[0].hsa_id
    assert (_loaded(world, sessions, delegate, NOW) or NOBODY).orderable_units() == [world.public_unit.hsa_id]
    world.directory.set_unit_manager(world.public_unit.hsa_id, world.public_staff[1].hsa_id)
    assert (_loaded(world, sessions, delegate, NOW) or NOBODY).orderable_units() == []
    world.directory.set_unit_manager(world.public_unit.hsa_id, None)
    assert (_loaded(world, sessions, delegate, NOW) or NOBODY).orderable_units() == []


def test_an_orders_hsa_ids_are_upper_cased_by_their_columns_so_the_rules_compare_plainly(sessions: Sessions) -> None:
    with sessions() as session:
        stored = order(by=DELEGATE.lower(), on_behalf_of=MANAGER.lower(), unit=UNIT.lower())
        stored.id = None
        session.add(stored)
        session.commit()
        order_id = stored.id
    with sessions() as session:
        read = session.get(Order, order_id)
        assert read is not None
        assert (read.requested_by, read.on_behalf_of, read.unit_hsa_id) == (DELEGATE, MANAGER, UNIT)
        assert Actor(DELEGATE, "D").may_withdraw(read) and Actor(MANAGER, "M").conflict(read) is not None
        assert MANAGER_ACTOR.may_withdraw(read)
