"""Schemathesis over the JSON API's own OpenAPI schema (issue 10 item 6): every operation under /api/, a signed-in
unit manager (dev login) so the authorised code is reached, a bounded and derandomized number of examples per
operation, the real SQLite database and the session's slapd. Each answer must be no server error and must match the
schema the API publishes (the bodies of api/schemas.py, the one error shape of api/errors.py)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from tests.api.conftest import Browser
from tests.world import World

EXAMPLES = 25
CHECKS = [not_a_server_error, response_schema_conformance]
# /api/health answers 503 by design while a part is down (no Prefect server here): its schema is still checked.
DOWN_BY_DESIGN = {"/api/health"}


@pytest.fixture
def signed_in(web: Browser, world: World) -> Browser:
    """The browser of a unit manager who may order (the approver queues are reached through the same code)."""
    return web.login(world.public_manager.hsa_id)


# The schema is read at collection (schemathesis's fixture-based loader does not run on this pytest); the test
# below checks that the app under test publishes the same one.
PUBLISHED = create_app().openapi()
schema = schemathesis.openapi.from_dict(PUBLISHED).include(path_regex=r"^/api/")


def test_the_fuzzed_schema_is_the_one_the_app_publishes(signed_in: Browser) -> None:
    published = signed_in.client.get("/api/openapi.json")
    assert published.status_code == 200 and published.json() == PUBLISHED


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_the_json_api_answers_every_generated_request_within_its_schema(case: Any, signed_in: Browser) -> None:
    kwargs = case.as_transport_kwargs(base_url=str(signed_in.client.base_url),
                                      headers={"X-CSRF-Token": signed_in.api_csrf()})
    kwargs = {key: value for key, value in kwargs.items() if key in _HTTPX_ARGUMENTS}
    if isinstance(kwargs.get("data"), bytes | str):  # a serialized body is raw content to httpx
        kwargs["content"] = kwargs.pop("data")
    response = signed_in.client.request(**kwargs, follow_redirects=False)
    checks = [response_schema_conformance] if case.path in DOWN_BY_DESIGN else CHECKS
    case.validate_response(response, checks=checks)


# What schemathesis prepares that httpx takes; the client's own cookies carry the session.
_HTTPX_ARGUMENTS = {"method", "url", "params", "headers", "content", "data", "files", "json"}
