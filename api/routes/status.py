"""The status page: each part of the stack and its health."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import func
from sqlmodel import select

from api.status import database_status, directory_status, prefect_status, siths_status, smtp_status
from api.templating import templates
from catalog.clock import now
from npo import runtime
from provisioning.models import OutboxMail

router = APIRouter()


def _outbox_waiting() -> tuple[int, object]:
    with runtime.session_scope() as session:
        count, oldest = session.exec(select(func.count(OutboxMail.id), func.min(OutboxMail.created_at)).where(
            OutboxMail.sent_at.is_(None))).one()  # type: ignore[union-attr]
    return count, oldest


def _checks() -> list:
    settings = runtime.settings()
    return [database_status(runtime.engine()), directory_status(runtime.directory()),
            smtp_status(settings.smtp_host, settings.smtp_port, _outbox_waiting),
            prefect_status(settings.prefect_api_url), siths_status(settings, now())]


@router.get("/status", response_class=HTMLResponse, name="status")
def status_page(request: Request) -> HTMLResponse:
    """Systemstatus (HTML)."""
    parts = _checks()
    return templates.TemplateResponse(request, "status.html", {"parts": parts, "all_ok": all(p.healthy for p in parts)})


@router.get("/api/health", name="health")
def health() -> JSONResponse:
    """Machine-readable health; 503 when a part is down."""
    parts = _checks()
    ok = all(p.healthy for p in parts)
    body = {"ok": ok, "parts": {p.key: {"healthy": p.healthy, "detail": p.detail, "ms": round(p.millis, 1)}
                                for p in parts}}
    return JSONResponse(body, status_code=200 if ok else 503)
