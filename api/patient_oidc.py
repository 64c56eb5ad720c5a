"""Patient sign-in through OpenID Connect: the region's e-legitimation broker (BankID / Freja eID behind it).

The authorization code flow with PKCE (S256), ``state`` and ``nonce``; the ID token's signature is checked against
the provider's JWKS and its ``iss``, ``aud``, ``exp``, ``iat`` and ``nonce`` against what this sign-in expects
(issue 15, docs/patient-view.md). The provider's discovery document and keys are cached for a while; a token signed
with a key id we have not seen makes us fetch the keys once more (key rotation). Tokens are never logged.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

import httpx
import jwt
from anyio.to_thread import run_sync
from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from api.patient_auth import AuthenticationFailed, AuthenticatorUnavailable, PatientIdentity, safe_next
from catalog.identifiers import InvalidIdentifier, validate_personnummer
from kernel.clock import now
from kernel.settings import Settings

log = logging.getLogger(__name__)

CALLBACK_PATH = "/patient/inloggad"  # the redirect URI registered with the provider: {public_base_url}/patient/inloggad
SESSION_KEY = "patient_oidc"  # the pending sign-in (state, nonce, code_verifier, next path), used once
ALGORITHMS = ["RS256", "ES256"]
LEEWAY_SECONDS = 60  # clock skew allowed on exp / iat
CACHE_FOR = dt.timedelta(minutes=10)

UNAVAILABLE = "Inloggningstjänsten (e-legitimation) svarar inte just nu. Försök igen om en stund."
CANCELLED = "Inloggningen avbröts. Försök igen."
RESTART = "Inloggningen kunde inte slutföras. Gå tillbaka till startsidan och börja om."
NOT_PROVEN = "Inloggningen kunde inte bekräftas. Gå tillbaka till startsidan och börja om."
NO_PERSONNUMMER = "Inloggningstjänsten gav inget giltigt personnummer, så vi kan inte visa någon journallogg."


@dataclass(frozen=True)
class OidcConfig:
    """The relying party's side of the registration with the provider."""

    issuer: str
    client_id: str
    client_secret: str | None
    scopes: str
    personnummer_claim: str
    timeout_seconds: float
    redirect_uri: str


@dataclass(frozen=True)
class ProviderMetadata:
    """The three endpoints of the provider's discovery document we use."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def _challenge(verifier: str) -> str:
    """The PKCE S256 code challenge of a code verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _same(given: object, expected: object) -> bool:
    """Two non-empty strings that are equal, compared in constant time."""
    return (isinstance(given, str) and isinstance(expected, str) and bool(expected)
            and secrets.compare_digest(given.encode(), expected.encode()))


class OidcAuthenticator:
    """An OpenID Connect relying party that proves a patient's personnummer (NPO_PATIENT_AUTH=oidc).

    One instance serves every request; its caches are replaced whole, so two threads at worst fetch twice.
    """

    method = "oidc"
    label = "Logga in med e-legitimation"

    def __init__(self, config: OidcConfig):
        self.config = config
        self._metadata: tuple[ProviderMetadata, dt.datetime] | None = None
        self._keys: tuple[jwt.PyJWKSet, dt.datetime] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcAuthenticator:
        """The authenticator the settings describe (the settings refuse oidc without issuer and client id)."""
        if not (settings.patient_oidc_issuer and settings.patient_oidc_client_id):
            raise ValueError("NPO_PATIENT_AUTH=oidc needs NPO_PATIENT_OIDC_ISSUER and NPO_PATIENT_OIDC_CLIENT_ID")
        return cls(OidcConfig(
            issuer=settings.patient_oidc_issuer, client_id=settings.patient_oidc_client_id,
            client_secret=settings.patient_oidc_client_secret or None, scopes=settings.patient_oidc_scopes,
            personnummer_claim=settings.patient_oidc_personnummer_claim,
            timeout_seconds=settings.patient_oidc_timeout_seconds,
            redirect_uri=settings.public_base_url.rstrip("/") + CALLBACK_PATH))

    # ------------------------------------------------------------------ the flow
    def begin(self, request: Request, next_path: str) -> Response:
        """Remember a fresh state, nonce and code verifier in the session and send the browser to the provider."""
        metadata = self.metadata()
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        request.session[SESSION_KEY] = {"state": state, "nonce": nonce, "verifier": verifier,
                                        "next": safe_next(next_path)}
        query = urlencode({"response_type": "code", "client_id": self.config.client_id,
                           "redirect_uri": self.config.redirect_uri, "scope": self.config.scopes, "state": state,
                           "nonce": nonce, "code_challenge": _challenge(verifier), "code_challenge_method": "S256"})
        separator = "&" if "?" in metadata.authorization_endpoint else "?"
        return RedirectResponse(f"{metadata.authorization_endpoint}{separator}{query}", status_code=303)

    async def complete(self, request: Request) -> tuple[PatientIdentity, str]:
        """The patient the provider's answer at CALLBACK_PATH proves, and where they were going."""
        pending = request.session.pop(SESSION_KEY, None)  # one use only: a replayed callback finds nothing
        params = request.query_params
        if error := params.get("error"):
            log.info("patient sign-in ended by the provider: %s", error[:64])
            if error in ("server_error", "temporarily_unavailable"):
                raise AuthenticatorUnavailable(UNAVAILABLE)
            raise AuthenticationFailed(CANCELLED)
        if not isinstance(pending, dict) or not _same(params.get("state"), pending.get("state")):
            raise AuthenticationFailed(RESTART)
        code = params.get("code")
        if not code:
            raise AuthenticationFailed(RESTART)
        # the provider is called synchronously (httpx); off the event loop so a slow provider stalls no other page
        claims = await run_sync(self._redeem, code, str(pending.get("verifier", "")), str(pending.get("nonce", "")))
        return self._identity(claims), safe_next(pending.get("next"))

    def _redeem(self, code: str, verifier: str, nonce: str) -> dict[str, Any]:
        """The verified ID token claims the authorization code buys at the token endpoint."""
        metadata = self.metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.config.redirect_uri,
                "code_verifier": verifier, "client_id": self.config.client_id}
        auth = (self.config.client_id, self.config.client_secret) if self.config.client_secret else None
        try:
            response = httpx.post(metadata.token_endpoint, data=form, auth=auth, timeout=self.config.timeout_seconds)
        except httpx.HTTPError as error:
            log.warning("patient sign-in: token endpoint unreachable: %s", type(error).__name__)
            raise AuthenticatorUnavailable(UNAVAILABLE) from None
        answer = _json_object(response)
        if response.status_code == 400 and answer is not None and answer.get("error") == "invalid_grant":
            raise AuthenticationFailed(RESTART)  # the code was used already, has expired, or the verifier is wrong
        id_token = answer.get("id_token") if answer is not None and response.is_success else None
        if not isinstance(id_token, str):
            log.warning("patient sign-in: token endpoint answered %s without an ID token (error %r)",
                        response.status_code, answer and str(answer.get("error"))[:64])
            raise AuthenticatorUnavailable(UNAVAILABLE)
        return self._verify(id_token, nonce)

    def _verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims once its signature, issuer, audience, times and nonce hold."""
        try:
            key = self._signing_key(jwt.get_unverified_header(id_token))
            claims = jwt.decode(id_token, key, algorithms=ALGORITHMS, audience=self.config.client_id,
                                issuer=self.config.issuer, leeway=LEEWAY_SECONDS,
                                options={"require": ["iss", "aud", "exp", "iat"]})
        except jwt.PyJWTError as error:  # malformed, unknown key, bad signature, wrong iss / aud, expired
            log.warning("patient sign-in: ID token refused: %s", type(error).__name__)
            raise AuthenticationFailed(NOT_PROVEN) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:  # OpenID Connect Core §3.1.3.7
            raise AuthenticationFailed(NOT_PROVEN)
        if not _same(claims.get("nonce"), nonce):
            log.warning("patient sign-in: ID token refused: nonce differs")
            raise AuthenticationFailed(NOT_PROVEN)
        return claims

    def _signing_key(self, header: dict[str, Any]) -> jwt.PyJWK:
        """The provider's key for this token's ``kid``; an unknown one makes us fetch the keys again, once."""
        kid = header.get("kid")
        for refresh in (False, True):
            keys = list(self.keys(refresh=refresh))
            found = [k for k in keys if k.key_id == kid] if kid else keys if len(keys) == 1 else []
            if found and found[0].algorithm_name in ALGORITHMS:
                return found[0]
        raise jwt.InvalidKeyError("no usable key for the token's kid")

    def _identity(self, claims: dict[str, Any]) -> PatientIdentity:
        """The personnummer (validated, 12 digits) and name the verified claims carry."""
        raw = claims.get(self.config.personnummer_claim)
        try:
            personnummer = validate_personnummer(raw if isinstance(raw, str) else "")
        except InvalidIdentifier:
            log.warning("patient sign-in: claim %s missing or not a personnummer", self.config.personnummer_claim)
            raise AuthenticationFailed(NO_PERSONNUMMER) from None
        name = claims.get("name")
        if not (isinstance(name, str) and name.strip()):
            parts = (claims.get("given_name"), claims.get("family_name"))
            name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
        return PatientIdentity(personnummer=personnummer, name=name.strip(), method=self.method)

    # ------------------------------------------------------------------ the provider's documents
    def metadata(self) -> ProviderMetadata:
        """The provider's endpoints from its discovery document (cached CACHE_FOR); its issuer must be ours."""
        if self._metadata and now() - self._metadata[1] < CACHE_FOR:
            return self._metadata[0]
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = self._get_json(url)
        if document.get("issuer") != self.config.issuer:
            log.warning("patient sign-in: discovery names issuer %r, configured %r",
                        str(document.get("issuer"))[:200], self.config.issuer)
            raise AuthenticatorUnavailable(UNAVAILABLE)
        endpoints = [document.get(name) for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")]
        if not all(isinstance(e, str) and e.startswith(("https://", "http://")) for e in endpoints):
            log.warning("patient sign-in: discovery document lacks an endpoint")
            raise AuthenticatorUnavailable(UNAVAILABLE)
        metadata = ProviderMetadata(*cast(list[str], endpoints))
        self._metadata = (metadata, now())
        return metadata

    def keys(self, *, refresh: bool = False) -> jwt.PyJWKSet:
        """The provider's signing keys from its JWKS (cached CACHE_FOR, or fetched again with ``refresh``)."""
        if not refresh and self._keys and now() - self._keys[1] < CACHE_FOR:
            return self._keys[0]
        document = self._get_json(self.metadata().jwks_uri)
        try:
            keys = jwt.PyJWKSet.from_dict(document)
        except jwt.PyJWTError:
            log.warning("patient sign-in: the JWKS holds no usable key")
            raise AuthenticatorUnavailable(UNAVAILABLE) from None
        self._keys = (keys, now())
        return keys

    def _get_json(self, url: str) -> dict[str, Any]:
        """A JSON object fetched from the provider; anything else means the provider is unavailable."""
        try:
            response = httpx.get(url, timeout=self.config.timeout_seconds)
        except httpx.HTTPError as error:
            log.warning("patient sign-in: %s unreachable: %s", url, type(error).__name__)
            raise AuthenticatorUnavailable(UNAVAILABLE) from None
        document = _json_object(response)
        if not response.is_success or document is None:
            log.warning("patient sign-in: %s answered %s", url, response.status_code)
            raise AuthenticatorUnavailable(UNAVAILABLE)
        return document


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The response's body as a JSON object, or None when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
