"""Bad input gets a 4xx with a message a person can act on, never a 500 (issue 9 §4).

The sweeps enumerate the app's own routes, so a new route with an integer id in its path, or a new form, is covered
without being named here: ids beyond what SQL can hold, control characters in the address, deeply nested JSON.
The free-text fields of the forms are in tests/api/test_control_characters.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from fastapi.routing import APIRoute

from api.jsonbody import MAX_BODY, MAX_DEPTH
from api.params import MAX_ROW_ID
from kernel import runtime
from overview.models import Patient
from tests.api.conftest import Browser
from tests.world import World

PATIENT = "196004011232"  # a patient of the register here, signed in where the sweep reaches the patient view


def typed_routes(app) -> list[tuple[str, str, dict[str, type]]]:  # type: ignore[no-untyped-def]
    """Every (method, path, {path parameter: its type}) the app serves, including those of included routers."""
    found, stack = [], list(app.routes)
    while stack:
        route = stack.pop()
        if hasattr(route, "original_router"):
            stack += list(route.original_router.routes)
        elif isinstance(route, APIRoute):
            params = {p.name: p.field_info.annotation for p in route.dependant.path_params}
            found += [(method, route.path, params) for method in sorted(route.methods)]
    return sorted(found)


def _url(path: str, params: dict[str, type], number: int) -> str:
    for name, kind in params.items():
        path = path.replace(f"{{{name}}}", str(number) if kind is int else "NPO-000000-0000")
    return path


def _call(web: Browser, method: str, url: str):  # type: ignore[no-untyped-def]
    if url.startswith("/api/"):
        return web.client.request(method, url, json={}, headers={"X-CSRF-Token": web.api_csrf()},
                                  follow_redirects=False)
    return web.client.request(method, url, data={"csrf": web.csrf()}, follow_redirects=False)


def test_the_sweep_finds_the_routes_with_ids(web: Browser) -> None:
    with_ids = {(m, p) for m, p, params in typed_routes(web.client.app) if int in params.values()}
    assert ("GET", "/loggranskning/omgang/{round_id}") in with_ids and len(with_ids) >= 7


@pytest.mark.parametrize("number", [2**63, 2**64 + 5, 10**40, 0, -1])
def test_an_id_sql_cannot_hold_is_refused_on_every_route_with_a_message(web: Browser, world: World,
                                                                       number: int) -> None:
    web.login(world.public_manager.hsa_id)
    swept = 0
    for method, path, params in typed_routes(web.client.app):
        if int not in params.values():
            continue
        response = _call(web, method, _url(path, params, number))
        assert response.status_code == 422, (method, path, number, response.status_code, response.text[:300])
        name = next(n for n, kind in params.items() if kind is int)
        text = response.json()["error"] if path.startswith("/api/") else response.text
        assert (f"Adressen är felaktig: numret i adressen: ska vara ett nummer från 1 till {MAX_ROW_ID}" in text
                and name not in text), (method, path, text[:500])  # words, not the parameter's name
        if path.startswith("/api/"):
            assert response.json()["errors"] == {name: f"ska vara ett nummer från 1 till {MAX_ROW_ID}"}
        swept += 1
    assert swept >= 7


def _sign_in_patient(web: Browser) -> None:
    """A patient of the register signed in by the dev sign-in, beside the staff session (the patient view's own)."""
    with runtime.session_scope() as session:
        if session.get(Patient, PATIENT) is None:
            session.add(Patient(personnummer=PATIENT, given_name="Bo", surname="Ek", birth_date=dt.date(1960, 4, 1)))
    page = web.client.get("/patient/logga-in")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text[:300]
    done = web.client.post("/patient/inloggad", data={"csrf": token.group(1), "personnummer": PATIENT,
                                                      "next": "/patient/"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/patient/", done.text[:300]


def test_the_largest_id_sql_holds_is_an_ordinary_not_found(web: Browser, world: World) -> None:
    web.login(world.public_manager.hsa_id)
    swept = set()
    patient_view_last = sorted(typed_routes(web.client.app), key=lambda route: route[1].startswith("/patient/"))
    for method, path, params in patient_view_last:
        if int in params.values():
            if path.startswith("/patient/"):  # the patient view answers a signed-in patient (a session of its own)
                _sign_in_patient(web)
            response = _call(web, method, _url(path, params, MAX_ROW_ID))
            assert 400 <= response.status_code < 500 and response.status_code != 422, (method, path, response.text)
            swept.add(path)
    assert "/patient/atkomst/{access_id}" in swept and "/loggranskning/omgang/{round_id}" in swept


# ---------------------------------------------------------------------- JSON bodies
def _json_writes(web: Browser) -> list[str]:
    return [_url(path, params, 1) for method, path, params in typed_routes(web.client.app)
            if method == "POST" and path.startswith("/api/")]


@pytest.mark.parametrize("shape", ["list", "object", "in a field"])
def test_deeply_nested_json_under_the_size_limit_is_refused_on_every_json_write(web: Browser, world: World,
                                                                               shape: str) -> None:
    web.login(world.public_manager.hsa_id)
    depth = 10_000
    body = {"list": "[" * depth + "]" * depth, "object": '{"a":' * depth + "1" + "}" * depth,
            "in a field": '{"reason": ' + "[" * depth + "]" * depth + "}"}[shape]
    assert len(body) < MAX_BODY
    writes = _json_writes(web)
    assert len(writes) >= 5
    for url in writes:
        response = web.client.post(url, content=body, headers={"X-CSRF-Token": web.api_csrf(),
                                                               "Content-Type": "application/json"})
        assert response.status_code == 422, (url, response.text[:300])
        assert response.json() == {"error": f"Förfrågan är för djupt nästlad (högst {MAX_DEPTH} nivåer).",
                                   "field": "body", "errors": {"body": f"Förfrågan är för djupt nästlad (högst "
                                                                       f"{MAX_DEPTH} nivåer)."}}


def test_nesting_within_the_limit_and_brackets_inside_strings_are_fine(web: Browser, world: World) -> None:
    web.login(world.public_manager.hsa_id)
    body = {"unit_hsa_id": world.public_unit.hsa_id, "comment": "[[[[{{{{" * 500,
            "extra_hsa_ids": world.public_staff[0].hsa_id, "nested": [[[[{"a": [1]}]]]]}
    response = web.client.post("/api/orders/membership", content=json.dumps(body),
                               headers={"X-CSRF-Token": web.api_csrf(), "Content-Type": "application/json"})
    assert response.status_code == 422 and "valid_from" in response.json()["errors"], response.text


@pytest.mark.parametrize("value", [5, 1.5, True, {"a": 1}, [1, [2]], None])
def test_a_person_list_of_the_wrong_type_is_a_message_not_a_500(web: Browser, world: World, value: object) -> None:
    web.login(world.public_manager.hsa_id)
    response = web.client.post("/api/orders/membership", json={
        "unit_hsa_id": world.public_unit.hsa_id, "person_hsa_ids": value, "valid_from": "2030-01-01"},
        headers={"X-CSRF-Token": web.api_csrf()})
    assert response.status_code == 422, response.text
    assert set(response.json()["errors"]) & {"person_hsa_ids", "extra_hsa_ids"}, response.text


# ---------------------------------------------------------------------- digits of other scripts
def test_a_row_number_in_superscript_digits_is_not_a_500(web: Browser, world: World) -> None:
    from tests.api.test_authorization_matrix import _prepare, recert_round

    x = _prepare(web, world)
    web.login(world.public_manager.hsa_id)
    round_id = recert_round(x)
    response = web.client.post(f"/behorighetskontroll/{round_id}", data={"csrf": web.csrf(), "rad": "²",
                                                                          "beslut-²": "bekrafta"})
    assert response.status_code == 422 and "Välj Bekräfta eller Ta bort" in response.text, response.text[:500]
