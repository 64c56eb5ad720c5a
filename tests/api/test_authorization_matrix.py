"""Every route × every role (manager, delegate, each queue, another unit's administrator, a former manager and
their delegate, a clinician, anonymous): the exact status each gets.

The policy and the table of expected outcomes must name every route of the app: a new route without them fails
here. Roles that must be refused act first, the allowed roles last, so that an allowed write does not change what a
refused role sees. An exact status per cell: a 409 or 422 where a 200 was meant fails too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute

from catalog import runtime as catalog_runtime
from catalog.model import RoleName
from kernel import runtime
from kernel.clock import local_date, now
from provisioning import bulk, connections, proposals
from provisioning.authz import load_actor
from provisioning.recertification import delegations
from tests.api.conftest import Browser
from tests.world import World

# "manager" is the manager of the delegate who placed the order; "other_admin" is the catalog administrator of
# another unit; "former_manager" managed the unit until today and "former_delegate" holds their lapsed delegation.
ROLES = ["anonymous", "manager", "delegate", "skf", "contract_manager", "vgs", "itkp", "unit_admin", "other_admin",
         "sysadmin", "clinician", "former_manager", "former_delegate"]
ORDERERS = {"manager", "delegate"}
APPROVERS = {"skf", "contract_manager", "vgs", "itkp", "unit_admin", "other_admin", "sysadmin"}
SIGNED_IN = set(ROLES) - {"anonymous"}
EVERYONE = set(ROLES)


@dataclass(frozen=True)
class Rule:
    """How to call a route (who gets what is in EXPECTED)."""

    allowed: set[str]  # kept for reading: who the policy lets in; EXPECTED says the exact status
    call: Callable[[Browser, dict[str, str]], object]
    public: bool = False  # anonymous is allowed too (no login needed)


def _form(b: Browser, **data: object) -> dict[str, object]:
    return {"csrf": b.csrf(), **data}


def _json_headers(b: Browser) -> dict[str, str]:
    session = b.client.get("/api/session")
    return {"X-CSRF-Token": session.json()["csrf"]} if session.status_code == 200 else {}


def commission_start() -> str:
    """The requested start of the commission order each test places (a membership must lie within it)."""
    return (local_date(now()) + dt.timedelta(days=5)).isoformat()


def commission_body(unit: str) -> dict[str, str]:
    return {"unit_hsa_id": unit, "justification": "Behövs för patienter från andra regioner.", "contact_name": "A",
            "contact_phone": "040-12 34 56", "contact_email": "a@vard.example",
            "requested_start": commission_start()}


def recert_round(x: dict[str, str]) -> int:
    """An open behörighetskontroll of the unit (VoB SJF with the clinician as member), opened on first use."""
    from catalog.model import Validity
    from provisioning.recertification.common import ReviewConfig
    from provisioning.recertification.decisions import start_round

    directory = catalog_runtime.directory()
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
    ("GET", "/api/health"): Rule(EVERYONE, lambda b, x: b.client.get("/api/health"), public=True),
    ("GET", "/api/alive"): Rule(EVERYONE, lambda b, x: b.client.get("/api/alive"), public=True),
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
        valid_from=commission_start()), follow_redirects=False)),
    ("GET", "/mina-bestallningar"): Rule(SIGNED_IN, lambda b, x: b.client.get("/mina-bestallningar",
                                                                             follow_redirects=False)),
    # a public commission order: besides the unit, only its queue (Skåneförvaltningen) and the förvaltning see it
    ("GET", "/bestallningar/{reference}"): Rule(ORDERERS | {"skf", "sysadmin"},
                                                lambda b, x: b.client.get(f"/bestallningar/{x['order']}",
                                                                          follow_redirects=False)),
    ("POST", "/bestallningar/{reference}/aterkalla"): Rule(ORDERERS, lambda b, x: b.client.post(
        f"/bestallningar/{x['withdrawable']}/aterkalla", data=_form(b), follow_redirects=False)),
    ("GET", "/attest"): Rule(APPROVERS, lambda b, x: b.client.get("/attest", follow_redirects=False)),
    ("POST", "/attest/beslut"): Rule({"skf"}, lambda b, x: b.client.post("/attest/beslut", data=_form(
        b, order=x["order"], approve="1", stage="awaiting_catalog_admin"), follow_redirects=False)),
    ("POST", "/attest/godkann-flera"): Rule(APPROVERS, lambda b, x: b.client.post("/attest/godkann-flera", data=_form(
        b, order=[x["bulk"]]), follow_redirects=False)),
    ("POST", "/bestallningar/{reference}/forsok-igen"): Rule({"sysadmin"}, lambda b, x: b.client.post(
        f"/bestallningar/{x['order']}/forsok-igen", data=_form(b), follow_redirects=False)),
    ("POST", "/bestallningar/{reference}/avbryt"): Rule({"sysadmin"}, lambda b, x: b.client.post(
        f"/bestallningar/{x['order']}/avbryt", data=_form(b, reason="Prov"), follow_redirects=False)),
    ("GET", "/delegering"): Rule({"manager"}, lambda b, x: b.client.get("/delegering", follow_redirects=False)),
    ("POST", "/delegering"): Rule({"manager"}, lambda b, x: b.client.post("/delegering", data=_form(
        b, unit_hsa_id=x["unit"], delegate_hsa_id=x["clinician"], valid_to=local_date(now()).isoformat()),
        follow_redirects=False)),
    ("POST", "/delegering/{delegation_id}/aterkalla"): Rule({"manager"}, lambda b, x: b.client.post(
        f"/delegering/{x['delegation']}/aterkalla", data=_form(b), follow_redirects=False)),
    ("GET", "/dev/mail"): Rule(EVERYONE, lambda b, x: b.client.get("/dev/mail"), public=True),
    ("GET", "/api/session"): Rule(SIGNED_IN, lambda b, x: b.client.get("/api/session")),
    ("GET", "/api/orders"): Rule(SIGNED_IN, lambda b, x: b.client.get("/api/orders")),
    ("GET", "/massbeslut/{job_id}"): Rule({"skf", "sysadmin"}, lambda b, x: b.client.get(
        f"/massbeslut/{x['job']}", follow_redirects=False)),
    ("GET", "/api/bulk-jobs/{job_id}"): Rule({"skf", "sysadmin"}, lambda b, x: b.client.get(
        f"/api/bulk-jobs/{x['job']}")),
    ("GET", "/api/orders/{reference}"): Rule(ORDERERS | {"skf", "sysadmin"},
                                             lambda b, x: b.client.get(f"/api/orders/{x['order']}")),
    ("POST", "/api/orders/commission"): Rule(ORDERERS, lambda b, x: b.client.post(
        "/api/orders/commission", json=commission_body(x["unit"]), headers=_json_headers(b))),
    ("POST", "/api/orders/membership"): Rule(ORDERERS, lambda b, x: b.client.post(
        "/api/orders/membership", json={"unit_hsa_id": x["unit"], "extra_hsa_ids": x["clinician"],
                                        "valid_from": commission_start()}, headers=_json_headers(b))),
    ("POST", "/api/orders/{reference}/decision"): Rule({"skf"}, lambda b, x: b.client.post(
        f"/api/orders/{x['order']}/decision", json={"approve": True}, headers=_json_headers(b))),
    ("POST", "/api/orders/{reference}/withdraw"): Rule(ORDERERS, lambda b, x: b.client.post(
        f"/api/orders/{x['withdrawable']}/withdraw", json={}, headers=_json_headers(b))),
    ("POST", "/api/orders/{reference}/retry"): Rule({"sysadmin"}, lambda b, x: b.client.post(
        f"/api/orders/{x['order']}/retry", json={}, headers=_json_headers(b))),
    ("POST", "/api/orders/{reference}/cancel"): Rule({"sysadmin"}, lambda b, x: b.client.post(
        f"/api/orders/{x['order']}/cancel", json={"reason": "Prov"}, headers=_json_headers(b))),
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
    ("POST", "/behorighetskontroll/{round_id}/ta-bort-markerade"): Rule(ORDERERS, lambda b, x: b.client.post(
        f"/behorighetskontroll/{recert_round(x)}/ta-bort-markerade", data=_form(b), follow_redirects=False)),
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
    ("POST", "/oversikt/patient/sparrat/steg2"), ("GET", "/oversikt/patient/sparr"),
    ("POST", "/oversikt/patient/sparr"), ("POST", "/oversikt/patient/sparr/andra"),
    ("POST", "/oversikt/patient/sparr/tillfallig"), ("POST", "/oversikt/patient/sparr/tillfallig/avbryt"),
    ("GET", "/oversikt/patient/beslutsoformogen"), ("POST", "/oversikt/patient/beslutsoformogen"),
    ("POST", "/oversikt/patient/beslutsoformogen/avsluta"),
    ("GET", "/oversikt/felsokning"), ("POST", "/oversikt/felsokning"), ("POST", "/oversikt/felsokning/begar"),
    ("POST", "/oversikt/felsokning/texter"),
    ("GET", "/oversikt/loggutdrag"), ("POST", "/oversikt/loggutdrag"), ("GET", "/oversikt/publicering"),
    ("POST", "/oversikt/publicering"), ("GET", "/oversikt/publicering/export"))}
POLICY[("GET", "/oversikt/publicering/{version_id}")] = Rule(set(), lambda b, x: b.client.get(
    "/oversikt/publicering/1", follow_redirects=False))
# The service interfaces take a system's function certificate only: a session cookie (or none) gets the JSON 401.
SERVICE_OPERATIONS = ("GetBlocksForPatient", "CheckBlocks", "RegisterBlock", "UnregisterBlock", "DeleteBlock",
                      "RegisterTemporaryRevoke", "CancelTemporaryRevoke", "GetBlocks")
CONSENT_OPERATIONS = ("GetConsentsForPatient", "CheckConsent", "RegisterConsent", "EndConsentByPatient",
                      "DeleteConsent")
POLICY |= {("POST", path): Rule(set(), lambda b, x, path=path: b.client.post(
    path, json={"patientId": {"extension": "194803123423"}}, headers=_json_headers(b), follow_redirects=False))
    for path in [f"/tjanster/sparr/{n}" for n in SERVICE_OPERATIONS]
    + [f"/tjanster/samtycke/{n}" for n in CONSENT_OPERATIONS]}


POLICY |= {
    ("GET", "/anslutningar"): Rule(SIGNED_IN, lambda b, x: b.client.get("/anslutningar", follow_redirects=False)),
    ("POST", "/anslutningar"): Rule({"vgs", "sysadmin"}, lambda b, x: b.client.post("/anslutningar", data=_form(
        b, provider_hsa_id=x["private_provider"], producer="1", justification="Journalerna ska delas i NPÖ."),
        follow_redirects=False)),
    ("POST", "/anslutningar/{order_id}/beslut"): Rule({"vgs", "sysadmin"}, lambda b, x: b.client.post(
        f"/anslutningar/{x['connection']}/beslut", data=_form(b, decision="godkann"), follow_redirects=False)),
    ("POST", "/anslutningar/koppla-bort"): Rule({"vgs", "sysadmin"}, lambda b, x: b.client.post(
        "/anslutningar/koppla-bort", data=_form(b, provider_hsa_id=x["private_provider"], consumer="1",
                                                reason="Avtalet har upphört."), follow_redirects=False)),
    # Driftöversikt: every approver queue and the förvaltning (each sees their own queues' figures)
    ("GET", "/bestall/forslag"): Rule(ORDERERS | {"sysadmin"}, lambda b, x: b.client.get("/bestall/forslag",
                                                                                       follow_redirects=False)),
    # a request of the unit's staff: its manager orders it (the delegate then meets the done proposal: 409)
    ("POST", "/bestall/forslag/{proposal_id}/bestall"): Rule(ORDERERS, lambda b, x: b.client.post(
        f"/bestall/forslag/{x['proposal']}/bestall", data=_form(b, valid_from=commission_start(), valid_to=""),
        follow_redirects=False)),
    ("POST", "/bestall/forslag/{proposal_id}/avboj"): Rule(ORDERERS, lambda b, x: b.client.post(
        f"/bestall/forslag/{x['proposal']}/avboj", data=_form(b, reason="Behövs inte."), follow_redirects=False)),
    ("GET", "/drift"): Rule(APPROVERS, lambda b, x: b.client.get("/drift", follow_redirects=False)),
    ("GET", "/drift.csv"): Rule(APPROVERS, lambda b, x: b.client.get("/drift.csv?figur=ledtid",
                                                                     follow_redirects=False)),
}


def log_review(x: dict[str, str]) -> dict[str, str]:
    """A log review round of the unit (two of the clinician's accesses) and a delegation of log review to someone
    outside the roles above, made on first use; their IDs."""
    if "lr_task" in x:
        return x
    from sqlmodel import select

    from catalog.model import Person
    from kernel.clock import local_midnight
    from overview import accesslog
    from overview.accesslog import Action, LogEntry, Resource
    from overview.logreview import delegations as logreview_delegation
    from overview.logreview import rounds as logreview_rounds
    from overview.logreview.models import LogReviewTask
    from overview.logreview.rules import ReviewConfig

    directory = catalog_runtime.directory()
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
# "Vem har läst min journal?": a patient signs in with e-legitimation (here the dev sign-in), never with a staff
# session; a staff session meets the start page, the sign-in page or a redirect to it, and a refused dev choice
POLICY |= {
    ("GET", "/patient/"): Rule(SIGNED_IN, lambda b, x: b.client.get("/patient/", follow_redirects=False),
                               public=True),
    ("GET", "/patient/logga-in"): Rule(SIGNED_IN, lambda b, x: b.client.get("/patient/logga-in",
                                                                            follow_redirects=False), public=True),
    ("GET", "/patient/inloggad"): Rule(set(), lambda b, x: b.client.get("/patient/inloggad", follow_redirects=False)),
    ("POST", "/patient/inloggad"): Rule(set(), lambda b, x: b.client.post("/patient/inloggad", data=_form(
        b, personnummer="19600401-1232"), follow_redirects=False)),  # no such demo patient or guardian
    ("POST", "/patient/logga-ut"): Rule(SIGNED_IN, lambda b, x: b.client.post("/patient/logga-ut", data=_form(b),
                                                                              follow_redirects=False), public=True),
    ("POST", "/patient/vem"): Rule(SIGNED_IN, lambda b, x: b.client.post("/patient/vem", data=_form(
        b, subject="196004011232"), follow_redirects=False), public=True),
    ("GET", "/patient/atkomst/{access_id}"): Rule(SIGNED_IN, lambda b, x: b.client.get(
        "/patient/atkomst/1", follow_redirects=False), public=True),
    ("POST", "/patient/atkomst/{access_id}"): Rule(SIGNED_IN, lambda b, x: b.client.post(
        "/patient/atkomst/1", data=_form(b, comment="Känner inte igen"), follow_redirects=False), public=True),
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


def _person(world: World, x: dict[str, str], role: str) -> str | None:
    """The HSA-ID acting as ``role`` (None: anonymous)."""
    fixed = {"manager": world.public_manager, "delegate": world.public_staff[0], "skf": world.skf,
             "contract_manager": world.contract_manager, "vgs": world.vgs, "itkp": world.itkp,
             "unit_admin": world.public_admin, "sysadmin": world.sysadmin, "clinician": world.public_staff[1]}
    if role in fixed:
        return fixed[role].hsa_id
    return x.get(role)


# The exact outcome of every route for every role: a status code, L (303 to the login page), or H (200 or 503: the
# health answer, 503 while a part of the stack is down). Roles run in the
# order refused first, then the allowed ones in the column order, on a fresh world per route; where two allowed roles
# change the same order, the second meets the first one's change (409). Allowed calls that reach the service with
# input it refuses are 422 (a second commission order for a unit that has one on order; a behörighetskontroll
# without choices). Columns: anonymous, manager (of the delegate who placed the order), delegate, Skåneförvaltningen,
# Koncernkontoret, Vårdgivarservice, IT Kundtjänst Privata, the unit's catalog administrator, another unit's
# catalog administrator, NPÖ-förvaltningen, a clinician, the former manager, the former manager's delegate.
EXPECTED_TABLE = """
                                                         ano mgr dlg skf  kk vgs itk uad oad sys cli fmg fdl
GET /                                                      L 303 303 303 303 303 303 303 303 303 303 303 303
GET /anslutningar                                          L 200 200 200 200 200 200 200 200 200 200 200 200
GET /bestall/forslag                                       L 200 200 403 403 403 403 403 403 200 403 403 403
POST /bestall/forslag/{proposal_id}/avboj                  L 303 409 404 404 404 404 404 404 404 404 404 404
POST /bestall/forslag/{proposal_id}/bestall                L 303 409 404 404 404 404 404 404 404 404 404 404
POST /anslutningar                                         L 403 403 403 403 409 403 403 403 409 403 403 403
POST /anslutningar/koppla-bort                             L 403 403 403 403 303 403 403 403 422 403 403 403
POST /anslutningar/{order_id}/beslut                       L 403 403 403 403 303 403 403 403 409 403 403 403
GET /api/bulk-jobs/{job_id}                              401 404 404 200 404 404 404 404 404 200 404 404 404
GET /api/alive                                           200 200 200 200 200 200 200 200 200 200 200 200 200
GET /api/health                                            H   H   H   H   H   H   H   H   H   H   H   H   H
GET /api/orders                                          401 200 200 200 200 200 200 200 200 200 200 200 200
POST /api/orders/commission                              401 422 422 403 403 403 403 403 403 403 403 403 403
POST /api/orders/membership                              401 201 201 403 403 403 403 403 403 403 403 403 403
GET /api/orders/{reference}                              401 200 200 200 404 404 404 404 404 200 404 404 404
POST /api/orders/{reference}/decision                    401 403 403 200 404 404 404 404 404 403 404 404 404
POST /api/orders/{reference}/retry                       401 403 403 403 404 404 404 404 404 409 404 404 404
POST /api/orders/{reference}/cancel                      401 403 403 403 404 404 404 404 404 409 404 404 404
POST /api/orders/{reference}/withdraw                    401 200 409 403 404 404 404 404 404 403 404 404 404
GET /api/queues                                          401 200 200 200 200 200 200 200 200 200 200 200 200
GET /api/queues/orders                                   401 200 200 200 200 200 200 200 200 200 200 200 200
GET /api/session                                         401 200 200 200 200 200 200 200 200 200 200 200 200
GET /api/siths/whoami                                    401 401 401 401 401 401 401 401 401 401 401 401 401
GET /api/units/{unit_hsa_id}/people                      401 200 200 403 403 403 403 403 403 403 403 403 403
GET /attest                                                L 403 403 200 200 200 200 200 200 200 403 403 403
POST /attest/beslut                                        L 403 403 303 404 404 404 404 404 403 404 404 404
POST /attest/godkann-flera                                 L 403 403 303 303 303 303 303 303 303 403 403 403
GET /behorighetskontroll                                   L 200 200 403 403 403 403 403 403 403 403 403 403
POST /behorighetskontroll/starta                           L 422 422 403 403 403 403 403 403 403 403 403 403
GET /behorighetskontroll/{round_id}                        L 200 200 403 403 403 403 403 403 403 403 403 403
POST /behorighetskontroll/{round_id}                       L 422 422 403 403 403 403 403 403 403 403 403 403
POST /behorighetskontroll/{round_id}/ta-bort-markerade     L 422 422 403 403 403 403 403 403 403 403 403 403
GET /bestall                                               L 200 200 403 403 403 403 403 403 403 403 403 403
GET /bestall/behorigheter                                  L 200 200 403 403 403 403 403 403 403 403 403 403
POST /bestall/behorigheter                                 L 303 303 403 403 403 403 403 403 403 403 403 403
GET /bestall/uppdrag                                       L 200 200 403 403 403 403 403 403 403 403 403 403
POST /bestall/uppdrag                                      L 422 422 403 403 403 403 403 403 403 403 403 403
GET /bestallningar/{reference}                             L 200 200 200 404 404 404 404 404 200 404 404 404
POST /bestallningar/{reference}/aterkalla                  L 303 409 403 404 404 404 404 404 403 404 404 404
POST /bestallningar/{reference}/forsok-igen                L 403 403 403 404 404 404 404 404 409 404 404 404
POST /bestallningar/{reference}/avbryt                     L 403 403 403 404 404 404 404 404 409 404 404 404
GET /delegering                                            L 200 403 403 403 403 403 403 403 403 403 403 403
POST /delegering                                           L 303 403 403 403 403 403 403 403 403 403 403 403
POST /delegering/{delegation_id}/aterkalla                 L 303 403 403 403 403 403 403 403 403 403 403 403
GET /drift                                                 L 403 403 200 200 200 200 200 200 200 403 403 403
GET /drift.csv                                             L 403 403 200 200 200 200 200 200 200 403 403 403
POST /dev/login                                          303 303 303 303 303 303 303 303 303 303 303 303 303
GET /dev/mail                                            200 200 200 200 200 200 200 200 200 200 200 200 200
GET /loggranskning                                         L 200 403 403 403 403 403 403 403 403 403 403 403
GET /loggranskning/atkomst/{task_id}                       L 200 403 403 403 403 403 403 403 403 403 403 403
POST /loggranskning/atkomst/{task_id}                      L 303 403 403 403 403 403 403 403 403 403 403 403
GET /loggranskning/delegering                              L 200 403 403 403 403 403 403 403 403 403 403 403
POST /loggranskning/delegering                             L 303 403 403 403 403 403 403 403 403 403 403 403
POST /loggranskning/delegering/{delegation_id}/aterkalla   L 303 403 403 403 403 403 403 403 403 403 403 403
GET /loggranskning/omgang/{round_id}                       L 200 403 403 403 403 403 403 403 403 403 403 403
GET /login                                               200 200 200 200 200 200 200 200 200 200 200 200 200
POST /logout                                               L   L   L   L   L   L   L   L   L   L   L   L   L
GET /massbeslut/{job_id}                                   L 404 404 200 404 404 404 404 404 200 404 404 404
GET /mina-bestallningar                                    L 200 200 200 200 200 200 200 200 200 200 200 200
GET /oversikt                                            401 401 401 401 401 401 401 401 401 401 401 401 401
GET /oversikt/felsokning                                 401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/felsokning                                401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/felsokning/begar                          401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/felsokning/texter                         401 401 401 401 401 401 401 401 401 401 401 401 401
GET /oversikt/information                                401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/information                               401 401 401 401 401 401 401 401 401 401 401 401 401
GET /oversikt/loggutdrag                                 401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/loggutdrag                                401 401 401 401 401 401 401 401 401 401 401 401 401
GET /oversikt/patient                                    401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient                                   401 401 401 401 401 401 401 401 401 401 401 401 401
GET /oversikt/patient/nodatkomst                         401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient/nodatkomst                        401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient/relation                          401 401 401 401 401 401 401 401 401 401 401 401 401
GET /oversikt/patient/samtycke                           401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient/samtycke                          401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient/samtycke/andra                    401 401 401 401 401 401 401 401 401 401 401 401 401
GET /oversikt/patient/sparr                              401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient/sparr                             401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient/sparr/andra                       401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient/sparr/tillfallig                  401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient/sparr/tillfallig/avbryt           401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient/sparrat/steg1                     401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient/sparrat/steg2                     401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient/stang                             401 401 401 401 401 401 401 401 401 401 401 401 401
GET /oversikt/patient/tidslinje                          401 401 401 401 401 401 401 401 401 401 401 401 401
GET /oversikt/publicering                                401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/publicering                               401 401 401 401 401 401 401 401 401 401 401 401 401
GET /oversikt/publicering/export                         401 401 401 401 401 401 401 401 401 401 401 401 401
GET /oversikt/publicering/{version_id}                   401 401 401 401 401 401 401 401 401 401 401 401 401
GET /oversikt/patient/beslutsoformogen                   401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient/beslutsoformogen                  401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/patient/beslutsoformogen/avsluta          401 401 401 401 401 401 401 401 401 401 401 401 401
GET /oversikt/uppdrag                                    401 401 401 401 401 401 401 401 401 401 401 401 401
POST /oversikt/uppdrag                                   401 401 401 401 401 401 401 401 401 401 401 401 401
GET /siths/login                                         303 303 303 303 303 303 303 303 303 303 303 303 303
GET /siths/vem-ar-jag                                    401 401 401 401 401 401 401 401 401 401 401 401 401
GET /status                                              200 200 200 200 200 200 200 200 200 200 200 200 200
POST /tjanster/samtycke/CheckConsent                     401 401 401 401 401 401 401 401 401 401 401 401 401
POST /tjanster/samtycke/DeleteConsent                    401 401 401 401 401 401 401 401 401 401 401 401 401
POST /tjanster/samtycke/EndConsentByPatient              401 401 401 401 401 401 401 401 401 401 401 401 401
POST /tjanster/samtycke/GetConsentsForPatient            401 401 401 401 401 401 401 401 401 401 401 401 401
GET /patient/                                            200 200 200 200 200 200 200 200 200 200 200 200 200
GET /patient/logga-in                                    200 200 200 200 200 200 200 200 200 200 200 200 200
GET /patient/inloggad                                    401 401 401 401 401 401 401 401 401 401 401 401 401
POST /patient/inloggad                                   401 401 401 401 401 401 401 401 401 401 401 401 401
POST /patient/logga-ut                                   303 303 303 303 303 303 303 303 303 303 303 303 303
POST /patient/vem                                        303 303 303 303 303 303 303 303 303 303 303 303 303
GET /patient/atkomst/{access_id}                         303 303 303 303 303 303 303 303 303 303 303 303 303
POST /patient/atkomst/{access_id}                        303 303 303 303 303 303 303 303 303 303 303 303 303
POST /tjanster/samtycke/RegisterConsent                  401 401 401 401 401 401 401 401 401 401 401 401 401
POST /tjanster/sparr/CancelTemporaryRevoke               401 401 401 401 401 401 401 401 401 401 401 401 401
POST /tjanster/sparr/CheckBlocks                         401 401 401 401 401 401 401 401 401 401 401 401 401
POST /tjanster/sparr/DeleteBlock                         401 401 401 401 401 401 401 401 401 401 401 401 401
POST /tjanster/sparr/GetBlocks                           401 401 401 401 401 401 401 401 401 401 401 401 401
POST /tjanster/sparr/GetBlocksForPatient                 401 401 401 401 401 401 401 401 401 401 401 401 401
POST /tjanster/sparr/RegisterBlock                       401 401 401 401 401 401 401 401 401 401 401 401 401
POST /tjanster/sparr/RegisterTemporaryRevoke             401 401 401 401 401 401 401 401 401 401 401 401 401
POST /tjanster/sparr/UnregisterBlock                     401 401 401 401 401 401 401 401 401 401 401 401 401
"""
COLUMNS = ["anonymous", "manager", "delegate", "skf", "contract_manager", "vgs", "itkp", "unit_admin",
           "other_admin", "sysadmin", "clinician", "former_manager", "former_delegate"]
REFUSED = {"401", "403", "404", "L"}


def _expected() -> dict[tuple[str, str], dict[str, str]]:
    table = {}
    for line in EXPECTED_TABLE.strip().splitlines()[1:]:
        method, path, *cells = line.split()
        assert len(cells) == len(COLUMNS), line
        table[(method, path)] = dict(zip(COLUMNS, cells, strict=True))
    return table


EXPECTED = _expected()


def test_the_table_names_every_route_and_agrees_with_the_policy(web: Browser) -> None:
    assert set(EXPECTED) == set(POLICY) and COLUMNS == ROLES
    for route, rule in POLICY.items():
        allowed = {role for role, status in EXPECTED[route].items()
                   if status not in REFUSED or (rule.public and status == "L")}
        assert allowed == rule.allowed | ({"anonymous"} if rule.public else set()), route


@pytest.mark.parametrize("route", sorted(POLICY, key=lambda k: (k[1], k[0])), ids=lambda k: f"{k[0]} {k[1]}")
def test_every_role_on_every_route(web: Browser, world: World, route: tuple[str, str]) -> None:
    rule, expected = POLICY[route], EXPECTED[route]
    ids = _prepare(web, world)
    refused = [r for r in ROLES if expected[r] in REFUSED]
    got = {}
    for role in refused + [r for r in ROLES if r not in refused]:
        hsa_id = _person(world, ids, role)
        if hsa_id:
            web.login(hsa_id)
        else:
            web.client.cookies.clear()
        response = rule.call(web, ids)
        status = response.status_code  # type: ignore[attr-defined]
        to_login = status == 303 and response.headers.get("location", "").startswith("/login")  # type: ignore[attr-defined]
        healthy_or_not = expected[role] == "H" and status in (200, 503)  # 503 while a part is down (no mTLS here)
        got[role] = "L" if to_login else "H" if healthy_or_not else str(status)
    assert got == expected, route


def _prepare(web: Browser, world: World) -> dict[str, str]:
    """A public commission order awaiting Skåneförvaltningen, placed by the manager's delegate; a delegation to
    revoke; another unit's catalog administrator; a former manager and the delegate of their lapsed delegation."""
    directory = world.directory
    other_admin = world.region.person(world.region.unit_b, given="Olle", surname="Annanenhet")
    directory.add_role_member(RoleName.UNIT_CATALOG_ADMIN, other_admin.hsa_id, scope=world.region.unit_b.hsa_id)
    former, former_delegate = (world.region.person(given=g, surname="Förr") for g in ("Fredrik", "Frida"))
    directory.set_unit_manager(world.public_unit.hsa_id, former.hsa_id)
    with runtime.session_scope() as session:
        was_manager = load_actor(directory, session, former.hsa_id, now=now())
        assert was_manager is not None
        delegations.grant(session=session, directory=directory, actor=was_manager,
                          unit_hsa_id=world.public_unit.hsa_id, delegate_hsa_id=former_delegate.hsa_id,
                          valid_to=local_date(now()) + dt.timedelta(days=30), now=now() - dt.timedelta(minutes=2))
    directory.set_unit_manager(world.public_unit.hsa_id, world.public_manager.hsa_id)
    with runtime.session_scope() as session:
        manager = load_actor(directory, session, world.public_manager.hsa_id, now=now())
        assert manager is not None
        delegations.grant(session=session, directory=directory, actor=manager,
                          unit_hsa_id=world.public_unit.hsa_id, delegate_hsa_id=world.public_staff[0].hsa_id,
                          valid_to=local_date(now()) + dt.timedelta(days=1), now=now() - dt.timedelta(minutes=1))
        spare = delegations.grant(session=session, directory=directory, actor=manager,
                                  unit_hsa_id=world.public_unit.hsa_id, delegate_hsa_id=world.public_staff[2].hsa_id,
                                  valid_to=local_date(now()) + dt.timedelta(days=1), now=now())
        delegation_id = spare.id
    web.login(world.public_staff[0].hsa_id)
    created = web.client.post("/api/orders/commission", json=commission_body(world.public_unit.hsa_id),
                              headers=_json_headers(web))
    assert created.status_code == 201, created.text
    order = created.json()["reference"]
    with runtime.session_scope() as session:  # Skåneförvaltningen's massbeslut, recorded (its task is not run here)
        skf = load_actor(directory, session, world.skf.hsa_id, now=now())
        assert skf is not None
        job_id = bulk.start_approvals(session=session, actor=skf, orders=[(order, None)], now=now()).id
    with runtime.session_scope() as session:  # the private vårdgivare's manager orders it connected as producer
        private_manager = load_actor(directory, session, world.private_manager.hsa_id, now=now())
        assert private_manager is not None
        connection = connections.submit_connection(
            session=session, directory=directory, actor=private_manager, config=world.config,
            provider_hsa_id=world.private_provider.hsa_id, consumer=False, producer=True,
            justification="Vårdcentralen ska dela sina journaler i NPÖ.", now=now())
        connection_id = connection.id
    with runtime.session_scope() as session:  # a member of the unit's staff asks for access from Felsökning
        proposal_id = proposals.request_access(session=session, directory=directory, config=world.config,
                                               person_hsa_id=world.public_staff[2].hsa_id, comment="", now=now()).id
    return {"proposal": str(proposal_id), "order": order, "withdrawable": order, "bulk": order, "job": str(job_id),
            "unit": world.public_unit.hsa_id,
            "private_provider": world.private_provider.hsa_id, "connection": str(connection_id),
            "clinician": world.public_staff[1].hsa_id, "delegation": str(delegation_id),
            "other_admin": other_admin.hsa_id, "former_manager": former.hsa_id,
            "former_delegate": former_delegate.hsa_id}
