"""The overview's Tidslinje as a chart: the page's dated rows on one time axis, a lane per vårdgivare, the kind of
item as the mark's shape, and a marker where blocked data is hidden; the same rows as a table beside it.

Built only from what the page already shows (``OverviewView``): the shown rows, and of blocked data only what the
box about blocked data says (that some exists; after nödöppning steg 1, which vårdgivare hold it). A hidden-data
marker tells no date, no count and no content (D-27).
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from api.charts import Lane, Point, timeline_chart
from api.routes.overview_view import ItemRow, OverviewView
from overview import producers as P

KINDS = ("Vårdkontakter", "Anteckningar", "Undersökningar och provsvar", "Läkemedelsuttag", "Övrigt")
KIND_OF = {"vardkontakt": 0, "bokning": 0, "journalanteckning": 1, "sammanfattning": 1, "sjukskoterskeanteckning": 1,
           "provsvar": 2, "bilddiagnostik": 2, "klinfys": 2, "neurofys": 2, P.DRUG_LIST_CATEGORY: 3}
UNDATED = ("demografi", "listning")  # the page shows these without a date: they have no place on the axis
UNKNOWN_HOLDER = "Spärrade uppgifter"  # the lane before steg 1, when the page does not say whose data is blocked


@dataclass(frozen=True)
class TimelineRow:
    """One row of the table beside the chart (the same items as its marks)."""

    item_id: str
    when: str
    kind: str
    category: str
    title: str
    provider: str


@dataclass(frozen=True)
class Timeline:
    """The chart, its table, and the sentences about what the chart does not show."""

    chart: Markup
    rows: list[TimelineRow]
    hidden: list[str]


def _when(row: ItemRow) -> str:
    day = row.when.strftime("%Y-%m-%d")
    return f"{day} – {row.until.strftime('%Y-%m-%d')}" if row.until else day


def _hidden(view: OverviewView) -> dict[str, str]:
    """Lane → the marker's text, from the box about blocked data (nothing it does not say)."""
    if view.blocked is None or view.blocked.action == "none":
        return {}
    if view.hidden_providers:
        return {name: f"Spärrade uppgifter från {name} visas inte" for name in view.hidden_providers}
    return {UNKNOWN_HOLDER: "Det finns spärrade uppgifter som inte visas"}


def timeline(view: OverviewView) -> Timeline:
    """The chart and table of an allowed read's dated rows, oldest first."""
    dated = sorted((r for _year, rows in view.by_year for r in rows if r.category not in UNDATED), key=lambda r: r.when)
    by_provider: dict[str, list[Point]] = {}
    for row in dated:
        kind = KIND_OF.get(row.category, len(KINDS) - 1)
        label = f"{_when(row)} · {row.category_name} · {row.title}"
        by_provider.setdefault(row.provider, []).append(
            Point(row.when.date(), kind, label, row.item_id, row.until.date() if row.until else None))
    hidden = _hidden(view)
    names = sorted(set(by_provider) | set(hidden), key=lambda n: (n != view.commission_provider, n == UNKNOWN_HOLDER,
                                                                   n.casefold()))
    lanes = [Lane(name, by_provider.get(name, []), hidden.get(name, "")) for name in names]
    span = f", {dated[0].when:%Y-%m-%d} till {dated[-1].when:%Y-%m-%d}" if dated else ""
    desc = (f"{len(dated)} {'uppgift' if len(dated) == 1 else 'uppgifter'} från {len(by_provider)} vårdgivare"
            f"{span}, en rad per vårdgivare; formen visar slaget av uppgift."
            f"{' Spärrade uppgifter visas inte.' if hidden else ''} Samma uppgifter finns i tabellen under diagrammet.")
    chart = timeline_chart("tidslinje-diagram", "Tidslinje per vårdgivare", desc, lanes, KINDS)
    rows = [TimelineRow(r.item_id, _when(r), KINDS[KIND_OF.get(r.category, len(KINDS) - 1)], r.category_name,
                        r.title, r.provider) for r in reversed(dated)]
    return Timeline(chart, rows, list(hidden.values()))
