"""sweep (every 5 minutes): resume unfinished massbeslut, re-advance stalled orders, deliver the outbox, remind and
escalate (D2, D3), seal the access log's waiting rows when no web process did (D-62)."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from flows import steps, trigger


@task(name="find-stalled-orders")
def find_stalled() -> list[int]:
    """Orders in an automated state nobody moved, or whose retry is due."""
    return steps.stalled()


@task(name="re-advance-order", retries=1, retry_delay_seconds=10)
def re_advance(order_id: int) -> list[str]:
    """Every automated step of one stalled order."""
    return steps.advance_in_process(order_id)


@task(name="find-stalled-bulk-jobs")
def find_stalled_jobs() -> list[int]:
    """Massbeslut left unfinished (their task was never run or stopped): resumed here."""
    return steps.stalled_jobs()


@task(name="resume-bulk-job", retries=1, retry_delay_seconds=10)
def resume_job(job_id: int) -> int:
    """The remaining items of one massbeslut; each approved order is advanced as after any decision."""
    return steps.run_bulk(job_id, trigger.advance_later)


@task(name="remind-and-escalate")
def remind() -> tuple[int, int]:
    """Mail reminders (2 business days) and escalations (5)."""
    return steps.remind()


@task(name="deliver-outbox", retries=2, retry_delay_seconds=[10, 60])
def deliver_outbox() -> dict[str, int]:
    """Send every due mail."""
    return steps.deliver()


@task(name="seal-access-log", retries=1, retry_delay_seconds=10)
def seal_log() -> int:
    """Seal access-log rows no web process sealed (all of them stopped, say)."""
    return steps.seal_access_log()


@flow(name="sweep")
def sweep() -> dict[str, object]:
    """One sweep over everything that should have moved by now."""
    logger = get_run_logger()
    resumed = {job_id: resume_job(job_id) for job_id in find_stalled_jobs()}
    stalled = find_stalled()
    advanced = {order_id: re_advance(order_id) for order_id in stalled}
    reminded, escalated = remind()
    mail = deliver_outbox()
    sealed = seal_log()
    logger.info("sweep: %d bulk jobs resumed, %d orders re-advanced, %d reminders, %d escalations, mail %s, "
                "%d log rows sealed", len(resumed), len(advanced), reminded, escalated, mail, sealed)
    return {"resumed": resumed, "advanced": advanced, "reminded": reminded, "escalated": escalated, "mail": mail,
            "sealed": sealed}
