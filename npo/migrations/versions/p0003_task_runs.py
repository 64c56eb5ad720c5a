"""provisioning: the Prefect task run of each automated step, for the order's timeline (issue 11)

Revision ID: p0003
Revises: p0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "p0003"
down_revision = "p0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("task_run_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("task_run_id")
