"""The FastAPI application: routers for the status page (and, later, forms, dashboard, overview, JSON API)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypedDict

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api import errors
from api.auth import OptionalActor
from api.devlogin import SignInList
from api.pages import nav
from api.params import plain_address
from api.patient_auth import PatientSignInList
from api.routes import (
    api_orders,
    auth,
    bulk,
    connections,
    dashboard,
    delegations,
    devmail,
    logreview,
    ops,
    orders,
    overview,
    patient,
    proposals,
    review,
    services,
    siths,
    status,
)
from api.security_headers import SecurityHeaders, docs_policy
from api.sessions import ServerSessionMiddleware, SessionPolicy, SessionStore
from api.siths import card_revoked
from kernel import runtime
from kernel.settings import Environment, Settings
from overview.sealing import Sealer

STATIC = Path(__file__).parent / "static"


def session_store(settings: Settings) -> SessionStore:
    """The server-side sessions of this app: the runtime's database, the configured limits, SITHS revocation."""
    policy = SessionPolicy(idle=dt.timedelta(minutes=settings.session_idle_minutes),
                           absolute=dt.timedelta(hours=settings.session_max_hours),
                           secure_cookie=settings.env is Environment.PRODUCTION)
    return SessionStore(runtime.engine, policy, revoked=card_revoked)


class _Docs(TypedDict):
    docs_url: str | None
    openapi_url: str | None


def _docs() -> _Docs:
    """Where the API docs and the OpenAPI schema are served: nowhere in production."""
    if runtime.settings().env is Environment.PRODUCTION:
        return {"docs_url": None, "openapi_url": None}
    return {"docs_url": "/api/docs", "openapi_url": "/api/openapi.json"}


def create_app(*, sign_in_list: SignInList | None = None,
               patient_sign_in_list: PatientSignInList | None = None) -> FastAPI:
    """Build the app; resources come from kernel.runtime (configured by the caller or the environment).
    ``sign_in_list``: the people the dev login page offers (the shell passes the demo's cast; None lists nobody);
    ``patient_sign_in_list``: the patients the patient view's dev sign-in offers (the demo's named patients)."""
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The handlers are synchronous and mostly CPU: anyio's 40 threads per process mostly queued for the GIL
        # (bench/gate.py: 16 threads read about a fifth more per second, with a lower p99; D-64).
        anyio.to_thread.current_default_thread_limiter().total_tokens = runtime.settings().web_threads
        sealer = Sealer(runtime.engine, runtime.settings().audit_seal_every_seconds)  # D-62: each process seals
        sealer.start()
        try:
            yield
        finally:
            sealer.stop()

    app = FastAPI(title="npo-access", redoc_url=None, swagger_ui_oauth2_redirect_url=None,
                  dependencies=[Depends(plain_address)], lifespan=lifespan, **_docs())
    app.state.sign_in_list = sign_in_list
    app.state.patient_sign_in_list = patient_sign_in_list
    settings = runtime.settings()
    app.add_middleware(ServerSessionMiddleware, store=session_store(settings))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    errors.install(app)
    app.add_middleware(SecurityHeaders, docs_paths=[app.docs_url] if app.docs_url else [], docs_csp=docs_policy(app))
    for module in (status, siths, auth, orders, dashboard, bulk, delegations, devmail, api_orders, review, overview,
                   logreview, services, connections, ops, proposals, patient):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def home(actor: OptionalActor) -> RedirectResponse:
        """Each person lands where their work is."""
        if actor is None:
            return RedirectResponse("/login", status_code=303)
        menu = nav(actor)
        target = "/attest" if menu.get("approve") else "/bestall" if menu.get("order") else "/status"
        return RedirectResponse(target, status_code=303)

    return app
