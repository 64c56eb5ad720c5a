"""Förslag att beställa in a real browser, by keyboard and on a phone's width (issue 14 items 2 and 5): a nurse's
request waits for her manager, who opens it from Beställ, corrects a date typed wrong, submits it with the keyboard
and lands on the order; the Driftöversikt's charts fit a phone's screen."""

from __future__ import annotations

import re

import pytest

from kernel import runtime
from kernel.clock import local_date, now
from provisioning import proposals
from tests.e2e.conftest import LiveServer
from tests.e2e.test_ordering_journey import sign_in
from tests.world import World

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


def fits(page) -> bool:  # type: ignore[no-untyped-def]
    """Nothing wider than the screen (no sideways scrolling)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def tab_to(page, text: str, limit: int = 10) -> None:  # type: ignore[no-untyped-def]
    """Press Tab until the button ``text`` has the focus (a date field's day, month and year are stops of their
    own): it must be reachable by keyboard within ``limit`` presses."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "BUTTON":
            assert page.evaluate("document.activeElement.textContent") == text
            return
    raise AssertionError(f"{text!r} not reached by Tab")


def test_a_manager_orders_a_request_by_keyboard_on_a_phone(page, live: LiveServer, world: World) -> None:  # type: ignore[no-untyped-def]
    world.directory.ensure_commission(world.public_unit.hsa_id)
    nurse = world.public_staff[2]
    with runtime.session_scope() as session:
        asked = proposals.request_access(session=session, directory=world.directory, config=world.config,
                                         person_hsa_id=nurse.hsa_id, comment="Jag börjar på akuten på måndag.",
                                         now=now())
        asked_id = asked.id
    page.set_viewport_size(PHONE)
    sign_in(page, live, world.public_manager.hsa_id)
    page.goto(f"{live.url}/bestall")
    assert "1 väntar på dig" in page.inner_text("[data-proposals]") and fits(page)
    with page.expect_navigation():
        page.click("a[href='/bestall/forslag']")
    card = page.locator(f"[data-proposal='{asked_id}']")
    assert "Jag börjar på akuten på måndag." in card.inner_text() and fits(page)
    page.fill(f"#f-valid_from-{asked_id}", "2020-01-01")
    page.focus(f"#f-valid_to-{asked_id}")
    tab_to(page, "Beställ")  # from the last date to the button, then Enter: no mouse
    with page.expect_navigation():
        page.keyboard.press("Enter")
    error = page.locator(f"#e-valid_from-{asked_id}")
    assert "bakåt i tiden" in error.inner_text()
    assert page.get_attribute(f"#f-valid_from-{asked_id}", "aria-describedby") == f"e-valid_from-{asked_id}"
    page.fill(f"#f-valid_from-{asked_id}", local_date(now()).isoformat())
    page.focus(f"#f-valid_to-{asked_id}")
    tab_to(page, "Beställ")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/bestallningar/NPO-.*"))
    assert nurse.name in page.content() and fits(page)


def test_the_operations_charts_fit_a_phone(page, live: LiveServer, world: World) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size(PHONE)
    sign_in(page, live, world.sysadmin.hsa_id)
    page.goto(f"{live.url}/drift")
    assert page.locator("svg[role=img]").count() >= 4 and fits(page)
    assert page.locator("h1").inner_text() == "Driftöversikt"
