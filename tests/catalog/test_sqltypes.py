"""kernel.sqltypes' helpers for what SQLModel types loosely: a stored row's id and an UPDATE's row count."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, update

from kernel.sqltypes import rowcount, stored_id, stored_ids


@dataclass
class _Row:
    id: int | None


def test_stored_id_is_the_id_of_a_flushed_row_and_refuses_an_unflushed_one():
    assert stored_id(_Row(7)) == 7
    with pytest.raises(ValueError, match="_Row has no id yet: it has not been flushed"):
        stored_id(_Row(None))


def test_stored_ids_keeps_the_order_and_refuses_a_missing_id():
    assert stored_ids([3, 1, 2]) == [3, 1, 2]
    with pytest.raises(ValueError, match="a stored row without an id"):
        stored_ids([1, None])


def test_rowcount_counts_the_rows_an_update_matched_and_refuses_a_result_without_a_cursor():
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer))
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": 1, "n": 0}, {"id": 2, "n": 0}, {"id": 3, "n": 1}])
        assert rowcount(conn.execute(update(table).where(table.c.n == 0).values(n=5))) == 2
        assert rowcount(conn.execute(update(table).where(table.c.n == 9).values(n=5))) == 0
        with pytest.raises(TypeError, match="not the result of an UPDATE or DELETE"):
            rowcount(conn.execute(select(table)).freeze()())  # a replayed result: rows, no cursor
