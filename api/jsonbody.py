"""Reading a JSON request body: bounded in size and in nesting depth, an object at the top; and showing its model
in the OpenAPI schema (``documented_body``).

Python's json parser recurses once per level of nesting, so 20,000 brackets (40 KB, well under the size limit) end
in RecursionError. The depth is therefore measured on the raw bytes before parsing, in one linear pass that skips
brackets inside strings. The API's bodies are flat objects; a few levels leave room for lists of values.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel

from provisioning.errors import InvalidInput

MAX_BODY = 64_000
MAX_DEPTH = 8
_SPECIAL = re.compile(rb'[\[\]{}"\\]')


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string, escaped_at = False, -1
    for match in _SPECIAL.finditer(raw):
        at, char = match.start(), match.group()
        if at == escaped_at:
            continue
        if in_string:
            if char == b"\\":
                escaped_at = at + 1
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or InvalidInput("body") saying what is wrong with it."""
    if len(raw) > MAX_BODY:
        raise InvalidInput("body", f"Förfrågan är för stor (högst {MAX_BODY} byte).")
    if nesting_depth(raw) > MAX_DEPTH:
        raise InvalidInput("body", f"Förfrågan är för djupt nästlad (högst {MAX_DEPTH} nivåer).")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("body", "Förfrågan är inte giltig JSON.") from None
    if not isinstance(data, dict):
        raise InvalidInput("body", "Förfrågan ska vara ett JSON-objekt.")
    return data


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: _inline(value, defs) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_inline(value, defs) for value in node]
    return node


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` that shows ``model`` as the operation's JSON request body. The body itself is read with
    ``json_object`` (bounded before parsing, which FastAPI's own body parsing is not) and checked by the domain's
    readers, whose Swedish messages name each field; the schema is the model's, self-contained."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": _inline(schema, schema.get("$defs", {}))}}}}
