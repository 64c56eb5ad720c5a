"""overview: the access log sealed by a sealer instead of chained under one lock at append (D-62)

Rows get their number from a sequence (PostgreSQL) and are chained afterwards into ``access_log_seal``. The rows
written before were chained at append: each gets its seal row here, place = its number, chain hash = its own hash, so
published anchors still verify. Rows that never joined the old chain (numbers after its head) stay unsealed, and
verify names them.

Revision ID: o0004
Revises: o0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "o0004"
down_revision = "o0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_log_seal",
        sa.Column("position", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False, unique=True),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("access_log_head", sa.Column("low_seq", sa.BigInteger(), nullable=False, server_default="0"))
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute("INSERT INTO access_log_seal (position, seq, chain_hash, sealed_at) "
               "SELECT l.seq, l.seq, l.row_hash, l.at FROM access_log l, access_log_head h "
               "WHERE h.id = 1 AND l.seq <= h.last_seq")
    op.execute("UPDATE access_log_head SET low_seq = last_seq WHERE id = 1")
    if postgresql:
        start = op.get_bind().execute(sa.text("SELECT COALESCE(MAX(seq), 0) + 1 FROM access_log")).scalar_one()
        op.execute(f"CREATE SEQUENCE access_log_seq START WITH {int(start)}")
        op.execute("CREATE FUNCTION access_log_seal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   "RAISE EXCEPTION 'access_log_seal is append-only (% refused)', TG_OP; END $$")
        op.execute("CREATE TRIGGER access_log_seal_no_change BEFORE UPDATE OR DELETE ON access_log_seal "
                   "FOR EACH ROW EXECUTE FUNCTION access_log_seal_append_only()")
        op.execute("CREATE TRIGGER access_log_seal_no_truncate BEFORE TRUNCATE ON access_log_seal "
                   "FOR EACH STATEMENT EXECUTE FUNCTION access_log_seal_append_only()")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER access_log_seal_no_{event.lower()} BEFORE {event} ON access_log_seal "
                       f"BEGIN SELECT RAISE(ABORT, 'access_log_seal is append-only ({event} refused)'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_log_seal_no_truncate ON access_log_seal")
        op.execute("DROP TRIGGER IF EXISTS access_log_seal_no_change ON access_log_seal")
        op.execute("DROP FUNCTION IF EXISTS access_log_seal_append_only()")
        op.execute("DROP SEQUENCE IF EXISTS access_log_seq")
    with op.batch_alter_table("access_log_head") as batch:
        batch.drop_column("low_seq")
    op.drop_table("access_log_seal")
