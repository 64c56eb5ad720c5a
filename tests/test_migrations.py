"""Alembic migrations reach head on SQLite and (in CI) PostgreSQL, and running them twice is harmless."""

from __future__ import annotations

import os
from pathlib import Path

from alembic.script import ScriptDirectory

from npo.db import alembic_config, current_heads, upgrade


def _url(db_backend: str, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'm.db'}" if db_backend == "sqlite" else os.environ["NPO_TEST_DATABASE_URL"]


def test_upgrade_to_head_is_idempotent(db_backend: str, tmp_path: Path) -> None:
    url = _url(db_backend, tmp_path)
    upgrade(url)
    heads = tuple(sorted(ScriptDirectory.from_config(alembic_config(url)).get_heads()))
    assert current_heads(url) == heads and heads
    upgrade(url)
    assert current_heads(url) == heads
