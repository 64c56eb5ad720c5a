"""NUL and other control characters are refused everywhere, with a message, on SQLite and PostgreSQL (issue 9 §4).

PostgreSQL cannot store or even compare a NUL in text, so anything that reaches SQL with one is a 500 there. Three
sweeps: every field a person types, posted with a control character, comes back refused with the message beside the
field; every field that any route of the authorization matrix posts (the matrix names every route) is never a 500;
every route refuses a control character in its address.
"""
# ruff: noqa: F811  (the overview fixtures are imported and then requested by name)

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kernel import runtime
from kernel.clock import local_date, now
from kernel.settings import Settings
from tests.api.conftest import Browser
from tests.api.test_authorization_matrix import POLICY, _person, _prepare, commission_body, log_review, recert_round
from tests.api.test_bad_input import typed_routes
from tests.api.test_no_leaks import STATES
from tests.api.test_no_leaks import _form as overview_form
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    LENA,
    SARA,
    Clinic,
    clinic,
    overview_db,
    overview_site,
    pnr,
)
from tests.conftest import MailSink
from tests.world import World

NUL = "\x00"


def poisoned(value: str, char: str = NUL) -> str:
    """``value`` with a control character in its middle."""
    middle = len(value) // 2
    return value[:middle] + char + value[middle:]


def error_beside(html: str, field: str) -> str:
    """The message shown beside ``field`` (the first field error after its marker, data-field or name)."""
    for marker in (f'data-field="{field}"', f'name="{field}"'):
        if marker in html:
            after = html.split(marker, 1)[1]
            if 'class="field-error"' in after:
                return after.split('class="field-error"', 1)[1].split("</div>", 1)[0]
    return ""


@pytest.fixture
def any_web(app_settings: Settings, db_url: str, world: World, smtp_sink: MailSink) -> Iterator[Browser]:
    """The `web` browser on this test's database: SQLite, and PostgreSQL when NPO_TEST_DATABASE_URL is set."""
    runtime.configure(app_settings.model_copy(update={
        "database_url": db_url, "dev_login": True, "region_provider_hsa_id": world.region.provider.hsa_id,
        "smtp_port": smtp_sink.port, "public_base_url": "http://npo.test"}))
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield Browser(client)


# ---------------------------------------------------------------------- every typed field, beside the field
def _commission(b: Browser, w: World, x: dict[str, str]) -> tuple[str, dict[str, object]]:
    return "/bestall/uppdrag", {"csrf": b.csrf(), **commission_body(w.public_unit.hsa_id),
                                "contact_name": "Maria Chef", "care_agreement_reference": "Avtal 12"}


def _membership(b: Browser, w: World, x: dict[str, str]) -> tuple[str, dict[str, object]]:
    today = local_date(now())
    return "/bestall/behorigheter", {"csrf": b.csrf(), "unit_hsa_id": w.public_unit.hsa_id, "action": "add",
                                     "extra_hsa_ids": w.public_staff[1].hsa_id, "valid_from": today.isoformat(),
                                     "valid_to": (today + dt.timedelta(days=30)).isoformat(), "comment": "Ny ssk"}


def _delegation(b: Browser, w: World, x: dict[str, str]) -> tuple[str, dict[str, object]]:
    return "/delegering", {"csrf": b.csrf(), "unit_hsa_id": w.public_unit.hsa_id,
                           "delegate_hsa_id": w.public_staff[1].hsa_id, "valid_to": local_date(now()).isoformat()}


def _log_delegation(b: Browser, w: World, x: dict[str, str]) -> tuple[str, dict[str, object]]:
    return "/loggranskning/delegering", {"csrf": b.csrf(), "unit_hsa_id": w.public_unit.hsa_id,
                                         "delegate_hsa_id": log_review(x)["lr_helper"],
                                         "valid_to": local_date(now()).isoformat(), "note": "Beslut 2026-01"}


def _log_task(b: Browser, w: World, x: dict[str, str]) -> tuple[str, dict[str, object]]:
    return f"/loggranskning/atkomst/{log_review(x)['lr_task']}", {
        "csrf": b.csrf(), "outcome": "needs_follow_up", "comment": "Behöver utredas", "expected": "open"}


def _recertification(b: Browser, w: World, x: dict[str, str]) -> tuple[str, dict[str, object]]:
    round_id = recert_round(x)
    page = b.client.get(f"/behorighetskontroll/{round_id}").text
    item = page.split('name="rad" value="', 1)[1].split('"', 1)[0]
    x["item"] = item
    return f"/behorighetskontroll/{round_id}", {"csrf": b.csrf(), "rad": item, f"beslut-{item}": "ta-bort",
                                                f"motivering-{item}": "Har slutat"}


def _recertification_marked(b: Browser, w: World, x: dict[str, str]) -> tuple[str, dict[str, object]]:
    round_id = recert_round(x)
    page = b.client.get(f"/behorighetskontroll/{round_id}").text
    item = page.split('name="markerad" value="', 1)[1].split('"', 1)[0]
    return f"/behorighetskontroll/{round_id}/ta-bort-markerade", {"csrf": b.csrf(), "markerad": item,
                                                                  "motivering-markerade": "Har inte använt NPÖ"}


Form = Callable[[Browser, World, dict[str, str]], tuple[str, dict[str, object]]]
TYPED: list[tuple[Form, str, str]] = [  # (the form, the field typed into, what the message beside it says)
    (_commission, "justification", "styrtecken"),
    (_commission, "contact_name", "styrtecken"),
    (_commission, "contact_phone", "styrtecken"),
    (_commission, "contact_email", "styrtecken"),
    (_commission, "requested_start", "styrtecken"),
    (_commission, "care_agreement_reference", "styrtecken"),
    (_membership, "extra_hsa_ids", "styrtecken"),
    (_membership, "valid_from", "styrtecken"),
    (_membership, "valid_to", "styrtecken"),
    (_membership, "comment", "styrtecken"),
    (_delegation, "delegate_hsa_id", "styrtecken"),
    (_delegation, "valid_to", "ÅÅÅÅ-MM-DD"),
    (_log_delegation, "delegate_hsa_id", "styrtecken"),
    (_log_delegation, "valid_to", "ÅÅÅÅ-MM-DD"),
    (_log_delegation, "note", "styrtecken"),
    (_log_task, "comment", "styrtecken"),
    (_recertification, "motivering-{item}", "styrtecken"),
    (_recertification_marked, "motivering-markerade", "styrtecken"),
]


CHARS = {"NUL": NUL, "ESC": "\x1b", "DEL": "\x7f", "NEL": "\x85"}


@pytest.mark.parametrize(("form", "field", "says"), TYPED, ids=[f"{f.__name__[1:]}-{n}" for f, n, _s in TYPED])
def test_a_control_character_in_a_typed_field_is_refused_beside_the_field(
        any_web: Browser, world: World, form: Form, field: str, says: str) -> None:
    """Each of the four characters, posted on one prepared world (a refused post changes nothing, so the next one
    meets the same state; preparing a world costs far more than a post). Every character is checked and every
    failing one reported."""
    x = _prepare(any_web, world)
    any_web.login(world.public_manager.hsa_id)
    url, data = form(any_web, world, x)
    field = field.format(**x)
    failures = []
    for name, char in CHARS.items():
        response = any_web.client.post(url, data={**data, field: poisoned(str(data[field]), char)},
                                       follow_redirects=False)
        if response.status_code != 422:
            failures.append((name, url, field, response.status_code, response.text[:400]))
        elif says not in error_beside(response.text, field):
            failures.append((name, url, field, response.text))
    assert failures == []


def test_a_control_character_in_a_rejection_reason_is_refused(any_web: Browser, world: World) -> None:
    x = _prepare(any_web, world)
    any_web.login(world.skf.hsa_id)
    page = any_web.client.post("/attest/beslut", data={
        "csrf": any_web.csrf(), "order": x["order"], "approve": "0", "stage": "awaiting_catalog_admin",
        "reason": poisoned("Saknar avtal")})
    assert page.status_code == 422 and "styrtecken" in page.text, page.text
    api = any_web.client.post(f"/api/orders/{x['order']}/decision", json={"approve": False, "reason": "Nej\u0000"},
                              headers={"X-CSRF-Token": any_web.api_csrf()})
    assert api.status_code == 422 and api.json()["field"] == "reason" and "styrtecken" in api.json()["error"]
    still = any_web.client.get(f"/api/orders/{x['order']}").json()
    assert still["state"] == "awaiting_catalog_admin"


@pytest.mark.parametrize("value", ["Motivering med \ud800 ensam surrogat", "Motivering\u0000", "Motivering\u009b"])
def test_json_text_with_a_control_character_or_a_lone_surrogate_is_refused(any_web: Browser, world: World,
                                                                          value: str) -> None:
    any_web.login(world.public_manager.hsa_id)
    body = {**commission_body(world.public_unit.hsa_id), "justification": value}
    response = any_web.client.post("/api/orders/commission", content=_ascii_json(body),
                                   headers={"X-CSRF-Token": any_web.api_csrf(), "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert "styrtecken" in response.json()["errors"]["justification"]


def _ascii_json(body: dict[str, Any]) -> bytes:
    import json

    return json.dumps(body, ensure_ascii=True).encode()  # a lone surrogate can only travel as a \\u escape


# ---------------------------------------------------------------------- every posted field of every route
class _NotSent:
    status_code, text, headers = 0, "", {}  # noqa: RUF012


class Poisoning:
    """Stands in for the TestClient in the matrix's calls: puts a NUL into one posted field (form or JSON), or, with
    ``field=None``, records which fields a call posts and sends nothing."""

    def __init__(self, client: TestClient, field: str | None):
        self.client, self.field, self.fields = client, field, set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def post(self, url: str, *, data: Any = None, json: Any = None, **options: Any) -> Any:
        self.fields |= set(data or {}) | set(json or {})
        if self.field is None:
            return _NotSent()
        return self.client.post(url, data=self._poison(data), json=self._poison(json), **options)

    def _poison(self, mapping: Any) -> Any:
        if not mapping or self.field not in mapping:
            return mapping
        value = mapping[self.field]
        if isinstance(value, list):
            return {**mapping, self.field: [poisoned(str(v)) for v in value]}
        return {**mapping, self.field: poisoned(value) if isinstance(value, str) else value}


def _acting_role(allowed: set[str]) -> str:
    return sorted(allowed - {"anonymous"})[0] if allowed - {"anonymous"} else "manager"


def test_a_nul_in_any_field_any_route_posts_is_never_a_500(any_web: Browser, world: World) -> None:
    swept, x = 0, _prepare(any_web, world)
    for (method, path), rule in sorted(POLICY.items()):
        if method != "POST" or path.startswith("/oversikt"):
            continue  # the overview's forms are swept below, with a SITHS certificate
        role = _acting_role(rule.allowed)
        any_web.login(_person(world, x, role))  # type: ignore[arg-type]
        recorder = Poisoning(any_web.client, None)
        rule.call(Browser(recorder), x)  # type: ignore[arg-type]
        for field in sorted(recorder.fields - {"csrf"}):
            any_web.login(_person(world, x, role))  # type: ignore[arg-type]
            response = rule.call(Browser(Poisoning(any_web.client, field)), x)  # type: ignore[arg-type]
            assert 0 < response.status_code < 500, (path, role, field, response.text[:400])  # type: ignore[attr-defined]
            swept += 1
    assert swept >= 30


def test_a_nul_in_any_field_of_the_overview_forms_is_never_a_500(clinic: Clinic) -> None:
    STATES["allowed"](clinic)
    token, cookies = clinic.csrf(), dict(clinic.client.cookies)
    routes = [path for method, path, _params in typed_routes(clinic.client.app)
              if method == "POST" and path.startswith("/oversikt")]
    assert len(routes) >= 12
    for path in routes:
        for field, value in overview_form(token).items():
            if field == "csrf":
                continue
            clinic.client.cookies.clear()
            for name, kept in cookies.items():
                clinic.client.cookies.set(name, kept)
            data = {**overview_form(token), field: poisoned(str(value))}
            response = clinic.client.post(path, data=data, follow_redirects=True)
            assert response.status_code < 500, (path, field, response.text[:400])


OVERVIEW_TYPED = [  # (state, form page, the field typed into, what the message beside it says)
    ("allowed", "/oversikt/patient", "personnummer", "siffror"),
    ("no patient relation", "/oversikt/patient/relation", "reason", "styrtecken"),
    ("allowed", "/oversikt/patient/nodatkomst", "reason", "styrtecken"),
    ("allowed", "/oversikt/patient/samtycke", "start", "ÅÅÅÅ-MM-DD"),
    ("allowed", "/oversikt/patient/samtycke", "represented_by", "siffror"),
    ("allowed", "/oversikt/felsokning", "description", "styrtecken"),
    ("allowed", "/oversikt/felsokning", "phone", "siffror"),
    ("system administrator", "/oversikt/loggutdrag", "personnummer", "siffror"),
]


@pytest.mark.parametrize(("state", "path", "field", "says"), OVERVIEW_TYPED,
                         ids=[f"{p.rsplit('/', 1)[1]}-{f}" for _s, p, f, _m in OVERVIEW_TYPED])
def test_a_control_character_in_an_overview_field_is_refused_beside_the_field(
        clinic: Clinic, state: str, path: str, field: str, says: str) -> None:
    STATES[state](clinic)
    values = {"personnummer": pnr("astrid"), "reason": "Akut bedömning", "hours": "2", "overview": "1",
              "scope": "unit", "duration": "vecka", "start": local_date(now()).isoformat(),
              "represented_by": pnr("astrid"), "description": "Det fungerar inte", "phone": "040-12 34 56"}
    values[field] = poisoned(values[field])
    response = clinic.post(path, **values)
    assert response.status_code == 422, (path, field, response.status_code, response.text[:400])
    assert says in error_beside(response.text, field), (path, field, response.text)


def test_a_version_in_superscript_digits_is_a_message_not_a_500(clinic: Clinic) -> None:
    clinic.use(SARA)
    response = clinic.post("/oversikt/information", read="1", version="²")
    assert response.status_code == 422, response.text[:400]


# ---------------------------------------------------------------------- every route's address
def test_a_control_character_in_the_address_is_refused_on_every_route(any_web: Browser, world: World) -> None:
    any_web.login(world.public_manager.hsa_id)
    for method, path, params in typed_routes(any_web.client.app):
        if path.startswith("/api/docs") or path == "/api/openapi.json":
            continue
        url = path
        for name, kind in params.items():
            url = url.replace(f"{{{name}}}", "1" if kind is int else "NPO-%00-1")
        in_path = [url] if any(kind is not int for kind in params.values()) else []
        for address in [*in_path, f"{url}?q=a%00b", f"{url}?meddelande=%1b[31m"]:
            response = any_web.client.request(method, address, follow_redirects=False)
            assert response.status_code == 422, (method, address, response.status_code, response.text[:300])
            assert "styrtecken" in response.text and "Adressen" in response.text, (method, address)
