"""catalog-sync: HR export → Skånekatalogen (nightly, or on demand), with a report artifact per run."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from catalog import DirectoryUnavailable
from catalog import runtime as catalog_runtime
from catalog.hrexport import read_export
from catalog.reconcile import Arrival, run_sync
from flows.steps import deliver, provisioning_config
from kernel import runtime
from kernel.clock import now
from provisioning import proposals


class SyncNotApplied(RuntimeError):
    """The sync was refused or did not complete; the report artifact says why."""


@task(name="reconcile-hr-export", retries=3, retry_delay_seconds=[10, 60, 300],
      retry_condition_fn=lambda _task, _run, state: isinstance(state.result(raise_on_failure=False),
                                                                 DirectoryUnavailable))
def reconcile(source: str, dry_run: bool, force: bool) -> dict:
    """Plan and apply one export; retried (it is idempotent) when the directory is unavailable."""
    logger = get_run_logger()
    settings = runtime.settings()
    export = read_export(source)

    def progress(phase: str, done: int, total: int) -> None:
        logger.info("%s: %d/%d", phase, done, total)

    report = run_sync(catalog_runtime.directory(), export, provider_hsa_id=settings.hr_provider_hsa_id,
                      max_disable_share=settings.sync_max_disable_share, dry_run=dry_run, force=force,
                      mover_grace_days=settings.sync_mover_grace_days,
                      progress=progress)
    if report.unavailable:
        logger.warning("\n".join(report.lines()))
        raise DirectoryUnavailable(report.unavailable)
    for line in report.lines():
        logger.info(line)
    return {**report.to_dict(), "text": "\n".join(report.lines(list_changes=dry_run)),
            "arrivals": [] if dry_run or report.refused else report.arrivals()}


@task(name="propose-memberships", retries=3, retry_delay_seconds=[10, 60, 300])
def propose(arrivals: list[Arrival]) -> int:
    """Movers and joiners become prefilled membership orders for their new unit's manager (idempotent: a person
    already covered gets none, so a retry after a database outage makes no duplicates)."""
    with runtime.session_scope() as session:
        made = proposals.from_sync(session=session, directory=catalog_runtime.directory(),
                                   config=provisioning_config(), arrivals=arrivals, now=now())
        count = len(made)
    get_run_logger().info("förslag på behörighet: %d", count)
    return count


@flow(name="catalog-sync")
def catalog_sync(source: str | None = None, dry_run: bool = False, force: bool = False) -> dict:
    """Reconcile the HR export at ``source`` (default NPO_HR_SOURCE) into the directory."""
    path = source or (str(runtime.settings().hr_source) if runtime.settings().hr_source else None)
    if not path:
        raise ValueError("Ingen HR-fil angiven: ange source eller sätt NPO_HR_SOURCE.")
    result = reconcile(path, dry_run, force)
    arrivals = result.pop("arrivals")
    result["proposals"] = propose(arrivals) if arrivals else 0
    if result["proposals"]:
        deliver()
    create_markdown_artifact(key="catalog-sync-report", markdown="```\n" + result["text"] + "\n```",
                             description="HR → Skånekatalogen")
    if result["refused"]:
        raise SyncNotApplied(f"Synkroniseringen avbröts: {result['refused']}")
    if not result["ok"]:
        raise SyncNotApplied(f"Synkroniseringen slutfördes inte: {result['counts']}")
    return result
