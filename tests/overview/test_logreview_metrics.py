"""The log follow-up's figure of the driftöversikt: per unit, tasks of the last 90 days' rounds judged, open and
missed, on hand-made rounds over real log rows."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from kernel.clock import local_date
from overview import accesslog
from overview.accesslog import Action, LogEntry, Resource
from overview.logreview.metrics import completion_per_unit
from overview.logreview.models import LogReviewRound, LogReviewTask
from overview.logreview.rules import Outcome

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
U1, U2, U3 = "SE2321000255-LV1", "SE2321000255-LV2", "SE2321000255-LV3"


def _round(session: Session, unit: str, days_ago: int, deadline: dt.datetime, outcomes: list[str]) -> None:
    day = local_date(NOW) - dt.timedelta(days=days_ago)
    opened = NOW - (days_ago - 1) * DAY
    row = LogReviewRound(unit_hsa_id=unit, unit_name=f"Enhet {unit[-3:]}", day=day, population=len(outcomes) * 3,
                         opened_at=opened, deadline=deadline)
    session.add(row)
    session.flush()
    for outcome in outcomes:
        logged = accesslog.append(session, LogEntry(
            at=opened - dt.timedelta(hours=12), user_hsa_id="SE2321000255-SSK1", action=Action.READ,
            resource_type=Resource.OVERVIEW, care_unit_hsa_id=unit, patient_personnummer="196004011232"))
        session.add(LogReviewTask(round_id=row.id or 0, log_seq=logged.seq, reasons="slumpvis", outcome=outcome))
    session.flush()


def test_completion_per_unit_of_the_last_90_days(session: Session) -> None:
    J, OP, N = Outcome.JUSTIFIED.value, Outcome.OPEN.value, Outcome.NOT_JUSTIFIED.value
    _round(session, U1, 120, NOW - 110 * DAY, [OP, OP])  # before the window: not counted
    _round(session, U1, 30, NOW - 20 * DAY, [J, J, OP])  # past its deadline: the open one is missed
    _round(session, U1, 2, NOW + 5 * DAY, [J, OP])  # still open
    _round(session, U2, 10, NOW - 2 * DAY, [J, N])
    _round(session, U3, 3, NOW + DAY, [OP, OP, OP, J])
    session.commit()
    found = completion_per_unit(session, now=NOW)
    assert [(u.unit_hsa_id, u.rounds, u.total, u.done, u.open, u.missed, u.share) for u in found] == [
        (U3, 1, 4, 1, 3, 0, 25.0), (U1, 2, 5, 3, 1, 1, 60.0), (U2, 1, 2, 2, 0, 0, 100.0)]
    assert [u.unit_hsa_id for u in completion_per_unit(session, now=NOW, units={U2})] == [U2]
    assert completion_per_unit(session, now=NOW, units=set()) == []
