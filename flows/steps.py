"""What the ordering flows do, as plain functions over the runtime's resources (no Prefect here).

The background tasks and flows wrap these; the web calls `advance_in_process` when no Prefect server is configured.
Each step runs in its own transaction (STYLE.md: the caller owns the transaction).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any, TypedDict

from catalog import runtime as catalog_runtime
from kernel import outbox, runtime
from kernel.clock import now
from overview.info import INFORMATION
from overview.logreview.rules import ReviewConfig as LogReviewConfig
from provisioning import automation, bulk, sweeping
from provisioning.config import ProvisioningConfig
from provisioning.recertification.common import ReviewConfig

MAX_STEPS = 12


def provisioning_config() -> ProvisioningConfig:
    """The ordering domain's config from the settings."""
    settings = runtime.settings()
    return ProvisioningConfig(region_provider_hsa_id=settings.region_provider_hsa_id,
                              public_base_url=settings.public_base_url, npo_url=settings.npo_url,
                              admin_mail=settings.service_desk_mail)


def log_review_config(**rules: Any) -> LogReviewConfig:
    """Log follow-up's rules with the deployment's parameters; the sample's key derives from the secret key, the
    risk signals in force come from the settings (NPO_LOG_REVIEW_RULES; an unknown name stops the run, naming it).
    Here, without Prefect, so that the web (a patient's flag) builds the same config as the flow."""
    settings = runtime.settings()
    key = hmac.new(settings.secret().encode(), b"npo log-followup sample", hashlib.sha256).hexdigest()
    if settings.log_review_rules is not None:
        rules.setdefault("risk_rules", frozenset(r.strip() for r in settings.log_review_rules))
    return LogReviewConfig(public_base_url=settings.public_base_url, sample_key=key, **rules)


def smtp_config() -> outbox.SmtpConfig:
    """Where the outbox delivers."""
    settings = runtime.settings()
    return outbox.SmtpConfig(settings.smtp_host, settings.smtp_port, settings.mail_from)


class StepSummary(TypedDict):
    """``one_step``'s answer: a plain dict, so that a Prefect task can return it."""

    order_id: int
    state: str
    more: bool
    follow_ups: list[int]
    note: str


def one_step(order_id: int, run_id: str | None = None) -> StepSummary:
    """One automated step of one order, committed."""
    with runtime.session_scope() as session:
        result = automation.advance_one(session=session, directory=catalog_runtime.directory(),
                                        config=provisioning_config(), order_id=order_id, now=now(),
                                        information=INFORMATION.plain_text(), run_id=run_id)
    return {"order_id": result.order_id, "state": result.state.value, "more": result.more,
            "follow_ups": result.follow_ups, "note": result.note}


def deliver(order_id: int | None = None) -> dict[str, int]:
    """Send due mail (of one order, or all)."""
    report = outbox.deliver(runtime.session_scope, smtp_config(), now=now, order_id=order_id)
    return {"sent": len(report.sent), "failed": len(report.failed)}


def advance(order_id: int, run_id: str | None = None) -> tuple[list[str], list[int]]:
    """Every automated step of one order until a person must act, it is finished, or another worker has it;
    returns the states it passed and the orders it released (a commission's waiting memberships)."""
    states: list[str] = []
    follow_ups: list[int] = []
    for _ in range(MAX_STEPS):
        step = one_step(order_id, run_id)
        states.append(str(step["state"]))
        follow_ups += list(step["follow_ups"])
        if not step["more"]:
            break
    return states, follow_ups


def advance_in_process(order_id: int) -> list[str]:
    """Every automated step of an order and of the orders it releases, then their mail (no Prefect)."""
    states, pending = [], [order_id]
    while pending:
        current = pending.pop(0)
        passed, released = advance(current)
        states += passed
        pending += released
        deliver(current)
    return states


def run_bulk(job_id: int, advance: Callable[[int], object]) -> int:
    """Decide a massbeslut's remaining items, one transaction each, handing each approved order to ``advance``;
    then send the mail they caused. Returns the items this run handled (0 when another runner has the job)."""
    review_config = ReviewConfig(public_base_url=runtime.settings().public_base_url)
    decided, more = 0, True
    while more:
        with runtime.session_scope() as session:
            step = bulk.decide_next(session=session, directory=catalog_runtime.directory(),
                                    config=provisioning_config(), review_config=review_config, job_id=job_id,
                                    now=now())
        decided += step.handled
        if step.approved_order_id is not None:
            advance(step.approved_order_id)
        more = step.more
    deliver()
    return decided


def stalled_jobs() -> list[int]:
    """Massbeslut the sweep should resume."""
    with runtime.session_scope() as session:
        return bulk.stalled_jobs(session, now=now())


def stalled() -> list[int]:
    """Orders the sweep should re-advance."""
    with runtime.session_scope() as session:
        return sweeping.stalled_orders(session, now=now())


def remind() -> tuple[int, int]:
    """Reminders and escalations due now."""
    with runtime.session_scope() as session:
        return sweeping.remind_overdue(session=session, directory=catalog_runtime.directory(),
                                       config=provisioning_config(),
                                       now=now())


def seal_access_log() -> int:
    """Seal the access log's waiting rows into its chain (the web processes do it each second; D-62)."""
    from overview import accesslog

    with runtime.session_scope() as session:
        return accesslog.seal_all(session)
