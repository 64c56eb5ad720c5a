"""provisioning: proposed membership orders (an HR mover or joiner, or a request from Felsökning) and their events
(issue 14)

Revision ID: p0006
Revises: p0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from kernel.sqltypes import HsaIdColumn, UTCDateTime

revision = "p0006"
down_revision = "p0005"
branch_labels = None
depends_on = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32, create_constraint=False)


def upgrade() -> None:
    op.create_table(
        "access_proposals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("origin", _enum("proposalorigin", "mover", "joiner", "request"), nullable=False),
        sa.Column("state", _enum("proposalstate", "open", "ordered", "declined", "closed"), nullable=False),
        sa.Column("person_hsa_id", HsaIdColumn(32), nullable=False),
        sa.Column("person_name", sa.String(200), nullable=False),
        sa.Column("person_mail", sa.String(254), nullable=True),
        sa.Column("person_title", sa.String(128), nullable=True),
        sa.Column("unit_hsa_id", HsaIdColumn(32), nullable=False),
        sa.Column("unit_name", sa.String(200), nullable=False),
        sa.Column("from_unit_hsa_id", HsaIdColumn(32), nullable=True),
        sa.Column("from_unit_name", sa.String(200), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("no_manager", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_by_name", sa.String(200), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_by_name", sa.String(200), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id"), nullable=True),
    )
    op.create_index("ix_access_proposals_state", "access_proposals", ["state"])
    op.create_index("ix_access_proposals_person_hsa_id", "access_proposals", ["person_hsa_id"])
    op.create_index("ix_access_proposals_unit_hsa_id", "access_proposals", ["unit_hsa_id"])
    op.create_table(
        "proposal_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("proposal_id", sa.Integer(), sa.ForeignKey("access_proposals.id"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("event", sa.String(24), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
    )
    op.create_index("ix_proposal_events_proposal_id", "proposal_events", ["proposal_id"])


def downgrade() -> None:
    op.drop_index("ix_proposal_events_proposal_id", "proposal_events")
    op.drop_table("proposal_events")
    for column in ("unit_hsa_id", "person_hsa_id", "state"):
        op.drop_index(f"ix_access_proposals_{column}", "access_proposals")
    op.drop_table("access_proposals")
