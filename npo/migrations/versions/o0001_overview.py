"""overview: patients, producer items, relations, consents, emergency openings, blocks, the access log

The access log is append-only in the database too: triggers refuse UPDATE and DELETE on its rows (and TRUNCATE on
PostgreSQL), so that only someone who can drop triggers can change it, and the hash chain shows that they did.

Revision ID: o0001
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "o0001"
down_revision = "0001"
branch_labels = ("overview",)
depends_on = None

GENESIS_HASH = "0" * 64
_HSA = 64
_PNR = 12


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _patient_fk() -> sa.Column:
    return sa.Column("personnummer", sa.String(_PNR), sa.ForeignKey("patient.personnummer"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "patient",
        sa.Column("personnummer", sa.String(_PNR), primary_key=True),
        sa.Column("given_name", sa.String(100), nullable=False),
        sa.Column("surname", sa.String(100), nullable=False),
        sa.Column("street", sa.String(200), nullable=False),
        sa.Column("postal_code", sa.String(10), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("protected_identity", sa.Boolean(), nullable=False),
        sa.Column("deceased_on", sa.Date(), nullable=True),
    )
    op.create_table(
        "producer_item",
        sa.Column("id", sa.String(36), primary_key=True),
        _patient_fk(),
        sa.Column("system", sa.String(32), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("care_provider_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("care_unit_hsa_id", sa.String(_HSA), nullable=False),
        _at("date"),
        _at("date_end", nullable=True),
        sa.Column("document_kind", sa.String(64), nullable=True),
        sa.Column("profession", sa.String(64), nullable=True),
        sa.Column("setting", sa.String(32), nullable=True),
        sa.Column("info_type", sa.String(8), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_index("ix_producer_item_personnummer", "producer_item", ["personnummer"])
    op.create_table(
        "care_contact",
        sa.Column("id", sa.String(36), primary_key=True),
        _patient_fk(),
        sa.Column("care_unit_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _at("start"),
        _at("end", nullable=True),
    )
    op.create_index("ix_care_contact_patient_unit", "care_contact", ["personnummer", "care_unit_hsa_id"])
    op.create_table(
        "asserted_relation",
        sa.Column("id", sa.String(36), primary_key=True),
        _patient_fk(),
        sa.Column("care_unit_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("employee_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("commission_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _at("start"),
        _at("end", nullable=True),
    )
    op.create_index("ix_asserted_relation_personnummer", "asserted_relation", ["personnummer"])
    op.create_table(
        "consent",
        sa.Column("id", sa.String(36), primary_key=True),
        _patient_fk(),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("care_provider_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("care_unit_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("employee_hsa_id", sa.String(_HSA), nullable=True),
        _at("start"),
        _at("end", nullable=True),
        _at("registered_at"),
        sa.Column("registered_by", sa.String(_HSA), nullable=False),
        sa.Column("registered_commission_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("represented_by", sa.String(_PNR), nullable=True),
        _at("ended_at", nullable=True),
        sa.Column("ended_by", sa.String(_HSA), nullable=True),
        _at("voided_at", nullable=True),
        sa.Column("voided_by", sa.String(_HSA), nullable=True),
    )
    op.create_index("ix_consent_personnummer", "consent", ["personnummer"])
    op.create_table(
        "emergency_opening",
        sa.Column("id", sa.String(36), primary_key=True),
        _patient_fk(),
        sa.Column("employee_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("commission_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("care_provider_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("care_unit_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _at("opened_at"),
        _at("expires_at"),
        _at("providers_revealed_at", nullable=True),
    )
    op.create_index("ix_emergency_opening_personnummer", "emergency_opening", ["personnummer"])
    op.create_table(
        "emergency_provider_opening",
        sa.Column("emergency_id", sa.String(36), sa.ForeignKey("emergency_opening.id"), primary_key=True),
        sa.Column("care_provider_hsa_id", sa.String(_HSA), primary_key=True),
        _at("opened_at"),
    )
    op.create_table(
        "block",
        sa.Column("id", sa.String(36), primary_key=True),
        _patient_fk(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("care_provider_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("care_unit_hsa_id", sa.String(_HSA), nullable=True),
        sa.Column("info_start", sa.Date(), nullable=True),
        sa.Column("info_end", sa.Date(), nullable=True),
        sa.Column("excluded_types", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _at("registered_at"),
        sa.Column("registered_by", sa.String(_HSA), nullable=False),
        sa.Column("registered_by_guardian", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_block_personnummer", "block", ["personnummer"])
    op.create_table(
        "block_revoke",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("block_id", sa.String(36), sa.ForeignKey("block.id"), nullable=False),
        sa.Column("care_unit_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("employee_hsa_id", sa.String(_HSA), nullable=True),
        _at("start", nullable=True),
        _at("end"),
        sa.Column("reason", sa.String(32), nullable=False),
        _at("registered_at"),
    )
    op.create_index("ix_block_revoke_block_id", "block_revoke", ["block_id"])
    op.create_table(
        "info_acknowledgement",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("employee_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _at("acknowledged_at"),
        sa.UniqueConstraint("employee_hsa_id", "version", name="uq_info_ack_employee_version"),
    )
    op.create_index("ix_info_acknowledgement_employee_hsa_id", "info_acknowledgement", ["employee_hsa_id"])
    _access_log()


def _access_log() -> None:
    op.create_table(
        "access_log",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        _at("at"),
        sa.Column("user_hsa_id", sa.String(_HSA), nullable=False),
        sa.Column("commission_hsa_id", sa.String(_HSA), nullable=True),
        sa.Column("care_unit_hsa_id", sa.String(_HSA), nullable=True),
        sa.Column("care_unit_name", sa.String(200), nullable=False),
        sa.Column("care_provider_hsa_id", sa.String(_HSA), nullable=True),
        sa.Column("care_provider_name", sa.String(200), nullable=False),
        sa.Column("patient_personnummer", sa.String(_PNR), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(64), nullable=True),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("source_providers", sa.Text(), nullable=False),
        sa.Column("source_units", sa.Text(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_index("ix_access_log_user_hsa_id", "access_log", ["user_hsa_id"])
    op.create_index("ix_access_log_patient_personnummer", "access_log", ["patient_personnummer"])
    head = op.create_table(
        "access_log_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   "RAISE EXCEPTION 'access_log is append-only (% refused)', TG_OP; END $$")
        op.execute("CREATE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE ON access_log "
                   "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()")
        op.execute("CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log "
                   "FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER access_log_no_{event.lower()} BEFORE {event} ON access_log "
                       f"BEGIN SELECT RAISE(ABORT, 'access_log is append-only ({event} refused)'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_log_no_truncate ON access_log")
        op.execute("DROP TRIGGER IF EXISTS access_log_no_change ON access_log")
        op.execute("DROP FUNCTION IF EXISTS access_log_append_only()")
    for table in ("access_log_head", "access_log", "info_acknowledgement", "block_revoke", "block",
                  "emergency_provider_opening", "emergency_opening", "consent", "asserted_relation",
                  "care_contact", "producer_item", "patient"):
        op.drop_table(table)
