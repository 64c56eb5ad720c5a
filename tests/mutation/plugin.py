"""A pytest plugin for mutation runs only (`-p tests.mutation.plugin`, set in pyproject's [tool.mutmut]).

Hypothesis draws the same examples for every mutant and keeps no example database: a mutant's verdict must not
depend on which run found a failing example first.

mutmut runs each mutant's tests in a process forked from one warm process (its fork server, which first collects
the selection). Work that every test session repeats is done once there, so the forks inherit it: the migrated
SQLite template that each test copies (importing Alembic and migrating cost several seconds a session; the
session fixture takes the file named in NPO_TEST_SQLITE_TEMPLATE) and the Swedish holiday calendars (computed
once per year and cached by kernel.clock). Each test still gets a fresh copy of the same migrated database and
the session its own slapd; only caches are filled earlier. A cache is left empty when its module is the one being
mutated (run.py names those in NPO_MUTATION_SOURCES; without it nothing is warmed): filled by the original code, it
would hide that module's mutants. After its collection run the warm process also freezes its objects out of the
garbage collector's reach (gc.freeze): pytest collects garbage at the end of every session, and walking the
inherited heap cost each fork more than a second.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("mutation", derandomize=True, database=None, print_blob=False)
settings.load_profile("mutation")

WARM_YEARS = range(2023, 2032)  # the years the tests' dates fall in


def _migrate_once() -> None:
    """Migrate one SQLite file, which every later session copies as its template (tests/conftest.py)."""
    from npo.db import upgrade

    template = Path.cwd() / "npo-template.db"  # mutmut runs the tests in its mutants/ folder
    with tempfile.TemporaryDirectory(prefix="npo-mutation-warm-", dir=Path.cwd()) as folder:
        fresh = Path(folder) / "npo.db"
        upgrade(f"sqlite:///{fresh}")
        os.replace(fresh, template)
    os.environ["NPO_TEST_SQLITE_TEMPLATE"] = str(template)


def _holidays() -> None:
    from kernel.clock import is_business_day

    for year in WARM_YEARS:
        is_business_day(dt.date(year, 1, 1))


# (module whose mutants the cache would hide, whether the selection needs it, the warmer)
WARMERS: list[tuple[str, Callable[[list[pytest.Item]], bool], Callable[[], None]]] = [
    ("npo/db.py", lambda items: any("_sqlite_template" in getattr(i, "fixturenames", ()) for i in items),
     _migrate_once),
    ("kernel/clock.py", lambda items: True, _holidays),
]
_warmed = False
_frozen = False


def warm_up(mutated: set[str], items: list[pytest.Item]) -> None:
    """Fill the process-wide caches that every forked test session would otherwise fill itself."""
    for source, needed, warm in WARMERS:
        if source not in mutated and needed(items):
            warm()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Warm up once per process, after its first collection (in the fork server: before any fork)."""
    global _warmed
    if not _warmed and "NPO_MUTATION_SOURCES" in os.environ:
        _warmed = True
        warm_up(set(os.environ["NPO_MUTATION_SOURCES"].split(",")), session.items)


def pytest_unconfigure(config: object) -> None:
    """After the first session of the process (the fork server's collection), freeze what it loaded."""
    global _frozen
    if not _frozen and "NPO_MUTATION_SOURCES" in os.environ:
        _frozen = True
        gc.collect()
        gc.freeze()
