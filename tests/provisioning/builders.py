"""Order rows in an explicit starting state, for tests of the state machine and the sweep that need no directory."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlmodel import Session

from provisioning.models import Order, OrderKind, OrderState, Route

_numbers = itertools.count(1)


def make_order(session: Session, *, state: OrderState, since: dt.datetime, kind: OrderKind = OrderKind.COMMISSION,
               **workflow: object) -> Order:
    """An order row already in ``state`` since ``since`` (version 1), as submission and routing would leave it;
    ``workflow`` sets further workflow columns (queue, due_at, next_attempt_at, …)."""
    order = Order(reference=f"NPO-T-{next(_numbers):06d}", kind=kind, unit_hsa_id="SE2321000255-V1",
                  unit_name="Vårdcentralen Ett", provider_hsa_id="SE2321000255-E1", provider_name="Region Skåne",
                  route=Route.PUBLIC, requested_by="SE2321000255-CHEF", requested_by_name="Maria Chef",
                  justification="Patienter från andra regioner.", contact_name="Maria Chef",
                  contact_phone="040-123 45 67", contact_email="maria@vard.example",
                  requested_start=dt.date(2026, 12, 1), submitted_at=since, state=state, state_since=since,
                  **workflow)
    session.add(order)
    session.flush()
    return order
