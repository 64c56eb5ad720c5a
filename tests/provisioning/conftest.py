"""A small world for ordering tests: a public (region) and a private health-choice unit with managers and staff,
every approver queue staffed, on the session's real slapd; a migrated database (SQLite, and PostgreSQL in CI);
a real SMTP sink."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from catalog import Directory
from catalog.model import CareProvider, CareUnit, Management, Person, RoleName
from npo.db import upgrade
from npo.runtime import make_engine
from provisioning import automation
from provisioning.authz import Actor, load_actor
from provisioning.config import ProvisioningConfig
from tests.conftest import Org, fresh_org_number

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)  # a Tuesday
PROVISIONING_TABLES = ["outbox", "audit_events", "decisions", "order_lines", "delegations", "orders"]


@dataclass
class World:
    """Everyone and everything an ordering test needs, created fresh for the test."""

    directory: Directory
    region: Org
    private_provider: CareProvider
    private_unit: CareUnit
    config: ProvisioningConfig
    public_manager: Person
    public_staff: list[Person]
    public_admin: Person  # the public unit's catalog administrator
    private_manager: Person
    private_staff: list[Person]
    skf: Person  # Skåneförvaltningen
    contract_manager: Person  # Koncernkontoret
    vgs: Person  # Vårdgivarservice
    itkp: Person  # IT Kundtjänst Privata
    sysadmin: Person

    @property
    def public_unit(self) -> CareUnit:
        return self.region.unit_a


def _person(directory: Directory, org_no: str, local: str, unit: CareUnit, given: str, surname: str) -> Person:
    return directory.create_person(Person(f"SE{org_no}-{local}", "", given, surname, title="Sjuksköterska",
                                          mail=f"{local.lower()}.{org_no}@vard.example", unit_hsa_id=unit.hsa_id))


@pytest.fixture
def world(directory: Directory) -> World:
    """A fresh region (public) and private health-choice provider with people and roles."""
    region = Org(directory)
    d = directory
    admin_unit = region.unit_b
    org_no = fresh_org_number()
    private = d.create_provider(CareProvider(f"SE{org_no}-E0001", "", f"Privat Vård {org_no} AB", org_no,
                                             Management.PRIVATE, "Hälsoval Skåne (LOV), avtal 1234", True, False))
    private_unit = d.create_unit(CareUnit(f"SE{org_no}-VC01", "", f"Vårdcentralen Privat {org_no}", private.hsa_id,
                                          kind="vårdcentral", care_agreement=private.care_agreement))
    r = region.org_no
    people = {
        "public_manager": _person(d, r, "CHEF", region.unit_a, "Maria", "Chef"),
        "public_admin": _person(d, r, "KADM", region.unit_a, "Kalle", "Katalog"),
        "private_manager": _person(d, org_no, "CHEF", private_unit, "Helena", "Privatchef"),
        "skf": _person(d, r, "SKF", admin_unit, "Karin", "Skåneförvaltningen"),
        "contract_manager": _person(d, r, "KK", admin_unit, "Per", "Avtal"),
        "vgs": _person(d, r, "VGS", admin_unit, "Eva", "Vårdgivarservice"),
        "itkp": _person(d, r, "ITKP", admin_unit, "Jonas", "Kundtjänst"),
        "sysadmin": _person(d, r, "ADM", admin_unit, "Lena", "Förvaltning"),
    }
    public_staff = [_person(d, r, f"SSK{n}", region.unit_a, "Sara", f"Sköterska{n}") for n in (1, 2, 3)]
    private_staff = [_person(d, org_no, f"SSK{n}", private_unit, "Oskar", f"Privat{n}") for n in (1, 2, 3)]
    d.set_unit_manager(region.unit_a.hsa_id, people["public_manager"].hsa_id)
    d.set_unit_manager(private_unit.hsa_id, people["private_manager"].hsa_id)
    for role, who, scope in ((RoleName.SKANEFORVALTNINGEN, "skf", None), (RoleName.CONTRACT_MANAGER, "contract_manager",
                             None), (RoleName.VARDGIVARSERVICE, "vgs", None),
                             (RoleName.IT_KUNDTJANST_PRIVATA, "itkp", None), (RoleName.SYSTEM_ADMIN, "sysadmin", None),
                             (RoleName.UNIT_CATALOG_ADMIN, "public_admin", region.unit_a.hsa_id)):
        d.ensure_role(role, scope=scope, mail=f"{role.value}@skane.example" if scope is None else None)
        d.add_role_member(role, people[who].hsa_id, scope=scope)
    config = ProvisioningConfig(region_provider_hsa_id=region.provider.hsa_id, public_base_url="http://npo.test",
                                max_attempts=3, retry_seconds=60)
    return World(directory=d, region=region, private_provider=private, private_unit=private_unit, config=config,
                 public_staff=public_staff, private_staff=private_staff, **people)


def database_url(db_backend: str, tmp_path: Path) -> str:
    if db_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'orders.db'}"
    return os.environ["NPO_TEST_DATABASE_URL"]


@pytest.fixture
def engine(db_backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database; on PostgreSQL the ordering tables are emptied first (tests run one at a time)."""
    url = database_url(db_backend, tmp_path)
    upgrade(url)
    eng = make_engine(url)
    if db_backend == "postgresql":
        with eng.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(PROVISIONING_TABLES)} RESTART IDENTITY CASCADE"))
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Callable[[], AbstractContextManager[Session]]:
    """session_scope-like factory: commit on success, roll back on error."""
    @contextmanager
    def scope() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    return scope


@pytest.fixture
def actor(world: World, sessions: Callable[[], AbstractContextManager[Session]]) -> Callable[[Person], Actor]:
    """Load the actor for a person as the web would."""
    def load(person: Person) -> Actor:
        with sessions() as session:
            found = load_actor(world.directory, session, person.hsa_id, now=NOW)
        assert found is not None
        return found
    return load


@pytest.fixture
def advance(world: World, sessions: Callable[[], AbstractContextManager[Session]]) -> Callable[..., list[str]]:
    """Run every automated step of an order, one transaction each, like the advance-order flow; returns the states."""
    def run(order_id: int, now: dt.datetime = NOW) -> list[str]:
        states = []
        pending = [order_id]
        while pending:
            current = pending.pop(0)
            while True:
                with sessions() as session:
                    step = automation.advance_one(session=session, directory=world.directory, config=world.config,
                                                  order_id=current, now=now, information="Information innan start")
                states.append(step.state.value)
                pending += step.follow_ups
                if not step.more:
                    break
        return states
    return run
