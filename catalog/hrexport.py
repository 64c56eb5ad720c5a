"""Reading (and, for demos and benchmarks, writing) the HR export that feeds Skånekatalogen.

The format is documented in docs/hr-export.md: CSV, UTF-8 (a BOM is fine), ``;`` or ``,`` as delimiter, a header
row, dates as YYYY-MM-DD. Every row is checked on its own: a bad row is reported with its line number and reason
and the rest of the file is still used. Only a file that cannot be read at all (no header, a required column
missing) is refused as a whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from catalog.identifiers import InvalidIdentifier, validate_hsa_id, validate_personnummer

REQUIRED_COLUMNS = ("personnummer", "given_name", "surname", "unit_hsa_id", "title", "employment_start",
                    "employment_end")
OPTIONAL_COLUMNS = ("hsa_title", "pa_title_code", "mail")
MAX_NAME = 64
MAX_TITLE = 128


class HrExportError(ValueError):
    """The file as a whole cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class HrRow:
    """One valid employment row."""

    line: int
    personnummer: str
    given_name: str
    surname: str
    unit_hsa_id: str
    title: str
    employment_start: dt.date
    employment_end: dt.date | None
    hsa_titles: tuple[str, ...] | None = None  # None: column absent, leave the directory's value alone
    pa_title_codes: tuple[str, ...] | None = None
    mail: str | None = None
    has_mail: bool = False
    # a mover's earlier employment, when the file carries it as a second row (the later row is the employment)
    previous_unit_hsa_id: str | None = None
    previous_end: dt.date | None = None


@dataclass(frozen=True)
class RejectedRow:
    """A row that was not used, and why (Swedish, for the catalog administrator)."""

    line: int
    reason: str
    personnummer: str | None = None  # when it was readable: such a person is never treated as a leaver


@dataclass
class HrExport:
    """The usable rows and the rejected ones of one export."""

    source: str
    rows: list[HrRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    columns: tuple[str, ...] = ()


def mask_personnummer(personnummer: str | None) -> str:
    """Show a personnummer with its last four digits hidden (reports and logs)."""
    if not personnummer:
        return "–"
    return f"{personnummer[:8]}-****"


def _date(value: str, column: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column} {value!r} är inget datum på formen ÅÅÅÅ-MM-DD") from None


def _has_undecodable(values: Iterable[str]) -> int | None:
    for value in values:
        for _index, char in enumerate(value):
            if "\udc80" <= char <= "\udcff":
                return ord(char) - 0xDC00
    return None


def read_export(source: Path | str | bytes, *, name: str | None = None) -> HrExport:
    """Parse an HR export; raises HrExportError only when no row can be read at all."""
    if isinstance(source, bytes):
        data, label = source, name or "<bytes>"
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise HrExportError(f"HR-filen {path} kan inte läsas: {exc.strerror or exc}") from exc
        label = name or str(path)
    text = data.decode("utf-8", errors="surrogateescape").lstrip("\ufeff")
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise HrExportError(f"HR-filen {label} är tom eller saknar rubrikrad.")
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise HrExportError(
            f"HR-filen {label} saknar kolumnerna {', '.join(missing)}. Rubrikraden ska innehålla "
            f"{', '.join(REQUIRED_COLUMNS)} (se docs/hr-export.md).")
    export = HrExport(source=label, columns=tuple(header))
    index = {column: header.index(column) for column in header}
    valid: list[HrRow] = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        try:
            valid.append(_row(values, index, line))
        except ValueError as exc:
            export.rejected.append(RejectedRow(line, str(exc), _readable_pnr(values, index)))
    rows_of: dict[str, list[HrRow]] = {}
    for row in valid:
        rows_of.setdefault(row.personnummer, []).append(row)
    for rows in rows_of.values():
        if len(rows) == 1:
            export.rows.append(rows[0])
            continue
        history = _employment_history(rows)
        if isinstance(history, HrRow):
            export.rows.append(history)
            continue
        for row in rows:  # an ambiguous person: every one of their rows is set aside
            export.rejected.append(RejectedRow(
                row.line, f"personnumret {mask_personnummer(row.personnummer)} förekommer på raderna "
                          f"{', '.join(str(r.line) for r in rows)}; {history}; ingen av dem används",
                row.personnummer))
    export.rows.sort(key=lambda r: r.line)
    export.rejected.sort(key=lambda r: r.line)
    return export


def _employment_history(rows: list[HrRow]) -> HrRow | str:
    """Two rows of one person are a move when the earlier employment ends before the later one starts: the later
    row is the employment and carries the earlier one's unit and last day. Anything else is ambiguous: the reason."""
    if len(rows) > 2:
        return "högst två rader per person (en avslutad och en ny anställning) är tillåtna"
    earlier, later = sorted(rows, key=lambda r: r.employment_start)
    if earlier.employment_end is None or earlier.employment_end >= later.employment_start:
        return ("anställningarna överlappar; en flytt anges med ett slutdatum på den tidigare anställningen som "
                "ligger före den nya anställningens start")
    return replace(later, previous_unit_hsa_id=earlier.unit_hsa_id, previous_end=earlier.employment_end)


def _readable_pnr(values: list[str], index: dict[str, int]) -> str | None:
    try:
        return validate_personnummer(values[index["personnummer"]])
    except (InvalidIdentifier, IndexError):
        return None


def _row(values: list[str], index: dict[str, int], line: int) -> HrRow:
    bad_byte = _has_undecodable(values)
    if bad_byte is not None:
        raise ValueError(f"raden är inte UTF-8 (ogiltig byte 0x{bad_byte:02X}); exportera filen som UTF-8")
    if len(values) < len(index):
        raise ValueError(f"raden har {len(values)} fält men rubrikraden har {len(index)}")
    if len(values) > len(index):
        raise ValueError(f"raden har {len(values)} fält men rubrikraden bara {len(index)} (fel avgränsare?)")

    def get(column: str) -> str:
        return values[index[column]].strip() if column in index else ""

    try:
        pnr = validate_personnummer(get("personnummer"))
        unit = validate_hsa_id(get("unit_hsa_id")) if get("unit_hsa_id") else ""
    except InvalidIdentifier as exc:
        raise ValueError(exc.message) from None
    if not unit:
        raise ValueError("unit_hsa_id (anställande enhet) saknas")
    given, surname, title = get("given_name"), get("surname"), get("title")
    for column, value, limit in (("given_name", given, MAX_NAME), ("surname", surname, MAX_NAME),
                                 ("title", title, MAX_TITLE)):
        if not value:
            raise ValueError(f"{column} saknas")
        if len(value) > limit:
            raise ValueError(f"{column} är {len(value)} tecken; högst {limit} är tillåtet")
        if any(ord(c) < 32 for c in value):
            raise ValueError(f"{column} innehåller styrtecken")
    start = _date(get("employment_start"), "employment_start")
    end = _date(get("employment_end"), "employment_end") if get("employment_end") else None
    if end is not None and end < start:
        raise ValueError(f"employment_end {end} ligger före employment_start {start}")
    mail = get("mail") or None
    if mail and ("@" not in mail or len(mail) > 256 or " " in mail):
        raise ValueError(f"mail {mail!r} är ingen e-postadress")
    return HrRow(
        line=line, personnummer=pnr, given_name=given, surname=surname, unit_hsa_id=unit, title=title,
        employment_start=start, employment_end=end,
        hsa_titles=tuple(t for t in get("hsa_title").split("|") if t) if "hsa_title" in index else None,
        pa_title_codes=tuple(t for t in get("pa_title_code").split("|") if t) if "pa_title_code" in index else None,
        mail=mail, has_mail="mail" in index,
    )


def write_export(path: Path, rows: Iterable[dict[str, str]]) -> int:
    """Write an HR export (demo and benchmark data) with every documented column; returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS], delimiter=";")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    return count
