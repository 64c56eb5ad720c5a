"""CSV the way a Swedish spreadsheet opens it: semicolons, UTF-8 with a byte-order mark, CRLF line ends, and every
cell that begins like a formula (``= + - @``) prefixed with an apostrophe, so that text someone typed (a name, a
reason) is shown as text and never run (CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """One cell as text, defused when it begins like a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def swedish_csv(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """The rows under their headers as a Swedish-Excel CSV file."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([cell(value) for value in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
