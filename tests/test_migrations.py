"""Alembic migrations reach head on SQLite and (in CI) PostgreSQL, and running them twice is harmless."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from npo.db import alembic_config, current_heads, upgrade
from tests.conftest import postgres_schema


def test_upgrade_to_head_is_idempotent(db_backend: str, tmp_path: Path) -> None:
    if db_backend == "sqlite":
        _check(f"sqlite:///{tmp_path / 'm.db'}")
    else:
        with postgres_schema("mig") as url:  # migrated once by the fixture; migrating again must change nothing
            _check(url)


def _check(url: str) -> None:
    upgrade(url)
    heads = tuple(sorted(ScriptDirectory.from_config(alembic_config(url)).get_heads()))
    assert current_heads(url) == heads and heads
    upgrade(url)
    assert current_heads(url) == heads
