"""The SQL column types the domain shares: an aware UTC timestamp on every database, and an HSA-ID column.

SQLite has no time zone type and hands back naive datetimes; this decorator stores UTC and always returns aware
UTC values, so that code above never compares naive with aware times. Kept beside kernel.clock (D-9).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy import Column, CursorResult, DateTime, Result, String
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

from kernel.hsaid import HsaId


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive input is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column; use an aware datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class HsaIdColumn(TypeDecorator[str]):
    """An HSA-ID column: upper-cased as it is written (a query's bound value too), an `HsaId` as it is read; a
    VARCHAR of ``length`` in the schema, so existing columns change no DDL."""

    impl = String
    cache_ok = True

    def __init__(self, length: int = 32):
        super().__init__(length)

    def process_bind_param(self, value: str | None, dialect: object) -> str | None:
        return HsaId(value) if value else value

    def process_result_value(self, value: str | None, dialect: object) -> str | None:
        return HsaId(value) if value else value


def hsa_id_field(*, nullable: bool, index: bool | None = None, unique: bool | None = None, length: int = 32,
                 primary_key: bool = False) -> Any:
    """A SQLModel field for an HSA-ID column (Any: SQLModel's Field is typed as the Python value)."""
    column: Column[str] = Column(HsaIdColumn(length), nullable=nullable, index=index, unique=unique,
                                 primary_key=primary_key)
    return Field(default=None, sa_column=column) if nullable else Field(sa_column=column)


class _Stored(Protocol):
    id: int | None


def stored_id(row: _Stored) -> int:
    """The primary key of a row that has been flushed: SQLModel types every ``id`` ``int | None`` (None until the
    INSERT), so code that holds a stored row says so here rather than passing a possible None on."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet: it has not been flushed")
    return row.id


def stored_ids(ids: Iterable[int | None]) -> list[int]:
    """Primary keys selected from a table (never None there, however SQLModel types the column)."""
    out = []
    for id_ in ids:
        if id_ is None:
            raise ValueError("a stored row without an id")
        out.append(id_)
    return out


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched. sqlmodel's Session.execute is typed to return a plain Result; for these
    statements SQLAlchemy hands back a CursorResult, which has the count."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"{type(result).__name__} has no rowcount: not the result of an UPDATE or DELETE")
    return result.rowcount
