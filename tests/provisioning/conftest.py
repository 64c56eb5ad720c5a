"""Ordering tests: a migrated database (SQLite, and PostgreSQL in CI) and helpers over the shared world
(tests/world.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from catalog.model import Person
from kernel.runtime import make_engine
from provisioning import automation
from provisioning.authz import Actor, load_actor
from tests.world import World

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)  # a Tuesday


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """The application's engine on a freshly migrated database (SQLite, or a PostgreSQL schema of its own)."""
    made = make_engine(db_url)
    yield made
    made.dispose()


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
