"""The status page and /api/health: every part of the stack and each deployment, probed concurrently.

Anyone sees whether everything works; the detail (addresses, paths, backlog, error text) is for NPÖ-förvaltningen
(the directory role npo-forvaltning).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import cast

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import func
from sqlmodel import col, select

from api.auth import OptionalActor
from api.pages import render
from api.schemas import AlivePublic, DeploymentPublic, HealthPublic, PartPublic
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
from api.status_cluster import (
    OCSP,
    ServerStatus,
    directory_server_status,
    ocsp_status,
    server_name,
    servers_in_step,
    web_instance_status,
    web_name,
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


Probe = tuple[str, Callable[[], object]]  # the part's name (shown when it does not answer in time) and its call


def _probes() -> dict[str, Probe]:
    """Every probe by part key, in the order the page lists them; a cluster's instances each have their own."""
    settings, at = runtime.settings(), now()
    config = catalog_runtime.directory().config
    servers = config.urls if len(config.urls) > 1 else ()  # one server: the "directory" part is that server
    probes: dict[str, Probe] = {f"web-{n}": (web_name(n), partial(web_instance_status, n, url))
                                for n, url in enumerate(settings.web_instances, start=1)}
    probes |= {"database": (NAMES["database"], lambda: database_status(runtime.engine())),
               "directory": (NAMES["directory"], lambda: directory_status(catalog_runtime.directory()))}
    probes |= {f"directory-{n}": (server_name(n), partial(directory_server_status, config, n, url))
               for n, url in enumerate(servers, start=1)}
    probes |= {"smtp": (NAMES["smtp"], lambda: smtp_status(settings.smtp_host, settings.smtp_port, _outbox_waiting)),
               "prefect": (NAMES["prefect"], lambda: prefect_status(settings.prefect_api_url)),
               "engine": (NAMES["engine"], lambda: engine_status(settings.prefect_api_url, at)),
               "mtls": (NAMES["mtls"], lambda: mtls_status(settings.web_host, settings.overview_port, at)),
               "siths": (NAMES["siths"], lambda: siths_status(settings, at))}
    if settings.siths_ocsp_url:
        probes["ocsp"] = (OCSP, partial(ocsp_status, settings, settings.siths_ocsp_url))
    return probes


def collect() -> Report:
    """Run every probe at once, each in its own thread, and wait at most DEADLINE seconds for them."""
    settings = runtime.settings()
    probes = _probes()
    pool = ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="status")
    futures = {key: pool.submit(call) for key, (_name, call) in probes.items()}
    wait(futures.values(), timeout=DEADLINE)
    pool.shutdown(wait=False)
    answers: dict[str, object] = {
        key: future.result() if future.done() else PartStatus(
            key, probes[key][0], False, f"svarade inte inom {DEADLINE:.0f} s", "–", DEADLINE * 1000)
        for key, future in futures.items()}
    servers = [key for key in answers if key.startswith("directory-")]
    answers.update(zip(servers, servers_in_step([cast(ServerStatus | PartStatus, answers[k]) for k in servers]),
                       strict=True))
    parts: list[PartStatus] = [web_status(f"http://{settings.web_host}:{settings.web_port}")]
    deployments: list[DeploymentStatus] = []
    for answer in answers.values():
        if isinstance(answer, tuple):  # the engine's parts and every deployment
            engine_parts, deployments = cast(tuple[list[PartStatus], list[DeploymentStatus]], answer)
            parts.extend(engine_parts)
        else:
            parts.append(cast(PartStatus, answer))  # every other probe answers one PartStatus
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


@router.get("/api/alive", name="alive")
def alive() -> AlivePublic:
    """This web process answers, and its pid: what /status asks each web instance (it probes nothing itself)."""
    return AlivePublic(ok=True, pid=os.getpid())
