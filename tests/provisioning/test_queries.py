"""The approvers' queue search on both databases: reference, unit, orderer, and the staff on a membership order."""

from __future__ import annotations

from catalog.model import Person
from provisioning import queries
from tests.provisioning.conftest import NOW
from tests.provisioning.test_ordering import order_members


def test_queue_search_finds_a_membership_order_by_a_staff_members_name_or_hsa_id(world, sessions, actor,  # type: ignore[no-untyped-def]
                                                                                  advance) -> None:
    world.directory.ensure_commission(world.public_unit.hsa_id)
    asa = world.directory.create_person(Person(world.region.hsa("OBERG"), "", "Åsa", "Öberg",
                                               unit_hsa_id=world.public_unit.hsa_id))
    order_id = order_members(world, sessions, actor, world.public_manager, world.public_unit.hsa_id, [asa])
    advance(order_id)
    admin = actor(world.public_admin)

    def found(text: str) -> bool:
        with sessions() as session:
            return order_id in {o.id for o in queries.queue_orders(session, admin, text=text, now=NOW)}

    assert found("öberg") and found("ÅSA ÖBERG") and found(asa.hsa_id.lower()) and found("Maria Chef")
    assert not found("Sköterska1")
