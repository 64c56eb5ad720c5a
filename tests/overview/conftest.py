"""Fixtures of the overview's storage and service tests: a migrated database per test, a clinic in the real slapd.

On PostgreSQL every test migrates into a schema of its own (dropped afterwards), so tests never see each other's
rows nor leftovers in the shared database, and the access log's chain starts empty in each test.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from stdnum import luhn

from catalog import Directory
from catalog.model import Commission, Person, Validity
from kernel.runtime import make_engine
from overview import accesslog
from overview import producers as P
from overview.access import Gatekeeper
from overview.facts import GrantCache
from overview.models import AccessLog, CareContact, Patient, ProducerItem
from overview.producers import PublicationRules, SystemRule
from overview.service import acknowledge_information
from tests.conftest import Org

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
JOURNAL = "journal"  # the producer system of the test organisations' items
# Publication rules for the test organisations: one system that publishes journal notes and names, and the drug list.
RULES = PublicationRules({
    JOURNAL: SystemRule(JOURNAL, None, frozenset({"journalanteckning", "demografi"}),
                        undated=frozenset({"demografi"})),
    P.EHM: SystemRule(P.EHM, None, frozenset({P.DRUG_LIST_CATEGORY})),
})


# ---------------------------------------------------------------------- databases (db_url: tests/conftest.py)
@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """The application's engine (WAL and busy timeout on SQLite) on the test database."""
    made = make_engine(db_url)
    yield made
    made.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database; the test commits what it wants to keep."""
    with Session(engine, expire_on_commit=False) as opened:
        yield opened


# ---------------------------------------------------------------------- patients
_serials = itertools.count(int(uuid.uuid4().int % 400) + 100)


def new_personnummer(birth: dt.date = dt.date(1960, 4, 1)) -> str:
    """A personnummer (valid check digit) not used before in this session."""
    body = f"{birth:%y%m%d}{next(_serials) % 1000:03d}"
    return f"{birth.year // 100}{body}{luhn.calc_check_digit(body)}"


def add_patient(session: Session, *, birth: dt.date = dt.date(1960, 4, 1), protected: bool = False,
                given: str = "Test", surname: str = "Patient") -> Patient:
    """A patient (flushed)."""
    patient = Patient(personnummer=new_personnummer(birth), given_name=given, surname=surname,
                      street="Storgatan 1", postal_code="222 22", city="Lund", birth_date=birth,
                      protected_identity=protected)
    session.add(patient)
    session.flush()
    return patient


def add_item(session: Session, patient: Patient, provider: str, unit: str, *, when: dt.datetime = NOW - 10 * DAY,
             system: str = JOURNAL, category: str = "journalanteckning", title: str = "Anteckning",
             **more: object) -> ProducerItem:
    """A producer item (flushed)."""
    item = ProducerItem(id=str(uuid.uuid4()), personnummer=patient.personnummer, system=system, category=category,
                        care_provider_hsa_id=provider, care_unit_hsa_id=unit, date=when, title=title, **more)
    session.add(item)
    session.flush()
    return item


def add_contact(session: Session, patient: Patient, unit: str, *, start: dt.datetime = NOW - 5 * DAY,
                end: dt.datetime | None = None, kind: str = "care_contact") -> CareContact:
    """A care contact (or booking) at ``unit`` (flushed)."""
    contact = CareContact(id=str(uuid.uuid4()), personnummer=patient.personnummer, care_unit_hsa_id=unit,
                          kind=kind, start=start, end=end)
    session.add(contact)
    session.flush()
    return contact


# ---------------------------------------------------------------------- a clinic in the directory
@dataclass
class Clinic:
    """A vårdgivare with VoB SJF on unit A, two clinicians holding it, and a second vårdgivare whose data is foreign."""

    org: Org
    other: Org
    directory: Directory
    commission: Commission
    user: Person
    colleague: Person
    keeper: Gatekeeper

    @property
    def unit(self) -> str:
        return self.org.unit_a.hsa_id

    @property
    def provider(self) -> str:
        return self.org.provider.hsa_id

    def member(self, person: Person, commission: Commission | None = None, *, start: dt.datetime = NOW - 365 * DAY,
               end: dt.datetime | None = None) -> None:
        """Give ``person`` the commission (unit A's by default) for [start, end)."""
        self.directory.ensure_membership((commission or self.commission).hsa_id, person.hsa_id, Validity(start, end))

    def ready(self, session: Session, person: Person | None = None) -> None:
        """The person has confirmed the current "Information innan start"."""
        acknowledge_information(session=session, user_hsa_id=(person or self.user).hsa_id, now=NOW - DAY)

    def patient(self, session: Session, **kwargs: object) -> Patient:
        """A patient with an open care contact at unit A, one own item and one from the other vårdgivare."""
        patient = add_patient(session, **kwargs)  # type: ignore[arg-type]
        add_contact(session, patient, self.unit)
        add_item(session, patient, self.provider, self.org.unit_b.hsa_id, title="Egen anteckning")
        add_item(session, patient, self.other.provider.hsa_id, self.other.unit_a.hsa_id, title="Annan vårdgivare")
        return patient


@pytest.fixture
def clinic(directory: Directory) -> Clinic:
    """A fresh clinic: unit A holds VoB SJF; ``user`` and ``colleague`` are members since a year."""
    org, other = Org(directory), Org(directory)
    commission, _created = directory.ensure_commission(org.unit_a.hsa_id)
    user = org.person(given="Sara", surname="Testsköterska")
    colleague = org.person(given="Erik", surname="Testläkare")
    made = Clinic(org, other, directory, commission, user, colleague,
                  Gatekeeper(directory, production=True, cache=GrantCache(0), publication=RULES))
    made.member(user)
    made.member(colleague)
    return made


def verify_sealed(session: Session, **options: object) -> accesslog.VerifyResult:
    """Seal what waits as the web processes' sealers would have, each shortly after its row (the tests write at
    fixed times, hours apart), then verify the whole log at the newest row's time."""
    newest = session.exec(select(func.max(AccessLog.at))).one()
    accesslog.seal_all(session, now=newest, adopt_late=True)
    return accesslog.verify(session, now=newest, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bench():  # type: ignore[no-untyped-def]
    """bench/gate.py loaded as a module of its own (it is a script, not a package)."""
    path = Path(__file__).resolve().parents[2] / "bench" / "gate.py"
    spec = importlib.util.spec_from_file_location("bench_gate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
