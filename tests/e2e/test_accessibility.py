"""Accessibility in Debian's chromium (DOS-lagen, WCAG 2.1 AA): the axe-core check itself, a form filled in and sent
with the keyboard alone, the journeys' pages on a 320 px phone, and a header navigation that stays on one line at
1280 px. Every page these tests open is also checked with axe-core by the ``page`` fixture."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlmodel import select

from catalog.model import RoleName, Validity
from kernel import runtime
from kernel.clock import STOCKHOLM, local_midnight, now
from overview import accesslog
from overview.accesslog import Action, LogEntry, Resource
from overview.logreview import rounds
from overview.logreview.models import LogReviewTask
from overview.logreview.rules import ReviewConfig
from tests.e2e.axe import AxeChecker
from tests.e2e.conftest import LiveServer
from tests.e2e.test_ordering_journey import sign_in
from tests.world import World

pytestmark = pytest.mark.e2e

BROKEN = """<!doctype html><html><head><title></title></head><body>
<img src="/x.png"><input name="q"><p style="color:#bbb;background:#fff">Svag text</p></body></html>"""

# The elements sticking out past the right edge of the window (outermost ones, not those inside a scroller that
# fits), for the failure message; nothing when the document does not scroll sideways.
OVERFLOW = """() => {
  const width = window.innerWidth;
  if (document.documentElement.scrollWidth <= width) return [];
  const scrolled = e => { for (let a = e.parentElement; a; a = a.parentElement)
    if (getComputedStyle(a).overflowX !== 'visible' && a.getBoundingClientRect().right <= width + 0.5) return true;
    return false; };
  const wide = [...document.body.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > width + 0.5
                                                                    && !scrolled(e));
  return wide.filter(e => !wide.includes(e.parentElement))
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '')
              + ' (' + Math.round(e.getBoundingClientRect().right) + ' px)');
}"""

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


def overflowing(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The outermost elements wider than the window, if the document scrolls sideways (else nothing)."""
    return page.evaluate(OVERFLOW)


def test_the_journeys_pages_fit_a_320_px_phone(page, live: LiveServer, world: World) -> None:  # type: ignore[no-untyped-def]
    unit = world.public_unit
    task_id, round_id = _sampled_access(world)
    page.set_viewport_size({"width": 320, "height": 640})
    wide: dict[str, list[str]] = {}

    def visit(path: str) -> None:
        if path:
            page.goto(f"{live.url}{path}")
        found = overflowing(page)
        if found:
            wide[page.url.removeprefix(live.url)] = found

    visit("/login")
    sign_in(page, live, world.public_manager.hsa_id)
    assert page.locator("details.menu").count() == 1 and not page.is_visible("nav[aria-label] a[href='/bestall']")
    page.click("details.menu > summary")  # the navigation opens from its menu button
    assert page.is_visible("nav[aria-label] a[href='/bestall']")
    visit("")
    for path in ("/bestall", f"/bestall/behorigheter?unit={unit.hsa_id}", "/delegering", "/behorighetskontroll",
                 "/loggranskning", f"/loggranskning/atkomst/{task_id}", f"/loggranskning/omgang/{round_id}",
                 "/loggranskning/delegering", "/status", "/dev/mail", "/bestall/uppdrag"):
        visit(path)
    page.fill("#f-justification", "x")
    with page.expect_navigation():
        page.click("form[action='/bestall/uppdrag'] button[type=submit]")
    visit("")  # the form with its errors
    page.fill("#f-justification", "Vi behöver NPÖ för patienter som vårdas i andra regioner.")
    page.fill("#f-contact_phone", "040-33 10 00")
    page.click("form[action='/bestall/uppdrag'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/bestallningar/NPO-.*"))
    visit("")
    visit("/mina-bestallningar")
    commission, _ = world.directory.ensure_commission(unit.hsa_id)  # now the unit has staff to recertify
    for nurse in world.public_staff:
        world.directory.ensure_membership(commission.hsa_id, nurse.hsa_id,
                                          Validity(local_midnight(dt.date(2025, 1, 1))))
    page.goto(f"{live.url}/behorighetskontroll")
    with page.expect_navigation():
        page.click(f"text=Starta kontroll för {unit.name}")
    visit("")

    sign_in(page, live, world.skf.hsa_id)
    visit("/attest")
    page.click("table.queue tbody a")
    page.wait_for_selector("form.decision")
    visit("")
    assert not wide, f"wider than 320 px: {wide}"


def _sampled_access(world: World) -> tuple[int, int]:
    """Yesterday's emergency opening at the public unit, sampled for log review: (task id, round id)."""
    # two days back: yesterday's log is not settled (rules.SETTLE) until 00:30 Swedish time
    unit, day = world.public_unit, now().astimezone(STOCKHOLM).date() - dt.timedelta(days=2)
    with runtime.session_scope() as session:
        accesslog.append(session, LogEntry(
            at=dt.datetime.combine(day, dt.time(9), STOCKHOLM).astimezone(dt.UTC),
            user_hsa_id=world.public_staff[0].hsa_id, action=Action.EMERGENCY, resource_type=Resource.OVERVIEW,
            commission_hsa_id=f"{unit.hsa_id}-SJF", care_unit_hsa_id=unit.hsa_id, care_unit_name=unit.name,
            care_provider_hsa_id=world.region.provider.hsa_id, patient_personnummer="196004011232",
            basis=["emergency:e-1"], relation="care_contact", detail="Medvetslös patient på akuten"))
        made, _ = rounds.open_round(session=session, directory=world.directory, unit_hsa_id=unit.hsa_id, day=day,
                                    config=ReviewConfig(sample_share=1, sample_min=0, sample_max=100,
                                                        sample_key="e2e"), now=now())
        assert made is not None
        session.flush()
        [task] = session.exec(select(LogReviewTask).where(LogReviewTask.round_id == made.id)).all()
        return task.id, made.id


def test_the_header_navigation_is_one_line_at_1280_px(page, live: LiveServer, world: World) -> None:  # type: ignore[no-untyped-def]
    # The longest menu there is: a unit manager who is also a catalog administrator, with the dev mail link.
    world.directory.add_role_member(RoleName.UNIT_CATALOG_ADMIN, world.public_manager.hsa_id,
                                    scope=world.public_unit.hsa_id)
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live, world.public_manager.hsa_id)
    page.goto(f"{live.url}/bestall")
    links = page.locator("header.site nav a")
    assert links.count() == 9
    tops = {round(links.nth(n).bounding_box()["y"]) for n in range(links.count())}
    assert len(tops) == 1, f"the navigation wraps onto {len(tops)} lines at 1280 px"
    assert page.is_visible("header.site nav a[href='/status']") and not page.is_visible("details.menu > summary")
    assert not overflowing(page)
