"""The access log (D-62): rows appended without a shared lock, sealed into one hash chain in sequence order, safe
under concurrency, verified (rows changed, deleted, inserted or left outside the chain are named), extracted."""

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
from overview.models import AccessLog, AccessLogHead, AccessLogSeal
from tests.overview.conftest import NOW

USER = "SE5591234567-P0001"
PATIENT = "196004011232"
OTHER_PATIENT = "197001012389"
LAST = NOW + dt.timedelta(minutes=1)  # the sealer's and verify's time in these tests: just after the rows


def entry(n: int = 0, *, patient: str = PATIENT, **changes: object) -> LogEntry:
    values: dict[str, object] = dict(
        at=NOW + dt.timedelta(seconds=n), user_hsa_id=USER, action=Action.READ, resource_type=Resource.OVERVIEW,
        commission_hsa_id="SE5591234567-V0001-SJF", care_unit_hsa_id="SE5591234567-V0001",
        care_unit_name="Vårdcentralen Testa", care_provider_hsa_id="SE5591234567-E0001",
        care_provider_name="Testvårdgivare", patient_personnummer=patient, basis=["own_provider"],
        source_providers=["SE5591234567-E0001"], source_units=["SE5591234567-V0002"], item_count=3)
    values.update(changes)
    return LogEntry(**values)  # type: ignore[arg-type]


def write(session: Session, count: int, *, sealed: bool = True, **changes: object) -> list[AccessLog]:
    """``count`` rows appended and committed, then sealed as a web process's sealer would (unless ``sealed``)."""
    rows = [accesslog.append(session, entry(n, **changes)) for n in range(count)]
    session.commit()
    if sealed:
        accesslog.seal_all(session, now=LAST)
    return rows


def verify(session: Session, **options: object) -> accesslog.VerifyResult:
    return accesslog.verify(session, now=LAST, **options)  # type: ignore[arg-type]


def tamper(session: Session, db_backend: str, statement: str) -> None:
    """Change the log as someone with the database owner's rights could: around the append-only triggers."""
    if db_backend == "postgresql":
        session.execute(text("ALTER TABLE access_log DISABLE TRIGGER USER"))
        session.execute(text("ALTER TABLE access_log_seal DISABLE TRIGGER USER"))
        session.execute(text(statement))
        session.execute(text("ALTER TABLE access_log ENABLE TRIGGER USER"))
        session.execute(text("ALTER TABLE access_log_seal ENABLE TRIGGER USER"))
    else:
        for table in ("access_log", "access_log_seal"):
            session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
            session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        session.execute(text(statement))
    session.commit()


def seals(session: Session) -> list[AccessLogSeal]:
    return list(session.exec(select(AccessLogSeal).order_by(AccessLogSeal.position)).all())


def test_rows_are_numbered_at_append_and_chained_by_the_sealer_in_number_order(session: Session) -> None:
    rows = write(session, 4, sealed=False)
    assert [r.seq for r in rows] == [1, 2, 3, 4] and all(r.prev_hash == "" for r in rows)
    assert all(len(r.row_hash) == 64 and r.row_hash == accesslog.compute_hash(r) for r in rows)
    assert seals(session) == [] and verify(session) == accesslog.VerifyResult(True, 0, pending=4)
    assert accesslog.seal(session, now=LAST) == accesslog.SealResult(4, 4)
    session.commit()
    chain, prev = seals(session), accesslog.GENESIS_HASH
    for place, (seal, row) in enumerate(zip(chain, rows, strict=True), start=1):
        prev = accesslog.chain_hash(prev, row.seq, row.row_hash)
        assert (seal.position, seal.seq, seal.chain_hash, seal.sealed_at) == (place, row.seq, prev, LAST)
    head = session.get(AccessLogHead, 1)
    assert head is not None and (head.last_seq, head.last_hash) == (4, prev)
    assert accesslog.head(session) == accesslog.Anchor(4, prev)
    assert verify(session) == accesslog.VerifyResult(True, 4)
    assert accesslog.seal(session, now=LAST).sealed == 0  # nothing twice


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


def test_a_rolled_back_append_leaves_no_row_and_a_gap_in_the_numbers_is_no_break(session: Session) -> None:
    write(session, 2)
    accesslog.append(session, entry(9))
    session.rollback()
    assert verify(session) == accesslog.VerifyResult(True, 2)
    assert session.exec(select(AccessLog.seq).order_by(AccessLog.seq)).all() == [1, 2]
    later = write(session, 1)[0]  # PostgreSQL's sequence does not give number 3 back; SQLite takes the next free one
    assert later.seq >= 3 and verify(session) == accesslog.VerifyResult(True, 3)


def test_a_changed_row_is_named(session: Session, db_backend: str) -> None:
    write(session, 5)
    tamper(session, db_backend, "UPDATE access_log SET patient_personnummer = '197001012389' WHERE seq = 3")
    result = verify(session)
    assert (result.ok, result.first_broken, result.rows) == (False, 3, 2)
    assert "Rad 3 har ändrats" in result.problem


def test_a_rewritten_row_with_a_fresh_hash_no_longer_matches_its_seal(session: Session, db_backend: str) -> None:
    rows = write(session, 4)
    forged = rows[1].model_copy(update={"detail": "förfalskad"})
    tamper(session, db_backend, f"UPDATE access_log SET detail = 'förfalskad', "
                                f"row_hash = '{accesslog.compute_hash(forged)}' WHERE seq = 2")
    result = verify(session)
    assert (result.ok, result.first_broken, result.rows) == (False, 2, 1)
    assert "förseglingen på plats 2 stämmer inte" in result.problem


def test_a_changed_unsealed_row_is_named_by_its_own_hash_and_not_adopted(session: Session, db_backend: str) -> None:
    write(session, 2)
    write(session, 1, sealed=False)
    tamper(session, db_backend, "UPDATE access_log SET detail = 'ändrad' WHERE seq = 3")
    accesslog.seal_all(session, now=LAST)
    result = verify(session)
    assert (result.ok, result.first_broken) == (False, 3) and "Rad 3 har ändrats" in result.problem


def test_a_deleted_row_is_named(session: Session, db_backend: str) -> None:
    write(session, 5)
    tamper(session, db_backend, "DELETE FROM access_log WHERE seq = 2")
    result = verify(session)
    assert (result.ok, result.first_broken) == (False, 2) and "Rad 2 saknas" in result.problem


def test_deleted_rows_and_their_seals_at_the_end_are_found_through_the_head(session: Session,
                                                                            db_backend: str) -> None:
    write(session, 5)
    tamper(session, db_backend, "DELETE FROM access_log WHERE seq >= 4")
    tamper(session, db_backend, "DELETE FROM access_log_seal WHERE position >= 4")
    result = verify(session)
    assert (result.ok, result.rows) == (False, 3) and "Plats 4–5 saknas" in result.problem


def _insert_foreign(session: Session, seq: int, at: dt.datetime, source: AccessLog) -> None:
    foreign = source.model_copy(update={"seq": seq, "at": at, "detail": "inskjuten"})
    foreign.row_hash = accesslog.compute_hash(foreign)
    columns = ", ".join(AccessLog.model_fields)
    values = ", ".join(f":{name}" for name in AccessLog.model_fields)
    session.execute(text(f"INSERT INTO access_log ({columns}) VALUES ({values})"), foreign.model_dump())
    session.commit()


def test_a_row_inserted_with_an_old_time_is_never_adopted_and_is_named(session: Session) -> None:
    rows = write(session, 3)
    _insert_foreign(session, 4, NOW - dt.timedelta(hours=1), rows[2])  # dated before the bound
    assert accesslog.seal_all(session, now=LAST) == 0
    result = verify(session)
    assert (result.ok, result.first_broken, result.rows) == (False, 4, 3)
    assert "Rad 4 är inte förseglad" in result.problem and "utanför kedjan" in result.problem
    later = write(session, 2)  # the log goes on past the foreign row, and the foreign row is still named
    assert [r.seq for r in later] == [5, 6]
    result = verify(session)
    assert (result.ok, result.first_broken, result.rows) == (False, 4, 5)
    assert accesslog.seal_all(session, now=LAST, adopt_late=True) == 1  # an operator who looked at it adopts it
    assert verify(session).ok


def test_a_row_nobody_sealed_within_the_bound_is_named(session: Session) -> None:
    write(session, 2)
    write(session, 1, sealed=False)
    assert verify(session) == accesslog.VerifyResult(True, 2, pending=1)  # waiting, within the bound
    result = accesslog.verify(session, now=NOW + accesslog.SEAL_BOUND + dt.timedelta(minutes=1))
    assert (result.ok, result.first_broken, result.rows) == (False, 3, 2) and "mer än 10 minuter" in result.problem


def test_a_seal_added_beyond_the_head_is_named(session: Session, db_backend: str) -> None:
    rows = write(session, 2)
    write(session, 1, sealed=False)
    tamper(session, db_backend, f"INSERT INTO access_log_seal (position, seq, chain_hash, sealed_at) "
                                f"VALUES (3, 3, '{rows[1].row_hash}', '{LAST.isoformat()}')")
    result = verify(session)
    assert (result.ok, result.first_broken) == (False, 3) and "efter kedjehuvudet" in result.problem


def test_a_rewritten_newest_seal_is_named_through_the_head(session: Session, db_backend: str) -> None:
    write(session, 4)
    tamper(session, db_backend, f"UPDATE access_log_seal SET chain_hash = '{'a' * 64}' WHERE position = 4")
    result = verify(session)
    assert not result.ok and result.first_broken == 4 and "förseglingen på plats 4" in result.problem


def test_deleting_the_last_row_after_its_anchor_was_published_is_named(session: Session, db_backend: str) -> None:
    write(session, 4)
    anchor = accesslog.head(session)
    assert anchor is not None
    third = seals(session)[2]
    tamper(session, db_backend, "DELETE FROM access_log WHERE seq = 4")
    tamper(session, db_backend, "DELETE FROM access_log_seal WHERE position = 4")
    session.execute(text(f"UPDATE access_log_head SET last_seq = 3, last_hash = '{third.chain_hash}'"))
    session.commit()
    assert verify(session).ok  # the chain alone is consistent again ...
    result = verify(session, anchors=[anchor])  # ... the published anchor is not
    assert not result.ok and "ankaret 4:" in result.problem


def _rewrite_and_reseal(session: Session, db_backend: str, seq: int, detail: str) -> None:
    """What someone with the owner's rights could do: change a row, then recompute its hash, every later chain
    hash and the head."""
    tamper(session, db_backend, f"UPDATE access_log SET detail = '{detail}' WHERE seq = {seq}")
    row = session.get(AccessLog, seq)
    assert row is not None
    session.refresh(row)
    tamper(session, db_backend, f"UPDATE access_log SET row_hash = '{accesslog.compute_hash(row)}' WHERE seq = {seq}")
    prev = accesslog.GENESIS_HASH
    for seal in seals(session):
        log_row = session.get(AccessLog, seal.seq)
        assert log_row is not None
        session.refresh(log_row)
        prev = accesslog.chain_hash(prev, log_row.seq, log_row.row_hash)
        tamper(session, db_backend,
               f"UPDATE access_log_seal SET chain_hash = '{prev}' WHERE position = {seal.position}")
    session.execute(text(f"UPDATE access_log_head SET last_hash = '{prev}'"))
    session.commit()


def test_a_consistent_rewrite_passes_the_chain_but_not_a_published_anchor(session: Session, db_backend: str) -> None:
    write(session, 5)
    anchor = accesslog.head(session)
    assert anchor is not None and anchor.seq == 5 and accesslog.Anchor.parse(str(anchor)) == anchor
    early = accesslog.Anchor(3, seals(session)[2].chain_hash)
    assert verify(session, anchors=[early, anchor]).ok
    _rewrite_and_reseal(session, db_backend, 2, "förfalskad")
    session.expire_all()
    assert verify(session).ok  # the chain alone cannot tell: that is what the anchor is for
    result = verify(session, anchors=[early, anchor])
    assert (result.ok, result.first_broken, result.rows) == (False, 3, 2)
    assert "publicerade ankaret" in result.problem


def test_a_truncated_and_rebuilt_log_is_shorter_than_its_anchor(session: Session, db_backend: str) -> None:
    write(session, 5)
    anchor = accesslog.head(session)
    third = seals(session)[2]
    tamper(session, db_backend, "DELETE FROM access_log WHERE seq >= 4")
    tamper(session, db_backend, "DELETE FROM access_log_seal WHERE position >= 4")
    session.execute(text(f"UPDATE access_log_head SET last_seq = 3, last_hash = '{third.chain_hash}'"))
    session.commit()
    assert verify(session).ok
    result = verify(session, anchors=[anchor])  # type: ignore[list-item]
    assert not result.ok and "har tagits bort" in result.problem


@pytest.mark.parametrize("text_", ["", "5", "0:" + "a" * 64, "5:" + "g" * 64, "5:" + "a" * 63, "x:y"])
def test_a_malformed_anchor_is_refused_with_its_form(text_: str) -> None:
    with pytest.raises(ValueError, match="RAD:HASH"):
        accesslog.Anchor.parse(text_)


def test_verify_and_the_sealer_walk_long_logs_in_batches(session: Session) -> None:
    write(session, 25, sealed=False)
    assert accesslog.seal(session, now=LAST, limit=10).sealed == 10
    session.commit()
    assert accesslog.seal_all(session, now=LAST) == 15
    assert verify(session, batch=4) == accesslog.VerifyResult(True, 25)


def _writers(engine: Engine, writers: int, each: int, hold: float) -> list[BaseException]:
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def work(number: int) -> None:
        try:
            barrier.wait()
            for n in range(each):
                with Session(engine) as session:
                    accesslog.append(session, entry(n, detail=f"skrivare {number}"))
                    time.sleep(hold)  # keep the transaction open while others append
                    session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_concurrent_appends_and_sealers_keep_one_chain(engine: Engine, db_backend: str) -> None:
    """Eight writers append at once while two sealers run; each writer holds its transaction open a while. Every
    row is sealed exactly once, in one chain: no gap, no fork, verify passes."""
    writers, each = 8, 4
    stop = threading.Event()
    sealer_errors: list[BaseException] = []

    def sealing() -> None:
        while not stop.is_set():
            try:
                with Session(engine) as session:
                    accesslog.seal_all(session, now=LAST)
            except BaseException as exc:  # noqa: BLE001 - reported below
                sealer_errors.append(exc)
            time.sleep(0.005)

    sealers = [threading.Thread(target=sealing) for _ in range(2)]
    for thread in sealers:
        thread.start()
    try:
        assert _writers(engine, writers, each, 0.01) == []
    finally:
        stop.set()
        for thread in sealers:
            thread.join(timeout=60)
    assert sealer_errors == []
    with Session(engine) as session:
        accesslog.seal_all(session, now=LAST)
        rows = session.exec(select(AccessLog).order_by(AccessLog.seq)).all()
        assert len(rows) == writers * each and len({r.seq for r in rows}) == len(rows)
        chain = seals(session)
        assert [s.position for s in chain] == list(range(1, len(rows) + 1))  # no gap
        assert sorted(s.seq for s in chain) == [r.seq for r in rows]  # each row once: no fork, none left out
        assert verify(session) == accesslog.VerifyResult(True, writers * each)


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
