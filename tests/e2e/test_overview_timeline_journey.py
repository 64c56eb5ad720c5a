"""The overview's Tidslinje chart in Debian's chromium over real mTLS (issue 15): the nurse Sara Lund opens Astrid
Nilsson's timeline; the SVG is drawn (it has a size on the page), has one mark per item of the table beside it, and
a screenshot of it is kept under the test's tmp_path; at a 360 px phone the chart fits the width. axe-core checks
every document (the ``card`` contexts of tests/e2e/test_overview_journey)."""
# ruff: noqa: F811  (the shared fixtures are imported and requested by name)

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.settings import Settings
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    SARA,
    OverviewSite,
    overview_db,
    overview_site,
    pnr,
)
from tests.e2e.axe import AxeChecker
from tests.e2e.test_accessibility import overflowing
from tests.e2e.test_overview_journey import card, listener  # noqa: F401  (the mTLS listener fixture)

pytestmark = pytest.mark.e2e


def test_the_timeline_chart_shows_a_mark_for_every_item_of_its_table(
        browser, overview_site: OverviewSite, overview_db: Settings, listener: str,  # type: ignore[no-untyped-def]
        axe: AxeChecker, tmp_path: Path) -> None:
    context, page = card(browser, overview_site, listener, SARA, axe)
    try:
        page.goto(f"{listener}/oversikt")
        page.check("#f-read")
        page.click("#acknowledge")
        page.fill("#f-personnummer", pnr("astrid"))
        page.click("#search")
        page.wait_for_selector(".patient-header .name")
        page.click("text=Tidslinje")
        chart = page.locator("figure.timeline-chart svg[role=img]")
        chart.wait_for()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
        marks = chart.locator("[data-item]")
        rows = page.locator("details.timeline-table tbody tr[data-item]")
        assert rows.count() > 10 and marks.count() == rows.count()
        assert sorted(marks.evaluate_all("ms => ms.map(m => m.dataset.item)")) == \
            sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.item)"))
        assert marks.first.bounding_box() is not None  # drawn, not only in the markup
        shot = tmp_path / "tidslinje.png"
        chart.screenshot(path=str(shot))
        assert shot.stat().st_size > 2000
        page.set_viewport_size({"width": 360, "height": 740})
        assert overflowing(page) == []
        page.screenshot(path=str(tmp_path / "tidslinje-360.png"), full_page=True)
        print(f"screenshots: {shot} {tmp_path / 'tidslinje-360.png'}")
        axe.finish(page)
    finally:
        context.close()
