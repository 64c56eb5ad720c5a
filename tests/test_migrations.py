"""Alembic migrations reach head on SQLite and (in CI) PostgreSQL, and running them twice is harmless."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from npo.db import alembic_config, current_heads, upgrade
from tests.conftest import PostgresTemplate, pg_dump_schema, postgres_schema


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


def test_the_copy_each_test_gets_is_the_migrated_schema(db_backend: str, _sqlite_template: Path,
                                                        request: pytest.FixtureRequest) -> None:
    """db_url copies the session's migrated database (tests/conftest.py); the copy has all a migration makes."""
    if db_backend == "sqlite":
        assert current_heads(f"sqlite:///{_sqlite_template}") == _heads()
        return
    template: PostgresTemplate = request.getfixturevalue("_postgres_template")
    if template.script is None:
        pytest.skip("no pg_dump: every test migrates its own schema")
    with template.copy("cp") as copied, postgres_schema("mig") as migrated:
        assert current_heads(copied) == _heads()
        expected = _dump(template, migrated)
        assert _dump(template, copied) == expected
    with template.fresh() as first:  # the copy handed to one test after another: reset in between
        engine = create_engine(first)
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO alembic_version VALUES ('x9999')"))
            connection.execute(text("UPDATE access_log_head SET last_seq = 7"))
        engine.dispose()
    with template.fresh() as second:
        assert _dump(template, second) == expected


def _heads() -> tuple[str, ...]:
    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))


def _dump(template: PostgresTemplate, url: str) -> str:
    """The SQL of the schema at ``url`` (its rows too), with the schema's name replaced."""
    schema = url.rsplit("%3D", 1)[1].split("&", 1)[0]
    return pg_dump_schema(template.base, schema).replace(schema, "S")
