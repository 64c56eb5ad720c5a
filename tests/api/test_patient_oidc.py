"""The OpenID Connect patient sign-in (api/patient_oidc.py) against a real OpenID provider served by uvicorn.

The provider is the edge of the world, so it is written here: discovery, JWKS (RSA keys made with cryptography), an
authorize endpoint that redirects at once with a code, and a token endpoint that checks PKCE and issues an RS256 ID
token with the nonce it was given. The authenticator runs in a small app with starlette's cookie session, as only
the authenticator is under test; the real patient routes are tested with the app.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware
from starlette.testclient import TestClient

from api.patient_auth import AuthenticationFailed, AuthenticatorUnavailable
from api.patient_oidc import CALLBACK_PATH, NO_PERSONNUMMER, NOT_PROVEN, UNAVAILABLE, OidcAuthenticator
from kernel.settings import Settings
from tests.conftest import free_port

CLIENT_ID, CLIENT_SECRET = "npo-patient", "provider-secret"
BASE = "http://testserver"  # the test app's public_base_url (TestClient's host)
PNR_CLAIM = "personal_identity_number"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Provider:
    """A small OpenID provider; the knobs below make it misbehave the way a test needs."""

    def __init__(self) -> None:
        self.url = ""
        self.keys = {"k1": new_key()}  # published in the JWKS
        self.kid = "k1"  # the key id that signs (and is named in the token's header)
        self.foreign_key: rsa.RSAPrivateKey | None = None  # signs instead, under the same kid
        self.claims: dict[str, Any] = {}  # overrides of the ID token's claims; None removes one
        self.issuer_named: str | None = None  # what discovery says the issuer is (None: the truth)
        self.token_status = 200
        self.discovery_fetches = self.jwks_fetches = 0
        self.authorized: list[dict[str, str]] = []  # the parameters of each authorize request
        self.token_requests = 0
        self.refused: list[str] = []  # why the token endpoint refused a code
        self._grants: dict[str, dict[str, str]] = {}

    def rotate(self) -> None:
        """A new signing key with a new kid replaces the old one."""
        self.keys, self.kid = {"k2": new_key()}, "k2"

    def app(self) -> FastAPI:
        app = FastAPI()
        app.get("/.well-known/openid-configuration")(self.discovery)
        app.get("/jwks")(self.jwks)
        app.get("/authorize")(self.authorize)
        app.post("/token")(self.token)
        return app

    def discovery(self) -> dict[str, str]:
        self.discovery_fetches += 1
        return {"issuer": self.issuer_named or self.url, "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks"}

    def jwks(self) -> dict[str, Any]:
        self.jwks_fetches += 1
        return {"keys": [{**jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid,
                          "use": "sig", "alg": "RS256"} for kid, key in self.keys.items()]}

    def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.authorized.append(params)
        assert params["response_type"] == "code" and params["client_id"] == CLIENT_ID
        assert params["code_challenge_method"] == "S256" and params["redirect_uri"] == BASE + CALLBACK_PATH
        code = secrets.token_urlsafe(16)
        self._grants[code] = params
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode({'code': code, 'state': params['state']})}",
                                status_code=303)

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        if self.token_status != 200:
            return Response("Internal Server Error", status_code=self.token_status)
        if request.headers.get("authorization") != "Basic " + base64.b64encode(
                f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode():
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = await request.form()
        grant = self._grants.pop(str(form.get("code")), None)  # a code is good once
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"] or challenge != grant["code_challenge"]:
            self.refused.append("unknown code" if grant is None else "redirect_uri"
                                if form.get("redirect_uri") != grant["redirect_uri"] else "code_verifier")
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        at = int(time.time())
        claims = {"iss": self.url, "aud": CLIENT_ID, "sub": "u-1", "iat": at, "exp": at + 300,
                  "nonce": grant["nonce"], PNR_CLAIM: "191212121212", "name": "Tolvan Tolvansson", **self.claims}
        key = self.foreign_key or self.keys[self.kid]
        id_token = jwt.encode({k: v for k, v in claims.items() if v is not None}, key, "RS256",
                              headers={"kid": self.kid})
        return JSONResponse({"access_token": "at", "token_type": "Bearer", "id_token": id_token})


@pytest.fixture
def provider() -> Iterator[Provider]:
    """The provider, served on a free port of 127.0.0.1 for one test."""
    found = Provider()
    port = free_port()
    found.url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(found.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the provider did not start"
        time.sleep(0.02)
    yield found
    server.should_exit = True
    thread.join(15)


def patient_app(issuer: str) -> FastAPI:
    """Two routes around the authenticator: start (begin) and the callback (complete), errors as JSON."""
    settings = Settings(_env_file=None, public_base_url=BASE, patient_auth="oidc", patient_oidc_issuer=issuer,
                        patient_oidc_client_id=CLIENT_ID, patient_oidc_client_secret=CLIENT_SECRET)
    authenticator = OidcAuthenticator.from_settings(settings)
    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key="test-only-" + "x" * 32)

    @app.get("/patient/start")
    def start(request: Request, next: str = "/patient/") -> Response:
        try:
            return authenticator.begin(request, next)
        except AuthenticatorUnavailable as error:
            return JSONResponse({"unavailable": error.message}, status_code=503)

    @app.get(CALLBACK_PATH)
    async def callback(request: Request) -> Response:
        try:
            identity, next_path = await authenticator.complete(request)
        except AuthenticationFailed as error:
            return JSONResponse({"failed": error.message}, status_code=400)
        except AuthenticatorUnavailable as error:
            return JSONResponse({"unavailable": error.message}, status_code=503)
        return JSONResponse({"personnummer": identity.personnummer, "name": identity.name,
                             "method": identity.method, "next": next_path})

    return app


@pytest.fixture
def app(provider: Provider) -> FastAPI:
    return patient_app(provider.url)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)


def authorize(client: TestClient, next_path: str = "/patient/") -> str:
    """Start a sign-in and let the provider answer: the callback (path and query) it sends the browser to."""
    start = client.get("/patient/start", params={"next": next_path})
    assert start.status_code == 303, start.text
    answer = httpx.get(start.headers["location"])
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(BASE + CALLBACK_PATH + "?")
    return answer.headers["location"].removeprefix(BASE)


def query(callback: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(callback).query).items()}


def sign_in(client: TestClient) -> httpx.Response:
    return client.get(authorize(client))


def test_a_sign_in_proves_the_personnummer_and_the_name(client: TestClient, provider: Provider) -> None:
    answer = client.get(authorize(client, "/patient/logg?dag=1"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"personnummer": "191212121212", "name": "Tolvan Tolvansson", "method": "oidc",
                             "next": "/patient/logg?dag=1"}
    sent = provider.authorized[0]
    assert sent["scope"] == "openid" and len(sent["state"]) >= 32 and len(sent["nonce"]) >= 32
    assert len(sent["code_challenge"]) == 43 and provider.refused == []


def test_the_name_may_come_in_parts_and_a_foreign_next_path_is_dropped(client: TestClient,
                                                                        provider: Provider) -> None:
    provider.claims = {"name": None, "given_name": "Tolvan", "family_name": "Tolvansson"}
    answer = client.get(authorize(client, "https://evil.example/"))
    assert answer.json()["name"] == "Tolvan Tolvansson" and answer.json()["next"] == "/patient/"


def test_a_code_injected_into_another_sign_in_is_refused_by_pkce(app: FastAPI, provider: Provider) -> None:
    victim, attacker = TestClient(app, follow_redirects=False), TestClient(app, follow_redirects=False)
    stolen_code = query(authorize(victim))["code"]
    own_state = query(authorize(attacker))["state"]  # the attacker's own state and code verifier
    answer = attacker.get(CALLBACK_PATH, params={"code": stolen_code, "state": own_state})
    assert answer.status_code == 400 and "börja om" in answer.json()["failed"]
    assert provider.refused == ["code_verifier"]


def test_a_wrong_state_is_refused_before_the_code_is_spent(client: TestClient, provider: Provider) -> None:
    answer = client.get(CALLBACK_PATH, params={**query(authorize(client)), "state": "forged"})
    assert answer.status_code == 400 and "börja om" in answer.json()["failed"]
    assert provider.token_requests == 0


def test_a_callback_without_a_started_sign_in_is_refused(client: TestClient, provider: Provider) -> None:
    answer = client.get(CALLBACK_PATH, params={"code": "c", "state": "s"})
    assert answer.status_code == 400 and "börja om" in answer.json()["failed"]


def test_a_replayed_callback_is_refused(client: TestClient, provider: Provider) -> None:
    callback = authorize(client)
    assert client.get(callback).status_code == 200
    again = client.get(callback)
    assert again.status_code == 400 and "börja om" in again.json()["failed"]
    assert provider.token_requests == 1  # the replay never reached the provider


@pytest.mark.parametrize("claims", [{"nonce": "another"}, {"nonce": None}, {"aud": "someone-else"},
                                    {"iss": "http://127.0.0.1:1"}, {"exp": int(time.time()) - 3600}],
                         ids=["wrong-nonce", "no-nonce", "wrong-audience", "wrong-issuer", "expired"])
def test_an_id_token_that_does_not_hold_is_refused(client: TestClient, provider: Provider,
                                                   claims: dict[str, Any]) -> None:
    provider.claims = claims
    answer = sign_in(client)
    assert answer.status_code == 400 and answer.json() == {"failed": NOT_PROVEN}


def test_a_token_that_expired_within_the_leeway_still_holds(client: TestClient, provider: Provider) -> None:
    provider.claims = {"exp": int(time.time()) - 20}
    assert sign_in(client).json()["personnummer"] == "191212121212"


def test_a_token_signed_by_another_key_is_refused(client: TestClient, provider: Provider) -> None:
    provider.foreign_key = new_key()  # same kid as the published key, another private key
    answer = sign_in(client)
    assert answer.status_code == 400 and answer.json() == {"failed": NOT_PROVEN}
    assert provider.jwks_fetches == 1


@pytest.mark.parametrize("value", [None, "191212121213", 191212121212, ""], ids=["missing", "checksum", "int", "empty"])
def test_a_missing_or_invalid_personnummer_is_refused(client: TestClient, provider: Provider, value: object) -> None:
    provider.claims = {PNR_CLAIM: value}  # None: no such claim
    answer = sign_in(client)
    assert answer.status_code == 400 and answer.json() == {"failed": NO_PERSONNUMMER}


def test_a_cancelled_sign_in_says_so(client: TestClient, provider: Provider) -> None:
    state = query(authorize(client))["state"]
    answer = client.get(CALLBACK_PATH, params={"error": "access_denied", "state": state})
    assert answer.status_code == 400 and answer.json() == {"failed": "Inloggningen avbröts. Försök igen."}
    assert provider.token_requests == 0


def test_a_provider_that_is_down_makes_sign_in_unavailable() -> None:
    client = TestClient(patient_app(f"http://127.0.0.1:{free_port()}"), follow_redirects=False)
    answer = client.get("/patient/start")
    assert answer.status_code == 503 and answer.json() == {"unavailable": UNAVAILABLE}


def test_a_failing_token_endpoint_makes_sign_in_unavailable(client: TestClient, provider: Provider) -> None:
    provider.token_status = 500
    answer = sign_in(client)
    assert answer.status_code == 503 and answer.json() == {"unavailable": UNAVAILABLE}
    assert provider.token_requests == 1


def test_discovery_naming_another_issuer_makes_sign_in_unavailable(client: TestClient, provider: Provider) -> None:
    provider.issuer_named = "https://impostor.example"
    answer = client.get("/patient/start")
    assert answer.status_code == 503 and answer.json() == {"unavailable": UNAVAILABLE}


def test_a_rotated_key_is_fetched_once_when_its_kid_is_new(client: TestClient, provider: Provider) -> None:
    assert sign_in(client).status_code == 200
    assert sign_in(client).status_code == 200
    assert provider.jwks_fetches == provider.discovery_fetches == 1  # cached
    provider.rotate()
    answer = sign_in(client)
    assert answer.status_code == 200 and answer.json()["personnummer"] == "191212121212"
    assert provider.jwks_fetches == 2
