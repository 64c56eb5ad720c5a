"""Charts as server-rendered SVG: no script, the numbers written on the bars, readable at a phone's width.

Each chart is one ``<svg role="img">`` named by its ``<title>`` and ``<desc>`` (aria-labelledby), drawn in a
``viewBox`` that scales to the width of its column (CSS: ``.chart svg``). Colours come from classes in site.css
(the pages' CSP allows no inline styles); every bar carries its number as text, and the page puts the same numbers
in a table beside the chart, so nothing depends on telling colours apart. All text is escaped here (markupsafe):
the result is Markup the templates insert as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 480  # viewBox units; at a 360 px phone a 13-unit label is about 10 px high
FONT = 13
LABEL_ROOM = 44  # right of the longest bar: room for its number


def number(value: float, decimals: int = 0) -> str:
    """A number as Swedish text: decimal comma, no thousands separator (tables, charts and CSV agree)."""
    return f"{value:.{decimals}f}".replace(".", ",")


@dataclass(frozen=True)
class Bars:
    """One row of a horizontal bar chart: its label and one value per series."""

    label: str
    values: Sequence[float]


def _svg(chart_id: str, title: str, desc: str, height: float, body: list[str]) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{escape(chart_id)}-title '
            f'{escape(chart_id)}-desc" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" '
            f'preserveAspectRatio="xMinYMin meet" class="chart-svg" id="{escape(chart_id)}">'
            f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
            f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>')
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every part is escaped above or in the callers


def _legend(series: Sequence[str], y: float) -> list[str]:
    parts, x = [], 0.0
    for index, name in enumerate(series):
        parts.append(f'<rect class="s{index}" x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12"/>'
                     f'<text x="{x + 16:.1f}" y="{y:.1f}" font-size="{FONT}">{escape(name)}</text>')
        x += 16 + 7.5 * len(name) + 18
    return parts


def bar_chart(chart_id: str, title: str, desc: str, rows: Sequence[Bars], series: Sequence[str], *,
              fmt: Callable[[float], str] = number, top: float | None = None) -> Markup:
    """Horizontal bars, one group per row (its label above it), one bar per series with its number at its end;
    ``top`` fixes the scale (e.g. 100 for per cent), else the largest value spans the width."""
    scale_top = top or max((v for row in rows for v in row.values), default=0) or 1
    span = WIDTH - LABEL_ROOM
    bar, gap = 16, 4
    body = _legend(series, 14) if len(series) > 1 else []
    y = 28.0 if len(series) > 1 else 4.0
    for row in rows:
        body.append(f'<text x="0" y="{y + FONT:.1f}" font-size="{FONT}" class="label">{escape(row.label)}</text>')
        y += FONT + 6
        for index, value in enumerate(row.values):
            length = max(0.0, span * value / scale_top)
            body.append(f'<rect class="s{index}" x="0" y="{y:.1f}" width="{length:.1f}" height="{bar}"/>'
                        f'<text x="{length + 4:.1f}" y="{y + bar - 4:.1f}" font-size="{FONT}">'
                        f'{escape(fmt(value))}</text>')
            y += bar + gap
        y += 10
    if not rows:
        body.append(f'<text x="0" y="{y + FONT:.1f}" font-size="{FONT}">Inga värden att visa.</text>')
        y += FONT + 10
    return _svg(chart_id, title, desc, y, body)


def column_chart(chart_id: str, title: str, desc: str, categories: Sequence[str], series: Sequence[str],
                 values: Sequence[Sequence[float]], *, fmt: Callable[[float], str] = number) -> Markup:
    """Stacked columns, one per category (e.g. an ISO week), the series stacked bottom up and the total on top;
    ``values[s][c]`` is series s in category c. Category labels below, shortened to what follows a dash (V48)."""
    totals = [sum(series_values[c] for series_values in values) for c in range(len(categories))]
    scale_top = max(totals, default=0) or 1
    legend_room = 24 if len(series) > 1 else 0
    plot_top, plot_height = legend_room + FONT + 8, 180.0
    step = WIDTH / max(1, len(categories))
    width = step * 0.7
    body = _legend(series, 14) if len(series) > 1 else []
    base = plot_top + plot_height
    body.append(f'<line class="axis" x1="0" y1="{base:.1f}" x2="{WIDTH}" y2="{base:.1f}"/>')
    for c, category in enumerate(categories):
        x = c * step + (step - width) / 2
        y = base
        for s, series_values in enumerate(values):
            height = plot_height * series_values[c] / scale_top
            if height > 0:
                body.append(f'<rect class="s{s}" x="{x:.1f}" y="{y - height:.1f}" width="{width:.1f}" '
                            f'height="{height:.1f}"/>')
            y -= height
        middle = x + width / 2
        body.append(f'<text x="{middle:.1f}" y="{y - 4:.1f}" font-size="{FONT}" text-anchor="middle">'
                    f'{escape(fmt(totals[c]))}</text>'
                    f'<text x="{middle:.1f}" y="{base + FONT + 4:.1f}" font-size="{FONT - 2}" text-anchor="middle" '
                    f'class="label">{escape(category.rsplit("-", 1)[-1])}</text>')
    return _svg(chart_id, title, desc, base + FONT + 10, body)


# ---------------------------------------------------------------------- a timeline: lanes of dated marks
MONTHS = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
LANE = 30  # the band a lane's marks sit in
HIDDEN = 18  # the band of a lane's hidden-data marker


@dataclass(frozen=True)
class Point:
    """One dated mark: its day (and last day, for a period), its series (shape and class), the text of its
    ``<title>`` and the key a page or test finds it by (``data-item``)."""

    day: dt.date
    series: int
    label: str
    key: str
    until: dt.date | None = None


@dataclass(frozen=True)
class Lane:
    """One row of the timeline (a producer, later a user or unit), its marks, and optionally a marker saying that
    something of this lane is not shown (its text is all it says: no date, no count)."""

    label: str
    points: Sequence[Point]
    hidden: str = ""


def _shape(series: int, x: float, y: float, r: float = 6.0) -> str:
    """A path per series (circle, square, triangle, diamond, cross), so kinds differ by shape, not only colour."""
    match series % 5:
        case 0:
            return f"M{x - r:.1f},{y:.1f}a{r},{r} 0 1,0 {2 * r},0a{r},{r} 0 1,0 {-2 * r},0Z"
        case 1:
            return f"M{x - r:.1f},{y - r:.1f}h{2 * r}v{2 * r}h{-2 * r}Z"
        case 2:
            return f"M{x:.1f},{y - r - 1:.1f}L{x + r + 1:.1f},{y + r:.1f}H{x - r - 1:.1f}Z"
        case 3:
            return f"M{x:.1f},{y - r - 1:.1f}L{x + r + 1:.1f},{y:.1f}L{x:.1f},{y + r + 1:.1f}L{x - r - 1:.1f},{y:.1f}Z"
        case _:
            t = r / 2.5
            return (f"M{x - t:.1f},{y - r:.1f}h{2 * t:.1f}v{r - t:.1f}h{r - t:.1f}v{2 * t:.1f}h{t - r:.1f}"
                    f"v{r - t:.1f}h{-2 * t:.1f}v{t - r:.1f}h{t - r:.1f}v{-2 * t:.1f}h{r - t:.1f}Z")


def _shape_legend(series: Sequence[str], y: float) -> tuple[list[str], float]:
    """The series' shapes with their names, wrapped to the width; returns the parts and the y below them."""
    parts, x = [], 0.0
    for index, name in enumerate(series):
        width = 18 + 7.5 * len(name) + 16
        if x and x + width > WIDTH:
            x, y = 0.0, y + FONT + 8
        parts.append(f'<path class="m{index % 5}" d="{_shape(index, x + 6, y - 4, 5)}"/>'
                     f'<text x="{x + 16:.1f}" y="{y:.1f}" font-size="{FONT}">{escape(name)}</text>')
        x += width
    return parts, y + 10


def _month(day: dt.date, add: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 + add
    return dt.date(index // 12, index % 12 + 1, 1)


def _ticks(start: dt.date, end: dt.date) -> list[tuple[dt.date, str]]:
    """Month ticks (every 1, 2, 3 or 6 months) for up to two years, else year ticks; at most about six labels."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if months <= 24:
        step = next(s for s in (1, 2, 3, 6, 12) if months / s <= 6)
        first = _month(start, -(start.month - 1) % step)  # the first month at a multiple of the step
        ticks = [_month(first, k) for k in range(0, months + 1, step)]
        return [(d, f"{MONTHS[d.month - 1]} {d.year}") for d in ticks if d <= end]
    years = end.year - start.year
    step = next(s for s in (1, 2, 5, 10, 20, 50) if years / s <= 6)
    return [(dt.date(year, 1, 1), str(year)) for year in range(start.year + 1, end.year + 1) if year % step == 0]


def timeline_chart(chart_id: str, title: str, desc: str, lanes: Sequence[Lane], series: Sequence[str]) -> Markup:
    """Lanes of dated marks on one time axis (month or year ticks, the range from the marks): each lane's label above
    its band, each mark a shape of its series with a ``<title>`` and ``data-item``, a period as a line to its last
    day; a lane's ``hidden`` text as a dashed marker below its band, outside the axis (it tells no date).

    Plain lanes and points, so any dated events fit (the overview's items per vårdgivare; a patient's accesses over
    time per unit or user)."""
    days = [d for lane in lanes for p in lane.points for d in (p.day, p.until) if d is not None]
    start = _month(min(days, default=dt.date.today()))
    end = _month(max(days, default=dt.date.today()), 1)
    pad = 8.0
    span, total = WIDTH - 2 * pad, max(1, (end - start).days)

    def x_of(day: dt.date) -> float:
        return pad + span * (day - start).days / total

    legend, y = _shape_legend(series, 14)
    axis_top = y
    body: list[str] = []
    lines: list[str] = []  # the ticks, drawn under the marks
    for lane in lanes:
        body.append(f'<text x="0" y="{y + FONT:.1f}" font-size="{FONT}" class="label">{escape(lane.label)}</text>')
        y += FONT + 4
        middle = y + LANE / 2
        body.append(f'<line class="lane" x1="0" y1="{middle:.1f}" x2="{WIDTH}" y2="{middle:.1f}"/>')
        last, crowd = -100.0, 0
        for point in sorted(lane.points, key=lambda p: p.day):
            x = x_of(point.day)
            crowd = crowd + 1 if x - last < 10 else 0  # marks that would cover each other step up and down
            last, mark_y = x, middle + (0, -6, 6)[crowd % 3]
            if point.until and point.until > point.day:
                body.append(f'<line class="period m{point.series % 5}" x1="{x:.1f}" y1="{middle:.1f}" '
                            f'x2="{x_of(point.until):.1f}" y2="{middle:.1f}"/>')
            body.append(f'<path class="m{point.series % 5}" data-item="{escape(point.key)}" '
                        f'd="{_shape(point.series, x, mark_y)}"><title>{escape(point.label)}</title></path>')
        y += LANE
        if lane.hidden:
            body.append(f'<g data-hidden-marker="{escape(lane.label)}"><title>{escape(lane.hidden)}</title>'
                        f'<rect class="hidden-marker" x="0.5" y="{y:.1f}" width="{WIDTH - 1}" height="{HIDDEN}"/>'
                        f'<text x="6" y="{y + HIDDEN - 5:.1f}" font-size="{FONT - 2}">{escape(lane.hidden)}</text></g>')
            y += HIDDEN + 2
        y += 6
    for day, text in _ticks(start, end):
        x = x_of(day)
        lines.append(f'<line class="tick" x1="{x:.1f}" y1="{axis_top:.1f}" x2="{x:.1f}" y2="{y:.1f}"/>')
        anchor = "start" if x < 40 else "end" if x > WIDTH - 40 else "middle"
        lines.append(f'<text x="{x:.1f}" y="{y + FONT + 2:.1f}" font-size="{FONT - 2}" text-anchor="{anchor}" '
                     f'class="label">{escape(text)}</text>')
    lines.append(f'<line class="axis" x1="0" y1="{y:.1f}" x2="{WIDTH}" y2="{y:.1f}"/>')
    if not lanes:
        body.append(f'<text x="0" y="{y + FONT:.1f}" font-size="{FONT}">Inga värden att visa.</text>')
        y += FONT + 6
    return _svg(chart_id, title, desc, y + FONT + 8, legend + lines + body)
