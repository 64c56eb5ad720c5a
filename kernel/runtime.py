"""Process-wide resources built from the settings: the settings themselves, the SQL engine and sessions, and a
cache of other per-process resources (the Directory: `catalog.runtime`).

`api`, `flows` and the shell take their resources from here. Services never import this module: they receive
what they need.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

from kernel.settings import Settings, load_settings

_lock = threading.Lock()
_settings: Settings | None = None
_engine: Engine | None = None
_resources: dict[str, Any] = {}

T = TypeVar("T")


def settings() -> Settings:
    """The settings of this process (read once)."""
    global _settings
    with _lock:
        if _settings is None:
            _settings = load_settings()
        return _settings


def configure(new: Settings) -> None:
    """Use ``new`` from now on (tests, the CLI); drops cached resources."""
    global _settings, _engine
    with _lock:
        for resource in _resources.values():
            close = getattr(resource, "close", None)
            if close is not None:
                close()
        _resources.clear()
        if _engine is not None:
            _engine.dispose()
        _settings, _engine = new, None


READ_ONLY = "npo_read_only"
_HOLDS_WRITER = "npo_holds_writer"


def reads(bind: Engine) -> Engine:
    """``bind`` for a transaction that only reads: under SQLite it takes no write lock (D-62), so a page's reads
    never queue behind another request's write. Writing through it is a mistake that SQLite may refuse."""
    return bind.execution_options(**{READ_ONLY: True})


class _WriterLock:
    """SQLite's writers in turn, across threads and processes (D-62): a thread lock, then ``flock`` on a file beside
    the database, which the kernel hands to the next waiter the moment it is released. The busy handler behind
    BEGIN IMMEDIATE stays the last word (a process that does not take this lock, e.g. the sqlite3 shell)."""

    def __init__(self, path: str | None):
        self._thread = threading.Lock()
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self._thread.acquire()
        try:
            if self._path is not None:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise

    def release(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout so that threads can share it."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            # SQLite's lower() folds ASCII only; searches ("åhus", "öberg") need Swedish letters folded as well.
            dbapi_connection.create_function("lower", 1, lambda s: s.lower() if isinstance(s, str) else s,
                                             deterministic=True)
            # pysqlite starts transactions lazily, so a SAVEPOINT before the first write runs in autocommit and
            # RELEASE commits it for good; take over transaction control (SQLAlchemy's documented pysqlite fix).
            dbapi_connection.isolation_level = None

        writer = _WriterLock(f"{path}-writer" if path and path != ":memory:" else None)

        def _release(connection) -> None:
            if connection.info.pop(_HOLDS_WRITER, False):
                writer.release()

        @event.listens_for(engine, "commit")
        def _after_commit(connection):
            _release(connection)

        @event.listens_for(engine, "rollback")
        def _after_rollback(connection):
            _release(connection)

        @event.listens_for(engine, "begin")
        def _begin(connection):
            # IMMEDIATE: one writer at a time, waiting on the busy timeout instead of failing a read snapshot
            # that later writes (the embedded default; production runs PostgreSQL). A read-only scope (`reads`)
            # begins DEFERRED: under WAL it reads a snapshot and waits for no writer.
            # Writers queue on a lock of their own first (_WriterLock): SQLite's busy handler polls with sleeps of
            # up to 100 ms, so under load a waiting writer slept while the write lock stood free (bench/gate.py:
            # 69 % of a read's time was BEGIN IMMEDIATE waiting).
            deferred = connection.get_execution_options().get(READ_ONLY)
            if not deferred and not connection.info.get(_HOLDS_WRITER):
                writer.acquire()
                connection.info[_HOLDS_WRITER] = True
            try:
                connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")
            except BaseException:
                _release(connection)
                raise

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def engine() -> Engine:
    """The SQL engine of this process."""
    global _engine
    current = settings()
    with _lock:
        if _engine is None:
            _engine = make_engine(current.sql_url)
        return _engine


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error (flows and the CLI own their transactions)."""
    with Session(engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_scope() -> Iterator[Session]:
    """A session for reads only (``reads``); it writes nothing and rolls back at the end."""
    with Session(reads(engine()), expire_on_commit=False) as session:
        try:
            yield session
        finally:
            session.rollback()


def resource(name: str, build: Callable[[Settings], T]) -> T:
    """The process's one ``name`` resource, built from the settings on first use and closed by `configure`."""
    current = settings()
    with _lock:
        if name not in _resources:
            _resources[name] = build(current)
        return cast(T, _resources[name])
