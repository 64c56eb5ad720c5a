"""The access log (D6, D-62): append-only rows, sealed into one hash chain by a sealer within a bounded delay.

A read's row is written in the caller's transaction and committed before any patient data leaves. The row gets its
sequence number from the database (a PostgreSQL sequence; under SQLite's single write lock, the next free number) and
``row_hash``, SHA-256 over a canonical serialisation of its own fields: no append waits for another. The *sealer*
(``seal``; every web process runs one each second, the sweep and the daily follow-up run it too) takes the unsealed
rows in sequence order and appends one row per log row to ``access_log_seal``: its place in the chain
(``position``, 1, 2, …), the log row's ``seq`` and ``chain_hash`` = SHA-256 over the previous chain hash, the seq and
the row's hash. The chain's head (``access_log_head``: the last position and chain hash) is locked only by sealers,
never by a read. This is Certificate Transparency's shape: a row is in the verified structure within the maximum
merge delay (``seal_bound``, 10 minutes by default), and ``verify`` names every row that has waited longer.

Rows written before D-62 were chained at append (``prev_hash`` = the previous row's hash, position = seq); their seal
rows were made by the migration with ``chain_hash`` = ``row_hash``, so anchors published before keep verifying.
Nothing here updates or deletes log or seal rows; the migrations' triggers refuse it (retention ≥ 5 years,
HSLF-FS 2016:40 4 kap. 9 §).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from kernel import clock
from kernel.clock import STOCKHOLM
from overview.models import ACCESS_LOG_HEAD_TABLE, ACCESS_LOG_SEAL_TABLE, ACCESS_LOG_TABLE, AccessLog

GENESIS_HASH = "0" * 64
PURPOSE_CARE = "Vård och behandling"
_HEAD_ID = 1
MAX_SKIPS = 100
SEQUENCE = "access_log_seq"  # PostgreSQL's sequence of log row numbers (migration o0004)
SEAL_BOUND = dt.timedelta(minutes=10)  # the maximum merge delay: a row older than this must be sealed
# A row that took its number before another may commit after it (PostgreSQL). No transaction that appends a log row
# stays open this long, so every row numbered below a row written longer ago than this is visible to the sealer.
SETTLED = dt.timedelta(minutes=2)
SEAL_BATCH = 5000


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
    INCAPACITY = "beslutsoförmåga"  # an assessment that the patient cannot consent, registered or ended
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


def chain_hash(prev_hash: str, seq: int, row_hash: str) -> str:
    """A seal row's hash: the previous chain hash, the log row's number and its own hash."""
    return hashlib.sha256(f"{prev_hash}:{seq}:{row_hash}".encode("ascii")).hexdigest()


def append(session: Session, entry: LogEntry) -> AccessLog:
    """Append one row in the caller's transaction (flushed, not committed); it waits for no other append.

    A row someone inserted by hand under the next number must not stop the log: the insert is ``ON CONFLICT DO
    NOTHING`` and takes the next number, and verify names the foreign row when it stays outside the chain."""
    if entry.at.tzinfo is None:
        raise ValueError("log entries need an aware timestamp")
    postgresql = session.get_bind().dialect.name == "postgresql"
    for _attempt in range(MAX_SKIPS + 1):
        seq = _next_seq(session, postgresql)
        row = _row(entry, seq)
        values = {name: getattr(row, name) for name in AccessLog.model_fields}
        statement = (postgresql_insert if postgresql else sqlite_insert)(AccessLog)
        written = session.execute(statement.values(**values).on_conflict_do_nothing(index_elements=["seq"])
                                  .returning(ACCESS_LOG_TABLE.c.seq)).first()
        if written is not None:
            return row
    raise RuntimeError(f"access log: {MAX_SKIPS + 1} sequence numbers in a row were taken by foreign rows")


def _next_seq(session: Session, postgresql: bool) -> int:
    """The next row number: PostgreSQL's sequence (no lock), or under SQLite's write lock the next free number."""
    if postgresql:
        return int(session.execute(select(func.nextval(SEQUENCE))).scalar_one())
    return int(session.execute(select(func.coalesce(func.max(ACCESS_LOG_TABLE.c.seq), 0) + 1)).scalar_one())


def _row(entry: LogEntry, seq: int, prev_hash: str = "") -> AccessLog:
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


# ---------------------------------------------------------------------- seal
@dataclass(frozen=True, slots=True)
class SealResult:
    """What one sealing pass did: rows sealed, the head after it, False when another sealer held the head."""

    sealed: int
    position: int
    took_head: bool = True


def seal(session: Session, *, now: dt.datetime | None = None, limit: int = SEAL_BATCH,
         adopt_late: bool = False) -> SealResult:
    """Seal unsealed rows in sequence order, in the caller's transaction (commit it); at most ``limit`` rows.

    Only sealers lock the head: on PostgreSQL a second sealer skips (``took_head`` False) instead of waiting; under
    SQLite the write lock orders them. Rows are looked for above ``low_seq``, the number below which every row is
    sealed or was written longer than ``SETTLED`` ago (so it is visible: no late commit can add one there).

    A row older than ``SEAL_BOUND`` when a sealer first meets it is not adopted: the application's rows are sealed
    within a second or two, so such a row was put there around the application (or every sealer stood still for
    longer than the bound); it stays outside and verify names it. ``adopt_late`` seals it anyway, for an operator
    who has looked at those rows (`npo audit seal --adopt-late`)."""
    now = now or clock.now()
    head_table, log, seals = ACCESS_LOG_HEAD_TABLE, ACCESS_LOG_TABLE, ACCESS_LOG_SEAL_TABLE
    head = session.execute(select(head_table).where(head_table.c.id == _HEAD_ID)
                           .with_for_update(skip_locked=True)).one_or_none()
    if head is None:
        exists = session.execute(select(head_table.c.id).where(head_table.c.id == _HEAD_ID)).first()
        if exists is None:
            raise RuntimeError("access_log_head is missing: run the migrations (npo db upgrade)")
        return SealResult(0, -1, took_head=False)
    unsealed = session.execute(
        select(log.c.seq, log.c.row_hash, log.c.at).outerjoin(seals, seals.c.seq == log.c.seq)
        .where(log.c.seq > (0 if adopt_late else head.low_seq), seals.c.seq.is_(None))
        .order_by(log.c.seq).limit(limit)).all()
    position, last = head.last_seq, head.last_hash
    rows = []
    oldest = now - SEAL_BOUND
    for seq, row_hash, at in unsealed:
        if at < oldest and not adopt_late:
            continue
        position += 1
        last = chain_hash(last, seq, row_hash)
        rows.append({"position": position, "seq": seq, "chain_hash": last, "sealed_at": now})
    if rows:
        session.execute(insert(seals), rows)
    low = head.low_seq
    if len(unsealed) < limit:  # everything visible above low_seq is sealed now
        settled = session.execute(select(func.max(log.c.seq))
                                  .where(log.c.seq > head.low_seq, log.c.at < now - SETTLED)).scalar_one()
        low = max(low, settled or 0)
    if rows or low != head.low_seq:
        session.execute(update(head_table).where(head_table.c.id == _HEAD_ID)
                        .values(last_seq=position, last_hash=last, low_seq=low))
    return SealResult(len(rows), position)


def seal_all(session: Session, *, now: dt.datetime | None = None, adopt_late: bool = False) -> int:
    """Seal until nothing is left (commits after each batch); the number of rows sealed."""
    total = 0
    while True:
        result = seal(session, now=now, adopt_late=adopt_late)
        session.commit()
        total += result.sealed
        if result.sealed == 0 or not result.took_head:
            return total


# ---------------------------------------------------------------------- verify
@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of walking the chain: ``first_broken`` names the first row (seq) that is missing or altered;
    ``pending`` counts rows not yet sealed but younger than the bound (not an error)."""

    ok: bool
    rows: int
    first_broken: int | None = None
    problem: str = ""
    pending: int = 0


@dataclass(frozen=True, slots=True)
class Anchor:
    """A place in the chain and its hash, published outside the database (``PLATS:HASH``). The chain alone cannot
    show that someone with write access rewrote rows *and* the head consistently; an anchor kept elsewhere can:
    every later chain hash depends on it. (Before D-62 the place was the row's number; for those rows they agree.)"""

    seq: int
    row_hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.row_hash}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """``RAD:HASH`` as ``npo audit head`` prints it; ValueError with a Swedish message otherwise."""
        seq, _, digest = text.strip().partition(":")
        if not (seq.isdigit() and int(seq) > 0 and re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise ValueError(f"Ankaret {text[:100]!r} ska se ut som RAD:HASH (radnummer, kolon, 64 hexsiffror), som "
                             "`npo audit head` skriver det.")
        return cls(int(seq), digest)


def head(session: Session) -> Anchor | None:
    """The chain's newest sealed place as an anchor to publish (None while nothing is sealed)."""
    found = session.execute(select(ACCESS_LOG_HEAD_TABLE)).one_or_none()
    return Anchor(found.last_seq, found.last_hash) if found is not None and found.last_seq else None


def verify(session: Session, *, batch: int = 2000, anchors: Sequence[Anchor] = (), now: dt.datetime | None = None,
           bound: dt.timedelta = SEAL_BOUND) -> VerifyResult:
    """Walk the chain from its first place to the head, then look for rows outside it; report the first broken
    row (Swedish message). Each published ``anchor`` must still be in the chain with the same hash; a row not
    sealed within ``bound`` of its time is broken (it sits outside the verified structure)."""
    now = now or clock.now()
    head = session.execute(select(ACCESS_LOG_HEAD_TABLE)).one_or_none()
    if head is None:
        return VerifyResult(False, 0, None, "Loggens kedjehuvud (access_log_head) saknas.")
    beyond = [a for a in anchors if a.seq > head.last_seq]
    if beyond:
        return VerifyResult(False, 0, None,
                            f"Kedjan slutar vid plats {head.last_seq}, men ankaret {beyond[0]} har publicerats: "
                            "rader har tagits bort och kedjan byggts om.")
    walked = _walk(session, head.last_seq, {a.seq: a.row_hash for a in anchors}, batch)
    if isinstance(walked, VerifyResult):
        return walked
    checked, last_hash = walked
    if last_hash != head.last_hash:
        return VerifyResult(False, checked, None,
                            f"Plats {head.last_seq} stämmer inte med kedjehuvudet: den nyaste förseglingen har "
                            "skrivits om eller bytts ut.")
    seals = ACCESS_LOG_SEAL_TABLE
    after = session.execute(select(func.min(seals.c.seq), func.count()).where(seals.c.position > head.last_seq)).one()
    if after[1]:
        return VerifyResult(False, checked, after[0],
                            f"Rad {after[0]} har en försegling efter kedjehuvudet (plats {head.last_seq}): {after[1]} "
                            "försegling(ar) har lagts till vid sidan av applikationen.")
    return _outside(session, checked, now, bound)


def _walk(session: Session, last_position: int, published: dict[int, str], batch: int
          ) -> tuple[int, str] | VerifyResult:
    """Every seal row 1..last_position with its log row: places without gaps, rows unchanged, hashes chained."""
    log, seals = ACCESS_LOG_TABLE, ACCESS_LOG_SEAL_TABLE
    position, prev_hash, checked = 1, GENESIS_HASH, 0
    while position <= last_position:
        found = session.execute(
            select(seals.c.position, seals.c.seq.label("sealed_seq"), seals.c.chain_hash, log)
            .outerjoin(log, log.c.seq == seals.c.seq)
            .where(seals.c.position >= position, seals.c.position <= last_position)
            .order_by(seals.c.position).limit(batch)).all()
        if not found:
            break
        for row in found:
            if row.position != position:
                return VerifyResult(False, checked, None, f"Förseglingen på plats {position} saknas (nästa är plats "
                                                          f"{row.position}): rader har tagits bort.")
            problem = _row_problem(row, prev_hash, published)
            if problem:
                return VerifyResult(False, checked, row.sealed_seq, problem)
            prev_hash, position, checked = row.chain_hash, position + 1, checked + 1
    if position <= last_position:
        return VerifyResult(False, checked, None, f"Plats {position}–{last_position} saknas: kedjan slutar före "
                                                  "kedjehuvudet.")
    return checked, prev_hash


def _row_problem(row, prev_hash: str, published: dict[int, str]) -> str:
    """Why one sealed row breaks the chain ('' when it holds)."""
    seq = row.sealed_seq
    if row.seq is None:
        return f"Rad {seq} saknas (den förseglades på plats {row.position}): rader har tagits bort."
    if compute_hash(row) != row.row_hash:
        return f"Rad {seq} har ändrats efter att den skrevs."
    legacy = row.prev_hash != ""  # chained at append, before D-62
    if legacy and row.prev_hash != prev_hash:
        return f"Rad {seq} pekar inte på föregående rads hash: kedjan är bruten."
    expected = row.row_hash if legacy else chain_hash(prev_hash, seq, row.row_hash)
    if row.chain_hash != expected:
        return f"Rad {seq}: förseglingen på plats {row.position} stämmer inte med raden och kedjan före den."
    if published.get(row.position, row.chain_hash) != row.chain_hash:
        return (f"Rad {seq} (plats {row.position}) stämmer inte med det publicerade ankaret: loggen har skrivits om "
                f"(där eller före) och kedjan räknats om.")
    return ""


def _outside(session: Session, checked: int, now: dt.datetime, bound: dt.timedelta) -> VerifyResult:
    """Rows without a seal: pending while younger than ``bound``, broken when older."""
    log, seals = ACCESS_LOG_TABLE, ACCESS_LOG_SEAL_TABLE
    unsealed = select(log.c.seq, log.c.at).outerjoin(seals, seals.c.seq == log.c.seq).where(seals.c.seq.is_(None))
    late = session.execute(unsealed.where(log.c.at < now - bound).order_by(log.c.seq).limit(1)).first()
    old = session.execute(select(func.count()).select_from(unsealed.where(log.c.at < now - bound).subquery())
                          ).scalar_one()
    if late is not None:
        minutes = round(bound.total_seconds() / 60)
        return VerifyResult(False, checked, late.seq,
                            f"Rad {late.seq} är inte förseglad fast den skrevs för mer än {minutes} minuter sedan: den "
                            f"ligger utanför kedjan ({old} sådan(a) rad(er); tillagd vid sidan av applikationen, eller "
                            "så har ingen förseglare gått — kör `npo audit seal` och sedan verify igen).")
    pending = session.execute(select(func.count()).select_from(unsealed.subquery())).scalar_one()
    return VerifyResult(True, checked, pending=pending)


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
    basis: tuple[str, ...] = field(default=())  # as logged: own_provider, consent:<id>, emergency:<id> …
    relation: str | None = None  # the patient relation the access rested on (gate.RelationKind)
    detail: str = ""  # the reason the user typed (emergency, asserted relation), or a note

    @property
    def basis_text(self) -> str:
        """The basis in Swedish ("egen vårdgivare", "samtycke nr 12" …), or "–"."""
        return basis_text(self.basis)

    @property
    def relation_text(self) -> str:
        """The patient relation in Swedish, or "–"."""
        return RELATION_LABELS.get(self.relation or "", self.relation or "–")


BASIS_LABELS = {"own_provider": "egen vårdgivare", "consent": "samtycke", "emergency": "nödåtkomst",
                "emergency_block_opened": "nödöppning av spärrade uppgifter",
                "incapacity": "beslutsoförmögen patient"}
RELATION_LABELS = {"care_contact": "vårdkontakt", "booking": "bokad tid", "asserted": "påstådd patientrelation"}


def basis_text(basis: tuple[str, ...] | list[str]) -> str:
    """A logged basis list in Swedish: each kind once, with the numbers of its consents or openings."""
    numbers: dict[str, list[str]] = {}
    for entry in basis:
        kind, _, ref = str(entry).partition(":")
        numbers.setdefault(kind, [])
        if ref:
            numbers[kind].append(ref)
    order = list(BASIS_LABELS)
    parts = [BASIS_LABELS.get(kind, kind) + _refs(numbers[kind])
             for kind in sorted(numbers, key=lambda k: (order.index(k) if k in order else len(order), k))]
    return "; ".join(parts) or "–"


def _refs(refs: list[str]) -> str:
    """" nr 3, 12" for numbered consents and openings, " (id, id)" for others (a consent's id may be a UUID)."""
    if not refs:
        return ""
    if all(ref.isdigit() for ref in refs):
        return f" nr {', '.join(sorted(refs, key=int))}"
    return f" ({', '.join(sorted(refs))})"


def extract(session: Session, personnummer: str) -> list[ExtractLine]:
    """Every logged access to one patient's data, oldest first (HSLF-FS 2016:40 4 kap. 10 §), with the basis and
    the patient relation of each."""
    table = ACCESS_LOG_TABLE
    rows = session.execute(select(table).where(table.c.patient_personnummer == personnummer)
                           .order_by(table.c.seq)).all()
    return [ExtractLine(row.at, row.care_unit_hsa_id, row.care_unit_name, row.care_provider_hsa_id,
                        row.care_provider_name, row.user_hsa_id, row.action, row.resource_type, row.outcome,
                        tuple(json.loads(row.source_providers)), tuple(json.loads(row.basis)), row.relation,
                        row.detail) for row in rows]


def format_extract(personnummer: str, lines: list[ExtractLine]) -> str:
    """The extract as plain Swedish text (times in Swedish local time)."""
    out = [f"Loggutdrag för {personnummer[:8]}-{personnummer[8:]}: {len(lines)} åtkomster", ""]
    for line in lines:
        when = line.at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
        unit = f"{line.care_unit_name or '–'} ({line.care_unit_hsa_id or 'ingen vårdenhet'})"
        provider = f"{line.care_provider_name or '–'} ({line.care_provider_hsa_id or '–'})"
        sources = ", ".join(line.source_providers) or "–"
        out.append(f"{when}  {line.action} {line.resource_type} ({line.outcome})  vårdenhet: {unit}  "
                   f"vårdgivare: {provider}  användare: {line.user_hsa_id}  uppgifter från: {sources}  "
                   f"grund: {line.basis_text}  patientrelation: {line.relation_text}"
                   + (f"  skäl: {line.detail}" if line.detail else ""))
    return "\n".join(out)
