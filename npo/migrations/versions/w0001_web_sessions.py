"""web: server-side sessions (the cookie holds only a token; logout, idling, age and revoked cards end them)

Revision ID: w0001
Revises: 0001
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

import kernel.sqltypes


revision = "w0001"
down_revision = "0001"
branch_labels = ("web",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("hsa_id", sa.String(length=64), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", kernel.sqltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", kernel.sqltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", kernel.sqltypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=32), nullable=True),
        sa.Column("card_serial", sa.String(length=64), nullable=True),
        sa.Column("card_issuer", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_web_sessions_hsa_id", ["hsa_id"], unique=False)
        batch_op.create_index("ix_web_sessions_seen_at", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_table("web_sessions")
