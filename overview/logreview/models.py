"""SQL tables of the log follow-up (systematisk logguppföljning, HSLF-FS 2016:40 4 kap. 9 §; DOMAIN §1.4–1.5).

A *round* (granskningsomgång) is one unit's review of one Swedish calendar day of the access log; its *tasks* are the
log rows picked for review; every decision on a task is kept in an append-only history; the verksamhetschef's
*delegation* of log review is documented with who, when and until when; a *summary* per unit and month is kept as it
was mailed. Log rows themselves are only referenced (``access_log.seq``), never copied or changed. Unique keys make
every step safe to repeat: one round per (unit, day), one task per log row, one summary per (unit, month).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, ForeignKey, Text, UniqueConstraint, event
from sqlmodel import Field, SQLModel

from kernel.sqltypes import UTCDateTime, hsa_id_field
from overview.models import HSA


def _at(*, nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class LogReviewRound(SQLModel, table=True):
    """One unit's review of one day: the population, how the sample was drawn, the deadline and how it went."""

    __tablename__ = "log_review_round"
    __table_args__ = (UniqueConstraint("unit_hsa_id", "day", name="uq_log_review_round_unit_day"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_hsa_id: str = hsa_id_field(nullable=False, index=True, length=HSA)
    unit_name: str = Field(default="", max_length=200)
    provider_hsa_id: str | None = hsa_id_field(nullable=True, length=HSA)
    day: dt.date = Field(index=True)  # the Swedish calendar date whose accesses are reviewed
    manager_hsa_id: str | None = hsa_id_field(nullable=True, length=HSA)  # the verksamhetschef when the round opened
    population: int = 0  # logged accesses to patient data at the unit that day
    emergency_count: int = 0  # tasks picked because of a nödöppning
    asserted_count: int = 0  # … an asserted patient relation
    out_of_hours_count: int = 0  # … access outside office hours
    random_count: int = 0  # … the random sample
    sample_rule: str = Field(default="", max_length=200)  # how the sample was drawn, in Swedish, for the record
    rules: str = Field(default="", max_length=300)  # comma-separated rules.Why that always picked (empty: before o0009)
    opened_at: dt.datetime = Field(sa_column=_at())
    deadline: dt.datetime = Field(sa_column=_at(index=True))  # exclusive: local midnight after the last day
    completed_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))  # no task left open
    reminder_count: int = 0
    last_reminded_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))
    # when the day's sample was drawn; None while the round holds only patients' flags of a day not yet reviewed
    # (a flag cannot wait for the day to end: the daily run then draws the sample into the same round, D-76)
    sampled_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))

    @property
    def reference(self) -> str:
        """The round's short name in pages and mails."""
        return f"LG-{self.id}"


class LogReviewTask(SQLModel, table=True):
    """One log row picked for review, why it was picked, and its current outcome (history: LogReviewDecision)."""

    __tablename__ = "log_review_task"
    __table_args__ = (UniqueConstraint("log_seq", name="uq_log_review_task_log_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="log_review_round.id", index=True)
    log_seq: int = Field(sa_column=Column(BigInteger, ForeignKey("access_log.seq"), nullable=False))
    reasons: str = Field(max_length=200)  # comma-separated rules.Why values
    outcome: str = Field(default="open", max_length=20, index=True)  # rules.Outcome
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    decided_by: str | None = hsa_id_field(nullable=True, length=HSA)
    decided_by_name: str | None = Field(default=None, max_length=200)
    decided_as: str | None = Field(default=None, max_length=20)  # rules.ReviewerRole
    decided_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))


class LogReviewDecision(SQLModel, table=True):
    """One decision on a task, as it was made (append-only: the documentation of who judged what, and when)."""

    __tablename__ = "log_review_decision"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="log_review_task.id", index=True)
    outcome: str = Field(max_length=20)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    decided_by: str = hsa_id_field(nullable=False, length=HSA)
    decided_by_name: str = Field(max_length=200)
    decided_as: str = Field(max_length=20)  # verksamhetschef or delegat
    on_behalf_of: str | None = hsa_id_field(nullable=True, length=HSA)  # the manager who delegated, for a delegate
    delegation_id: int | None = Field(default=None, foreign_key="log_review_delegation.id")
    decided_at: dt.datetime = Field(sa_column=_at())


class LogReviewDelegation(SQLModel, table=True):
    """The verksamhetschef's documented delegation of log review for one unit to one person, for a period."""

    __tablename__ = "log_review_delegation"

    id: int | None = Field(default=None, primary_key=True)
    unit_hsa_id: str = hsa_id_field(nullable=False, index=True, length=HSA)
    unit_name: str = Field(default="", max_length=200)
    manager_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    manager_name: str = Field(default="", max_length=200)
    delegate_hsa_id: str = hsa_id_field(nullable=False, index=True, length=HSA)
    delegate_name: str = Field(default="", max_length=200)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))  # the decision's reference or scope
    valid_from: dt.datetime = Field(sa_column=_at())
    valid_to: dt.datetime = Field(sa_column=_at())  # exclusive
    created_at: dt.datetime = Field(sa_column=_at())
    revoked_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))
    revoked_by: str | None = hsa_id_field(nullable=True, length=HSA)


class LogReviewSummary(SQLModel, table=True):
    """A unit's month of log follow-up, as counted when the summary was made and mailed."""

    __tablename__ = "log_review_summary"
    __table_args__ = (UniqueConstraint("unit_hsa_id", "month", name="uq_log_review_summary_unit_month"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_hsa_id: str = hsa_id_field(nullable=False, index=True, length=HSA)
    unit_name: str = Field(default="", max_length=200)
    month: dt.date  # the first day of the month summarised
    created_at: dt.datetime = Field(sa_column=_at())
    rounds: int = 0
    population: int = 0
    tasks: int = 0
    emergency: int = 0
    asserted: int = 0
    out_of_hours: int = 0
    random: int = 0
    justified: int = 0
    not_justified: int = 0
    needs_follow_up: int = 0
    open_tasks: int = 0
    overdue_rounds: int = 0  # rounds past their deadline with tasks still open when the summary was made
    late_rounds: int = 0  # rounds completed after their deadline
    reminders: int = 0
    reviewers: str = Field(default="", sa_column=Column(Text, nullable=False))  # names of those who decided


class PatientFlag(SQLModel, table=True):
    """A patient's "jag känner inte igen detta" on one access of their log: a prioritised review task for the unit's
    verksamhetschef, whose judgement the patient then sees (issue 15, D-76). One flag per access (log row)."""

    __tablename__ = "patient_access_flag"
    __table_args__ = (UniqueConstraint("log_seq", name="uq_patient_access_flag_log_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    log_seq: int = Field(sa_column=Column(BigInteger, ForeignKey("access_log.seq"), nullable=False))
    patient_personnummer: str = Field(max_length=12, index=True)  # whose record was read
    flagged_by_personnummer: str = Field(max_length=12)  # the patient, or their vårdnadshavare
    by_guardian: bool = False
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = Field(sa_column=_at())
    task_id: int = Field(foreign_key="log_review_task.id", index=True)


class ImmutableDecision(Exception):
    """Something tried to change or delete a recorded review decision."""


@event.listens_for(LogReviewDecision, "before_update")
@event.listens_for(LogReviewDecision, "before_delete")
def _refuse_changes(_mapper: object, _connection: object, row: LogReviewDecision) -> None:
    raise ImmutableDecision(f"log review decision {row.id} cannot change once recorded")
