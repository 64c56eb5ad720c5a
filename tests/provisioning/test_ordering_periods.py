"""A submission is judged as a whole: a membership's period lies within its commission's, every problem is reported
at once, and the staff member's mail names the first day the gate will let them in."""

from __future__ import annotations

import datetime as dt

import pytest
from ldap3 import MODIFY_REPLACE
from sqlmodel import select

from catalog.ldapconn import ldap_time
from catalog.model import Commission
from kernel.clock import end_of_day, local_midnight
from kernel.outbox import OutboxMail
from provisioning.errors import InvalidInputs
from provisioning.inputs import read_commission_order, read_membership_order
from provisioning.models import Order, OrderState
from provisioning.ordering import submit_commission_order, submit_membership_order
from tests.provisioning.conftest import NOW
from tests.provisioning.test_ordering import (
    COMMISSION_START,
    TODAY,
    commission_form,
    decide,
    order_commission,
    order_members,
)
from tests.world import World

LATER = TODAY + dt.timedelta(days=14)


def commission_from(world: World, first_day: dt.date, last_day: dt.date | None = None) -> Commission:
    """The public unit's VoB SJF, in force from ``first_day`` (through ``last_day``)."""
    commission, _ = world.directory.ensure_commission(world.public_unit.hsa_id, valid_from=local_midnight(first_day))
    if last_day is not None:
        end = ldap_time(end_of_day(last_day))
        world.directory.ldap.modify(commission.dn, {"npoValidTo": [(MODIFY_REPLACE, [end])]})
    return commission


def refused(world: World, sessions, actor, **raw: object) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputs) as caught:
        order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id, world.public_staff[:1],
                      **raw)
    return caught.value.errors


def access_mails(sessions, order_id: int) -> list[OutboxMail]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.exec(select(OutboxMail).where(OutboxMail.order_id == order_id,
                                                          OutboxMail.template == "access_ready")))


def test_a_membership_cannot_start_before_its_commission(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    commission_from(world, LATER)
    errors = refused(world, sessions, actor, valid_from=str(TODAY))
    assert f"gäller från och med {LATER} tills vidare" in errors["valid_from"]
    assert f"tidigast {LATER}" in errors["valid_from"]
    assert order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                         world.public_staff[:1], valid_from=str(LATER))


def test_a_membership_cannot_outlast_its_commission(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    last = TODAY + dt.timedelta(days=100)
    commission_from(world, TODAY, last)
    assert f"senast {last}" in refused(world, sessions, actor, valid_to="")["valid_to"]  # not "tills vidare"
    assert "till och med" in refused(world, sessions, actor, valid_to=str(last + dt.timedelta(days=1)))["valid_to"]
    assert order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                         world.public_staff[:1], valid_to=str(last))


def test_a_membership_waiting_for_the_commission_starts_with_it(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    commission_order = order_commission(world, sessions, actor, world.public_manager, world.public_unit.hsa_id)
    with sessions() as session:
        reference = session.get(Order, commission_order).reference
    message = refused(world, sessions, actor, valid_from=str(TODAY))["valid_from"]
    assert reference in message and f"tidigast {COMMISSION_START}" in message


def test_removing_staff_is_not_bound_to_the_commissions_start(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    commission_from(world, TODAY)
    added = order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                          world.public_staff[:1])
    advance(added)
    decide(world, sessions, actor, world.public_admin, added)
    advance(added)
    assert order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                         world.public_staff[:1], action="remove", valid_to="")


def test_the_access_mail_names_the_first_day_the_commission_allows(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    commission = commission_from(world, TODAY)
    order_id = order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                             world.public_staff[:1], valid_to="")
    advance(order_id)
    # The commission's start moves after the order was placed (a catalog administrator's correction): the
    # membership is written as ordered, but the gate lets the member in only from the commission's start.
    world.directory.ldap.modify(commission.dn, {"npoValidFrom": [(MODIFY_REPLACE, [ldap_time(local_midnight(LATER))])]})
    decide(world, sessions, actor, world.public_admin, order_id)
    assert advance(order_id)[-1] == "provisioned"
    [mail] = access_mails(sessions, order_id)
    assert mail.subject.endswith(f"från och med {LATER}")
    assert f"giltigt från och med {LATER} tills vidare" in mail.text_body
    assert f"giltigt från och med {TODAY}" not in mail.text_body and "Du kan öppna NPÖ från och med" in mail.text_body


def test_the_access_mail_of_a_membership_valid_today_says_so(world, sessions, actor, advance) -> None:  # type: ignore[no-untyped-def]
    commission_from(world, TODAY - dt.timedelta(days=30))
    order_id = order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id,
                             world.public_staff[:1])
    advance(order_id)
    decide(world, sessions, actor, world.public_admin, order_id)
    advance(order_id)
    [mail] = access_mails(sessions, order_id)
    assert mail.subject.startswith("Du har nu behörighet") and f"från och med {TODAY} till och med" in mail.text_body


def test_every_problem_of_a_membership_order_is_reported_at_once(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    commission_from(world, LATER)
    other_unit = world.private_staff[0].hsa_id
    raw = {"unit_hsa_id": world.public_unit.hsa_id, "action": "add", "person_hsa_ids": [other_unit],
           "extra_hsa_ids": "SE-inte*ett-id", "valid_from": str(TODAY), "valid_to": str(TODAY - dt.timedelta(days=1)),
           "comment": "x" * 1001}
    with sessions() as session, pytest.raises(InvalidInputs) as caught:
        submit_membership_order(session=session, directory=world.directory, config=world.config,
                                actor=actor(world.public_manager), data=read_membership_order(raw, today=TODAY),
                                now=NOW)
    errors = caught.value.errors
    assert set(errors) == {"extra_hsa_ids", "person_hsa_ids", "valid_from", "valid_to", "comment"}
    assert "tillhör inte" in errors["person_hsa_ids"]  # the other-unit id, although a malformed one was given too
    assert f"tidigast {LATER}" in errors["valid_from"]


def test_every_problem_of_a_commission_order_is_reported_at_once(world, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    raw = commission_form(world.private_unit.hsa_id, contact_phone="ring mig", care_agreement_reference="")
    with sessions() as session, pytest.raises(InvalidInputs) as caught:
        submit_commission_order(session=session, directory=world.directory, config=world.config,
                                actor=actor(world.private_manager), data=read_commission_order(raw, today=TODAY),
                                now=NOW)
    assert set(caught.value.errors) == {"contact_phone", "care_agreement_reference"}
    with sessions() as session:
        assert session.exec(select(Order).where(Order.state == OrderState.SUBMITTED)).first() is None
