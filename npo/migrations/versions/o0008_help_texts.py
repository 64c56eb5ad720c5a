"""overview: Felsökning texts administered by NPÖ-förvaltningen, each stored version kept (issue 14: the Net iD
advice without a version number that rots)

Revision ID: o0008
Revises: o0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from kernel.sqltypes import UTCDateTime

revision = "o0008"
down_revision = "o0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "help_texts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("comment", sa.String(200), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed_by_name", sa.String(200), nullable=False),
    )
    op.create_index("ix_help_texts_key", "help_texts", ["key"])


def downgrade() -> None:
    op.drop_index("ix_help_texts_key", "help_texts")
    op.drop_table("help_texts")
