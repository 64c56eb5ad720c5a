"""overview: the producers' publication rules (gate step 9), one row per imported version (D-54)

Revision ID: o0003
Revises: o0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "o0003"
down_revision = "o0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publication_rules",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(200), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("publication_rules")
