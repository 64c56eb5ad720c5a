"""The FastAPI application: routers for the status page (and, later, forms, dashboard, overview, JSON API)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from api import errors
from api.auth import OptionalActor
from api.pages import nav
from api.routes import (
    api_orders,
    auth,
    dashboard,
    delegations,
    devmail,
    logreview,
    orders,
    overview,
    review,
    siths,
    status,
)
from npo import runtime
from npo.settings import Environment

STATIC = Path(__file__).parent / "static"


def create_app() -> FastAPI:
    """Build the app; resources come from npo.runtime (configured by the caller or the environment)."""
    settings = runtime.settings()
    public_docs = settings.env is not Environment.PRODUCTION  # the API's map is for developers, not the internet
    app = FastAPI(title="npo-access", docs_url="/api/docs" if public_docs else None,
                  openapi_url="/api/openapi.json" if public_docs else None, redoc_url=None)
    app.add_middleware(SessionMiddleware, secret_key=settings.secret_key, session_cookie="npo_session",
                       max_age=8 * 3600, same_site="lax", https_only=settings.env is Environment.PRODUCTION)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    errors.install(app)
    for module in (status, siths, auth, orders, dashboard, delegations, devmail, api_orders, review, overview,
                   logreview):
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
