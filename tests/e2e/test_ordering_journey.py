"""The ordering journey in a real browser: a manager orders VoB SJF for a private unit, the contract manager and
Vårdgivarservice approve, the commission appears in the directory, the manager orders access for two staff, IT
Kundtjänst Privata approves, both appear as members, and the mails arrived."""

from __future__ import annotations

import re
import time

import pytest

from tests.conftest import MailSink
from tests.e2e.conftest import LiveServer
from tests.world import World

pytestmark = pytest.mark.e2e


def sign_in(page, live: LiveServer, hsa_id: str) -> None:  # type: ignore[no-untyped-def]
    """Use the dev login form like a person would (it posts the page's CSRF token)."""
    page.goto(f"{live.url}/login")
    page.fill("#dev-hsa-id", hsa_id)
    with page.expect_navigation():
        page.click("#dev-login-other")


def until(page, text: str, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Wait for ``text`` on an order page, following its "uppdatera sidan" link like a person while the automated
    steps run (the page does not reload itself)."""
    deadline = time.monotonic() + seconds
    while not page.get_by_text(text).count():
        assert time.monotonic() < deadline, f"{text!r} did not appear on {page.url}"
        with page.expect_navigation():
            page.click("#reload")


def approve(page, live: LiveServer, reference: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live.url}/attest")
    assert page.locator(f"tr[data-reference='{reference}']").count() == 1
    page.click(f"tr[data-reference='{reference}'] a")
    page.click("button[name=approve][value='1']")
    page.wait_for_load_state()


def test_private_unit_orders_commission_and_staff_access(page, live: LiveServer, world: World,  # type: ignore[no-untyped-def]
                                                         smtp_sink: MailSink) -> None:
    sign_in(page, live, world.private_manager.hsa_id)
    page.goto(f"{live.url}/bestall/uppdrag")
    page.fill("#f-justification", "Vi behöver NPÖ för våra listade patienter från andra regioner.")
    page.fill("#f-contact_phone", "042-12 34 56")
    page.fill("#f-contact_email", "helena@vard.example")
    page.click("button[type=submit]")
    assert "vårdavtalets referens" in page.content()  # the private unit must name its care agreement; values kept
    assert page.input_value("#f-contact_phone") == "042-12 34 56"
    page.fill("#f-care_agreement_reference", "HVS-2024-117")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/bestallningar/NPO-.*"))
    reference = page.url.split("/bestallningar/")[1].split("?")[0]
    until(page, "Väntar på avtalsförvaltaren")  # the flow routes it

    sign_in(page, live, world.contract_manager.hsa_id)
    approve(page, live, reference)
    until(page, "Väntar på katalogförvaltningen")
    sign_in(page, live, world.vgs.hsa_id)
    approve(page, live, reference)
    until(page, "Klar – upplagd i Skånekatalogen")
    [commission] = world.directory.commissions_on_unit(world.private_unit.hsa_id)

    sign_in(page, live, world.private_manager.hsa_id)
    page.goto(f"{live.url}/bestall/behorigheter?unit={world.private_unit.hsa_id}")
    for person in world.private_staff[:2]:
        page.check(f"input[name=person_hsa_ids][value='{person.hsa_id}']")
    page.click("form[action='/bestall/behorigheter'][method=post] button[type=submit]")
    page.wait_for_url(re.compile(r".*/bestallningar/NPO-.*"))
    access_reference = page.url.split("/bestallningar/")[1].split("?")[0]
    until(page, "Väntar på behörighetsadministratören")
    page.goto(f"{live.url}/mina-bestallningar")
    assert page.locator(f"tr[data-reference='{access_reference}']").count() == 1

    sign_in(page, live, world.itkp.hsa_id)
    approve(page, live, access_reference)
    until(page, "Klar – upplagd i Skånekatalogen")
    assert page.locator("ol.timeline li").count() >= 5  # the whole timeline is on the order page
    members = {m.person_hsa_id for m in world.directory.memberships(commission.hsa_id)}
    assert members == {p.hsa_id for p in world.private_staff[:2]}

    assert smtp_sink.wait_for(lambda sink: all(sink.to(p.mail) for p in world.private_staff[:2]))
    subjects = smtp_sink.subjects()
    assert sum("Ny beställning" in s for s in subjects) >= 3
    assert sum("godkänd av" in s for s in subjects) >= 3
    for person in world.private_staff[:2]:
        [mail] = smtp_sink.to(person.mail)
        assert "Nationell patientöversikt" in mail["Subject"]
