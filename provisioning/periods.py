"""A membership's validity must lie within its commission's: the gate uses the later start and the earlier end
(overview/facts.py), so a membership ordered outside the commission's period would be promised but refused.

Periods here are as people type them: a first day and a last day ("till och med", None = tills vidare), Swedish
dates. The directory's half-open instants (D-9) are turned into such days once, in ``of_commission``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from catalog.model import Commission
from kernel.clock import last_day, local_date


@dataclass(frozen=True)
class Period:
    """First and last day (both inclusive; None = no limit on that side)."""

    first: dt.date | None = None
    last: dt.date | None = None

    @staticmethod
    def of_commission(commission: Commission) -> Period:
        """The days a commission in the directory is in force."""
        validity = commission.validity
        if validity is None:
            return Period()
        return Period(local_date(validity.start), last_day(validity.end) if validity.end else None)

    def text(self) -> str:
        """The period in Swedish, e.g. "från och med 2026-12-08 tills vidare"."""
        start = f"från och med {self.first.isoformat()}" if self.first else "utan startdatum"
        return f"{start} {f'till och med {self.last.isoformat()}' if self.last else 'tills vidare'}"

    def within(self, first: dt.date, last: dt.date | None) -> Period:
        """The part of [first, last] that lies within this period (what a membership is really valid for)."""
        start = max(first, self.first) if self.first else first
        ends = [day for day in (last, self.last) if day is not None]
        return Period(start, min(ends) if ends else None)

    def problems(self, first: dt.date | None, last: dt.date | None, *, what: str) -> dict[str, str]:
        """Messages for the fields valid_from / valid_to when [first, last] does not lie within this period."""
        errors: dict[str, str] = {}
        limit = f"{what} gäller {self.text()}"
        if first is not None and self.first is not None and first < self.first:
            errors["valid_from"] = (f"{limit}. Behörigheten kan börja tidigast {self.first.isoformat()}; ange det "
                                    "datumet eller ett senare.")
        if first is not None and self.last is not None and first > self.last:
            errors["valid_from"] = f"{limit}. Behörigheten måste börja senast {self.last.isoformat()}."
        if self.last is not None and (last is None or last > self.last):
            errors["valid_to"] = (f"{limit}. Ange ett slutdatum senast {self.last.isoformat()}; behörigheten kan "
                                  "inte gälla längre än uppdraget.")
        return errors
