"""Domain errors of the overview: the shared kinds of kernel/errors.py under the names the overview's callers import.

They carry no HTTP; api/errors.py maps them once (STYLE.md §8). Every message is Swedish and says what the person can
do about it. The gate's refusals raise NotAllowed with ``reason``, the failing check with its remedy (a
overview.gate.Reason), when there is one.
"""

from __future__ import annotations

from kernel.errors import Conflict, InvalidInput, InvalidInputs, NotAllowed, NotFound

__all__ = ["AlreadyExists", "Conflict", "InvalidInput", "InvalidInputs", "NotAllowed", "NotFound"]


class AlreadyExists(InvalidInput):
    """An id the caller chose is taken by something else (a form shows it beside the field; the service interfaces
    answer ALREADYEXISTS)."""
