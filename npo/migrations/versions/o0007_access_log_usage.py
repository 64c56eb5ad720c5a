"""overview: an index for each person's last NPÖ read through a commission (issue 14 item 3)

The behörighetskontroll shows each member's last granted overview read through the unit's commission
(``overview.usage.last_reads``: ``max(at)`` grouped by user). The index holds every column that query reads, in the
order it filters (commission, resource, outcome, then user and time), so the query is an index-only range scan over
the commission's granted reads and never touches the log's rows. Creating an index changes no log row: the
append-only triggers are not involved.

Revision ID: o0007
Revises: o0006
Create Date: 2026-12-03
"""

from alembic import op

revision = "o0007"
down_revision = "o0006"
branch_labels = None
depends_on = None

COLUMNS = ["commission_hsa_id", "resource_type", "outcome", "user_hsa_id", "at"]


def upgrade() -> None:
    op.create_index("ix_access_log_usage", "access_log", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_access_log_usage", "access_log")
