"""Typed request parameters shared by every route: ids in paths bounded to what SQL can hold.

An id in a path goes straight into a query; SQLite raises OverflowError for an integer of 2^63 or more, so every
integer path parameter is a :data:`RowId`. A value outside 1 … 2^63-1 names no row and is refused with a message
(422, through the one RequestValidationError handler in api/errors.py) before the route runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

MAX_ROW_ID = 2**63 - 1  # the largest BIGINT of PostgreSQL and INTEGER of SQLite
ROW_ID_ERROR = "row_id_range"


def _in_range(value: int) -> int:
    if not 1 <= value <= MAX_ROW_ID:
        raise PydanticCustomError(ROW_ID_ERROR, "an id from 1 to {max}", {"max": MAX_ROW_ID})
    return value


RowId = Annotated[int, Path(description=f"an id from 1 to {MAX_ROW_ID}"), AfterValidator(_in_range)]
