"""advance-order: the automated steps of one order (route, notify, provision, complete), D1."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from flows import steps


@task(name="order-step", retries=2, retry_delay_seconds=[5, 30])
def order_step(order_id: int) -> steps.StepSummary:
    """One step in its own transaction; retried on unexpected failures (the step is idempotent)."""
    return steps.one_step(order_id)


@task(name="deliver-order-mail", retries=2, retry_delay_seconds=[10, 60])
def deliver_order_mail(order_id: int) -> dict[str, int]:
    """Send this order's due mail (what fails stays in the outbox for the sweep)."""
    return steps.deliver(order_id)


@task(name="advance-other-waiting-orders", retries=1, retry_delay_seconds=10)
def advance_others() -> list[int]:
    """Every other order waiting for an automated step (their own triggers were cancelled while this run went)."""
    return steps.drain()


@flow(name="advance-order")
def advance_order(order_id: int) -> dict[str, object]:
    """Advance one order until a person must act or it is finished; then the orders it released."""
    logger = get_run_logger()
    states: list[str] = []
    follow_ups: list[int] = []
    for _ in range(steps.MAX_STEPS):
        result = order_step(order_id)
        states.append(str(result["state"]))
        follow_ups += list(result["follow_ups"])
        if not result["more"]:
            break
    mail = deliver_order_mail(order_id)
    logger.info("order %s: %s; mail %s", order_id, " → ".join(states), mail)
    released = [advance_order(other) for other in follow_ups]
    others = advance_others()
    if others:
        logger.info("also advanced %d other waiting orders", len(others))
    return {"order_id": order_id, "states": states, "mail": mail, "released": released, "others": others}
