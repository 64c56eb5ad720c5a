"""overview: "Vem har läst min journal?" (issue 15 item 1): guardianships from the population register, patients'
flags on accesses (each a prioritised log-review task), and rounds that hold flags before the day's sample is drawn

Revision ID: o0010
Revises: o0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "o0010"
down_revision = "o0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guardianship",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("guardian_personnummer", sa.String(12), nullable=False),
        sa.Column("child_personnummer", sa.String(12), sa.ForeignKey("patient.personnummer"), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.UniqueConstraint("guardian_personnummer", "child_personnummer", name="uq_guardianship"),
    )
    op.create_index("ix_guardianship_guardian_personnummer", "guardianship", ["guardian_personnummer"])
    op.create_index("ix_guardianship_child_personnummer", "guardianship", ["child_personnummer"])
    with op.batch_alter_table("log_review_round") as batch:
        batch.add_column(sa.Column("sampled_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE log_review_round SET sampled_at = opened_at")  # every round before o0010 was sampled at once
    op.create_table(
        "patient_access_flag",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("log_seq", sa.BigInteger(), sa.ForeignKey("access_log.seq"), nullable=False),
        sa.Column("patient_personnummer", sa.String(12), nullable=False),
        sa.Column("flagged_by_personnummer", sa.String(12), nullable=False),
        sa.Column("by_guardian", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("log_review_task.id"), nullable=False),
        sa.UniqueConstraint("log_seq", name="uq_patient_access_flag_log_seq"),
    )
    op.create_index("ix_patient_access_flag_patient_personnummer", "patient_access_flag", ["patient_personnummer"])
    op.create_index("ix_patient_access_flag_task_id", "patient_access_flag", ["task_id"])


def downgrade() -> None:
    op.drop_table("patient_access_flag")
    with op.batch_alter_table("log_review_round") as batch:
        batch.drop_column("sampled_at")
    op.drop_table("guardianship")
