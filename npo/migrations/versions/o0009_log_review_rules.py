"""overview: log follow-up's risk signals (issue 15 item 3): each round records which rules were active, and a task's
reasons widen to hold several risk signals at once

Revision ID: o0009
Revises: o0008
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "o0009"
down_revision = "o0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("log_review_round") as batch:
        batch.add_column(sa.Column("rules", sa.String(300), nullable=False, server_default=""))
    with op.batch_alter_table("log_review_task") as batch:
        batch.alter_column("reasons", existing_type=sa.String(120), type_=sa.String(200), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("log_review_task") as batch:
        batch.alter_column("reasons", existing_type=sa.String(200), type_=sa.String(120), existing_nullable=False)
    with op.batch_alter_table("log_review_round") as batch:
        batch.drop_column("rules")
