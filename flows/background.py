"""Background tasks: the automation the web starts (D1 as of D-58).

The web commits, then submits one of these with ``.delay()`` and the ids only (`flows.trigger`); a task worker
(`npo tasks serve`, two of them in `make run`) receives it from the Prefect server over a websocket and runs it in
a thread of its long-lived process. Every run shows in the Prefect UI. Nothing here relies on running once: two
workers may get the same order and the database decides who works on it (`provisioning.automation`), a lost
submission is found by the sweep, and the mail outbox claims each message before it sends it.
"""

from __future__ import annotations

from prefect import task
from prefect.runtime import task_run

from flows import steps


def _run_id() -> str | None:
    found = task_run.id
    return str(found) if found else None


@task(name="advance-order", retries=2, retry_delay_seconds=[5, 30])
def advance_order(order_id: int) -> dict[str, object]:
    """Every automated step of one order, one transaction each, then its mail; orders it releases are submitted
    as tasks of their own (other workers take them)."""
    from flows import trigger  # trigger imports this module

    states, follow_ups = steps.advance(order_id, run_id=_run_id())
    mail = steps.deliver(order_id)
    for other in follow_ups:
        trigger.advance_later(other)
    return {"order_id": order_id, "states": states, "released": follow_ups, "mail": mail}


@task(name="deliver-mail", retries=2, retry_delay_seconds=[10, 60])
def deliver_mail() -> dict[str, int]:
    """Send every due mail (a fault report, a recertification's requests and receipts); what fails stays in the
    outbox for the sweep."""
    return steps.deliver()


@task(name="bulk-decide", retries=2, retry_delay_seconds=[5, 30])
def bulk_decide(job_id: int) -> dict[str, int]:
    """The remaining items of a massbeslut, one transaction each; each approved order is submitted to be advanced.
    A retry, or the sweep after a lost submission, goes on from the first item not yet handled."""
    from flows import trigger  # trigger imports this module

    return {"job_id": job_id, "handled": steps.run_bulk(job_id, trigger.advance_later)}


TASKS = (advance_order, deliver_mail, bulk_decide)
