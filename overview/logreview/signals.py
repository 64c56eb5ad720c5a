"""Loading the facts the risk signals need for one round (risk.py decides): few lookups, however many rows.

Per round: one directory lookup per distinct reader (their personnummer and unit), one per distinct unit (its
people, for ``kollega``), the population register rows of the day's patients and readers in chunks, and for
``ovanlig_volym`` one grouped count per day of the baseline window. What a switched-off rule needs is not loaded.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import func
from sqlmodel import Session, col, select

from catalog import Directory, EntryNotFound, InvalidIdentifier, validate_personnummer
from kernel.clock import local_midnight
from overview.accesslog import NOT_CARE_ACCESS
from overview.logreview.risk import Reader, RiskFacts, household_key, median_of
from overview.logreview.rules import Access, ReviewConfig, Why
from overview.models import ACCESS_LOG_TABLE, Patient

CHUNK = 500  # personnummer per IN list


def day_rows(day: dt.date):
    """The access log and the filter of one Swedish day's population (patient data at a unit, not log review)."""
    table = ACCESS_LOG_TABLE
    return table, (table.c.at >= local_midnight(day), table.c.at < local_midnight(day + dt.timedelta(days=1)),
                   table.c.patient_personnummer.is_not(None), table.c.care_unit_hsa_id.is_not(None),
                   table.c.resource_type.not_in(NOT_CARE_ACCESS))


def _personnummer(value: str | None) -> str | None:
    """The directory's personnummer as 12 digits, normalised once here (None when missing or invalid)."""
    try:
        return validate_personnummer(value) if value else None
    except InvalidIdentifier:
        return None


def _register(session: Session, numbers: set[str]) -> list[Patient]:
    found: list[Patient] = []
    ordered = sorted(numbers)
    for start in range(0, len(ordered), CHUNK):
        found += session.exec(select(Patient).where(
            col(Patient.personnummer).in_(ordered[start:start + CHUNK]))).all()
    return found


def _people(directory: Directory, unit_hsa_id: str, cache: dict[str, frozenset[str]]) -> frozenset[str]:
    """Personnummer of everyone at a unit (disabled ones too: on leave is still a colleague), once per unit."""
    if unit_hsa_id not in cache:
        try:
            people = directory.people_of_unit(unit_hsa_id, include_disabled=True)
        except EntryNotFound:
            people = []
        cache[unit_hsa_id] = frozenset(n for p in people if (n := _personnummer(p.personnummer)))
    return cache[unit_hsa_id]


def _baselines(session: Session, unit_hsa_id: str, day: dt.date, readers: set[str],
               config: ReviewConfig) -> dict[str, float]:
    """Each reader's median accesses at the unit on their active days of the window before ``day``."""
    per_day: dict[str, list[int]] = defaultdict(list)
    for back in range(1, config.volume_days + 1):
        table, where = day_rows(day - dt.timedelta(days=back))
        rows = session.execute(select(table.c.user_hsa_id, func.count()).where(
            *where, table.c.care_unit_hsa_id == unit_hsa_id).group_by(table.c.user_hsa_id)).all()
        for user, count in rows:
            if user.upper() in readers:
                per_day[user.upper()].append(int(count))
    return {user: median_of(per_day.get(user, [])) for user in readers}


def load(*, session: Session, directory: Directory, unit_hsa_id: str, day: dt.date, population: list[Access],
         config: ReviewConfig) -> RiskFacts:
    """The facts of one round's risk signals (empty for the rules that are off)."""
    enabled = config.risk_rules
    users = {a.user_hsa_id for a in population}
    patients = {a.patient for a in population if a.patient}
    readers: dict[str, Reader] = {}
    if enabled & {Why.OWN_RECORD, Why.HOUSEHOLD, Why.COLLEAGUE}:
        units: dict[str, frozenset[str]] = {}
        people = {user: directory.find_person(user) for user in sorted(users)}
        numbers = {user: _personnummer(p.personnummer) if p else None for user, p in people.items()}
        register = {p.personnummer: p for p in _register(session, patients | {n for n in numbers.values() if n})}
        for user, person in people.items():
            number, own = numbers[user], register.get(numbers[user] or "")
            colleagues: frozenset[str] = frozenset()
            if Why.COLLEAGUE in enabled:
                unit_ids = {unit_hsa_id} | ({person.unit_hsa_id} if person and person.unit_hsa_id else set())
                colleagues = frozenset().union(*(_people(directory, u, units) for u in sorted(unit_ids)))
            readers[user] = Reader(number, household_key(own.surname, own.street, own.postal_code) if own else None,
                                   colleagues - {number} if number else colleagues)
        patient_rows = [register[n] for n in patients if n in register]
    else:
        patient_rows = _register(session, patients) if Why.PROTECTED in enabled else []
    households = {p.personnummer: key for p in patient_rows if not p.protected_identity
                  and (key := household_key(p.surname, p.street, p.postal_code))}
    return RiskFacts(readers=readers, households=households,
                     protected=frozenset(p.personnummer for p in patient_rows if p.protected_identity),
                     baselines=_baselines(session, unit_hsa_id, day, users, config) if Why.VOLUME in enabled else {})
