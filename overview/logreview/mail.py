"""What the log follow-up mails the reviewers: a new round, a reminder about overdue rounds, the monthly summary.

Each mail goes to the unit's reviewers now (its verksamhetschef and active delegates with an address), or to the
service desk when the unit has none, and is written to the outbox in the caller's transaction under a dedupe key:
once per round, once per unit and Swedish day for a reminder, once per unit and month for a summary. The flow
(flows/log_followup.py) only decides when; the rules of what and to whom are here.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping

from sqlmodel import Session, select

from catalog import Directory
from kernel import outbox
from kernel.clock import local_date
from kernel.review import last_day
from overview.logreview.delegations import reviewers
from overview.logreview.models import LogReviewRound, LogReviewSummary, LogReviewTask, PatientFlag
from overview.logreview.rounds import Overdue
from overview.logreview.rules import WHY_LABELS, ReviewConfig, Why

MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
          "november", "december")
SUMMARY_COUNTS = ("rounds", "population", "tasks", "emergency", "asserted", "out_of_hours", "random", "justified",
                  "not_justified", "needs_follow_up", "open_tasks", "overdue_rounds", "late_rounds", "reminders")


def notify(session: Session, directory: Directory, *, unit_hsa_id: str, template: str, context: dict[str, object],
           dedupe_key: str, service_desk: str, now: dt.datetime) -> bool:
    """Queue a mail to the unit's reviewers (``service_desk`` when it has none with an address); True when queued."""
    people = reviewers(session, directory, unit_hsa_id, now)
    addresses = [r.mail for r in people if r.mail]
    mail = outbox.enqueue(session, template=template, to=addresses or [service_desk], dedupe_key=dedupe_key, now=now,
                          context={**context, "has_reviewer": bool(addresses)})
    return mail is not None


def round_context(round_: LogReviewRound, config: ReviewConfig,
                  reasons: Mapping[str, int] | None = None) -> dict[str, object]:
    """What the mail about a new round says: the day, the population, why tasks were picked (every reason, from
    the round's tasks; without them the round's four counters), the last day."""
    tasks = dict(reasons) if reasons is not None else {
        WHY_LABELS[Why.EMERGENCY]: round_.emergency_count, WHY_LABELS[Why.ASSERTED]: round_.asserted_count,
        WHY_LABELS[Why.OUT_OF_HOURS]: round_.out_of_hours_count, WHY_LABELS[Why.RANDOM]: round_.random_count}
    return {"reference": round_.reference, "unit_name": round_.unit_name, "unit_hsa_id": round_.unit_hsa_id,
            "day": round_.day.isoformat(), "population": round_.population, "reasons": tasks,
            "last_day": last_day(round_.deadline).isoformat(), "link": config.link(f"/omgang/{round_.id}")}


def reason_counts(session: Session, round_id: int | None) -> dict[str, int]:
    """Tasks per reason of a round, labelled in Swedish, in the order of rules.Why (a task counts under each)."""
    counted = Counter(why for reasons in session.exec(select(LogReviewTask.reasons).where(
        LogReviewTask.round_id == round_id)).all() for why in reasons.split(",") if why)
    return {WHY_LABELS[why]: counted[why.value] for why in Why if counted[why.value]}


def mail_new_round(session: Session, directory: Directory, round_: LogReviewRound, config: ReviewConfig, *,
                   service_desk: str, now: dt.datetime) -> bool:
    """Tell the unit's reviewers that a round was opened (once per round)."""
    return notify(session, directory, unit_hsa_id=round_.unit_hsa_id, template="logreview_new",
                  context=round_context(round_, config, reason_counts(session, round_.id)),
                  dedupe_key=f"logreview-new:{round_.id}", service_desk=service_desk, now=now)


def reminder_context(late: Overdue, config: ReviewConfig) -> dict[str, object]:
    """What a reminder says: the open tasks, the days they belong to, the oldest last day."""
    return {"unit_name": late.unit_name, "unit_hsa_id": late.unit_hsa_id, "open_tasks": late.open_tasks,
            "days": [d.isoformat() for d in late.days],
            "oldest_last_day": last_day(late.oldest_deadline).isoformat(), "link": config.link()}


def mail_reminder(session: Session, directory: Directory, late: Overdue, config: ReviewConfig, *,
                  service_desk: str, now: dt.datetime) -> bool:
    """Remind the unit's reviewers of its overdue rounds (once per unit and Swedish day)."""
    today = local_date(now).isoformat()
    return notify(session, directory, unit_hsa_id=late.unit_hsa_id, template="logreview_reminder",
                  context=reminder_context(late, config), dedupe_key=f"logreview-reminder:{late.unit_hsa_id}:{today}",
                  service_desk=service_desk, now=now)


def summary_context(summary: LogReviewSummary, config: ReviewConfig) -> dict[str, object]:
    """What the monthly summary says: the month in Swedish, its counts, who decided."""
    label = f"{MONTHS[summary.month.month - 1]} {summary.month.year}"
    counts = {name: getattr(summary, name) for name in SUMMARY_COUNTS}
    return {"unit_name": summary.unit_name, "unit_hsa_id": summary.unit_hsa_id, "month": label, **counts,
            "reviewer_names": summary.reviewers or "–", "link": config.link()}


def mail_summary(session: Session, directory: Directory, summary: LogReviewSummary, config: ReviewConfig, *,
                 service_desk: str, now: dt.datetime) -> bool:
    """Send the unit's reviewers its monthly summary (once per unit and month)."""
    return notify(session, directory, unit_hsa_id=summary.unit_hsa_id, template="logreview_summary",
                  context=summary_context(summary, config),
                  dedupe_key=f"logreview-summary:{summary.unit_hsa_id}:{summary.month.isoformat()}",
                  service_desk=service_desk, now=now)


def mail_patient_flag(session: Session, directory: Directory, flag: PatientFlag, task: LogReviewTask,
                      round_: LogReviewRound, config: ReviewConfig, *, service_desk: str, now: dt.datetime) -> bool:
    """Tell the unit's reviewers that a patient flagged an access (once per flag; no patient name in the mail)."""
    return notify(session, directory, unit_hsa_id=round_.unit_hsa_id, template="logreview_patient_flag",
                  context={"unit_name": round_.unit_name, "unit_hsa_id": round_.unit_hsa_id,
                           "day": round_.day.isoformat(), "last_day": last_day(round_.deadline).isoformat(),
                           "link": config.link(f"/atkomst/{task.id}")},
                  dedupe_key=f"logreview-patient-flag:{flag.id}", service_desk=service_desk, now=now)
