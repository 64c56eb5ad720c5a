"""overview: a patient who lacks the capacity to consent, and not only temporarily (issue 13 item 6)

Revision ID: o0006
Revises: o0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "o0006"
down_revision = "o0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incapacity_assessment",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("personnummer", sa.String(12), sa.ForeignKey("patient.personnummer"), nullable=False),
        sa.Column("care_provider_hsa_id", sa.String(64), nullable=False),
        sa.Column("care_unit_hsa_id", sa.String(64), nullable=False),
        sa.Column("attitude_clarified", sa.Text(), nullable=False),
        sa.Column("no_objection", sa.Text(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(64), nullable=False),
        sa.Column("registered_commission_hsa_id", sa.String(64), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_incapacity_assessment_personnummer", "incapacity_assessment", ["personnummer"])


def downgrade() -> None:
    op.drop_index("ix_incapacity_assessment_personnummer", "incapacity_assessment")
    op.drop_table("incapacity_assessment")
