"""Charts as server-rendered SVG: no script, the numbers written on the bars, readable at a phone's width.

Each chart is one ``<svg role="img">`` named by its ``<title>`` and ``<desc>`` (aria-labelledby), drawn in a
``viewBox`` that scales to the width of its column (CSS: ``.chart svg``). Colours come from classes in site.css
(the pages' CSP allows no inline styles); every bar carries its number as text, and the page puts the same numbers
in a table beside the chart, so nothing depends on telling colours apart. All text is escaped here (markupsafe):
the result is Markup the templates insert as it is.
"""

from __future__ import annotations

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
