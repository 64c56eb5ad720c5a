"""The access log's exact forms: the canonical row hash and the seal's chain hash (pinned: every stored chain
depends on them), the stored fields, anchors, verify's verdicts field by field, and the patient's extract as text."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import text
from sqlmodel import Session

from overview import accesslog
from overview.accesslog import GENESIS_HASH, Action, Anchor, ExtractLine, LogEntry, Resource, VerifyResult
from overview.models import AccessLog
from tests.overview.test_accesslog import LAST, entry, seals, tamper, verify, write

HEX = "0123456789abcdef" * 4
PINNED = "77bdd2553eb27bf51ad7b885103a7eead7911a0e560c40d4e06432425a18a0e8"  # a row chained at append (before D-62)
PINNED_ROW = "f422a64fec31fb1b29871440cacd125e69a2c4aff82ec7d05003c54f2fdc3904"  # the same row as appended since D-62
PINNED_SEAL = "43e0f0053918af085d22ecf30882a6ade7b8c6e9ac25e9602634223b2cfcde34"  # its seal at the chain's start


def fixed_entry() -> LogEntry:
    return LogEntry(at=dt.datetime(2026, 3, 1, 10, 15, 30, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1))),
                    user_hsa_id="SE5591234567-P0001", action=Action.READ, resource_type=Resource.OVERVIEW,
                    commission_hsa_id="SE5591234567-V0001-SJF", care_unit_hsa_id="SE5591234567-V0001",
                    care_unit_name="Vårdcentralen Åby", care_provider_hsa_id="SE5591234567-E0001",
                    care_provider_name="Testvårdgivare", patient_personnummer="196004011232",
                    basis=["own_provider", "consent", "own_provider"],
                    source_providers=["SE5591234567-E0002", "SE5591234567-E0001"],
                    source_units=["SE5591234567-V0002"], item_count=3, reason_code="nödöppning",
                    relation="care_contact", detail="steg 1: Åsa")


def test_the_canonical_hash_of_a_row_is_pinned(session: Session) -> None:
    # Changing the serialisation (key order, separators, ASCII escapes, the UTC timestamp) would break every chain
    # already stored: the value below was computed by the code that wrote them.
    row = accesslog._row(fixed_entry(), 7, GENESIS_HASH)
    assert row.row_hash == PINNED
    assert accesslog.compute_hash(row) == row.row_hash
    assert (row.basis, row.source_providers, row.source_units) == (
        '["consent","own_provider"]', '["SE5591234567-E0001","SE5591234567-E0002"]', '["SE5591234567-V0002"]')
    assert row.at == dt.datetime(2026, 3, 1, 9, 15, 30, 123456, tzinfo=dt.UTC) and row.at.tzinfo is dt.UTC
    assert (row.reason_code, row.item_count, row.relation, row.detail, row.seq, row.prev_hash) == (
        "nödöppning", 3, "care_contact", "steg 1: Åsa", 7, GENESIS_HASH)


def test_the_hash_of_a_row_appended_since_d62_and_of_its_seal_are_pinned() -> None:
    row = accesslog._row(fixed_entry(), 7)
    assert (row.prev_hash, row.row_hash) == ("", PINNED_ROW) and accesslog.compute_hash(row) == PINNED_ROW
    assert accesslog.chain_hash(GENESIS_HASH, 7, PINNED_ROW) == PINNED_SEAL


def test_a_naive_timestamp_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="^log entries need an aware timestamp$"):
        accesslog.append(session, entry(at=dt.datetime(2026, 3, 1, 10)))


def test_a_log_without_its_head_row_cannot_be_sealed_or_verified(session: Session) -> None:
    session.execute(text("DELETE FROM access_log_head"))
    assert accesslog.verify(session) == VerifyResult(False, 0, None, "Loggens kedjehuvud (access_log_head) saknas.")
    assert accesslog.head(session) is None
    with pytest.raises(RuntimeError, match=r"^access_log_head is missing: run the migrations \(npo db upgrade\)$"):
        accesslog.seal(session)


def test_the_head_is_an_anchor_once_something_is_sealed(session: Session) -> None:
    assert accesslog.head(session) is None
    write(session, 2, sealed=False)
    assert accesslog.head(session) is None
    accesslog.seal_all(session, now=LAST)
    assert accesslog.head(session) == Anchor(2, seals(session)[-1].chain_hash)


@pytest.mark.parametrize("value", ["1:" + HEX, " 12:" + HEX + "\n"])
def test_an_anchor_is_read_as_seq_colon_hash(value: str) -> None:
    anchor = Anchor.parse(value)
    assert (anchor.seq, anchor.row_hash) == (int(value.strip().split(":")[0]), HEX) and str(anchor) == value.strip()


@pytest.mark.parametrize("value", ["0:" + HEX, "1:" + HEX[:-1], "1:" + HEX.upper(), "x:" + HEX, HEX, "1" * 150])
def test_a_malformed_anchor_says_how_it_is_written(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        Anchor.parse(value)
    assert str(caught.value) == (f"Ankaret {value[:100]!r} ska se ut som RAD:HASH (radnummer, kolon, 64 hexsiffror), "
                                 "som `npo audit head` skriver det.")


def test_a_whole_chain_verifies_in_small_batches(session: Session) -> None:
    write(session, 5)
    assert verify(session, batch=2) == VerifyResult(True, 5)
    assert verify(session) == VerifyResult(True, 5)


def test_verify_names_the_first_missing_row_and_counts_the_good_ones(session: Session, db_backend: str) -> None:
    write(session, 4)
    tamper(session, db_backend, "DELETE FROM access_log WHERE seq = 3")
    assert verify(session) == VerifyResult(False, 2, 3, "Rad 3 saknas (den förseglades på plats 3): rader har tagits "
                                                        "bort.")


def test_verify_names_a_missing_seal(session: Session, db_backend: str) -> None:
    write(session, 4)
    tamper(session, db_backend, "DELETE FROM access_log_seal WHERE position = 2")
    assert verify(session) == VerifyResult(False, 1, None, "Förseglingen på plats 2 saknas (nästa är plats 3): rader "
                                                           "har tagits bort.")


def test_verify_names_a_rewritten_row(session: Session, db_backend: str) -> None:
    write(session, 3)
    tamper(session, db_backend, "UPDATE access_log SET detail = 'ändrad' WHERE seq = 2")
    assert verify(session) == VerifyResult(False, 1, 2, "Rad 2 har ändrats efter att den skrevs.")


def test_verify_names_a_missing_tail(session: Session, db_backend: str) -> None:
    write(session, 3)
    tamper(session, db_backend, "DELETE FROM access_log_seal WHERE position = 3")
    assert verify(session) == VerifyResult(False, 2, None, "Plats 3–3 saknas: kedjan slutar före kedjehuvudet.")


def _rewrite_with_fresh_hash(session: Session, db_backend: str, row: AccessLog) -> None:
    """Change one row's detail and store the hash of the changed row, so the row itself verifies."""
    forged = row.model_copy(update={"detail": "förfalskad"})
    tamper(session, db_backend, f"UPDATE access_log SET detail = 'förfalskad', "
                                f"row_hash = '{accesslog.compute_hash(forged)}' WHERE seq = {row.seq}")


def test_verify_names_a_row_rewritten_with_a_fresh_hash_by_its_seal(session: Session, db_backend: str) -> None:
    rows = write(session, 4)
    _rewrite_with_fresh_hash(session, db_backend, rows[1])
    assert verify(session) == VerifyResult(False, 1, 2, "Rad 2: förseglingen på plats 2 stämmer inte med raden och "
                                                        "kedjan före den.")


def test_verify_names_a_newest_seal_that_differs_from_the_head(session: Session, db_backend: str) -> None:
    write(session, 4)
    session.execute(text(f"UPDATE access_log_head SET last_hash = '{HEX}'"))
    session.commit()
    assert verify(session) == VerifyResult(False, 4, None, "Plats 4 stämmer inte med kedjehuvudet: den nyaste "
                                                           "förseglingen har skrivits om eller bytts ut.")


def test_verify_names_an_anchor_beyond_the_head(session: Session) -> None:
    write(session, 2)
    anchor = Anchor(5, HEX)
    assert verify(session, anchors=[anchor]) == VerifyResult(
        False, 0, None, f"Kedjan slutar vid plats 2, men ankaret {anchor} har publicerats: rader har tagits bort och "
                        "kedjan byggts om.")


def test_verify_names_the_first_row_outside_the_chain_and_counts_them(session: Session, db_backend: str) -> None:
    rows = write(session, 2)
    names = [column.name for column in AccessLog.__table__.columns]
    for seq in (5, 4):  # copies of row 1 with their own sequence number and hash, inserted around the application
        values = [str(seq) if n == "seq" else f"'{seq:064d}'" if n == "row_hash" else n for n in names]
        tamper(session, db_backend, f"INSERT INTO access_log ({', '.join(names)}) SELECT {', '.join(values)} "
                                    f"FROM access_log WHERE seq = {rows[0].seq}")
    late = LAST + accesslog.SEAL_BOUND
    assert accesslog.verify(session, now=late) == VerifyResult(
        False, 2, 4, "Rad 4 är inte förseglad fast den skrevs för mer än 10 minuter sedan: den ligger utanför kedjan "
                     "(2 sådan(a) rad(er); tillagd vid sidan av applikationen, eller så har ingen förseglare gått — "
                     "kör `npo audit seal` och sedan verify igen).")


def test_the_extract_reads_as_swedish_text() -> None:
    at = dt.datetime(2026, 3, 1, 9, 15, tzinfo=dt.UTC)
    lines = [ExtractLine(at, "SE5591234567-V0001", "Vårdcentralen Åby", "SE5591234567-E0001", "Testvårdgivare",
                         "SE5591234567-P0001", "read", "overview", "granted",
                         ("SE5591234567-E0001", "SE5591234567-E0002"), ("own_provider", "consent:12", "consent:3"),
                         "care_contact"),
             ExtractLine(at, None, "", None, "", "SE5591234567-P0002", "emergency", "overview", "granted",
                         basis=("emergency:7",), relation="asserted", detail="Medvetslös")]
    assert accesslog.format_extract("196004011232", lines).split("\n") == [
        "Loggutdrag för 19600401-1232: 2 åtkomster", "",
        "2026-03-01 10:15  read overview (granted)  vårdenhet: Vårdcentralen Åby (SE5591234567-V0001)  vårdgivare: "
        "Testvårdgivare (SE5591234567-E0001)  användare: SE5591234567-P0001  uppgifter från: SE5591234567-E0001, "
        "SE5591234567-E0002  grund: egen vårdgivare; samtycke nr 3, 12  patientrelation: vårdkontakt",
        "2026-03-01 10:15  emergency overview (granted)  vårdenhet: – (ingen vårdenhet)  vårdgivare: – (–)  "
        "användare: SE5591234567-P0002  uppgifter från: –  grund: nödåtkomst nr 7  patientrelation: påstådd "
        "patientrelation  skäl: Medvetslös"]


def test_the_extract_lists_one_patients_accesses_oldest_first_with_every_field(session: Session) -> None:
    write(session, 2)
    write(session, 1, patient="197001012389")
    lines = accesslog.extract(session, "196004011232")
    assert [line.at for line in lines] == sorted(line.at for line in lines) and len(lines) == 2
    first = lines[0]
    assert (first.care_unit_hsa_id, first.care_unit_name, first.care_provider_hsa_id, first.care_provider_name,
            first.user_hsa_id, first.action, first.resource_type, first.outcome, first.source_providers) == (
        "SE5591234567-V0001", "Vårdcentralen Testa", "SE5591234567-E0001", "Testvårdgivare", "SE5591234567-P0001",
        "Läsa", "översikt", "beviljad", ("SE5591234567-E0001",))


def _first_row_read_last(session: Session, db_backend: str) -> None:
    """Leave the table out of log order and have it read as stored: on PostgreSQL an update that changes nothing puts
    row 1's new version after the others, and without index scans (the plan a large table can get) rows come in
    that order. A CLUSTER or a restore can do the same. SQLite keeps and reads rows in seq order."""
    tamper(session, db_backend, "UPDATE access_log SET detail = detail WHERE seq = 1")
    if db_backend == "postgresql":
        session.execute(text("SET LOCAL enable_indexscan = off"))  # until the transaction ends
        session.execute(text("SET LOCAL enable_bitmapscan = off"))


def test_the_extract_is_in_log_order_whatever_the_tables_order(session: Session, db_backend: str) -> None:
    rows = write(session, 3)
    _first_row_read_last(session, db_backend)
    assert [line.at for line in accesslog.extract(session, "196004011232")] == [row.at for row in rows]


def test_verify_walks_in_log_order_whatever_the_tables_order(session: Session, db_backend: str) -> None:
    write(session, 3)
    _first_row_read_last(session, db_backend)
    assert verify(session) == VerifyResult(True, 3)


def test_the_hash_does_not_depend_on_the_machines_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert accesslog._row(fixed_entry(), 7, GENESIS_HASH).row_hash == PINNED
    finally:
        monkeypatch.undo()
        time.tzset()


def _foreign_rows(session: Session, db_backend: str, seqs: range, source_seq: int) -> None:
    names = [column.name for column in AccessLog.__table__.columns]
    for seq in seqs:
        values = [str(seq) if n == "seq" else f"'{seq:064d}'" if n == "row_hash" else n for n in names]
        session.execute(text(f"INSERT INTO access_log ({', '.join(names)}) SELECT {', '.join(values)} "
                             f"FROM access_log WHERE seq = {source_seq}"))
    session.commit()


def test_appends_skip_up_to_max_skips_foreign_rows(session: Session, db_backend: str) -> None:
    first = write(session, 1)[0]
    _foreign_rows(session, db_backend, range(2, 2 + accesslog.MAX_SKIPS), first.seq)  # 100 rows under the next numbers
    assert accesslog.append(session, entry(1)).seq == 2 + accesslog.MAX_SKIPS


def test_more_foreign_rows_than_max_skips_stop_the_append(session: Session, db_backend: str) -> None:
    if db_backend != "postgresql":
        pytest.skip("SQLite takes the next free number under its write lock: a foreign row is never in the way")
    first = write(session, 1)[0]
    _foreign_rows(session, db_backend, range(2, 3 + accesslog.MAX_SKIPS), first.seq)  # 101 rows under the next numbers
    with pytest.raises(RuntimeError, match="^access log: 101 sequence numbers in a row were taken by foreign rows$"):
        accesslog.append(session, entry(1))
