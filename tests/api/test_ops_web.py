"""Driftöversikt on the web: the förvaltning sees every queue, an approver their own, others are refused; every
chart is SVG with its numbers, beside a table, and each figure downloads as Swedish CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from catalog.model import RoleName
from kernel import runtime
from kernel.clock import now
from provisioning.models import OrderKind, OrderState
from tests.api.conftest import Browser
from tests.provisioning.test_metrics import order, visit
from tests.world import World

S = OrderState
DAY = dt.timedelta(days=1)
FIGURES = ("ledtid", "forsenade", "bestallningar", "fel", "behorighetskontroll", "loggranskning")


@pytest.fixture
def history(world: World) -> None:
    """A public commission decided by Skåneförvaltningen in 2 days, a membership decided by the unit's catalog
    administrator in 4 days, and one overdue order in each of those queues."""
    at, unit = now(), world.public_unit.hsa_id
    with runtime.session_scope() as session:
        visit(session, order(session, unit=unit, submitted=at - 3 * DAY), S.AWAITING_CATALOG_ADMIN, at - 3 * DAY,
              at - DAY)
        visit(session, order(session, kind=OrderKind.MEMBERSHIP, unit=unit, submitted=at - 5 * DAY),
              S.AWAITING_USER_ADMIN, at - 5 * DAY, at - DAY)
        order(session, unit=unit, state=S.AWAITING_CATALOG_ADMIN, due_at=at - DAY,
              queue=RoleName.SKANEFORVALTNINGEN.value, submitted=at - 9 * DAY)
        order(session, kind=OrderKind.MEMBERSHIP, unit=unit, state=S.AWAITING_USER_ADMIN, due_at=at - DAY,
              queue=RoleName.UNIT_CATALOG_ADMIN.value, queue_scope=unit, submitted=at - 9 * DAY)


def _table(page: str, key: str) -> str:
    return page.split(f'data-figure="{key}"', 1)[1].split("</table>", 1)[0]


def test_the_forvaltning_sees_every_figure_as_a_chart_a_table_and_a_csv_link(web: Browser, world: World,
                                                                             history: None) -> None:
    page = web.login(world.sysadmin.hsa_id).client.get("/drift")
    assert page.status_code == 200 and "<h1>Driftöversikt</h1>" in page.text and "Alla köer och enheter" in page.text
    for key in FIGURES:
        assert f'id="{key}"' in page.text and f'href="/drift.csv?figur={key}"' in page.text
        assert f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{key}-diagram-title' in page.text
    lead = page.text.split('id="ledtid-diagram"', 1)[1].split("</svg>", 1)[0]
    assert "<rect" in lead and ">2,0 d</text>" in lead and ">4,0 d</text>" in lead  # the numbers on the bars
    assert "<th scope=\"row\">Skåneförvaltningen</th><td>1</td><td>2,0</td><td>2,0</td>" in _table(page.text,
                                                                                                     "ledtid")
    overdue = _table(page.text, "forsenade")
    assert "Skåneförvaltningen</th><td>1</td><td>1</td>" in overdue
    assert "Enhetens katalogadministratör</th><td>1</td><td>1</td>" in overdue
    assert "<script" not in page.text.split("<main", 1)[1]


def test_an_approver_sees_only_their_own_queues(web: Browser, world: World, history: None) -> None:
    page = web.login(world.skf.hsa_id).client.get("/drift")
    assert page.status_code == 200 and "Dina köer" in page.text
    assert "Skåneförvaltningen</th><td>1</td><td>1</td>" in _table(page.text, "forsenade")
    assert "katalogadministratör</th>" not in _table(page.text, "ledtid") + _table(page.text, "forsenade")
    admin = web.login(world.public_admin.hsa_id).client.get("/drift")
    assert "Enhetens katalogadministratör</th><td>1</td><td>4,0</td><td>4,0</td>" in _table(admin.text, "ledtid")
    assert "Skåneförvaltningen" not in _table(admin.text, "ledtid")


def test_others_are_refused_and_the_dashboard_links_the_page(web: Browser, world: World) -> None:
    refused = web.login(world.public_staff[1].hsa_id).client.get("/drift")
    assert refused.status_code == 403 and "Du ingår inte i någon attestkö" in refused.text
    assert web.client.get("/drift.csv?figur=ledtid").status_code == 403
    web.client.cookies.clear()
    assert web.client.get("/drift", follow_redirects=False).headers["location"].startswith("/login")
    dashboard = web.login(world.skf.hsa_id).client.get("/attest")
    assert 'href="/drift"' in dashboard.text


def test_a_figure_as_csv_semicolons_utf8_with_bom_swedish_headers(web: Browser, world: World,
                                                                  history: None) -> None:
    web.login(world.sysadmin.hsa_id)
    response = web.client.get("/drift.csv?figur=ledtid")
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="drift-ledtid.csv"'
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Kö och steg", "Antal beslut", "Median (dagar)", "90:e percentil (dagar)"]
    assert ["Skåneförvaltningen", "1", "2,0", "2,0"] in rows
    weeks = list(csv.reader(io.StringIO(web.client.get("/drift.csv?figur=bestallningar").text.lstrip("\ufeff")),
                            delimiter=";"))
    assert weeks[0] == ["Vecka", "Medarbetaruppdrag", "Behörigheter", "Totalt"] and len(weeks) == 14
    assert sum(int(row[3]) for row in weeks[1:]) == 4
    for key in FIGURES:
        assert web.client.get(f"/drift.csv?figur={key}").status_code == 200


@pytest.mark.parametrize("query", ["figur=okand", "figur=", "", "figur=" + "x" * 41, "figur=LEDTID"])
def test_an_unknown_figure_is_a_swedish_422(web: Browser, world: World, query: str) -> None:
    response = web.login(world.sysadmin.hsa_id).client.get(f"/drift.csv?{query}")
    assert response.status_code == 422, response.text
    assert "Okänd figur" in response.text or "parametern figur i adressen: är för långt" in response.text
