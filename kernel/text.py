"""Free text as people type it: which characters are refused everywhere, in one place.

Every parser of what a person submits (forms, JSON, addresses) refuses the same characters, with its own Swedish
message beside the field: the C0 and C1 control characters except tab, line feed and carriage return (PostgreSQL
cannot store NUL in text at all, and the others are invisible in every page and mail that shows the text), and lone
UTF-16 surrogates (a JSON ``"\\ud800"`` decodes to one, and no database can encode it).
"""

from __future__ import annotations

import re

_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def has_control_characters(text: str) -> bool:
    """True when ``text`` holds a character that free text may not contain (see the module docstring)."""
    return _REFUSED.search(text) is not None
