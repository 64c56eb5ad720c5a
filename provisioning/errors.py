"""Domain errors of ordering: the shared kinds of kernel/errors.py under the names ordering's callers import.

They carry no HTTP: api/errors.py maps them once (STYLE.md §8).
"""

from __future__ import annotations

from kernel.errors import Conflict, InvalidInput, InvalidInputs, NotAllowed, NotFound

__all__ = ["Conflict", "InvalidInput", "InvalidInputs", "NotAllowed", "NotFound"]
