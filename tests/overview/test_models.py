"""The overview's tables: the migration builds exactly the models, on SQLite and PostgreSQL; the log is append-only."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlmodel import Session, SQLModel, select

import overview.models as M
from npo.db import current_heads, upgrade
from overview import accesslog
from overview.accesslog import Action, LogEntry, Resource
from tests.overview.conftest import NOW, add_item, add_patient

OVERVIEW_TABLES = {"patient", "producer_item", "care_contact", "asserted_relation", "consent", "emergency_opening",
                   "emergency_provider_opening", "block", "block_revoke", "info_acknowledgement", "access_log",
                   "access_log_head", "incapacity_assessment", "help_texts", "guardianship"}


def _table_of(diff: Any) -> str | None:
    """The table a difference reported by Alembic's autogenerate concerns."""
    if isinstance(diff, list):  # modify_* differences come grouped per column
        return _table_of(diff[0])
    kind, *rest = diff
    if kind in {"add_table", "remove_table"}:
        return rest[0].name
    if kind in {"add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"}:
        return rest[0].table.name
    return rest[1]  # (kind, schema, table, ...)


def test_the_migration_builds_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, SQLModel.metadata) if _table_of(d) in OVERVIEW_TABLES]
    assert differences == []
    assert set(inspect(engine).get_table_names()) >= OVERVIEW_TABLES
    assert {t.name for t in SQLModel.metadata.sorted_tables} >= OVERVIEW_TABLES


def test_upgrade_reaches_the_overview_head_and_is_idempotent(db_url: str) -> None:
    assert "o0010" in current_heads(db_url)
    upgrade(db_url)
    assert "o0010" in current_heads(db_url)


def test_the_chain_head_starts_at_the_genesis_hash(session: Session) -> None:
    head = session.get(M.AccessLogHead, 1)
    assert head is not None and head.last_seq == 0 and head.last_hash == accesslog.GENESIS_HASH


def test_timestamps_come_back_aware_utc_and_naive_ones_are_refused(session: Session) -> None:
    patient = add_patient(session)
    stockholm = dt.timezone(dt.timedelta(hours=1))
    item = add_item(session, patient, "SE5591234567-E0001", "SE5591234567-V0001",
                    when=dt.datetime(2026, 1, 2, 9, 30, 0, 123456, tzinfo=stockholm))
    session.commit()
    session.expire_all()
    stored = session.get(M.ProducerItem, item.id)
    assert stored is not None and stored.date == dt.datetime(2026, 1, 2, 8, 30, 0, 123456, tzinfo=dt.UTC)
    assert stored.date.tzinfo is not None and stored.date.utcoffset() == dt.timedelta(0)
    session.add(M.InfoAcknowledgement(employee_hsa_id="SE5591234567-P1", version=1,
                                      acknowledged_at=dt.datetime(2026, 1, 1, 12)))
    with pytest.raises(StatementError, match="naive datetime given to a UTCDateTime column") as caught:
        session.flush()
    assert isinstance(caught.value.orig, ValueError)  # the column type refuses it before anything is written


def test_free_text_with_markup_is_stored_as_text(session: Session) -> None:
    patient = add_patient(session)
    body = "<script>alert('x')</script> & \"citat\" – åäö"
    item = add_item(session, patient, "SE5591234567-E0001", "SE5591234567-V0001", body=body)
    session.commit()
    session.expire_all()
    assert session.exec(select(M.ProducerItem.body).where(M.ProducerItem.id == item.id)).one() == body


def _one_row(session: Session) -> int:
    row = accesslog.append(session, LogEntry(at=NOW, user_hsa_id="SE5591234567-P1", action=Action.READ,
                                             resource_type=Resource.OVERVIEW, patient_personnummer="196004011234"))
    session.commit()
    return row.seq


@pytest.mark.parametrize("statement", [
    "UPDATE access_log SET detail = 'ändrad' WHERE seq = {seq}",
    "DELETE FROM access_log WHERE seq = {seq}",
])
def test_the_database_refuses_to_change_or_delete_log_rows(session: Session, statement: str) -> None:
    seq = _one_row(session)
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text(statement.format(seq=seq)))
    session.rollback()
    assert session.get(M.AccessLog, seq) is not None


def test_truncating_the_log_is_refused_on_postgresql(session: Session, db_backend: str) -> None:
    if db_backend != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    _one_row(session)
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("TRUNCATE access_log CASCADE"))  # CASCADE: review tasks reference log rows
    session.rollback()


def test_consents_and_blocks_keep_their_identifiers_as_uuid_strings(session: Session) -> None:
    patient = add_patient(session)
    block = M.Block(id=str(uuid.uuid4()), personnummer=patient.personnummer, kind="outer",
                    care_provider_hsa_id="SE5591234567-E0001", registered_at=NOW, registered_by="SE5591234567-P1")
    session.add(block)
    session.flush()
    session.add(M.BlockRevoke(id=str(uuid.uuid4()), block_id=block.id, care_unit_hsa_id="SE5591234567-V0001",
                              end=NOW + dt.timedelta(days=1), reason="PatientsConsent", registered_at=NOW))
    session.commit()
    assert uuid.UUID(block.id) and session.get(M.Block, block.id) is not None
