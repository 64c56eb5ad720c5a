"""The status page and /api/health: every part of the stack and each deployment, probed concurrently.

Anyone sees whether everything works; the detail (addresses, paths, backlog, error text) is for NPÖ-förvaltningen
(the directory role npo-forvaltning).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import cast

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import func
from sqlmodel import col, select

from api.auth import OptionalActor
from api.pages import render
from api.schemas import DeploymentPublic, HealthPublic, PartPublic
from api.status import (
    PartStatus,
    database_status,
    directory_status,
    mtls_status,
    prefect_status,
    siths_status,
    smtp_status,
    web_status,
    with_log_errors,
)
from api.status_engine import DeploymentStatus, engine_status
from catalog import runtime as catalog_runtime
from kernel import runtime
from kernel.clock import now
from kernel.outbox import OutboxMail
from provisioning.authz import Actor

router = APIRouter()
DEADLINE = 4.0  # seconds for all probes together; one that has not answered by then is reported as not answering
LOGS = {"smtp": "smtp", "prefect": "prefect-server", "worker": "prefect-worker", "mtls": "siths", "web": "web"}
NAMES = {"database": "SQL-databas", "directory": "Skånekatalogen (LDAP)", "smtp": "E-post (SMTP)",
         "engine": "Arbetsflöden (worker och schemaläggare)", "prefect": "Arbetsflöden (Prefect)",
         "mtls": "SITHS-lyssnaren (mTLS)", "siths": "SITHS-inloggning"}


@dataclass(frozen=True)
class Report:
    """Every part and every deployment, and whether all of them work."""

    parts: list[PartStatus]
    deployments: list[DeploymentStatus]

    @property
    def ok(self) -> bool:
        """True when every part and every deployment is healthy."""
        return all(p.healthy for p in self.parts) and all(d.healthy for d in self.deployments)


def _outbox_waiting() -> tuple[int, object]:
    with runtime.session_scope() as session:
        count, oldest = session.exec(select(func.count(col(OutboxMail.id)), func.min(col(OutboxMail.created_at))).where(
            col(OutboxMail.sent_at).is_(None))).one()
    return count, oldest


def _probes() -> dict[str, Callable[[], object]]:
    settings, at = runtime.settings(), now()
    return {"database": lambda: database_status(runtime.engine()),
            "directory": lambda: directory_status(catalog_runtime.directory()),
            "smtp": lambda: smtp_status(settings.smtp_host, settings.smtp_port, _outbox_waiting),
            "prefect": lambda: prefect_status(settings.prefect_api_url),
            "engine": lambda: engine_status(settings.prefect_api_url, at),
            "mtls": lambda: mtls_status(settings.web_host, settings.overview_port, at),
            "siths": lambda: siths_status(settings, at)}


def collect() -> Report:
    """Run every probe at once and wait at most DEADLINE seconds for them."""
    settings = runtime.settings()
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="status")
    futures = {key: pool.submit(probe) for key, probe in _probes().items()}
    wait(futures.values(), timeout=DEADLINE)
    pool.shutdown(wait=False)
    parts: list[PartStatus] = [web_status(f"http://{settings.web_host}:{settings.web_port}")]
    deployments: list[DeploymentStatus] = []
    for key, future in futures.items():
        if not future.done():
            late = f"svarade inte inom {DEADLINE:.0f} s"
            parts.append(PartStatus(key, NAMES[key], False, late, "–", DEADLINE * 1000))
        elif key == "engine":
            engine_parts, deployments = cast(tuple[list[PartStatus], list[DeploymentStatus]], future.result())
            parts.extend(engine_parts)
        else:
            parts.append(cast(PartStatus, future.result()))  # every other probe answers one PartStatus
    logs = settings.var_dir / "log"
    return Report([with_log_errors(p, logs / f"{LOGS[p.key]}.log") if p.key in LOGS else p for p in parts],
                  deployments)


def _may_see_detail(actor: Actor | None) -> bool:
    return actor is not None and actor.is_system_admin


@router.get("/status", response_class=HTMLResponse, name="status")
def status_page(request: Request, actor: OptionalActor) -> HTMLResponse:
    """Systemstatus: overall up or down for everyone, every part and deployment for NPÖ-förvaltningen."""
    report = collect()
    detail = _may_see_detail(actor)
    return render(request, "status.html", actor=actor, all_ok=report.ok, detail=detail,
                  parts=report.parts if detail else [], deployments=report.deployments if detail else [],
                  in_process=not runtime.settings().prefect_api_url)


@router.get("/api/health", name="health", response_model_exclude_unset=True,
            responses={503: {"model": HealthPublic, "description": "Något är nere"}})
def health(actor: OptionalActor, response: Response) -> HealthPublic:
    """Machine-readable health, 503 when something is down; the parts only for NPÖ-förvaltningen."""
    report = collect()
    response.status_code = 200 if report.ok else 503
    if not _may_see_detail(actor):
        return HealthPublic(ok=report.ok)
    return HealthPublic(
        ok=report.ok,
        parts={p.key: PartPublic(healthy=p.healthy, detail=p.detail, where=p.where, ms=round(p.millis, 1))
               for p in report.parts},
        deployments=[DeploymentPublic(name=d.name, schedule=d.schedule, healthy=d.healthy, verdict=d.verdict,
                                      next_run=d.next_run.isoformat() if d.next_run else None,
                                      last_completed=d.last_completed.isoformat() if d.last_completed else None)
                     for d in report.deployments])
