"""Domain errors of the overview. They carry no HTTP; api/errors.py maps them once (STYLE.md §8).

Every message is Swedish and says what the person can do about it.
"""

from __future__ import annotations

from kernel.errors import DomainError
from overview.gate import Reason


class OverviewError(DomainError):
    """Base of the overview's expected failures."""


class InvalidInput(OverviewError):
    """A value the user typed is wrong (→ 422 beside ``field``)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class NotFound(OverviewError):
    """The patient, consent or emergency opening asked for does not exist (→ 404)."""


class NotAllowed(OverviewError):
    """The gate refuses the action (→ 403); ``reason`` is the failing check with its remedy, when there is one."""

    def __init__(self, message: str, reason: Reason | None = None):
        super().__init__(message)
        self.reason = reason
