"""The access log's sealer as a web process runs it (D-62): a daemon thread sealing new rows every second.

Every web process runs one, so the log is sealed while any of them lives; on PostgreSQL the one that holds the
chain's head seals and the others skip, under SQLite the write lock takes them in turn. A failing pass (the database
away) is logged and tried again; it never touches a request. The sweep and the daily follow-up seal as well.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from overview import accesslog

log = logging.getLogger("npo.sealer")


class Sealer:
    """Seal every ``interval`` seconds until stopped."""

    def __init__(self, engine: Callable[[], Engine], interval: float = 1.0):
        self.engine, self.interval = engine, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sealed = 0

    def start(self) -> None:
        if self._thread is None and self.interval > 0:
            self._thread = threading.Thread(target=self._run, name="access-log-sealer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def pass_once(self) -> int:
        """One pass: seal what waits (in batches), commit; the number sealed."""
        with Session(self.engine()) as session:
            sealed = accesslog.seal_all(session)
        self.sealed += sealed
        return sealed

    def _run(self) -> None:
        failures = 0
        while not self._stop.wait(self.interval * min(2 ** failures, 30)):
            try:
                self.pass_once()
                failures = 0
            except (SQLAlchemyError, OSError) as exc:
                failures += 1
                log.warning("förseglaren: åtkomstloggen kunde inte förseglas (%s: %s); försöker igen",
                            exc.__class__.__name__, str(exc).splitlines()[0] if str(exc) else "")
