"""Typed request parameters shared by every route: ids in paths bounded to what SQL can hold, and an address
without control characters.

An id in a path goes straight into a query; SQLite raises OverflowError for an integer of 2^63 or more, so every
integer path parameter is a :data:`RowId`. A value outside 1 … 2^63-1 names no row and is refused with a message
(422, through the one RequestValidationError handler in api/errors.py) before the route runs.

:func:`plain_address` is a dependency of the whole app: a path or query value with a control character (kernel.text)
is refused the same way, so no route passes a NUL from its address into SQL or LDAP. Form fields and JSON bodies are
checked by their parsers, which put the message beside the field.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from kernel.text import has_control_characters

MAX_ROW_ID = 2**63 - 1  # the largest BIGINT of PostgreSQL and INTEGER of SQLite
ROW_ID_ERROR = "row_id_range"
CONTROL_ERROR = "control_characters"


def _in_range(value: int) -> int:
    if not 1 <= value <= MAX_ROW_ID:
        raise PydanticCustomError(ROW_ID_ERROR, "an id from 1 to {max}", {"max": MAX_ROW_ID})
    return value


RowId = Annotated[int, Path(description=f"an id from 1 to {MAX_ROW_ID}"), AfterValidator(_in_range)]


def plain_address(request: Request) -> None:
    """Refuse a path parameter or a query parameter (name or value) that holds a control character."""
    values = [("path", name, value) for name, value in request.path_params.items() if isinstance(value, str)]
    values += [("query", name, f"{name}={value}") for name, value in request.query_params.multi_items()]
    problems = [{"type": CONTROL_ERROR, "loc": (where, name), "msg": "control characters", "input": None}
                for where, name, value in values if has_control_characters(value)]
    if problems:
        raise RequestValidationError(problems)
