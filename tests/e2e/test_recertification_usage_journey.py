"""Recertification with usage in Debian's chromium on a 320 px phone (issue 14 item 3): the round's page shows who
reads NPÖ, fits the phone, and "Ta bort alla markerade" is done with the keyboard alone (checked by axe-core on every
page, as all e2e pages are)."""

from __future__ import annotations

import datetime as dt

import pytest

from catalog.model import Validity
from kernel import runtime
from kernel.clock import local_midnight, now
from overview import accesslog
from overview.accesslog import Action, LogEntry, Resource
from tests.e2e.conftest import LiveServer
from tests.e2e.test_accessibility import overflowing, tab_to
from tests.e2e.test_ordering_journey import sign_in
from tests.world import World

pytestmark = pytest.mark.e2e


def test_the_idle_members_are_removed_with_the_keyboard_on_a_phone(page, live: LiveServer, world: World) -> None:  # type: ignore[no-untyped-def]
    unit = world.public_unit
    commission, _ = world.directory.ensure_commission(unit.hsa_id)
    for nurse in world.public_staff:
        world.directory.ensure_membership(commission.hsa_id, nurse.hsa_id,
                                          Validity(local_midnight(dt.date(2025, 1, 1))))
    reader, idle, kept_idle = world.public_staff
    with runtime.session_scope() as session:
        accesslog.append(session, LogEntry(at=now() - dt.timedelta(days=3), user_hsa_id=reader.hsa_id,
                                           action=Action.READ, resource_type=Resource.OVERVIEW,
                                           commission_hsa_id=commission.hsa_id, patient_personnummer="196004011232"))
    page.set_viewport_size({"width": 320, "height": 640})
    sign_in(page, live, world.public_manager.hsa_id)
    page.goto(f"{live.url}/behorighetskontroll")
    with page.expect_navigation():
        page.click(f"text=Starta kontroll för {unit.name}")
    assert overflowing(page) == []
    assert "Senaste läsning i NPÖ" in page.inner_text(f'tr[data-person="{reader.hsa_id}"]')
    assert "Ingen läsning på 6 månader" in page.inner_text(f'tr[data-person="{idle.hsa_id}"]')
    box = f'tr[data-person="{kept_idle.hsa_id}"] input[name=markerad]'
    assert page.is_checked(box) and page.is_checked(f'tr[data-person="{idle.hsa_id}"] input[name=markerad]')
    assert not page.is_checked(f'tr[data-person="{reader.hsa_id}"] input[name=markerad]')

    tab_to(page, box)
    page.keyboard.press("Space")  # the manager keeps this one after all
    tab_to(page, "#f-motivering-markerade")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # no reason: refused, nothing removed
    assert "Ange varför de markerade medarbetarna ska tas bort" in page.inner_text("#e-motivering-markerade")
    assert not page.is_checked(box)  # the marks are kept as they were sent
    assert overflowing(page) == []
    tab_to(page, "#f-motivering-markerade")
    page.keyboard.type("Har inte använt NPÖ på ett halvår")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "1 beslut sparade" in page.content()
    assert page.get_attribute(f'tr[data-person="{idle.hsa_id}"]', "data-decision") == "removed"
    assert page.get_attribute(f'tr[data-person="{kept_idle.hsa_id}"]', "data-decision") == "pending"
