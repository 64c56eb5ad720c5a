"""Accessibility in Debian's chromium (DOS-lagen, WCAG 2.1 AA): the axe-core check itself, and a form filled in and sent
with the keyboard alone. Every page these tests open is also checked with axe-core by the ``page`` fixture."""

from __future__ import annotations

import re

import pytest

from tests.e2e.axe import AxeChecker
from tests.e2e.conftest import LiveServer
from tests.e2e.test_ordering_journey import sign_in
from tests.world import World

pytestmark = pytest.mark.e2e

BROKEN = """<!doctype html><html><head><title></title></head><body>
<img src="/x.png"><input name="q"><p style="color:#bbb;background:#fff">Svag text</p></body></html>"""

# The focused element and its outline (the browser's own focus ring is "auto" 1 px; ours is solid 3 px).
FOCUS = """() => { const e = document.activeElement, s = getComputedStyle(e);
  return {tag: e.tagName.toLowerCase(), id: e.id, name: e.getAttribute('name'), text: e.innerText || '',
          style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor}; }"""


def test_the_axe_check_fails_on_a_page_that_breaks_the_rules(browser) -> None:  # type: ignore[no-untyped-def]
    checker = AxeChecker()
    context = browser.new_context(locale="sv-SE")
    try:
        page = checker.watch(context.new_page())
        page.route("http://broken.test/**", lambda route: route.fulfill(body=BROKEN, content_type="text/html"))
        page.unwrapped.goto("http://broken.test/sida")
        with pytest.raises(AssertionError) as failed:
            page.title()  # the first use of the new document runs axe-core on it
        message = str(failed.value)
        assert "on http://broken.test/sida" in message
        for rule, impact in (("image-alt", "critical"), ("label", "critical"), ("html-has-lang", "serious"),
                             ("document-title", "serious"), ("color-contrast", "serious")):
            assert re.search(rf"- {rule} \[{impact}\] .+ – https://dequeuniversity\.com/rules/axe/[\d.]+/{rule}",
                             message), rule
        assert "\n    img:" in message and "\n    input:" in message  # the offending elements' selectors
    finally:
        context.close()


def tab_to(page, selector: str, limit: int = 40) -> dict:  # type: ignore[no-untyped-def]
    """Press Tab until the element matching ``selector`` has focus; every stop must show a clear focus ring."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS)
        assert focused["style"] == "solid" and focused["width"] >= 2, f"no visible focus ring: {focused}"
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return focused
    raise AssertionError(f"{selector} was not reached with {limit} presses of Tab")


def test_a_manager_orders_the_commission_with_the_keyboard_alone(page, live: LiveServer, world: World) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, live, world.public_manager.hsa_id)
    page.goto(f"{live.url}/bestall/uppdrag")
    assert tab_to(page, "a.skip")["text"]  # the first stop skips the navigation
    page.keyboard.press("Enter")
    tab_to(page, "#f-unit_hsa_id", limit=1)  # the skip link led past the menu
    tab_to(page, "#f-justification", limit=2)
    page.keyboard.type("Vi behöver NPÖ för patienter som vårdas i andra regioner.")
    tab_to(page, "#f-contact_phone", limit=3)  # the contact name is proposed; the phone is left empty
    tab_to(page, "button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    phone = page.locator("#f-contact_phone")
    assert phone.get_attribute("aria-invalid") == "true"
    described = (phone.get_attribute("aria-describedby") or "").split()
    error = page.locator(f"#{described[-1]}")
    assert error.get_attribute("class") == "field-error" and error.inner_text().strip()
    assert page.locator("label[for=f-contact_phone]").count() == 1
    assert page.locator("[aria-invalid=true]").count() == 1  # only the field with an error is marked
    assert all(page.locator(f"#{ref}").count() == 1 for field in page.locator("[aria-describedby]").all()
               for ref in (field.get_attribute("aria-describedby") or "").split())  # no dangling references

    tab_to(page, "#f-contact_phone")
    page.keyboard.type("040-33 10 00")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter in a text field sends the form
    page.wait_for_url(re.compile(r".*/bestallningar/NPO-.*"))
    assert "är mottagen" in page.content()
