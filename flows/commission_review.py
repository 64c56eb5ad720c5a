"""commission-review (daily): lapse overdue recertifications, remind, open due rounds, warn before and record ends.

Thin orchestration: every unit, round and member is one transaction of its own (`runtime.session_scope()`), so a run
killed halfway has committed what it finished and the next run converges on the rest (the services are idempotent:
unique keys in the review log, conditional updates, outbox dedupe keys). Time is `kernel.clock.now()`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from prefect import flow, get_run_logger, task

from catalog import DirectoryError, DirectoryUnavailable
from catalog import runtime as catalog_runtime
from flows import steps
from kernel import runtime
from kernel.clock import now
from provisioning.recertification import expiry, rounds
from provisioning.recertification.common import ReviewConfig, units_with_commission


class ReviewIncomplete(RuntimeError):
    """Some units could not be reviewed; the others were, and the next run retries these."""


def review_config(**rules: Any) -> ReviewConfig:
    """The review's rules with the deployment's parameters."""
    return ReviewConfig(public_base_url=runtime.settings().public_base_url, **rules)


@task(name="lapse-overdue-rounds", retries=2, retry_delay_seconds=[30, 300])
def lapse_overdue(config: ReviewConfig) -> dict[str, int]:
    """End the memberships nobody confirmed by the deadline (one transaction per member), then close the rounds."""
    with runtime.session_scope() as session:
        overdue = rounds.open_rounds(session, overdue_at=now())
    counts = {"lapsed": 0, "ended": 0, "closed": 0}
    for round_id in overdue:
        with runtime.session_scope() as session:
            pending = rounds.pending_items(session, round_id)
        for item_id in pending:
            with runtime.session_scope() as session:
                decision = rounds.lapse_item(session=session, directory=catalog_runtime.directory(),
                                                      item_id=item_id, now=now())
            counts[decision.value] = counts.get(decision.value, 0) + 1
        with runtime.session_scope() as session:
            counts["closed"] += rounds.close_round(session=session, directory=catalog_runtime.directory(),
                                                            config=config, round_id=round_id, now=now())
    return counts


@task(name="remind-reviewers", retries=2, retry_delay_seconds=[30, 300])
def remind_reviewers(config: ReviewConfig) -> int:
    """Remind the managers of open rounds with few business days left."""
    with runtime.session_scope() as session:
        open_ids = rounds.open_rounds(session)
    reminded = 0
    for round_id in open_ids:
        with runtime.session_scope() as session:
            reminded += rounds.remind(session=session, directory=catalog_runtime.directory(), config=config,
                                               round_id=round_id, now=now())
    return reminded


@task(name="units-with-vob-sjf", retries=2, retry_delay_seconds=[30, 300])
def find_units(provider_hsa_id: str | None) -> list[tuple[str, str]]:
    """(unit, commission) of every unit holding VoB SJF."""
    return units_with_commission(catalog_runtime.directory(), provider_hsa_id)


class OpenedDue(TypedDict):
    """What ``open_due`` did: rounds opened, and what failed per unit."""

    opened: int
    problems: list[str]


class Ends(TypedDict):
    """What ``warn_and_expire`` did: memberships warned of and recorded as ended, and what failed per unit."""

    warned: int
    expired: int
    problems: list[str]


def _per_unit(units: list[tuple[str, str]], step: Callable[..., object]) -> tuple[int, list[str]]:
    """Run ``step(session, unit, commission)`` per unit in its own transaction; (done, problems)."""
    done, problems = 0, []
    for unit_hsa_id, commission_hsa_id in units:
        try:
            with runtime.session_scope() as session:
                done += bool(step(session, unit_hsa_id, commission_hsa_id))
        except DirectoryUnavailable:
            raise  # every unit would fail: let the task retry
        except DirectoryError as exc:  # e.g. the unit was removed since it was listed
            problems.append(f"{unit_hsa_id}: {exc.message}")
    return done, problems


@task(name="open-due-rounds", retries=2, retry_delay_seconds=[30, 300])
def open_due(units: list[tuple[str, str]], config: ReviewConfig) -> OpenedDue:
    """Open the yearly round of each unit that is due."""
    opened, problems = _per_unit(units, lambda session, unit, commission: rounds.open_due_round(
        session=session, directory=catalog_runtime.directory(), config=config, unit_hsa_id=unit,
        commission_hsa_id=commission, now=now()))
    return {"opened": opened, "problems": problems}


@task(name="warn-and-record-ends", retries=2, retry_delay_seconds=[30, 300])
def warn_and_expire(units: list[tuple[str, str]], config: ReviewConfig) -> Ends:
    """Warn before memberships end and record those that ended (mail once each)."""
    warned = expired = 0

    def step(session, unit, commission) -> bool:
        nonlocal warned, expired
        report = expiry.notify_endings(session=session, directory=catalog_runtime.directory(), config=config,
                                       unit_hsa_id=unit, commission_hsa_id=commission, now=now())
        warned, expired = warned + len(report.warned), expired + len(report.expired)
        return bool(report.warned or report.expired)

    _units, problems = _per_unit(units, step)
    return {"warned": warned, "expired": expired, "problems": problems}


@task(name="deliver-review-mail", retries=2, retry_delay_seconds=[10, 60])
def deliver_mail() -> dict[str, int]:
    """Send the mail this run wrote (what fails stays in the outbox for the sweep)."""
    return steps.deliver()


@flow(name="commission-review")
def commission_review(warn_days: int = 14, interval_months: int = 12, deadline_business_days: int = 10,
                      provider_hsa_id: str | None = None) -> dict[str, object]:
    """One daily review: lapse, remind, open due rounds, warn and record ends, deliver mail."""
    logger = get_run_logger()
    config = review_config(warn_days=warn_days, interval_months=interval_months,
                           deadline_business_days=deadline_business_days)
    lapsed = lapse_overdue(config)
    reminded = remind_reviewers(config)
    units = find_units(provider_hsa_id)
    opened = open_due(units, config)
    ends = warn_and_expire(units, config)
    mail = deliver_mail()
    result = {"units": len(units), "lapsed": lapsed, "reminded": reminded, "opened": opened["opened"],
              "warned": ends["warned"], "expired": ends["expired"], "mail": mail}
    logger.info("commission-review: %s", result)
    problems = list(opened["problems"]) + list(ends["problems"])
    if problems:
        raise ReviewIncomplete("Granskningen blev inte klar för: " + "; ".join(problems[:20]))
    return result
