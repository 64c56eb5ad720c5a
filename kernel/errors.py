"""The one base of the project's expected failures. Domain errors carry no HTTP: api/errors.py maps them once.

``message`` is Swedish and says what the person can do about it.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every expected failure of the domain (ordering, the overview, log review, recertification)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
