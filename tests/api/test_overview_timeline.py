"""The overview's Tidslinje as a chart (issue 15): one mark per dated item the page shows, the same items in the
table, one logged read per view, and where a block hides data a marker that says only that (in the lane of the
vårdgivare once nödöppning steg 1 has named it), never the blocked content. The real app, the demo directory in
slapd, the named patients (tests/api/test_overview_pages.py); timeline_chart itself on plain lanes."""

from __future__ import annotations

import datetime as dt
import re

from api.charts import Lane, Point, timeline_chart
from demo import organisation as catalog_demo
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    FATIMA,
    SARA,
    Clinic,
    clinic,
    log_rows,
    overview_db,
    overview_site,
)

FIXTURES = (clinic, overview_db, overview_site)  # pytest finds them here; named so the imports count as used
TIMELINE = "/oversikt/patient/tidslinje"
BLOCKED_VISIT = "Besök på akuten för yrsel"  # Bengt's visit that Region Blekinge's block hides


def svg(html: str) -> str:
    return html.split('<svg', 1)[1].split("</svg>", 1)[0]


def marks(html: str) -> list[str]:
    return re.findall(r'<path class="m\d" data-item="([^"]+)"', svg(html))


def listed(html: str) -> list[str]:
    """The dated items of the list below the chart (name and address, listning have no date)."""
    return [i for i, c in re.findall(r'<article class="item" data-item="([^"]+)" data-category="([^"]+)"', html)
            if c not in ("demografi", "listning")]


def table(html: str) -> list[str]:
    return re.findall(r'<tr data-item="([^"]+)"', html.split('class="timeline-table"', 1)[1])


def hidden_markers(html: str) -> list[str]:
    return re.findall(r'data-hidden-marker="([^"]+)"', svg(html))


def reads() -> int:
    return len([r for r in log_rows() if r.resource_type == "översikt"])


def test_the_timeline_has_one_mark_per_dated_item_and_the_same_items_in_the_table(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    clinic.open("astrid")
    before = reads()
    page = clinic.client.get(TIMELINE)
    assert page.status_code == 200 and reads() == before + 1  # one read, logged once, as before
    shown = listed(page.text)
    assert len(shown) > 10 and sorted(marks(page.text)) == sorted(shown) == sorted(table(page.text))
    chart = svg(page.text)
    assert 'role="img"' in chart and "<title id=\"tidslinje-diagram-title\">Tidslinje per vårdgivare" in chart
    assert f"{len(shown)} uppgifter från" in chart and "Region Skåne" in chart and "Region Halland" in chart
    for kind in ("Vårdkontakter", "Anteckningar", "Undersökningar och provsvar"):
        assert f">{kind}</text>" in chart  # the legend names every shape
    assert re.search(r"<title>\d{4}-\d\d-\d\d[^<]* · Journalanteckningar · ", chart)
    assert hidden_markers(page.text) == [] and "style=" not in chart  # no block; colours are classes (the CSP)
    assert 'class="timeline"' in page.text  # the list stays below the chart


def test_a_block_is_a_marker_without_content_and_in_its_vardgivare_s_lane_after_step_1(clinic: Clinic) -> None:
    clinic.use(FATIMA).ready()
    clinic.open("bengt")
    closed = clinic.client.get(TIMELINE).text
    assert hidden_markers(closed) == ["Spärrade uppgifter"]  # whose data is not said before steg 1
    assert BLOCKED_VISIT not in closed and "Region Blekinge" not in closed
    assert sorted(marks(closed)) == sorted(listed(closed)) == sorted(table(closed))

    clinic.post("/oversikt/patient/nodatkomst", reason="Medvetslös efter trafikolycka", hours="2")
    clinic.post("/oversikt/patient/sparrat/steg1")
    named = clinic.client.get(TIMELINE).text
    assert hidden_markers(named) == ["Region Blekinge"] and BLOCKED_VISIT not in named
    lane = svg(named).split('data-hidden-marker="Region Blekinge"', 1)[1].split("</g>", 1)[0]
    assert "Spärrade uppgifter från Region Blekinge visas inte" in lane and not re.search(r"\d{4}-\d\d", lane)
    assert sorted(marks(named)) == sorted(listed(named))

    clinic.post("/oversikt/patient/sparrat/steg2", providers=catalog_demo.BLEKINGE)
    opened = clinic.client.get(TIMELINE).text
    [opened_item] = [a.split('"', 1)[0] for a in opened.split('<article class="item" data-item="')[1:]
                     if BLOCKED_VISIT in a.split("</article>", 1)[0]]
    assert hidden_markers(opened) == [] and opened_item in marks(opened) and ">Region Blekinge</text>" in svg(opened)
    assert sorted(marks(opened)) == sorted(listed(opened)) == sorted(table(opened))


def test_timeline_chart_on_plain_lanes_ticks_months_or_years_and_escapes_text() -> None:
    day = dt.date(2024, 3, 5)
    short = timeline_chart("t", "Åtkomster", "Läsningar över tid", [
        Lane("<b>Enhet</b>", [Point(day, 0, "a & b", "1"), Point(day + dt.timedelta(days=100), 1, "c", "2",
                                                                   until=day + dt.timedelta(days=120))]),
        Lane("Annan", [], hidden="Något visas inte")], ["Läsa", "Skriva"])
    assert short.count("data-item=") == 2 and "&lt;b&gt;Enhet&lt;/b&gt;" in short and "a &amp; b" in short
    assert ">mar 2024</text>" in short and 'class="period m1"' in short and 'data-hidden-marker="Annan"' in short
    long = timeline_chart("t", "T", "D", [Lane("L", [Point(dt.date(2012, 6, 1), 2, "x", "1"),
                                                      Point(dt.date(2024, 6, 1), 3, "y", "2")])], ["a", "b", "c", "d"])
    years = re.findall(r">(\d{4})</text>", long)
    assert years and len(years) <= 7 and all(int(y) % 2 == 0 for y in years)
    assert "Inga värden att visa." in timeline_chart("t", "T", "D", [], ["a"])
