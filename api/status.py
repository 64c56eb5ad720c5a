"""Health of each part of the stack, for the status page and /api/health."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, text

from catalog import Directory, DirectoryError


@dataclass(frozen=True)
class PartStatus:
    """One part of the stack and how it answered."""

    key: str
    name: str
    healthy: bool
    detail: str
    where: str
    millis: float


def _timed(key: str, name: str, where: str, probe: Callable[[], str]) -> PartStatus:
    started = time.perf_counter()
    try:
        detail, healthy = probe(), True
    except Exception as exc:  # noqa: BLE001 - a status page reports every failure as "not healthy"
        detail, healthy = str(exc) or type(exc).__name__, False
    return PartStatus(key, name, healthy, detail, where, (time.perf_counter() - started) * 1000)


def database_status(engine: Engine) -> PartStatus:
    """Can we run a query?"""
    def probe() -> str:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return f"{engine.dialect.name} svarar"
    return _timed("database", "SQL-databas", engine.url.render_as_string(hide_password=True), probe)


def directory_status(directory: Directory) -> PartStatus:
    """Does Skånekatalogen answer our bind and hold providers?"""
    def probe() -> str:
        try:
            providers = directory.providers()
        except DirectoryError as exc:
            raise RuntimeError(exc.message) from exc
        if not providers:
            return "svarar, men inga vårdgivare är inlästa (kör `npo demo load`)"
        return f"svarar; {len(providers)} vårdgivare"
    return _timed("directory", "Skånekatalogen (LDAP)", directory.config.url, probe)
