"""Driftöversikt: how the ordering and the reviews perform, as charts with their numbers as tables and CSV.

For NPÖ-förvaltningen every queue and unit, for an approver their own queues (provisioning.metrics.View). The
figures are computed by provisioning.metrics and overview.logreview.metrics; this module only puts them into rows
of Swedish text, which the page shows as a table beside each chart and ``/drift.csv?figur=…`` serves as CSV
(semicolons, UTF-8 with BOM, decimal comma: what a Swedish spreadsheet opens as it is).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlmodel import Session

from api.auth import CurrentActor
from api.charts import Bars, bar_chart, column_chart, number
from api.pages import render
from kernel import runtime
from kernel.clock import local_minute, now
from kernel.figures import WINDOW_DAYS, UnitCompletion
from kernel.spreadsheet import swedish_csv
from overview.logreview import metrics as logreview_metrics
from provisioning import metrics
from provisioning.authz import require_approver
from provisioning.errors import InvalidInput

router = APIRouter()
UNIT_CHART_ROWS = 15  # the chart shows the units least done; the table and the CSV list every unit
KINDS = ("Medarbetaruppdrag", "Behörigheter")


@dataclass(frozen=True)
class Figure:
    """One figure: its heading and explanation, its numbers as rows of text (table and CSV), and its chart."""

    key: str
    title: str
    about: str
    headers: Sequence[str]
    rows: list[list[str]]
    chart: Markup
    note: str = ""


def _lead(session: Session, view: metrics.View, at: dt.datetime) -> Figure:
    found = metrics.lead_times(session, view, now=at)
    chart = bar_chart("ledtid-diagram", "Ledtid per kö och steg", "Median och 90:e percentil i dagar; siffrorna "
                      "finns också i tabellen.", [Bars(f"{t.label} ({t.count} st)", (t.median_days, t.p90_days))
                                                  for t in found], ("Median", "90:e percentil"),
                      fmt=lambda v: f"{number(v, 1)} d")
    return Figure("ledtid", "Ledtid per kö och steg", f"Tid från att en beställning kom till kön tills den beslutades "
                  f"(godkänd eller avslagen), för beslut de senaste {WINDOW_DAYS} dagarna. Kalenderdagar.",
                  ("Kö och steg", "Antal beslut", "Median (dagar)", "90:e percentil (dagar)"),
                  [[t.label, str(t.count), number(t.median_days, 1), number(t.p90_days, 1)] for t in found], chart)


def _overdue(session: Session, view: metrics.View, at: dt.datetime) -> Figure:
    found = metrics.queue_loads(session, view, now=at)
    chart = bar_chart("forsenade-diagram", "Väntande och försenade beställningar per kö", "Antal väntande och "
                      "antal försenade per kö just nu.", [Bars(q.label, (q.waiting, q.overdue)) for q in found],
                      ("Väntar", "Försenade"))
    return Figure("forsenade", "Försenade just nu", "Beställningar som väntar på ett beslut, och hur många av dem "
                  "som passerat sista dag för beslut.", ("Kö", "Väntar", "Försenade"),
                  [[q.label, str(q.waiting), str(q.overdue)] for q in found], chart)


def _weekly(session: Session, view: metrics.View, at: dt.datetime) -> Figure:
    found = metrics.orders_per_week(session, view, now=at)
    chart = column_chart("bestallningar-diagram", "Beställningar per vecka", "Inskickade beställningar per vecka, "
                         "medarbetaruppdrag och behörigheter staplade.", [w.week.label for w in found], KINDS,
                         [[w.commission for w in found], [w.membership for w in found]])
    return Figure("bestallningar", "Beställningar per vecka", "Inskickade beställningar per ISO-vecka, de senaste "
                  "13 veckorna (innevarande vecka sist).", ("Vecka", *KINDS, "Totalt"),
                  [[w.week.label, str(w.commission), str(w.membership), str(w.total)] for w in found], chart)


def _failures(session: Session, view: metrics.View, at: dt.datetime) -> Figure:
    found = metrics.failures(session, view, now=at)
    chart = column_chart("fel-diagram", "Misslyckade uppläggningar per vecka", "Misslyckade uppläggningar i "
                         "Skånekatalogen per vecka.", [w.week.label for w in found.weeks], ("Misslyckade",),
                         [[w.total for w in found.weeks]])
    return Figure("fel", "Misslyckade uppläggningar", "Uppläggningar i Skånekatalogen som misslyckades och gick "
                  "till NPÖ-förvaltningen, per ISO-vecka.", ("Vecka", "Misslyckade"),
                  [[w.week.label, str(w.total)] for w in found.weeks], chart,
                  note=f"Öppna just nu (väntar på åtgärd): {found.open_now}.")


def _units(key: str, title: str, about: str, found: list[UnitCompletion], view: metrics.View) -> Figure:
    chart = bar_chart(f"{key}-diagram", title, f"Andel klara i procent för de {UNIT_CHART_ROWS} enheter som har "
                      "kommit kortast; alla enheter finns i tabellen.",
                      [Bars(u.unit_name, (u.share or 0,)) for u in found[:UNIT_CHART_ROWS]], ("Andel klara",),
                      fmt=lambda v: f"{number(v)} %", top=100)
    note = "" if view.units is None or view.units else ("Visas för NPÖ-förvaltningen och för enheternas "
                                                       "katalogadministratörer (deras enheter).")
    return Figure(key, title, about, ("Vårdenhet", "HSA-id", "Omgångar", "Totalt", "Klara", "Pågår",
                                      "Missade (efter sista dag)", "Andel klara (%)"),
                  [[u.unit_name, u.unit_hsa_id, str(u.rounds), str(u.total), str(u.done), str(u.open),
                    str(u.missed), number(u.share) if u.share is not None else "–"] for u in found], chart, note)


def _recertification(session: Session, view: metrics.View, at: dt.datetime) -> Figure:
    return _units("behorighetskontroll", "Behörighetskontroll per enhet", "Varje enhets senaste "
                  "behörighetskontroll det senaste året: medarbetare som bekräftats eller tagits bort, som väntar "
                  "och som inte beslutades före sista dag.",
                  metrics.recertification_completion(session, view, now=at), view)


def _logreview(session: Session, view: metrics.View, at: dt.datetime) -> Figure:
    return _units("loggranskning", "Logguppföljning per enhet", f"Granskningsomgångar för dagar de senaste "
                  f"{WINDOW_DAYS} dagarna: utvalda åtkomster som bedömts, som väntar och som inte bedömdes före "
                  "sista dag.", logreview_metrics.completion_per_unit(session, now=at, units=view.units), view)


FIGURES: dict[str, Callable[..., Figure]] = {"ledtid": _lead, "forsenade": _overdue, "bestallningar": _weekly,
                                             "fel": _failures, "behorighetskontroll": _recertification,
                                             "loggranskning": _logreview}


def _figures(view: metrics.View, keys: Sequence[str]) -> list[Figure]:
    at = now()
    with runtime.read_scope() as session:
        return [FIGURES[key](session, view, at) for key in keys]


@router.get("/drift", name="ops")
def ops_page(request: Request, actor: CurrentActor) -> Response:
    """Driftöversikt."""
    require_approver(actor)
    view = metrics.View.of(actor)
    return render(request, "ops/index.html", actor=actor, figures=_figures(view, list(FIGURES)),
                  everything=view.everything, at=local_minute(now()))


@router.get("/drift.csv", name="ops_csv")
def ops_csv(actor: CurrentActor, figur: str = Query("", max_length=40)) -> Response:
    """One figure's numbers as CSV."""
    require_approver(actor)
    if figur not in FIGURES:
        raise InvalidInput("figur", f"Okänd figur: välj en av {', '.join(FIGURES)}.")
    figure = _figures(metrics.View.of(actor), [figur])[0]
    return Response(swedish_csv(figure.headers, figure.rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="drift-{figur}.csv"'})
