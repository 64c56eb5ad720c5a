"""catalog-sync: HR export → Skånekatalogen (nightly, or on demand), with a report artifact per run."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from catalog import DirectoryUnavailable
from catalog import runtime as catalog_runtime
from catalog.hrexport import read_export
from catalog.reconcile import run_sync
from kernel import runtime


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
                      progress=progress)
    if report.unavailable:
        logger.warning("\n".join(report.lines()))
        raise DirectoryUnavailable(report.unavailable)
    for line in report.lines():
        logger.info(line)
    return {**report.to_dict(), "text": "\n".join(report.lines(list_changes=dry_run))}


@flow(name="catalog-sync")
def catalog_sync(source: str | None = None, dry_run: bool = False, force: bool = False) -> dict:
    """Reconcile the HR export at ``source`` (default NPO_HR_SOURCE) into the directory."""
    path = source or (str(runtime.settings().hr_source) if runtime.settings().hr_source else None)
    if not path:
        raise ValueError("Ingen HR-fil angiven: ange source eller sätt NPO_HR_SOURCE.")
    result = reconcile(path, dry_run, force)
    create_markdown_artifact(key="catalog-sync-report", markdown="```\n" + result["text"] + "\n```",
                             description="HR → Skånekatalogen")
    if result["refused"]:
        raise SyncNotApplied(f"Synkroniseringen avbröts: {result['refused']}")
    if not result["ok"]:
        raise SyncNotApplied(f"Synkroniseringen slutfördes inte: {result['counts']}")
    return result
