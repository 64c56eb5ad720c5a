"""Domain errors of ordering. They carry no HTTP: api/errors.py maps them once (STYLE.md §8)."""

from __future__ import annotations

from kernel.errors import DomainError


class ProvisioningError(DomainError):
    """Base class; ``message`` is Swedish and says what to do."""


class InvalidInput(ProvisioningError):
    """A value a person typed is not acceptable; ``field`` names the form field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class InvalidInputs(ProvisioningError):
    """Several fields are wrong at once (a form re-renders every message beside its field)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class NotAllowed(ProvisioningError):
    """The actor may not do this (D7 roles)."""


class NotFound(ProvisioningError):
    """No such order (or not visible to the actor)."""


class Conflict(ProvisioningError):
    """Someone else got there first, e.g. the order was already decided."""
