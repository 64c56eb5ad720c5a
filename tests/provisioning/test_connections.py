"""NPÖ connections per vårdgivare (issue 13 item 4, provisioning/connections.py) on the real slapd and database: an
order by the vårdgivare's unit manager, decided by Vårdgivarservice (private) or NPÖ-förvaltningen (public), written
to the directory where the gate's check 4 reads it; a rejection needs a reason; nobody decides their own order;
the approver disconnects with a reason; each step's mail in the outbox; bad input named by field."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlmodel import Session, select

from catalog.model import Person, Validity
from kernel.outbox import OutboxMail
from overview.facts import load_commissions
from provisioning import connections
from provisioning.authz import Actor
from provisioning.errors import Conflict, InvalidInput, InvalidInputs, NotAllowed
from provisioning.models import ConnectionState
from tests.provisioning.conftest import NOW
from tests.world import World

Sessions = Callable[[], AbstractContextManager[Session]]


def order(world: World, sessions: Sessions, who: Actor, provider: str, **more: object) -> int:
    values: dict[str, object] = {"consumer": False, "producer": True,
                                 "justification": "Vårdcentralen ska dela sina journaler i NPÖ.", **more}
    with sessions() as session:
        made = connections.submit_connection(session=session, directory=world.directory, actor=who,
                                             config=world.config, provider_hsa_id=provider, now=NOW,
                                             **values)  # type: ignore[arg-type]
        assert made.id is not None
        return made.id


def decide(world: World, sessions: Sessions, who: Actor, order_id: int, approve: bool, reason: str = "") -> str:
    with sessions() as session:
        return connections.decide_connection(session=session, directory=world.directory, actor=who,
                                             config=world.config, order_id=order_id, approve=approve, reason=reason,
                                             now=NOW).state


def mails(sessions: Sessions, template: str) -> list[OutboxMail]:
    with sessions() as session:
        return list(session.exec(select(OutboxMail).where(OutboxMail.template == template)).all())


def test_a_private_vardgivare_is_connected_as_producer_when_vardgivarservice_approves(
        world: World, sessions: Sessions, actor: Callable[[Person], Actor]) -> None:
    provider = world.private_provider.hsa_id
    assert world.directory.provider(provider).producer is False  # type: ignore[union-attr]
    order_id = order(world, sessions, actor(world.private_manager), provider)
    [queued] = mails(sessions, "connection_to_queue")
    assert "vardgivarservice@skane.example" in queued.recipients and world.private_provider.name in queued.subject
    with pytest.raises(NotAllowed, match="Vårdgivarservice"):
        decide(world, sessions, actor(world.skf), order_id, True)  # Skåneförvaltningen does not decide this
    assert decide(world, sessions, actor(world.vgs), order_id, True, "Avtal klart.") == ConnectionState.CONNECTED
    assert world.directory.provider(provider).producer is True  # type: ignore[union-attr]
    [told] = mails(sessions, "connection_decided")
    assert "godkänd" in told.subject and "Avtal klart." in told.text_body
    with pytest.raises(Conflict, match="redan godkänd"):
        decide(world, sessions, actor(world.vgs), order_id, False, "För sent")


def test_a_disconnected_consumer_fails_check_four_until_connected_again(
        world: World, sessions: Sessions, actor: Callable[[Person], Actor]) -> None:
    provider = world.private_provider.hsa_id
    with sessions() as session:
        with pytest.raises(InvalidInput, match="varför"):
            connections.disconnect(session=session, directory=world.directory, actor=actor(world.vgs),
                                   config=world.config, provider_hsa_id=provider, consumer=True, producer=False,
                                   reason=" ", now=NOW)
        connections.disconnect(session=session, directory=world.directory, actor=actor(world.vgs),
                               config=world.config, provider_hsa_id=provider, consumer=True, producer=False,
                               reason="Avtalet har upphört.", now=NOW)
    staff = world.private_staff[0].hsa_id
    world.directory.ensure_commission(world.private_unit.hsa_id)
    commission = world.directory.commissions_on_unit(world.private_unit.hsa_id)[0]
    world.directory.ensure_membership(commission.hsa_id, staff, Validity(NOW))
    assert [c.provider_consumer for c in load_commissions(world.directory, staff)] == [False]
    # Vårdgivarservice may order on the vårdgivare's behalf (a phone call), but not decide its own order
    order_id = order(world, sessions, actor(world.vgs), provider, consumer=True, producer=False)
    with pytest.raises(NotAllowed, match="själv"):
        decide(world, sessions, actor(world.vgs), order_id, True)
    with pytest.raises(InvalidInput, match="avslaget"):
        decide(world, sessions, actor(world.sysadmin), order_id, False)
    decide(world, sessions, actor(world.sysadmin), order_id, True)
    assert [c.provider_consumer for c in load_commissions(world.directory, staff)] == [True]
    with sessions() as session:
        history = connections.orders(session)
    assert [(o.disconnect, o.state) for o in history] == [(False, "connected"), (True, "disconnected")]


def test_the_region_is_decided_by_npo_forvaltningen_and_a_stranger_cannot_order(
        world: World, sessions: Sessions, actor: Callable[[Person], Actor]) -> None:
    region = world.region.provider.hsa_id
    with sessions() as session:
        connections.disconnect(session=session, directory=world.directory, actor=actor(world.sysadmin),
                               config=world.config, provider_hsa_id=region, consumer=False, producer=True,
                               reason="Test: producenten kopplas bort.", now=NOW)
    with pytest.raises(NotAllowed, match="verksamhetschef"):
        order(world, sessions, actor(world.private_manager), region)
    order_id = order(world, sessions, actor(world.public_manager), region)
    with pytest.raises(Conflict, match="väntar redan"):
        order(world, sessions, actor(world.public_manager), region)
    with pytest.raises(NotAllowed, match="NPÖ-förvaltningen"):
        decide(world, sessions, actor(world.vgs), order_id, True)
    assert decide(world, sessions, actor(world.sysadmin), order_id, False, "Inte aktuellt.") == "rejected"
    assert world.directory.provider(region).producer is False  # type: ignore[union-attr]


@pytest.mark.parametrize(("more", "fields"), [
    ({"consumer": False, "producer": False}, {"consumer"}),
    ({"justification": "kort"}, {"justification"}),
    ({"justification": "x\x00" * 10}, {"justification"}),
    ({"provider_hsa_id": "SE0000000000-E9999", "justification": ""}, {"provider_hsa_id", "justification"}),
])
def test_bad_order_input_is_named_by_field(world: World, sessions: Sessions, actor: Callable[[Person], Actor],
                                           more: dict[str, object], fields: set[str]) -> None:
    values = dict(more)
    provider = str(values.pop("provider_hsa_id", world.private_provider.hsa_id))
    with pytest.raises(InvalidInputs) as refused:
        order(world, sessions, actor(world.private_manager), provider, **values)
    assert set(refused.value.errors) == fields
    with sessions() as session:
        assert connections.orders(session) == []


def test_an_already_connected_vardgivare_is_told_so(world: World, sessions: Sessions,
                                                   actor: Callable[[Person], Actor]) -> None:
    with pytest.raises(Conflict, match="redan ansluten som konsument"):
        order(world, sessions, actor(world.private_manager), world.private_provider.hsa_id, consumer=True,
              producer=False)
