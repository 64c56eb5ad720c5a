"""The one hierarchy of the project's expected failures. Domain errors carry no HTTP: api/errors.py maps them once.

``message`` is Swedish and says what the person can do about it. The shared kinds live here, so that ordering, the
overview, log review and recertification raise the same classes (provisioning.errors and overview.errors re-export
them under their old names).
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every expected failure of the domain (ordering, the overview, log review, recertification)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """A value a person typed is not acceptable; ``field`` names the form field (→ 422 beside the field)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class InvalidInputs(DomainError):
    """Several fields are wrong at once (a form re-renders every message beside its field; → 422)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class NotAllowed(DomainError):
    """The actor may not do this (→ 403); ``reason`` is what refused it (the overview's gate check), if anything."""

    def __init__(self, message: str, reason: object | None = None):
        super().__init__(message)
        self.reason = reason


class NotFound(DomainError):
    """No such thing, or not visible to the actor (→ 404)."""


class Conflict(DomainError):
    """Someone else got there first, or the thing is in a state that does not allow it (→ 409)."""
