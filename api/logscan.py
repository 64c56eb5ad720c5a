"""Errors in the embedded stack's logs (var/log/<part>.log) since that part last started.

The stack writes a start line into a part's log each time it starts the part (npo/stack.py); a line logged at
ERROR or CRITICAL after the last start line makes the part "not working". Prefect's flow- and task-run lines are
left out: a failed run is judged by its state, per deployment. Only the end of a log is read, so the check stays
cheap on a log that has grown for months.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from kernel.clock import local_minute

START_MARKER = "=== npo-access: "
TAIL_BYTES = 256 * 1024
_ERROR = re.compile(r"\b(ERROR|CRITICAL)\b")
_RUN_LINE = re.compile(r"\| (Flow|Task) run '")


def start_line(part: str, at: dt.datetime) -> str:
    """The line the stack writes into a part's log when it starts the part."""
    return f"{START_MARKER}{part} startad {at.astimezone(dt.UTC).isoformat(timespec='seconds')} ===\n"


@dataclass(frozen=True)
class LogErrors:
    """Error lines found in a log since the part's last start."""

    path: Path
    count: int
    last: str
    started: dt.datetime | None


def errors_since_start(path: Path) -> LogErrors | None:
    """The error lines after the last start line of ``path`` (None: no such log, or no errors in it)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - TAIL_BYTES))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(START_MARKER)]
    begin = starts[-1] + 1 if starts else 0
    started = _started_at(lines[starts[-1]]) if starts else None
    found = [line for line in lines[begin:] if _ERROR.search(line) and not _RUN_LINE.search(line)]
    if not found:
        return None
    return LogErrors(path, len(found), found[-1].strip()[:300], started)


def _started_at(line: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(line.strip(" =\n").rsplit(" ", 1)[-1])
    except ValueError:
        return None


def describe(errors: LogErrors) -> str:
    """Swedish summary for the status page: how many, since when, and the last one."""
    since = f" sedan start {local_minute(errors.started)}" if errors.started else ""
    return f"{errors.count} fel i loggen{since}; senast: {errors.last}"
