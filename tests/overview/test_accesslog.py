"""The access log: one hash chain, appended in the caller's transaction, safe under concurrency, verified, extracted."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from overview import accesslog
from overview.accesslog import Action, LogEntry, Outcome, Resource
from overview.models import AccessLog, AccessLogHead
from tests.overview.conftest import NOW

USER = "SE5591234567-P0001"
PATIENT = "196004011232"
OTHER_PATIENT = "197001012389"


def entry(n: int = 0, *, patient: str = PATIENT, **changes: object) -> LogEntry:
    values: dict[str, object] = dict(
        at=NOW + dt.timedelta(minutes=n), user_hsa_id=USER, action=Action.READ, resource_type=Resource.OVERVIEW,
        commission_hsa_id="SE5591234567-V0001-SJF", care_unit_hsa_id="SE5591234567-V0001",
        care_unit_name="Vårdcentralen Testa", care_provider_hsa_id="SE5591234567-E0001",
        care_provider_name="Testvårdgivare", patient_personnummer=patient, basis=["own_provider"],
        source_providers=["SE5591234567-E0001"], source_units=["SE5591234567-V0002"], item_count=3)
    values.update(changes)
    return LogEntry(**values)  # type: ignore[arg-type]


def write(session: Session, count: int, **changes: object) -> list[AccessLog]:
    rows = [accesslog.append(session, entry(n, **changes)) for n in range(count)]
    session.commit()
    return rows


def tamper(session: Session, db_backend: str, statement: str) -> None:
    """Change the log as someone with the database owner's rights could: around the append-only triggers."""
    if db_backend == "postgresql":
        session.execute(text("ALTER TABLE access_log DISABLE TRIGGER USER"))
        session.execute(text(statement))
        session.execute(text("ALTER TABLE access_log ENABLE TRIGGER USER"))
    else:
        session.execute(text("DROP TRIGGER IF EXISTS access_log_no_update"))
        session.execute(text("DROP TRIGGER IF EXISTS access_log_no_delete"))
        session.execute(text(statement))
    session.commit()


def test_rows_chain_to_their_predecessor_from_the_genesis_hash(session: Session) -> None:
    rows = write(session, 4)
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    assert rows[0].prev_hash == accesslog.GENESIS_HASH
    assert all(later.prev_hash == earlier.row_hash for earlier, later in zip(rows, rows[1:], strict=False))
    assert all(len(r.row_hash) == 64 and r.row_hash == accesslog.compute_hash(r) for r in rows)
    head = session.get(AccessLogHead, 1)
    assert head is not None and (head.last_seq, head.last_hash) == (4, rows[-1].row_hash)
    assert accesslog.verify(session) == accesslog.VerifyResult(True, 4)


def test_the_row_carries_every_field_the_law_asks_for(session: Session) -> None:
    [row] = write(session, 1, basis=["consent:abc", "own_provider"], relation="care_contact")
    session.expire_all()
    stored = session.get(AccessLog, row.seq)
    assert stored is not None
    assert (stored.user_hsa_id, stored.commission_hsa_id, stored.care_unit_hsa_id, stored.care_provider_hsa_id) == (
        USER, "SE5591234567-V0001-SJF", "SE5591234567-V0001", "SE5591234567-E0001")
    assert (stored.patient_personnummer, stored.action, stored.purpose, stored.resource_type, stored.outcome) == (
        PATIENT, "Läsa", "Vård och behandling", "översikt", "beviljad")
    assert stored.at == NOW and json.loads(stored.basis) == ["consent:abc", "own_provider"]
    assert json.loads(stored.source_providers) == ["SE5591234567-E0001"]
    assert json.loads(stored.source_units) == ["SE5591234567-V0002"] and stored.relation == "care_contact"


def test_the_hash_does_not_depend_on_the_time_zone_the_caller_used(session: Session) -> None:
    stockholm = dt.timezone(dt.timedelta(hours=1))
    [row] = write(session, 1, at=NOW.astimezone(stockholm))
    session.expire_all()
    stored = session.get(AccessLog, row.seq)
    assert stored is not None and accesslog.compute_hash(stored) == row.row_hash
    assert accesslog.verify(session).ok


def test_a_rolled_back_append_leaves_neither_row_nor_head_behind(session: Session) -> None:
    write(session, 2)
    accesslog.append(session, entry(9))
    session.rollback()
    assert accesslog.verify(session) == accesslog.VerifyResult(True, 2)
    assert session.exec(select(AccessLog.seq).order_by(AccessLog.seq)).all() == [1, 2]
    assert write(session, 1)[0].seq == 3


def test_a_changed_row_is_named(session: Session, db_backend: str) -> None:
    write(session, 5)
    tamper(session, db_backend, "UPDATE access_log SET patient_personnummer = '197001012389' WHERE seq = 3")
    result = accesslog.verify(session)
    assert (result.ok, result.first_broken, result.rows) == (False, 3, 2)
    assert "Rad 3 har ändrats" in result.problem


def test_a_rewritten_row_with_a_fresh_hash_breaks_the_link_to_the_next(session: Session, db_backend: str) -> None:
    rows = write(session, 4)
    forged = rows[1].model_copy(update={"detail": "förfalskad"})
    forged_hash = accesslog.compute_hash(forged)
    tamper(session, db_backend, f"UPDATE access_log SET detail = 'förfalskad', row_hash = '{forged_hash}' "
                                "WHERE seq = 2")
    result = accesslog.verify(session)
    assert (result.ok, result.first_broken) == (False, 3)
    assert "pekar inte på föregående" in result.problem


def test_a_deleted_row_is_named(session: Session, db_backend: str) -> None:
    write(session, 5)
    tamper(session, db_backend, "DELETE FROM access_log WHERE seq = 2")
    result = accesslog.verify(session)
    assert (result.ok, result.first_broken) == (False, 2) and "Rad 2 saknas" in result.problem


def test_deleted_rows_at_the_end_are_found_through_the_head(session: Session, db_backend: str) -> None:
    write(session, 5)
    tamper(session, db_backend, "DELETE FROM access_log WHERE seq >= 4")
    result = accesslog.verify(session)
    assert (result.ok, result.first_broken) == (False, 4) and "4–5 saknas" in result.problem


def test_a_row_inserted_beyond_the_head_is_named_and_does_not_block_appends(session: Session,
                                                                              db_backend: str) -> None:
    rows = write(session, 3)
    foreign = rows[2].model_copy(update={"seq": 4, "prev_hash": rows[2].row_hash, "detail": "inskjuten"})
    foreign.row_hash = accesslog.compute_hash(foreign)
    columns = ", ".join(AccessLog.model_fields)
    values = ", ".join(f":{name}" for name in AccessLog.model_fields)
    session.execute(text(f"INSERT INTO access_log ({columns}) VALUES ({values})"), foreign.model_dump())
    session.commit()
    result = accesslog.verify(session)
    assert (result.ok, result.first_broken) == (False, 4) and "efter kedjehuvudet" in result.problem
    later = write(session, 2)  # the log goes on past the foreign row ...
    assert [r.seq for r in later] == [5, 6] and later[0].prev_hash == rows[2].row_hash
    result = accesslog.verify(session)  # ... and the foreign row, now inside the chain's range, is still named
    assert (result.ok, result.first_broken) == (False, 5) and "pekar inte på föregående" in result.problem


def test_a_rewritten_newest_row_is_named_through_the_head(session: Session, db_backend: str) -> None:
    rows = write(session, 4)
    forged = rows[3].model_copy(update={"detail": "förfalskad"})
    forged.row_hash = accesslog.compute_hash(forged)
    tamper(session, db_backend, f"UPDATE access_log SET detail = 'förfalskad', row_hash = '{forged.row_hash}' "
                                "WHERE seq = 4")
    result = accesslog.verify(session)
    assert (result.ok, result.first_broken) == (False, 4) and "Rad 4 stämmer inte med kedjehuvudet" in result.problem


def test_deleting_the_last_row_after_its_anchor_was_published_is_named(session: Session, db_backend: str) -> None:
    rows = write(session, 4)
    anchor = accesslog.head(session)
    assert anchor is not None
    tamper(session, db_backend, "DELETE FROM access_log WHERE seq = 4")
    session.execute(text(f"UPDATE access_log_head SET last_seq = 3, last_hash = '{rows[2].row_hash}'"))
    session.commit()
    assert accesslog.verify(session).ok  # the chain alone is consistent again ...
    result = accesslog.verify(session, anchors=[anchor])  # ... the published anchor is not
    assert (result.ok, result.first_broken) == (False, 4) and "ankaret 4:" in result.problem


def _rewrite_and_rechain(session: Session, db_backend: str, rows: list[AccessLog], seq: int, detail: str) -> None:
    """What someone with the owner's rights could do: change a row, then recompute every later hash and the head."""
    prev = rows[seq - 2].row_hash if seq > 1 else accesslog.GENESIS_HASH
    statements = []
    for row in rows[seq - 1:]:
        changed = row.model_copy(update={"prev_hash": prev, **({"detail": detail} if row.seq == seq else {})})
        changed.row_hash = accesslog.compute_hash(changed)
        statements.append(f"UPDATE access_log SET detail = '{changed.detail}', prev_hash = '{prev}', "
                          f"row_hash = '{changed.row_hash}' WHERE seq = {row.seq}")
        prev = changed.row_hash
    for statement in statements:
        tamper(session, db_backend, statement)
    session.execute(text(f"UPDATE access_log_head SET last_hash = '{prev}'"))
    session.commit()


def test_a_consistent_rewrite_passes_the_chain_but_not_a_published_anchor(session: Session, db_backend: str) -> None:
    rows = write(session, 5)
    anchor = accesslog.head(session)
    assert anchor == accesslog.Anchor(5, rows[-1].row_hash) and accesslog.Anchor.parse(str(anchor)) == anchor
    early = accesslog.Anchor(3, rows[2].row_hash)
    assert accesslog.verify(session, anchors=[early, anchor]).ok
    _rewrite_and_rechain(session, db_backend, rows, 2, "förfalskad")
    assert accesslog.verify(session).ok  # the chain alone cannot tell: that is what the anchor is for
    result = accesslog.verify(session, anchors=[early, anchor])
    assert (result.ok, result.first_broken, result.rows) == (False, 3, 2)
    assert "publicerade ankaret" in result.problem


def test_a_truncated_and_rebuilt_log_is_shorter_than_its_anchor(session: Session, db_backend: str) -> None:
    rows = write(session, 5)
    anchor = accesslog.head(session)
    tamper(session, db_backend, "DELETE FROM access_log WHERE seq >= 4")
    session.execute(text(f"UPDATE access_log_head SET last_seq = 3, last_hash = '{rows[2].row_hash}'"))
    session.commit()
    assert accesslog.verify(session).ok
    result = accesslog.verify(session, anchors=[anchor])  # type: ignore[list-item]
    assert (result.ok, result.first_broken) == (False, 4) and "har tagits bort" in result.problem


@pytest.mark.parametrize("text_", ["", "5", "0:" + "a" * 64, "5:" + "g" * 64, "5:" + "a" * 63, "x:y"])
def test_a_malformed_anchor_is_refused_with_its_form(text_: str) -> None:
    with pytest.raises(ValueError, match="RAD:HASH"):
        accesslog.Anchor.parse(text_)


def test_verify_walks_long_chains_in_batches(session: Session) -> None:
    write(session, 25)
    assert accesslog.verify(session, batch=4) == accesslog.VerifyResult(True, 25)


def test_concurrent_appends_keep_one_chain(engine: Engine, db_backend: str) -> None:
    """Eight writers append at once; each holds its transaction open a while. One chain, no gap, no fork."""
    writers, each = 8, 4
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def work(number: int) -> None:
        try:
            barrier.wait()
            for n in range(each):
                with Session(engine) as session:
                    accesslog.append(session, entry(n, detail=f"skrivare {number}"))
                    time.sleep(0.01)  # keep the transaction (and the head's lock) open while others queue
                    session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with Session(engine) as session:
        rows = session.exec(select(AccessLog).order_by(AccessLog.seq)).all()
        assert [r.seq for r in rows] == list(range(1, writers * each + 1))
        assert len({r.prev_hash for r in rows}) == len(rows)  # no two rows chain to the same predecessor
        assert accesslog.verify(session) == accesslog.VerifyResult(True, writers * each)


def test_the_extract_shows_who_read_what_from_which_unit_and_when(session: Session) -> None:
    accesslog.append(session, entry(0))
    accesslog.append(session, entry(1, patient=OTHER_PATIENT))
    accesslog.append(session, entry(2, action=Action.EMERGENCY, outcome=Outcome.GRANTED,
                                    source_providers=["SE2321000081-E00001"]))
    session.commit()
    lines = accesslog.extract(session, PATIENT)
    assert [line.action for line in lines] == ["Läsa", "Nödöppning"]
    assert all(line.care_unit_name == "Vårdcentralen Testa" and line.care_provider_name == "Testvårdgivare"
               for line in lines)
    assert lines[1].source_providers == ("SE2321000081-E00001",) and lines[0].at == NOW
    text_ = accesslog.format_extract(PATIENT, lines)
    assert "Loggutdrag för 19600401-1232: 2 åtkomster" in text_
    assert "2026-11-25 13:00" in text_  # Swedish local time
    assert "Vårdcentralen Testa (SE5591234567-V0001)" in text_ and "Testvårdgivare" in text_
    assert OTHER_PATIENT not in text_


def test_an_unknown_patient_has_an_empty_extract(session: Session) -> None:
    write(session, 2)
    assert accesslog.extract(session, "191212121212") == []


def test_appending_needs_an_aware_time(session: Session) -> None:
    with pytest.raises(ValueError, match="aware"):
        accesslog.append(session, entry(0, at=dt.datetime(2026, 1, 1)))
