"""provisioning: bulk jobs (massbeslut: many approvals, a behörighetskontroll removing many), issue 11

Revision ID: p0004
Revises: p0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import kernel.sqltypes

revision = "p0004"
down_revision = "p0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("approve_orders", "review_decisions", name="bulkkind", native_enum=False,
                                  length=32), nullable=False),
        sa.Column("actor_hsa_id", sa.String(length=32), nullable=False),
        sa.Column("actor_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("approved", sa.JSON(), nullable=False),
        sa.Column("created_at", kernel.sqltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kernel.sqltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", kernel.sqltypes.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["round_id"], ["recertification_rounds.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bulk_jobs") as batch:
        batch.create_index(batch.f("ix_bulk_jobs_actor_hsa_id"), ["actor_hsa_id"], unique=False)
        batch.create_index(batch.f("ix_bulk_jobs_finished_at"), ["finished_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bulk_jobs") as batch:
        batch.drop_index(batch.f("ix_bulk_jobs_finished_at"))
        batch.drop_index(batch.f("ix_bulk_jobs_actor_hsa_id"))
    op.drop_table("bulk_jobs")
