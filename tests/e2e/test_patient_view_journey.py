""""Vem har läst min journal?" in Debian's chromium (issue 15): the nurse Sara Lund reads Astrid Nilsson's overview
with her SITHS card over real mTLS; Astrid signs in through the dev sign-in on the plain listener and sees the read
in the chart and in the table (one mark per row), with the unit and the basis; on a 390 px phone, by keyboard only,
she flags it as not recognised and the row says it is being reviewed; she signs out. axe-core checks every
document (the ``card`` and ``page`` contexts of tests/e2e)."""
# ruff: noqa: F811  (the shared fixtures are imported and requested by name)

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel import runtime
from kernel.settings import Settings
from overview.logreview.models import PatientFlag
from overview.models import AccessLog
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    PATIENTS,
    SARA,
    OverviewSite,
    log_rows,
    overview_db,
    overview_site,
    pnr,
    rows_of,
)
from tests.conftest import MailSink
from tests.e2e.axe import AxeChecker
from tests.e2e.conftest import LiveServer
from tests.e2e.test_accessibility import overflowing
from tests.e2e.test_overview_journey import card, listener  # noqa: F401  (the mTLS listener fixture)

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
ASTRID = PATIENTS["astrid"]


@pytest.fixture
def patient_site(overview_db: Settings, smtp_sink: MailSink) -> Iterator[LiveServer]:
    """The shell's app (the named patients on the dev sign-in) on a plain port, for this test's database."""
    server = LiveServer()
    runtime.configure(overview_db.model_copy(update={"dev_login": True, "smtp_port": smtp_sink.port,
                                                     "public_base_url": server.url}))
    from npo.web import create_app  # noqa: PLC0415 - built after the runtime is configured, as tests/e2e/conftest

    server.server.config.app = create_app()
    server.start()
    yield server
    server.stop()


def sara_reads_astrid(browser, site: OverviewSite, listener: str, axe: AxeChecker) -> int:  # type: ignore[no-untyped-def]
    """Sara opens Astrid's overview with her card; the access log row's number."""
    context, page = card(browser, site, listener, SARA, axe)
    try:
        page.goto(f"{listener}/oversikt")
        page.check("#f-read")
        page.click("#acknowledge")
        page.fill("#f-personnummer", pnr("astrid"))
        page.click("#search")
        page.wait_for_selector(".patient-header .name")
        assert page.inner_text(".patient-header .name") == "Astrid Nilsson"
        axe.finish(page)
    finally:
        context.close()
    reads = [r for r in log_rows() if r.user_hsa_id == SARA and r.resource_type == "översikt"
             and r.patient_personnummer == ASTRID]
    assert len(reads) == 1
    return reads[0].seq


def fits(page) -> bool:  # type: ignore[no-untyped-def]
    """Nothing wider than the screen (no sideways scrolling)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def tab_to(page, selector: str, limit: int = 40) -> int:  # type: ignore[no-untyped-def]
    """Press Tab until the element ``selector`` has the focus (within ``limit`` presses); how many it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return presses
    raise AssertionError(f"{selector!r} not reached by Tab in {limit} presses")


def test_a_patient_sees_the_nurses_read_flags_it_by_keyboard_on_a_phone_and_signs_out(
        browser, page, overview_site: OverviewSite, listener: str,  # type: ignore[no-untyped-def]
        patient_site: LiveServer, axe: AxeChecker, tmp_path: Path) -> None:
    seq = sara_reads_astrid(browser, overview_site, listener, axe)

    page.goto(f"{patient_site.url}/patient/logga-in")
    assert page.locator("h1").inner_text() == "Logga in som patient"
    with page.expect_navigation():
        page.click(f"button[data-login-patient='{ASTRID}']")
    assert page.url == f"{patient_site.url}/patient/"
    assert page.locator("h1").inner_text() == "Vem har läst min journal?"
    chart = page.locator("figure[data-chart='patient-accesses'] svg")
    chart.wait_for()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 50
    marks = chart.locator("path[data-item^='access-']")
    rows = page.locator("tr[data-access]")
    assert rows.count() >= 1 and marks.count() == rows.count()
    items = marks.evaluate_all("ms => ms.map(m => m.dataset.item)")
    accesses = rows.evaluate_all("rs => rs.map(r => r.dataset.access)")
    assert f"access-{seq}" in items and str(seq) in accesses
    assert sorted(items) == sorted(f"access-{a}" for a in accesses)
    assert chart.locator(f"path[data-item='access-{seq}']").bounding_box() is not None  # drawn, not only markup
    row = page.locator(f"tr[data-access='{seq}']")
    assert "Vårdcentralen Hörby" in row.inner_text() and "Vårdgivarens egen personal" in row.inner_text()
    assert "Sara" not in row.inner_text()  # the title, not the name
    shot = tmp_path / "patient-logg.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 2000
    print(f"screenshot: {shot}")
    axe.finish(page)  # the log page, checked with axe-core now

    page.set_viewport_size(PHONE)
    page.goto(f"{patient_site.url}/patient/")
    assert fits(page), overflowing(page)
    tab_to(page, f"a[data-flag='{seq}']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{patient_site.url}/patient/atkomst/{seq}" and fits(page), overflowing(page)
    tab_to(page, "#f-comment")
    page.keyboard.type("Jag har inte varit på vårdcentralen den dagen.")
    tab_to(page, "#flag-send", limit=5)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{patient_site.url}/patient/?klart=markerad"
    assert "Åtkomsten är markerad och granskas av verksamhetschefen" in page.inner_text("p.flash[role=status]")
    state = page.locator(f"tr[data-access='{seq}'] span[data-flag-state='open']")
    assert state.inner_text() == "Granskas av verksamhetschefen"
    assert page.locator(f"a[data-flag='{seq}']").count() == 0 and fits(page), overflowing(page)
    [flag] = rows_of(PatientFlag)
    assert flag.log_seq == seq and flag.comment == "Jag har inte varit på vårdcentralen den dagen."

    with page.expect_navigation():
        page.click("#patient-logout")
    assert page.url == f"{patient_site.url}/patient/?klart=utloggad"
    assert page.inner_text("#patient-login") == "Logga in med e-legitimation"
    assert "Du är utloggad." in page.inner_text("p.flash[role=status]")
    assert page.locator("#patient-logout").count() == 0 and fits(page)
    views = [r for r in rows_of(AccessLog) if r.user_hsa_id == f"patient:{ASTRID}"]
    assert views and all(v.resource_type == "loggutdrag" for v in views)  # every view of the log was logged
