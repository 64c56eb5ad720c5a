"""Under the strict Content-Security-Policy the pages still work in a real browser: the browser reports no violation
on the pages a manager walks through, the unit picker still submits on change, and "Tillbaka" still goes back
(both from api/static/site.js, since no inline script may run)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import LiveServer
from tests.e2e.test_ordering_journey import sign_in
from tests.world import World

pytestmark = pytest.mark.e2e


def test_the_pages_work_under_the_policy_without_a_violation(page, live: LiveServer,  # type: ignore[no-untyped-def]
                                                           world: World) -> None:
    world.directory.set_unit_manager(world.region.unit_b.hsa_id, world.public_manager.hsa_id)
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    sign_in(page, live, world.public_manager.hsa_id)
    for path in ("/bestall", "/bestall/uppdrag", "/mina-bestallningar", "/delegering", "/status", "/oversikt"):
        page.goto(f"{live.url}{path}")
        assert page.evaluate("getComputedStyle(document.body).fontFamily"), path  # the stylesheet applies

    page.goto(f"{live.url}/bestall/behorigheter?unit={world.public_unit.hsa_id}")
    with page.expect_navigation():
        page.select_option("#unit-pick", world.region.unit_b.hsa_id)
    assert re.search(rf"unit={re.escape(world.region.unit_b.hsa_id)}", page.url)
    assert page.input_value("input[name=unit_hsa_id]") == world.region.unit_b.hsa_id

    page.goto(f"{live.url}/mina-bestallningar")
    page.goto(f"{live.url}/bestallningar/NPO-000000-XXXX")
    assert "finns inte" in page.content()
    with page.expect_navigation():
        page.click("a[data-back]")
    assert page.url.endswith("/mina-bestallningar")
    assert violations == []
