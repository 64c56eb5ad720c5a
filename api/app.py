"""The FastAPI application: routers for the status page (and, later, forms, dashboard, overview, JSON API)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.routes import status

STATIC = Path(__file__).parent / "static"


def create_app() -> FastAPI:
    """Build the app; resources come from npo.runtime (configured by the caller or the environment)."""
    app = FastAPI(title="npo-access", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(status.router)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/status", status_code=303)

    return app
