"""Every route × every role (manager, delegate, each queue, clinician, anonymous): who gets in, who is refused.

The policy table below must name every route of the app: a new route without a policy fails this test. Roles that
must be refused act first, the allowed roles last, so that an allowed write does not change what a refused role sees.
No combination may give a 500.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute

from catalog.clock import local_date, now
from npo import runtime
from provisioning import delegations
from provisioning.authz import load_actor
from tests.api.conftest import Browser
from tests.world import World

ROLES = ["anonymous", "manager", "delegate", "skf", "contract_manager", "vgs", "itkp", "unit_admin", "sysadmin",
         "clinician"]
ORDERERS = {"manager", "delegate"}
APPROVERS = {"skf", "contract_manager", "vgs", "itkp", "unit_admin", "sysadmin"}
SIGNED_IN = set(ROLES) - {"anonymous"}
EVERYONE = set(ROLES)


@dataclass(frozen=True)
class Rule:
    """Who may use a route, and how to call it."""

    allowed: set[str]
    call: Callable[[Browser, dict[str, str]], object]
    public: bool = False  # anonymous is allowed too (no login needed)
    may_be_503: bool = False  # /api/health says 503 while a part is down (here the mTLS listener, not started)


def _form(b: Browser, **data: object) -> dict[str, object]:
    return {"csrf": b.csrf(), **data}


def _json_headers(b: Browser) -> dict[str, str]:
    session = b.client.get("/api/session")
    return {"X-CSRF-Token": session.json()["csrf"]} if session.status_code == 200 else {}


def commission_body(unit: str) -> dict[str, str]:
    return {"unit_hsa_id": unit, "justification": "Behövs för patienter från andra regioner.", "contact_name": "A",
            "contact_phone": "040-12 34 56", "contact_email": "a@vard.example",
            "requested_start": (local_date(now()) + dt.timedelta(days=5)).isoformat()}


def recert_round(x: dict[str, str]) -> int:
    """An open behörighetskontroll of the unit (VoB SJF with the clinician as member), opened on first use."""
    from catalog.model import Validity
    from provisioning.recertification_decisions import start_round
    from provisioning.review import ReviewConfig

    directory = runtime.directory()
    commission, _ = directory.ensure_commission(x["unit"])
    directory.ensure_membership(commission.hsa_id, x["clinician"], Validity(dt.datetime(2025, 1, 1, tzinfo=dt.UTC)))
    with runtime.session_scope() as session:
        manager = load_actor(directory, session, directory.require_unit(x["unit"]).manager_hsa_id or "", now=now())
        assert manager is not None
        return start_round(session=session, directory=directory, config=ReviewConfig("http://npo.test"),  # type: ignore[return-value]
                           actor=manager, unit_hsa_id=x["unit"], now=now()).id


POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/"): Rule(EVERYONE, lambda b, x: b.client.get("/", follow_redirects=False), public=True),
    ("GET", "/status"): Rule(EVERYONE, lambda b, x: b.client.get("/status"), public=True),
    ("GET", "/api/health"): Rule(EVERYONE, lambda b, x: b.client.get("/api/health"), public=True, may_be_503=True),
    # without a client certificate this page explains the refusal (401) to everyone
    ("GET", "/siths/vem-ar-jag"): Rule(set(), lambda b, x: b.client.get("/siths/vem-ar-jag")),
    ("GET", "/api/siths/whoami"): Rule(set(), lambda b, x: b.client.get("/api/siths/whoami"), public=False),
    ("GET", "/login"): Rule(EVERYONE, lambda b, x: b.client.get("/login"), public=True),
    # without a client certificate, SITHS login sends everyone to the page that explains why
    ("GET", "/siths/login"): Rule(EVERYONE, lambda b, x: b.client.get("/siths/login", follow_redirects=False),
                                  public=True),
    ("POST", "/dev/login"): Rule(EVERYONE, lambda b, x: b.client.post("/dev/login", data=_form(
        b, hsa_id=x["clinician"]), follow_redirects=False), public=True),
    ("POST", "/logout"): Rule(EVERYONE, lambda b, x: b.client.post("/logout", data=_form(b), follow_redirects=False),
                             public=True),
    ("GET", "/bestall"): Rule(ORDERERS, lambda b, x: b.client.get("/bestall", follow_redirects=False)),
    ("GET", "/bestall/uppdrag"): Rule(ORDERERS, lambda b, x: b.client.get("/bestall/uppdrag", follow_redirects=False)),
    ("POST", "/bestall/uppdrag"): Rule(ORDERERS, lambda b, x: b.client.post("/bestall/uppdrag", data=_form(
        b, **commission_body(x["unit"])), follow_redirects=False)),
    ("GET", "/bestall/behorigheter"): Rule(ORDERERS, lambda b, x: b.client.get("/bestall/behorigheter",
                                                                               follow_redirects=False)),
    ("POST", "/bestall/behorigheter"): Rule(ORDERERS, lambda b, x: b.client.post("/bestall/behorigheter", data=_form(
        b, unit_hsa_id=x["unit"], action="add", extra_hsa_ids=x["clinician"],
        valid_from=local_date(now()).isoformat()), follow_redirects=False)),
    ("GET", "/mina-bestallningar"): Rule(SIGNED_IN, lambda b, x: b.client.get("/mina-bestallningar",
                                                                             follow_redirects=False)),
    ("GET", "/bestallningar/{reference}"): Rule(ORDERERS | APPROVERS,
                                                lambda b, x: b.client.get(f"/bestallningar/{x['order']}",
                                                                          follow_redirects=False)),
    ("POST", "/bestallningar/{reference}/aterkalla"): Rule({"manager"}, lambda b, x: b.client.post(
        f"/bestallningar/{x['withdrawable']}/aterkalla", data=_form(b), follow_redirects=False)),
    ("GET", "/attest"): Rule(APPROVERS, lambda b, x: b.client.get("/attest", follow_redirects=False)),
    ("POST", "/attest/beslut"): Rule({"skf"}, lambda b, x: b.client.post("/attest/beslut", data=_form(
        b, order=x["order"], approve="1", stage="awaiting_catalog_admin"), follow_redirects=False)),
    ("POST", "/attest/godkann-flera"): Rule(APPROVERS, lambda b, x: b.client.post("/attest/godkann-flera", data=_form(
        b, order=[x["bulk"]]), follow_redirects=False)),
    ("POST", "/bestallningar/{reference}/forsok-igen"): Rule({"sysadmin"}, lambda b, x: b.client.post(
        f"/bestallningar/{x['order']}/forsok-igen", data=_form(b), follow_redirects=False)),
    ("GET", "/delegering"): Rule({"manager"}, lambda b, x: b.client.get("/delegering", follow_redirects=False)),
    ("POST", "/delegering"): Rule({"manager"}, lambda b, x: b.client.post("/delegering", data=_form(
        b, unit_hsa_id=x["unit"], delegate_hsa_id=x["clinician"], valid_to=local_date(now()).isoformat()),
        follow_redirects=False)),
    ("POST", "/delegering/{delegation_id}/aterkalla"): Rule({"manager"}, lambda b, x: b.client.post(
        f"/delegering/{x['delegation']}/aterkalla", data=_form(b), follow_redirects=False)),
    ("GET", "/dev/mail"): Rule(EVERYONE, lambda b, x: b.client.get("/dev/mail"), public=True),
    ("GET", "/api/session"): Rule(SIGNED_IN, lambda b, x: b.client.get("/api/session")),
    ("GET", "/api/orders"): Rule(SIGNED_IN, lambda b, x: b.client.get("/api/orders")),
    ("GET", "/api/orders/{reference}"): Rule(ORDERERS | APPROVERS,
                                             lambda b, x: b.client.get(f"/api/orders/{x['order']}")),
    ("POST", "/api/orders/commission"): Rule(ORDERERS, lambda b, x: b.client.post(
        "/api/orders/commission", json=commission_body(x["unit"]), headers=_json_headers(b))),
    ("POST", "/api/orders/membership"): Rule(ORDERERS, lambda b, x: b.client.post(
        "/api/orders/membership", json={"unit_hsa_id": x["unit"], "extra_hsa_ids": x["clinician"],
                                        "valid_from": local_date(now()).isoformat()}, headers=_json_headers(b))),
    ("POST", "/api/orders/{reference}/decision"): Rule({"skf"}, lambda b, x: b.client.post(
        f"/api/orders/{x['order']}/decision", json={"approve": True}, headers=_json_headers(b))),
    ("POST", "/api/orders/{reference}/withdraw"): Rule({"manager"}, lambda b, x: b.client.post(
        f"/api/orders/{x['withdrawable']}/withdraw", json={}, headers=_json_headers(b))),
    ("POST", "/api/orders/{reference}/retry"): Rule({"sysadmin"}, lambda b, x: b.client.post(
        f"/api/orders/{x['order']}/retry", json={}, headers=_json_headers(b))),
    ("GET", "/api/queues"): Rule(SIGNED_IN, lambda b, x: b.client.get("/api/queues")),
    ("GET", "/api/queues/orders"): Rule(SIGNED_IN, lambda b, x: b.client.get("/api/queues/orders")),
    ("GET", "/api/units/{unit_hsa_id}/people"): Rule(ORDERERS, lambda b, x: b.client.get(
        f"/api/units/{x['unit']}/people")),
    ("GET", "/behorighetskontroll"): Rule(ORDERERS, lambda b, x: b.client.get("/behorighetskontroll",
                                                                              follow_redirects=False)),
    ("POST", "/behorighetskontroll/starta"): Rule(ORDERERS, lambda b, x: b.client.post(
        "/behorighetskontroll/starta", data=_form(b, unit_hsa_id=x["unit"]), follow_redirects=False)),
    ("GET", "/behorighetskontroll/{round_id}"): Rule(ORDERERS, lambda b, x: b.client.get(
        f"/behorighetskontroll/{recert_round(x)}", follow_redirects=False)),
    ("POST", "/behorighetskontroll/{round_id}"): Rule(ORDERERS, lambda b, x: b.client.post(
        f"/behorighetskontroll/{recert_round(x)}", data=_form(b), follow_redirects=False)),
}


def _overview(method: str, path: str) -> Rule:
    """The gated overview takes identity from the SITHS certificate only: a session cookie alone gets the 401 page."""
    if method == "GET":
        return Rule(set(), lambda b, x: b.client.get(path, follow_redirects=False))
    return Rule(set(), lambda b, x: b.client.post(path, data=_form(b, personnummer="19480312-3423"),
                                                  follow_redirects=False))


POLICY |= {(method, path): _overview(method, path) for method, path in (
    ("GET", "/oversikt"), ("GET", "/oversikt/uppdrag"), ("POST", "/oversikt/uppdrag"),
    ("GET", "/oversikt/information"), ("POST", "/oversikt/information"), ("POST", "/oversikt/patient"),
    ("GET", "/oversikt/patient"), ("GET", "/oversikt/patient/tidslinje"), ("POST", "/oversikt/patient/stang"),
    ("POST", "/oversikt/patient/relation"), ("GET", "/oversikt/patient/samtycke"),
    ("POST", "/oversikt/patient/samtycke"), ("POST", "/oversikt/patient/samtycke/andra"),
    ("GET", "/oversikt/patient/nodatkomst"),
    ("POST", "/oversikt/patient/nodatkomst"), ("POST", "/oversikt/patient/sparrat/steg1"),
    ("POST", "/oversikt/patient/sparrat/steg2"), ("GET", "/oversikt/felsokning"), ("POST", "/oversikt/felsokning"),
    ("GET", "/oversikt/loggutdrag"), ("POST", "/oversikt/loggutdrag"))}
def log_review(x: dict[str, str]) -> dict[str, str]:
    """A log review round of the unit (two of the clinician's accesses) and a delegation of log review to someone
    outside the roles above, made on first use; their IDs."""
    if "lr_task" in x:
        return x
    from sqlmodel import select

    from catalog.clock import local_midnight
    from catalog.model import Person
    from overview import accesslog, logreview_delegation, logreview_rounds
    from overview.accesslog import Action, LogEntry, Resource
    from overview.logreview import ReviewConfig
    from overview.logreview_models import LogReviewTask

    directory = runtime.directory()
    unit = directory.require_unit(x["unit"])
    helper = directory.create_person(Person(f"{unit.hsa_id.split('-')[0]}-LOGG1", "", "Lotta", "Logg",
                                            unit_hsa_id=unit.hsa_id))
    day = local_date(now()) - dt.timedelta(days=2)
    with runtime.session_scope() as session:
        for hour in (10, 11):
            accesslog.append(session, LogEntry(
                at=local_midnight(day) + dt.timedelta(hours=hour), user_hsa_id=x["clinician"], action=Action.READ,
                resource_type=Resource.OVERVIEW, care_unit_hsa_id=unit.hsa_id, care_unit_name=unit.name,
                patient_personnummer="196004011232"))
        made, _ = logreview_rounds.open_round(session=session, directory=directory, unit_hsa_id=unit.hsa_id, day=day,
                                              config=ReviewConfig(sample_share=1, sample_max=10), now=now())
        assert made is not None
        granted = logreview_delegation.grant(session=session, directory=directory,
                                             manager_hsa_id=unit.manager_hsa_id or "", unit_hsa_id=unit.hsa_id,
                                             delegate_hsa_id=helper.hsa_id, valid_to=local_date(now()), note="",
                                             now=now())
        x["lr_task"] = str(session.exec(select(LogReviewTask.id).where(LogReviewTask.round_id == made.id)).first())
        x["lr_round"], x["lr_delegation"], x["lr_helper"] = str(made.id), str(granted.id), helper.hsa_id
    return x


POLICY |= {
    ("GET", "/loggranskning"): Rule({"manager"}, lambda b, x: b.client.get("/loggranskning",
                                                                            follow_redirects=False)),
    ("GET", "/loggranskning/atkomst/{task_id}"): Rule({"manager"}, lambda b, x: b.client.get(
        f"/loggranskning/atkomst/{log_review(x)['lr_task']}", follow_redirects=False)),
    ("POST", "/loggranskning/atkomst/{task_id}"): Rule({"manager"}, lambda b, x: b.client.post(
        f"/loggranskning/atkomst/{log_review(x)['lr_task']}", data=_form(b, outcome="justified", expected="open"),
        follow_redirects=False)),
    ("GET", "/loggranskning/omgang/{round_id}"): Rule({"manager"}, lambda b, x: b.client.get(
        f"/loggranskning/omgang/{log_review(x)['lr_round']}", follow_redirects=False)),
    ("GET", "/loggranskning/delegering"): Rule({"manager"}, lambda b, x: b.client.get(
        "/loggranskning/delegering", follow_redirects=False)),
    ("POST", "/loggranskning/delegering"): Rule({"manager"}, lambda b, x: b.client.post(
        "/loggranskning/delegering", data=_form(b, unit_hsa_id=x["unit"], delegate_hsa_id=log_review(x)["lr_helper"],
                                                 valid_to=local_date(now()).isoformat()), follow_redirects=False)),
    ("POST", "/loggranskning/delegering/{delegation_id}/aterkalla"): Rule({"manager"}, lambda b, x: b.client.post(
        f"/loggranskning/delegering/{log_review(x)['lr_delegation']}/aterkalla", data=_form(b),
        follow_redirects=False)),
}
DOCS = {"/api/openapi.json", "/api/docs", "/api/docs/oauth2-redirect", "/docs/oauth2-redirect", "/static"}


def app_routes(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every (method, path) the app serves, including those of included routers."""
    found = set()
    stack = list(app.routes)
    while stack:
        route = stack.pop()
        if hasattr(route, "original_router"):
            stack += list(route.original_router.routes)
        elif isinstance(route, APIRoute) and route.path not in DOCS:
            found |= {(m, route.path) for m in route.methods if m != "HEAD"}
    return found


def test_the_policy_names_every_route(web: Browser) -> None:
    assert app_routes(web.client.app) == set(POLICY)


def _person(world: World, role: str) -> str | None:
    return {"manager": world.public_manager, "delegate": world.public_staff[0], "skf": world.skf,
            "contract_manager": world.contract_manager, "vgs": world.vgs, "itkp": world.itkp,
            "unit_admin": world.public_admin, "sysadmin": world.sysadmin,
            "clinician": world.public_staff[1]}.get(role).hsa_id if role != "anonymous" else None  # type: ignore[union-attr]


@pytest.mark.parametrize("route", sorted(POLICY, key=lambda k: (k[1], k[0])), ids=lambda k: f"{k[0]} {k[1]}")
def test_every_role_on_every_route(web: Browser, world: World, route: tuple[str, str]) -> None:
    rule = POLICY[route]
    ids = _prepare(web, world)
    ordered = sorted(ROLES, key=lambda r: r in rule.allowed)  # refused roles first
    for role in ordered:
        hsa_id = _person(world, role)
        if hsa_id:
            web.login(hsa_id)
        else:
            web.client.cookies.clear()
        response = rule.call(web, ids)
        status = response.status_code  # type: ignore[attr-defined]
        assert status < 500 or (rule.may_be_503 and status == 503), (route, role, status,
                                                                      response.text[:300])  # type: ignore[attr-defined]
        location = response.headers.get("location", "")  # type: ignore[attr-defined]
        to_login = status == 401 or (status == 303 and location.startswith("/login"))
        if role in rule.allowed:
            assert status not in (401, 403, 404) and not (to_login and not rule.public), (route, role, status)
        elif role == "anonymous":
            assert to_login, (route, role, status, location)
        else:
            assert status in (401, 403, 404), (route, role, status, response.text[:300])  # type: ignore[attr-defined]


def _prepare(web: Browser, world: World) -> dict[str, str]:
    """A fresh public commission order awaiting Skåneförvaltningen, and a delegation to revoke."""
    with runtime.session_scope() as session:
        manager = load_actor(world.directory, session, world.public_manager.hsa_id, now=now())
        assert manager is not None
        delegations.grant(session=session, directory=world.directory, actor=manager,
                          unit_hsa_id=world.public_unit.hsa_id, delegate_hsa_id=world.public_staff[0].hsa_id,
                          valid_to=local_date(now()) + dt.timedelta(days=1), now=now() - dt.timedelta(minutes=1))
        spare = delegations.grant(session=session, directory=world.directory, actor=manager,
                                  unit_hsa_id=world.public_unit.hsa_id, delegate_hsa_id=world.public_staff[2].hsa_id,
                                  valid_to=local_date(now()) + dt.timedelta(days=1), now=now())
        delegation_id = spare.id
    web.login(world.public_manager.hsa_id)
    created = web.client.post("/api/orders/commission", json=commission_body(world.public_unit.hsa_id),
                              headers=_json_headers(web))
    assert created.status_code == 201, created.text
    order = created.json()["reference"]
    return {"order": order, "withdrawable": order, "bulk": order, "unit": world.public_unit.hsa_id,
            "clinician": world.public_staff[1].hsa_id, "delegation": str(delegation_id)}
