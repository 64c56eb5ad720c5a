"""overview: blocks and temporary revokes as administered data (issue 13): who asked, who registered, permanent
revoke (hävd) and void (makulerad) with who, when and why; a revoke's registrant, reason text and cancellation;
``changed_at`` for the national copy's sync by change date (GetBlocks)

Rows written before (the demo's) keep their values; the new columns are empty for them, ``changed_at`` is their
registration time.

Revision ID: o0005
Revises: o0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "o0005"
down_revision = "o0004"
branch_labels = None
depends_on = None

_BLOCK = (
    ("requested_at", sa.DateTime(timezone=True)),
    ("requested_by", sa.String(32)),
    ("registered_commission_hsa_id", sa.String(64)),
    ("registered_unit_hsa_id", sa.String(64)),
    ("revoked_at", sa.DateTime(timezone=True)),
    ("revoked_by", sa.String(64)),
    ("revoke_requested_at", sa.DateTime(timezone=True)),
    ("revoke_reason", sa.Text()),
    ("deleted_at", sa.DateTime(timezone=True)),
    ("deleted_by", sa.String(64)),
    ("deletion_reason", sa.Text()),
    ("changed_at", sa.DateTime(timezone=True)),
)
_REVOKE = (
    ("registered_by", sa.String(64)),
    ("registered_commission_hsa_id", sa.String(64)),
    ("reason_text", sa.Text()),
    ("cancelled_at", sa.DateTime(timezone=True)),
    ("cancelled_by", sa.String(64)),
)


def upgrade() -> None:
    with op.batch_alter_table("block") as batch:
        for name, kind in _BLOCK:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.execute("UPDATE block SET changed_at = registered_at")
    op.create_index("ix_block_changed_at", "block", ["changed_at"])
    with op.batch_alter_table("block_revoke") as batch:
        for name, kind in _REVOKE:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("block_revoke") as batch:
        for name, _kind in reversed(_REVOKE):
            batch.drop_column(name)
    op.drop_index("ix_block_changed_at", "block")
    with op.batch_alter_table("block") as batch:
        for name, _kind in reversed(_BLOCK):
            batch.drop_column(name)
