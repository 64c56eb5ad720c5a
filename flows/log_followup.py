"""log-followup (daily): open log review rounds per unit and day, tell the reviewers, remind, summarise each month.

Thin orchestration over overview.logreview: every round, reminder and summary is one transaction of its own
(`runtime.session_scope()`) together with its mail in the outbox, so a run killed halfway has committed what it
finished and the next run converges on the rest (unique keys on rounds, tasks and summaries; outbox dedupe keys).
The run catches up every ended day of the look-back window, so a missed run (Prefect or a worker down) loses
nothing. The monthly summary is part of this run: it is made on the first Swedish business day of the next month
(or the first run after it). What each mail says and to whom is overview.logreview.mail; the flow decides when.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict

from prefect import flow, get_run_logger, task
from sqlalchemy.exc import IntegrityError

from catalog import DirectoryError, DirectoryUnavailable
from catalog import runtime as catalog_runtime
from flows import steps
from kernel import outbox, runtime
from kernel.clock import local_date, now
from overview import accesslog
from overview.logreview import mail, rounds
from overview.logreview import summary as summaries
from overview.logreview.rules import ReviewConfig


class FollowupIncomplete(RuntimeError):
    """Some units could not be handled; the others were, and the next run retries these."""


class AccessLogBroken(RuntimeError):
    """The access log's hash chain does not hold; the archive and the service desk were told by mail."""


def review_config(**rules: Any) -> ReviewConfig:
    """The follow-up's rules with the deployment's parameters (flows.steps.log_review_config)."""
    return steps.log_review_config(**rules)


def _service_desk() -> str:
    """Where a unit's mail goes when it has no reviewer with an address."""
    return runtime.settings().service_desk_mail


@task(name="find-days-to-review", retries=2, retry_delay_seconds=[30, 300])
def find_pending(config: ReviewConfig) -> list[tuple[str, str]]:
    """(unit, day) pairs of the look-back window with accesses and no round yet."""
    with runtime.session_scope() as session:
        return [(unit, day.isoformat()) for unit, day in rounds.pending(session, now=now(), config=config)]


class OpenedRounds(TypedDict):
    """What ``open_rounds`` did: the rounds it opened and what failed, per unit and day."""

    opened: list[int | None]
    problems: list[str]


@task(name="open-review-rounds", retries=2, retry_delay_seconds=[30, 300])
def open_rounds(pending: list[tuple[str, str]], config: ReviewConfig) -> OpenedRounds:
    """Open each round with its tasks and its mail, one transaction per round."""
    opened: list[int | None] = []
    problems: list[str] = []
    for unit_hsa_id, day in pending:
        try:
            with runtime.session_scope() as session:
                directory, at = catalog_runtime.directory(), now()
                round_, created = rounds.open_round(session=session, directory=directory, unit_hsa_id=unit_hsa_id,
                                                    day=dt.date.fromisoformat(day), config=config, now=at)
                if round_ is not None and created:
                    mail.mail_new_round(session, directory, round_, config, service_desk=_service_desk(), now=at)
                    opened.append(round_.id)
        except IntegrityError:
            continue  # a concurrent run opened this round (and queued its mail) first
        except DirectoryUnavailable:
            raise  # every unit would fail: let the task retry
        except DirectoryError as exc:
            problems.append(f"{unit_hsa_id} {day}: {exc.message}")
    return {"opened": opened, "problems": problems}


@task(name="remind-overdue-reviews", retries=2, retry_delay_seconds=[30, 300])
def remind_overdue(config: ReviewConfig) -> int:
    """Remind the reviewers of units with overdue rounds (business days, once a day per unit)."""
    with runtime.session_scope() as session:
        due = rounds.reminders_due(session, now=now())
    reminded = 0
    for late in due:
        with runtime.session_scope() as session:
            at = now()
            rounds.record_reminder(session, late.round_ids, now=at)
            reminded += mail.mail_reminder(session, catalog_runtime.directory(), late, config,
                                           service_desk=_service_desk(), now=at)
    return reminded


@task(name="monthly-summaries", retries=2, retry_delay_seconds=[30, 300])
def monthly_summaries(config: ReviewConfig) -> int:
    """Make and mail each unit's summary of every finished month that has none (first business day onwards)."""
    with runtime.session_scope() as session:
        due = summaries.due(session, now=now())
    made = 0
    for unit_hsa_id, month in due:
        try:
            with runtime.session_scope() as session:
                at = now()
                summary, created = summaries.make(session=session, unit_hsa_id=unit_hsa_id, month=month, now=at)
                if created:
                    mail.mail_summary(session, catalog_runtime.directory(), summary, config,
                                      service_desk=_service_desk(), now=at)
                    made += 1
        except IntegrityError:
            continue  # a concurrent run made it first
    return made


@task(name="publish-log-anchor", retries=2, retry_delay_seconds=[30, 300])
def publish_anchor() -> dict[str, object]:
    """Verify the access log's chain and mail today's anchor (RAD:HASH) to the log archive, outside the database;
    `npo audit verify --anchor` later proves that no row up to it was rewritten. A broken chain is mailed instead, to
    the archive and the service desk, and fails the run. Once a day (dedupe key); nothing without an address."""
    settings = runtime.settings()
    if not settings.audit_anchor_mail:
        return {"published": None}
    with runtime.session_scope() as session:
        accesslog.seal_all(session)  # the anchor covers every row written until now (D-62)
        result = accesslog.verify(session)
        anchor = accesslog.head(session)
        if anchor is None:
            return {"published": None}
        today = local_date(now()).isoformat()
        to = [settings.audit_anchor_mail] + ([] if result.ok else [settings.service_desk_mail])
        outbox.enqueue(session, template="audit_anchor", to=to, dedupe_key=f"audit-anchor:{today}", now=now(),
                       context={"day": today, "anchor": str(anchor), "ok": result.ok, "rows": result.rows,
                                "first_broken": result.first_broken, "problem": result.problem})
    return {"published": str(anchor) if result.ok else None, "ok": result.ok, "problem": result.problem}


@task(name="deliver-log-followup-mail", retries=2, retry_delay_seconds=[10, 60])
def deliver_mail() -> dict[str, int]:
    """Send the mail this run wrote (what fails stays in the outbox for the sweep)."""
    return steps.deliver()


@flow(name="log-followup")
def log_followup(sample_share: float = 0.05, sample_min: int = 5, sample_max: int = 50,
                 include_out_of_hours: bool = True, deadline_business_days: int = 5,
                 lookback_days: int = 7, volume_factor: float = 3.0, volume_margin: int = 20,
                 volume_tasks: int = 10) -> dict[str, object]:
    """One daily follow-up: open rounds for ended days, remind overdue reviewers, monthly summaries, the access
    log's anchor, deliver mail."""
    logger = get_run_logger()
    config = review_config(sample_share=sample_share, sample_min=sample_min, sample_max=sample_max,
                           include_out_of_hours=include_out_of_hours, deadline_business_days=deadline_business_days,
                           lookback_days=lookback_days, volume_factor=volume_factor, volume_margin=volume_margin,
                           volume_tasks=volume_tasks)
    pending = find_pending(config)
    opened = open_rounds(pending, config)
    reminded = remind_overdue(config)
    summarised = monthly_summaries(config)
    anchored = publish_anchor()
    mail = deliver_mail()
    result = {"pending": len(pending), "opened": len(opened["opened"]), "reminded": reminded,
              "summaries": summarised, "anchor": anchored["published"], "mail": mail}
    logger.info("log-followup: %s", result)
    if anchored.get("ok") is False:
        raise AccessLogBroken(f"Åtkomstloggens kedja är bruten: {anchored['problem']} Kör `npo audit verify`.")
    if opened["problems"]:
        raise FollowupIncomplete("Logguppföljningen blev inte klar för: " + "; ".join(opened["problems"][:20]))
    return result
