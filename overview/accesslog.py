"""The access log (D6): append-only and hash-chained; verified by walking the chain; the patient's log extract.

Each row carries ``prev_hash`` (the previous row's ``row_hash``) and ``row_hash`` = SHA-256 over a canonical
serialisation of its own fields. Appends run in the caller's transaction and first update the single chain-head
row, which takes its row lock (PostgreSQL) or the database's write lock (SQLite): two appends never chain to the
same predecessor, and a transaction that rolls back leaves neither row nor head behind. Nothing here updates or
deletes log rows; the migration's triggers refuse it (retention ≥ 5 years, HSLF-FS 2016:40 4 kap. 9 §).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from kernel.clock import STOCKHOLM
from overview.models import ACCESS_LOG_HEAD_TABLE, ACCESS_LOG_TABLE, AccessLog

GENESIS_HASH = "0" * 64
PURPOSE_CARE = "Vård och behandling"
_HEAD_ID = 1
MAX_SKIPS = 100


class Action(StrEnum):
    """Aktivitet (Inera's log vocabulary)."""

    READ = "Läsa"
    WRITE = "Skriva"
    EMERGENCY = "Nödöppning"


class Resource(StrEnum):
    """Resurstyp: what was acted on."""

    OVERVIEW = "översikt"
    PATIENT = "patientuppgifter"  # name and personnummer shown on a dialog about the patient (consent, nödåtkomst)
    CONSENT = "samtycke"
    RELATION = "patientrelation"
    BLOCK = "spärr"
    INFORMATION = "information innan start"
    LOG_EXTRACT = "loggutdrag"  # a patient's log extract taken by system administration
    LOG_REVIEW = "loggranskning"  # a reviewer opened a logged access to a patient in log follow-up


NOT_CARE_ACCESS = (Resource.LOG_EXTRACT.value, Resource.LOG_REVIEW.value)  # reading the log, not the record


class Outcome(StrEnum):
    GRANTED = "beviljad"
    REFUSED = "nekad"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """What one log row says (who, in which commission, unit and vårdgivare, did what to whose data, on what basis)."""

    at: dt.datetime
    user_hsa_id: str
    action: Action
    resource_type: Resource
    outcome: Outcome = Outcome.GRANTED
    purpose: str = PURPOSE_CARE
    commission_hsa_id: str | None = None
    care_unit_hsa_id: str | None = None
    care_unit_name: str = ""
    care_provider_hsa_id: str | None = None
    care_provider_name: str = ""
    patient_personnummer: str | None = None
    reason_code: str | None = None
    basis: Iterable[str] = ()
    source_providers: Iterable[str] = ()
    source_units: Iterable[str] = ()
    item_count: int = 0
    relation: str | None = None
    detail: str = ""


_HASHED = ("seq", "at", "user_hsa_id", "commission_hsa_id", "care_unit_hsa_id", "care_unit_name",
           "care_provider_hsa_id", "care_provider_name", "patient_personnummer", "action", "purpose",
           "resource_type", "outcome", "reason_code", "basis", "source_providers", "source_units", "item_count",
           "relation", "detail", "prev_hash")


def _json_list(values: Iterable[str]) -> str:
    return json.dumps(sorted(set(values)), ensure_ascii=False, separators=(",", ":"))


def compute_hash(row: object) -> str:
    """SHA-256 (hex) of a row's canonical serialisation: its fields as sorted-key compact JSON, UTF-8."""
    data = {name: getattr(row, name) for name in _HASHED}
    data["at"] = data["at"].astimezone(dt.UTC).isoformat(timespec="microseconds")
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(session: Session, entry: LogEntry) -> AccessLog:
    """Append one row in the caller's transaction (flushed, not committed); serialised on the chain head.

    A row someone inserted beyond the head (by hand, around the application) must not stop the log: its sequence
    number is skipped (the insert is ``ON CONFLICT DO NOTHING``), so appends go on and verify names that row."""
    if entry.at.tzinfo is None:
        raise ValueError("log entries need an aware timestamp")
    for _attempt in range(MAX_SKIPS + 1):
        seq, prev_hash = _take_seq(session)
        row = _row(entry, seq, prev_hash)
        values = {name: getattr(row, name) for name in AccessLog.model_fields}
        insert = (sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert)(AccessLog)
        written = session.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["seq"])
                                  .returning(ACCESS_LOG_TABLE.c.seq)).first()
        if written is not None:
            head_table = ACCESS_LOG_HEAD_TABLE
            session.execute(update(head_table).where(head_table.c.id == _HEAD_ID).values(last_hash=row.row_hash))
            return row
    raise RuntimeError(f"access log: {MAX_SKIPS + 1} sequence numbers after the head were taken by foreign rows")


def _take_seq(session: Session) -> tuple[int, str]:
    """The next sequence number and the hash to chain to, taking the head's row lock (or SQLite's write lock)."""
    head_table = ACCESS_LOG_HEAD_TABLE
    locked = session.execute(
        update(head_table).where(head_table.c.id == _HEAD_ID).values(last_seq=head_table.c.last_seq + 1)
        .returning(head_table.c.last_seq, head_table.c.last_hash)).one_or_none()
    if locked is None:
        raise RuntimeError("access_log_head is missing: run the migrations (npo db upgrade)")
    return locked[0], locked[1]


def _row(entry: LogEntry, seq: int, prev_hash: str) -> AccessLog:
    row = AccessLog(
        seq=seq, at=entry.at.astimezone(dt.UTC), user_hsa_id=entry.user_hsa_id, action=str(entry.action),
        resource_type=str(entry.resource_type), outcome=str(entry.outcome), purpose=entry.purpose,
        commission_hsa_id=entry.commission_hsa_id, care_unit_hsa_id=entry.care_unit_hsa_id,
        care_unit_name=entry.care_unit_name, care_provider_hsa_id=entry.care_provider_hsa_id,
        care_provider_name=entry.care_provider_name, patient_personnummer=entry.patient_personnummer,
        reason_code=entry.reason_code, basis=_json_list(entry.basis),
        source_providers=_json_list(entry.source_providers), source_units=_json_list(entry.source_units),
        item_count=entry.item_count, relation=entry.relation, detail=entry.detail, prev_hash=prev_hash, row_hash="")
    row.row_hash = compute_hash(row)
    return row


# ---------------------------------------------------------------------- verify
@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of walking the chain: ``first_broken`` names the first row that is missing or altered."""

    ok: bool
    rows: int
    first_broken: int | None = None
    problem: str = ""


@dataclass(frozen=True, slots=True)
class Anchor:
    """A row's place and hash, published outside the database (``SEQ:HASH``). The chain alone cannot show that
    someone with write access rewrote rows *and* the head consistently; an anchor kept elsewhere can: every later
    row's hash depends on it."""

    seq: int
    row_hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.row_hash}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """``SEQ:HASH`` as ``npo audit head`` prints it; ValueError with a Swedish message otherwise."""
        seq, _, digest = text.strip().partition(":")
        if not (seq.isdigit() and int(seq) > 0 and re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise ValueError(f"Ankaret {text[:100]!r} ska se ut som RAD:HASH (radnummer, kolon, 64 hexsiffror), som "
                             "`npo audit head` skriver det.")
        return cls(int(seq), digest)


def head(session: Session) -> Anchor | None:
    """The chain's newest row as an anchor to publish (None while the log is empty)."""
    found = session.execute(select(ACCESS_LOG_HEAD_TABLE)).one_or_none()
    return Anchor(found.last_seq, found.last_hash) if found is not None and found.last_seq else None


def verify(session: Session, *, batch: int = 2000, anchors: Sequence[Anchor] = ()) -> VerifyResult:
    """Walk the chain from the first row to the head and report the first broken row (Swedish message); each
    published ``anchor`` must still be in the chain with the same hash."""
    head = session.execute(select(ACCESS_LOG_HEAD_TABLE)).one_or_none()
    if head is None:
        return VerifyResult(False, 0, None, "Loggens kedjehuvud (access_log_head) saknas.")
    beyond = [a for a in anchors if a.seq > head.last_seq]
    if beyond:
        return VerifyResult(False, 0, head.last_seq + 1,
                            f"Loggen slutar vid rad {head.last_seq}, men ankaret {beyond[0]} har publicerats: "
                            "rader har tagits bort och kedjan byggts om.")
    published = {a.seq: a.row_hash for a in anchors}
    table = ACCESS_LOG_TABLE
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    while expected_seq <= head.last_seq:
        rows = session.execute(select(table).where(table.c.seq >= expected_seq, table.c.seq <= head.last_seq)
                               .order_by(table.c.seq).limit(batch)).all()
        if not rows:
            break
        for row in rows:
            if row.seq != expected_seq:
                return VerifyResult(False, checked, expected_seq,
                                    f"Rad {expected_seq} saknas (nästa rad är {row.seq}): rader har tagits bort.")
            if row.prev_hash != prev_hash:
                return VerifyResult(False, checked, row.seq,
                                    f"Rad {row.seq} pekar inte på föregående rads hash: kedjan är bruten.")
            if compute_hash(row) != row.row_hash:
                return VerifyResult(False, checked, row.seq, f"Rad {row.seq} har ändrats efter att den skrevs.")
            if published.get(row.seq, row.row_hash) != row.row_hash:
                return VerifyResult(False, checked, row.seq,
                                    f"Rad {row.seq} stämmer inte med det publicerade ankaret: loggen har skrivits om "
                                    f"(vid rad {row.seq} eller före) och kedjan räknats om.")
            prev_hash, expected_seq, checked = row.row_hash, expected_seq + 1, checked + 1
    if expected_seq <= head.last_seq:
        return VerifyResult(False, checked, expected_seq,
                            f"Rad {expected_seq}–{head.last_seq} saknas: loggen slutar före kedjehuvudet.")
    if prev_hash != head.last_hash:
        return VerifyResult(False, checked, head.last_seq or None,
                            f"Rad {head.last_seq} stämmer inte med kedjehuvudet: den nyaste raden har skrivits om "
                            "eller bytts ut.")
    after = session.execute(select(func.min(table.c.seq), func.count()).where(table.c.seq > head.last_seq)).one()
    if after[1]:
        return VerifyResult(False, checked, after[0],
                            f"Rad {after[0]} ligger efter kedjehuvudet (rad {head.last_seq}), utanför kedjan: "
                            f"{after[1]} rad(er) har lagts till vid sidan av applikationen.")
    return VerifyResult(True, checked)


# ---------------------------------------------------------------------- patient's log extract
@dataclass(frozen=True, slots=True)
class ExtractLine:
    """One access as the patient sees it: when, from which vårdenhet and vårdgivare, who, what, whose data."""

    at: dt.datetime
    care_unit_hsa_id: str | None
    care_unit_name: str
    care_provider_hsa_id: str | None
    care_provider_name: str
    user_hsa_id: str
    action: str
    resource_type: str
    outcome: str
    source_providers: tuple[str, ...] = field(default=())


def extract(session: Session, personnummer: str) -> list[ExtractLine]:
    """Every logged access to one patient's data, oldest first (HSLF-FS 2016:40 4 kap. 10 §)."""
    table = ACCESS_LOG_TABLE
    rows = session.execute(select(table).where(table.c.patient_personnummer == personnummer)
                           .order_by(table.c.seq)).all()
    return [ExtractLine(row.at, row.care_unit_hsa_id, row.care_unit_name, row.care_provider_hsa_id,
                        row.care_provider_name, row.user_hsa_id, row.action, row.resource_type, row.outcome,
                        tuple(json.loads(row.source_providers))) for row in rows]


def format_extract(personnummer: str, lines: list[ExtractLine]) -> str:
    """The extract as plain Swedish text (times in Swedish local time)."""
    out = [f"Loggutdrag för {personnummer[:8]}-{personnummer[8:]}: {len(lines)} åtkomster", ""]
    for line in lines:
        when = line.at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
        unit = f"{line.care_unit_name or '–'} ({line.care_unit_hsa_id or 'ingen vårdenhet'})"
        provider = f"{line.care_provider_name or '–'} ({line.care_provider_hsa_id or '–'})"
        sources = ", ".join(line.source_providers) or "–"
        out.append(f"{when}  {line.action} {line.resource_type} ({line.outcome})  vårdenhet: {unit}  "
                   f"vårdgivare: {provider}  användare: {line.user_hsa_id}  uppgifter från: {sources}")
    return "\n".join(out)
