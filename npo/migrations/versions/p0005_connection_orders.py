"""provisioning: orders to connect a vårdgivare to NPÖ as consumer and/or producer, and recorded disconnections
(issue 13 item 4)

Revision ID: p0005
Revises: p0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from kernel.sqltypes import HsaIdColumn, UTCDateTime

revision = "p0005"
down_revision = "p0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connection_orders",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("provider_hsa_id", HsaIdColumn(64), nullable=False),
        sa.Column("provider_name", sa.String(200), nullable=False),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("consumer", sa.Boolean(), nullable=False),
        sa.Column("producer", sa.Boolean(), nullable=False),
        sa.Column("disconnect", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("requested_by", HsaIdColumn(64), nullable=False),
        sa.Column("requested_by_name", sa.String(200), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_connection_orders_provider_hsa_id", "connection_orders", ["provider_hsa_id"])
    op.create_index("ix_connection_orders_state", "connection_orders", ["state"])


def downgrade() -> None:
    op.drop_index("ix_connection_orders_state", "connection_orders")
    op.drop_index("ix_connection_orders_provider_hsa_id", "connection_orders")
    op.drop_table("connection_orders")
