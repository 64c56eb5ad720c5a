"""How the web starts automation after its commit: a Prefect background task when a Prefect server is configured
(NPO_PREFECT_API_URL), in-process otherwise (tests, `npo run --no-prefect`). Either way a failure here loses
nothing: the order and its mail are committed, and the sweep picks them up (D-58)."""

from __future__ import annotations

import logging

from kernel import runtime

log = logging.getLogger(__name__)


def advance_later(order_id: int) -> str:
    """Start advancing an order; returns how ("task <id>", "in-process" or "left for the sweep")."""
    if runtime.settings().prefect_api_url:
        from flows.background import advance_order

        try:
            return f"task {advance_order.delay(order_id).task_run_id}"
        except Exception as exc:  # noqa: BLE001 - Prefect down: the sweep advances the order later
            log.warning("could not submit advance-order for order %s (%s); the sweep will pick it up", order_id, exc)
            return "left for the sweep"
    from flows.steps import advance_in_process

    try:
        advance_in_process(order_id)
    except Exception as exc:  # noqa: BLE001 - e.g. LDAP down: the order waits for the sweep
        log.warning("in-process advance of order %s failed (%s); the sweep will pick it up", order_id, exc)
        return "left for the sweep"
    return "in-process"


def deliver_later() -> str:
    """Send due mail soon; returns how ("task <id>", "in-process" or "left for the sweep")."""
    if runtime.settings().prefect_api_url:
        from flows.background import deliver_mail

        try:
            return f"task {deliver_mail.delay().task_run_id}"
        except Exception as exc:  # noqa: BLE001 - Prefect down: the sweep delivers the outbox
            log.warning("could not submit deliver-mail (%s); the sweep will send the mail", exc)
            return "left for the sweep"
    from flows.steps import deliver

    try:
        deliver()
    except Exception as exc:  # noqa: BLE001 - SMTP down: the mail stays in the outbox
        log.warning("in-process delivery failed (%s); the sweep will send the mail", exc)
        return "left for the sweep"
    return "in-process"


def bulk_later(job_id: int) -> str:
    """Start carrying out a massbeslut; returns how ("task <id>", "in-process" or "left for the sweep")."""
    if runtime.settings().prefect_api_url:
        from flows.background import bulk_decide

        try:
            return f"task {bulk_decide.delay(job_id).task_run_id}"
        except Exception as exc:  # noqa: BLE001 - Prefect down: the sweep resumes the job
            log.warning("could not submit bulk-decide for job %s (%s); the sweep will resume it", job_id, exc)
            return "left for the sweep"
    from flows.steps import run_bulk

    try:
        run_bulk(job_id, advance_later)
    except Exception as exc:  # noqa: BLE001 - e.g. LDAP down: the job waits for the sweep
        log.warning("in-process bulk job %s stopped (%s); the sweep will resume it", job_id, exc)
        return "left for the sweep"
    return "in-process"
