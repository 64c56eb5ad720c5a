"""Massbeslut: the progress of a bulk decision (many approvals, a behörighetskontroll removing many), as a page that
reloads itself until the job is done (D-59) and as JSON for a script that polls."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.auth import CurrentActor
from api.pages import render
from api.params import RowId
from api.routes.api_orders import ERRORS
from api.schemas import BulkJobPublic
from kernel import runtime
from provisioning import bulk

router = APIRouter()


@router.get("/massbeslut/{job_id}", name="bulk_progress")
def bulk_progress(request: Request, job_id: RowId, actor: CurrentActor, uppdatera: str = "") -> Response:
    """Decided, in Skånekatalogen, refused and why; reloads itself while it runs unless asked not to."""
    with runtime.session_scope() as session:
        shown = bulk.progress(session, bulk.get_job(session, actor, job_id))
    return render(request, "dashboard/bulk.html", actor=actor, progress=shown, kinds=bulk.BulkKind,
                  refresh=uppdatera != "nej")


@router.get("/api/bulk-jobs/{job_id}", responses=ERRORS)
def bulk_job(job_id: RowId, actor: CurrentActor) -> BulkJobPublic:
    """A massbeslut's progress: poll until ``finished``."""
    with runtime.session_scope() as session:
        shown = bulk.progress(session, bulk.get_job(session, actor, job_id))
    job = shown.job
    return BulkJobPublic(id=job_id, kind=job.kind, total=shown.total, decided=shown.decided, failed=shown.failed,
                         provisioned=shown.provisioned, provisioning_failed=shown.provisioning_failed,
                         onward=shown.onward, waiting=shown.waiting, removed=shown.removed,
                         problems=list(job.problems), finished=shown.finished, created_at=job.created_at.isoformat(),
                         finished_at=job.finished_at.isoformat() if job.finished_at else None)
