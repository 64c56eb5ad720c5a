"""Each person's last NPÖ read through one commission, from the access log as the overview writes it: granted overview
reads count (Läsa and Nödöppning), through this commission only; one grouped query on its own index."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, event
from sqlmodel import Session

from overview import accesslog
from overview.accesslog import Action, LogEntry, Outcome, Resource
from overview.usage import last_reads
from tests.overview.conftest import DAY, NOW

COMMISSION, OTHER = "SE2321000255-UNIT-SJF", "SE2321000255-OTHER-SJF"
ANNA, BO, CE = "SE2321000255-ANNA", "SE2321000255-BO", "SE2321000255-CE"


def log(session: Session, user: str, at: dt.datetime, *, commission: str = COMMISSION, action: Action = Action.READ,
        resource: Resource = Resource.OVERVIEW, outcome: Outcome = Outcome.GRANTED) -> None:
    accesslog.append(session, LogEntry(at=at, user_hsa_id=user, action=action, resource_type=resource,
                                       outcome=outcome, commission_hsa_id=commission,
                                       patient_personnummer="196004011232"))


def test_the_last_granted_overview_read_through_the_commission_per_person(session: Session) -> None:
    log(session, ANNA, NOW - 30 * DAY)
    log(session, ANNA, NOW - 2 * DAY)
    log(session, ANNA, NOW - 90 * DAY)
    log(session, BO, NOW - 200 * DAY, action=Action.EMERGENCY)  # a nödöppning reads the overview too
    log(session, BO, NOW - DAY, commission=OTHER)  # through another commission: says nothing about this one
    log(session, BO, NOW - DAY, outcome=Outcome.REFUSED)  # refused: nothing was read
    log(session, BO, NOW - DAY, action=Action.WRITE, resource=Resource.CONSENT)  # a consent is no overview read
    log(session, CE, NOW - DAY, commission=OTHER)
    session.commit()
    assert last_reads(session, commission_hsa_id=COMMISSION, person_hsa_ids=[ANNA, BO, CE]) == {
        ANNA: NOW - 2 * DAY, BO: NOW - 200 * DAY}
    assert last_reads(session, commission_hsa_id=COMMISSION) == {ANNA: NOW - 2 * DAY, BO: NOW - 200 * DAY}
    assert last_reads(session, commission_hsa_id=OTHER, person_hsa_ids=[BO, CE]) == {BO: NOW - DAY, CE: NOW - DAY}
    found = last_reads(session, commission_hsa_id=COMMISSION.lower(), person_hsa_ids=[ANNA.lower()])
    assert found == {ANNA: NOW - 2 * DAY} and found[ANNA].tzinfo == dt.UTC  # HSA-IDs compare without case


def test_only_the_persons_asked_about_and_none_when_nobody_is_asked_about(session: Session) -> None:
    log(session, ANNA, NOW - DAY)
    log(session, BO, NOW - DAY)
    session.commit()
    assert last_reads(session, commission_hsa_id=COMMISSION, person_hsa_ids=[BO, CE]) == {BO: NOW - DAY}
    assert last_reads(session, commission_hsa_id=COMMISSION, person_hsa_ids=[]) == {}


def test_the_query_reads_only_its_index(engine: Engine, session: Session) -> None:
    if engine.dialect.name != "sqlite":
        return  # the plan's wording is SQLite's; PostgreSQL's planner chooses by statistics
    sent: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement: str, parameters: object, _context, _many) -> None:  # type: ignore[no-untyped-def]
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        last_reads(session, commission_hsa_id=COMMISSION, person_hsa_ids=[ANNA, BO])
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    [(statement, parameters)] = [s for s in sent if "max(" in s[0]]  # one grouped query, whatever the members
    plan = " ".join(str(row[-1]) for row in session.connection().exec_driver_sql(
        f"EXPLAIN QUERY PLAN {statement}", parameters))  # type: ignore[arg-type]
    assert "COVERING INDEX ix_access_log_usage" in plan, plan
