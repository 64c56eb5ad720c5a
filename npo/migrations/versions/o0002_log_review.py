"""overview: log follow-up (rounds, tasks, the decision history, delegations of log review, monthly summaries)

The decision history is the documentation HSLF-FS 2016:40 4 kap. 9 § asks for, so it is append-only in the database
too (triggers refuse UPDATE and DELETE), as the access log is.

Revision ID: o0002
Revises: o0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "o0002"
down_revision = "o0001"
branch_labels = None
depends_on = None

_HSA = 64


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "log_review_round",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("unit_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("unit_name", sa.String(200), nullable=False),
        sa.Column("provider_hsa_id", sa.String(_HSA), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("manager_hsa_id", sa.String(_HSA), nullable=True),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("emergency_count", sa.Integer(), nullable=False),
        sa.Column("asserted_count", sa.Integer(), nullable=False),
        sa.Column("out_of_hours_count", sa.Integer(), nullable=False),
        sa.Column("random_count", sa.Integer(), nullable=False),
        sa.Column("sample_rule", sa.String(200), nullable=False),
        _at("opened_at"),
        _at("deadline"),
        _at("completed_at", nullable=True),
        sa.Column("reminder_count", sa.Integer(), nullable=False),
        _at("last_reminded_at", nullable=True),
        sa.UniqueConstraint("unit_hsa_id", "day", name="uq_log_review_round_unit_day"),
    )
    op.create_index("ix_log_review_round_unit_hsa_id", "log_review_round", ["unit_hsa_id"])
    op.create_index("ix_log_review_round_day", "log_review_round", ["day"])
    op.create_index("ix_log_review_round_deadline", "log_review_round", ["deadline"])
    op.create_table(
        "log_review_task",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("round_id", sa.Integer(), sa.ForeignKey("log_review_round.id"), nullable=False),
        sa.Column("log_seq", sa.BigInteger(), sa.ForeignKey("access_log.seq"), nullable=False),
        sa.Column("reasons", sa.String(120), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(_HSA), nullable=True),
        sa.Column("decided_by_name", sa.String(200), nullable=True),
        sa.Column("decided_as", sa.String(20), nullable=True),
        _at("decided_at", nullable=True),
        sa.UniqueConstraint("log_seq", name="uq_log_review_task_log_seq"),
    )
    op.create_index("ix_log_review_task_round_id", "log_review_task", ["round_id"])
    op.create_index("ix_log_review_task_outcome", "log_review_task", ["outcome"])
    op.create_table(
        "log_review_delegation",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("unit_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("unit_name", sa.String(200), nullable=False),
        sa.Column("manager_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("manager_name", sa.String(200), nullable=False),
        sa.Column("delegate_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("delegate_name", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _at("valid_from"),
        _at("valid_to"),
        _at("created_at"),
        _at("revoked_at", nullable=True),
        sa.Column("revoked_by", sa.String(_HSA), nullable=True),
    )
    op.create_index("ix_log_review_delegation_unit_hsa_id", "log_review_delegation", ["unit_hsa_id"])
    op.create_index("ix_log_review_delegation_delegate_hsa_id", "log_review_delegation", ["delegate_hsa_id"])
    op.create_table(
        "log_review_decision",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("log_review_task.id"), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(_HSA), nullable=False),
        sa.Column("decided_by_name", sa.String(200), nullable=False),
        sa.Column("decided_as", sa.String(20), nullable=False),
        sa.Column("on_behalf_of", sa.String(_HSA), nullable=True),
        sa.Column("delegation_id", sa.Integer(), sa.ForeignKey("log_review_delegation.id"), nullable=True),
        _at("decided_at"),
    )
    op.create_index("ix_log_review_decision_task_id", "log_review_decision", ["task_id"])
    op.create_table(
        "log_review_summary",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("unit_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("unit_name", sa.String(200), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        _at("created_at"),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in (
            "rounds", "population", "tasks", "emergency", "asserted", "out_of_hours", "random", "justified",
            "not_justified", "needs_follow_up", "open_tasks", "overdue_rounds", "late_rounds", "reminders")),
        sa.Column("reviewers", sa.Text(), nullable=False),
        sa.UniqueConstraint("unit_hsa_id", "month", name="uq_log_review_summary_unit_month"),
    )
    op.create_index("ix_log_review_summary_unit_hsa_id", "log_review_summary", ["unit_hsa_id"])
    _append_only("log_review_decision")


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   f"RAISE EXCEPTION '{table} is append-only (% refused)', TG_OP; END $$")
        op.execute(f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only ({event} refused)'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS log_review_decision_no_change ON log_review_decision")
        op.execute("DROP FUNCTION IF EXISTS log_review_decision_append_only()")
    for table in ("log_review_summary", "log_review_decision", "log_review_delegation", "log_review_task",
                  "log_review_round"):
        op.drop_table(table)
