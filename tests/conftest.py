"""Shared fixtures: one real slapd per session, fresh organisations per test, SQLite and PostgreSQL databases.

Nothing of our own is mocked; the clock (freezegun) is the only thing tests replace.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Prefect reads these at import; keep its state out of ~/.prefect and turn telemetry off before anything imports it.
_PREFECT_HOME = tempfile.mkdtemp(prefix="npo-prefect-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", "0.3")

import pytest  # noqa: E402
from stdnum import luhn  # noqa: E402

from catalog import Directory  # noqa: E402
from catalog.ldapconn import DirectoryConfig  # noqa: E402
from catalog.model import CareProvider, CareUnit, Management, Person  # noqa: E402
from catalog.slapd import ManagedSlapd  # noqa: E402

pytest_plugins = ["tests.world", "tests.prefect_stack"]  # `world` (ordering tests), `prefect_stack`


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------- directory
@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedSlapd]:
    """The session's real OpenLDAP server."""
    instance = ManagedSlapd(tmp_path_factory.mktemp("ldap"), port=free_port())
    instance.start()
    yield instance
    instance.destroy()


@pytest.fixture
def make_slapd(tmp_path: Path) -> Iterator[Callable[[], ManagedSlapd]]:
    """A factory of extra slapd instances for tests that stop or break one; all are destroyed afterwards."""
    made: list[ManagedSlapd] = []

    def make() -> ManagedSlapd:
        instance = ManagedSlapd(tmp_path / f"ldap{len(made)}", port=free_port())
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.destroy()


@pytest.fixture(scope="session")
def directory_config(slapd: ManagedSlapd) -> DirectoryConfig:
    """The application bind of the session's slapd."""
    return slapd.app_config()


@pytest.fixture
def directory(directory_config: DirectoryConfig) -> Iterator[Directory]:
    """A Directory with caching off, so each test sees its own writes at once."""
    gateway = Directory(directory_config, cache_seconds=0)
    yield gateway
    gateway.close()


_org_counter = itertools.count(1)


def fresh_org_number() -> str:
    """A valid organisationsnummer not used by any other test in this session."""
    body = f"5590{next(_org_counter):05d}"
    return body + luhn.calc_check_digit(body)


class Org:
    """A private test organisation: one vårdgivare with two vårdenheter, created fresh for each test."""

    def __init__(self, directory: Directory, management: Management = Management.PUBLIC):
        self.directory = directory
        self.org_no = fresh_org_number()
        self.provider = directory.create_provider(CareProvider(
            hsa_id=f"SE{self.org_no}-E0001", dn="", name=f"Testvårdgivare {self.org_no}", org_no=self.org_no,
            management=management, consumer=True, producer=True))
        self.unit_a = directory.create_unit(CareUnit(f"SE{self.org_no}-V0001", "", "Vårdcentralen Testa",
                                                     self.provider.hsa_id, kind="vårdcentral"))
        self.unit_b = directory.create_unit(CareUnit(f"SE{self.org_no}-V0002", "", "Medicinkliniken Testby",
                                                     self.provider.hsa_id, kind="sjukhus"))
        self._people = itertools.count(1)

    def hsa(self, local: str) -> str:
        return f"SE{self.org_no}-{local}"

    def person(self, unit: CareUnit | None = None, *, given: str = "Test", surname: str = "Testsson",
               personnummer: str | None = None, local: str | None = None) -> Person:
        """Create a person at ``unit`` (default unit A)."""
        number = next(self._people)
        unit = unit or self.unit_a
        return self.directory.create_person(Person(
            hsa_id=self.hsa(local or f"P{number:04d}"), dn="", given_name=given, surname=surname,
            personnummer=personnummer, title="Sjuksköterska", unit_hsa_id=unit.hsa_id))


@pytest.fixture
def org(directory: Directory) -> Org:
    """A fresh public organisation for a test that writes to the directory."""
    return Org(directory)


# ---------------------------------------------------------------------- SQL
def with_search_path(url: str, schema: str) -> str:
    """A PostgreSQL URL whose connections use ``schema``."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@contextmanager
def postgres_schema(prefix: str = "t") -> Iterator[str]:
    """A migrated PostgreSQL schema of its own (dropped afterwards), on the NPO_TEST_DATABASE_URL server.

    The shared database keeps nothing between runs: CI and later sessions use the same server, and a migration
    of an unfinished change must never be left behind in it.
    """
    from sqlalchemy import create_engine, text

    from npo.db import upgrade

    base = os.environ["NPO_TEST_DATABASE_URL"]
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        url = with_search_path(base, schema)
        upgrade(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test gets a copy (migrating costs more than copying). In a
    mutation run every mutant's session would migrate again, so the warm process migrates once and names the file
    in NPO_TEST_SQLITE_TEMPLATE (tests/mutation/plugin.py)."""
    from npo.db import upgrade

    prepared = os.environ.get("NPO_TEST_SQLITE_TEMPLATE")
    if prepared:
        return Path(prepared)
    path = tmp_path_factory.mktemp("template") / "npo.db"
    upgrade(f"sqlite:///{path}")
    return path


def pg_dump_schema(base: str, schema: str) -> str:
    """The SQL that recreates ``schema`` of the database at ``base`` with its rows (pg_dump, psql's meta-commands
    such as \\restrict left out)."""
    import subprocess

    from sqlalchemy.engine import make_url

    target = make_url(base)
    command = [shutil.which("pg_dump") or "pg_dump", "--schema", schema, "--inserts", "--no-owner", "--no-privileges",
               "--dbname", target.database or "", "--host", target.host or "127.0.0.1",
               "--port", str(target.port or 5432), "--username", target.username or "postgres"]
    env = {**os.environ, **({"PGPASSWORD": target.password} if target.password else {})}
    dump = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    return "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))


# A schema's shape, to tell whether a test changed it (a trigger disabled and not enabled again, say).
_SHAPE = """
SELECT md5(concat_ws('|',
  (SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = n.oid),
  (SELECT string_agg(conname || ':' || contype::text || ':' || pg_get_constraintdef(oid), ',' ORDER BY conname)
     FROM pg_constraint WHERE connamespace = n.oid),
  (SELECT string_agg(t.tgname || ':' || t.tgenabled::text, ',' ORDER BY t.tgname) FROM pg_trigger t
     JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = n.oid),
  (SELECT string_agg(proname || ':' || md5(prosrc), ',' ORDER BY proname) FROM pg_proc WHERE pronamespace = n.oid),
  (SELECT string_agg(c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':'
                     || a.attnotnull || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''), ','
                     ORDER BY c.relname, a.attnum)
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.relnamespace = n.oid AND a.attnum > 0 AND NOT a.attisdropped)))
FROM pg_namespace n WHERE n.nspname = %s
"""


class PostgresTemplate:
    """One migrated PostgreSQL schema per session (per xdist worker), as a script (pg_dump of it, with its rows:
    alembic_version, the access log's head) that creates a copy under another name, the schema the migrations
    made, functions, triggers and sequences included (tests/test_migrations.py compares a copy with a freshly
    migrated schema).

    Creating and dropping a schema per test costs most of a second of catalog work; `fresh()` instead hands each
    test the worker's one copy emptied and refilled with the template's rows and sequence values (a few
    milliseconds; D-56), unless anything could tell: a connection of the previous test still busy in it (each
    copy's connections carry its name as application_name), its shape changed (_SHAPE), or the reset failed or
    waited on a lock. Then the test gets a new copy, and the old one is dropped at the end of the session. Without
    pg_dump every test migrates its own schema."""

    PLACEHOLDER = "npo_template_schema"

    def __init__(self, base: str) -> None:
        self.base = base
        self.script: str | None = None
        self._reused: str | None = None  # the copy that fresh() hands out, reset, to the next test
        self._shape = ""
        self._reset = ""
        self._made: list[str] = []  # every copy fresh() made, dropped by close()
        if shutil.which("pg_dump") is None:
            return
        with postgres_schema("tpl") as url:
            schema = url.rsplit("%3D", 1)[1]
            # the schema's name is unique (random), so replacing it is exact
            self.script = pg_dump_schema(base, schema).replace(schema, self.PLACEHOLDER)

    def _create(self, connection, schema: str) -> None:  # type: ignore[no-untyped-def]
        assert self.script is not None
        with connection.transaction():  # psycopg itself: without parameters it leaves a '%' in the SQL alone
            connection.execute(self.script.replace(self.PLACEHOLDER, schema))

    def _connect(self):  # type: ignore[no-untyped-def]
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.base).set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(url, autocommit=True)

    @contextmanager
    def copy(self, prefix: str = "t") -> Iterator[str]:
        """A new schema of the caller's own, equal to a freshly migrated one (dropped afterwards)."""
        if self.script is None:
            with postgres_schema(prefix) as url:
                yield url
            return
        schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
        with self._connect() as connection:
            self._create(connection, schema)
        try:
            yield with_search_path(self.base, schema)
        finally:
            with self._connect() as connection:
                connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    @contextmanager
    def fresh(self) -> Iterator[str]:
        """A schema equal to a freshly migrated one for one test: the reused copy, reset, or a new copy."""
        if self.script is None:
            with postgres_schema() as url:
                yield url
            return
        with self._connect() as connection:
            if not (self._reused and self._reset_reused(connection)):
                self._reused = f"t_{uuid.uuid4().hex[:16]}"
                self._made.append(self._reused)
                self._create(connection, self._reused)
                self._shape = self._shape_of(connection, self._reused)
                tables = [row[0] for row in connection.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (self._reused,))]
                rows = [line for line in self.script.replace(self.PLACEHOLDER, self._reused).splitlines()
                        if line.startswith(("INSERT INTO ", "SELECT pg_catalog.setval("))]
                self._reset = "\n".join([  # replica: neither foreign keys nor the append-only triggers fire
                    "SET LOCAL session_replication_role = replica;", "SET LOCAL lock_timeout = '2s';",
                    *(f"DELETE FROM {self._reused}.{table};" for table in tables), *rows])
        yield f"{with_search_path(self.base, self._reused)}&application_name={self._reused}"

    @staticmethod
    def _shape_of(connection, schema: str) -> str:  # type: ignore[no-untyped-def]
        return connection.execute(_SHAPE, (schema,)).fetchone()[0]

    def _reset_reused(self, connection) -> bool:  # type: ignore[no-untyped-def]
        """Empty the reused copy and refill it with the template's rows; False if it cannot be trusted to be fresh."""
        import psycopg

        assert self._reused is not None
        busy = connection.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                                  "AND state <> 'idle'", (self._reused,)).fetchone()[0]
        if busy or self._shape_of(connection, self._reused) != self._shape:
            return False
        try:
            with connection.transaction():
                connection.execute(self._reset)
        except psycopg.Error:
            return False
        return True

    def close(self) -> None:
        """Drop every copy fresh() made (a connection left open in one could make a drop wait: 30 s at most)."""
        if not self._made:
            return
        with self._connect() as connection:
            connection.execute("SET lock_timeout = '30s'")
            for schema in self._made:
                connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[PostgresTemplate]:
    """The session's migrated PostgreSQL schema, as a script that copies it (only when PostgreSQL is configured)."""
    template = PostgresTemplate(os.environ["NPO_TEST_DATABASE_URL"])
    yield template
    template.close()


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path, _sqlite_template: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A freshly migrated database: a copy of the session's migrated SQLite file, or a PostgreSQL schema equal to
    a freshly migrated one (PostgresTemplate.fresh)."""
    if db_backend == "sqlite":
        shutil.copy(_sqlite_template, tmp_path / "npo.db")
        yield f"sqlite:///{tmp_path / 'npo.db'}"
        return
    template: PostgresTemplate = request.getfixturevalue("_postgres_template")
    with template.fresh() as url:
        yield url


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    """For pytest-xdist (`make test` runs two workers, --dist loadgroup): a file's tests stay on one worker, so its
    module fixtures start once, and every test on a Prefect server shares one worker, so the servers start once.

    The marks go on before xdist's worker reads them. xdist 3.8 then puts each test's group into its node ID
    (`…@group`, which the loadgroup scheduler reads) by setting `_nodeid`, which pytest 9.2 no longer reads
    (pytest-xdist issue #1386); without the structured ID set here, every test was scheduled on its own and each
    Prefect server started on both workers (D-56)."""
    for item in items:
        on_prefect = {"prefect_server", "prefect_stack"} & set(getattr(item, "fixturenames", ()))
        item.add_marker(pytest.mark.xdist_group("prefect" if on_prefect else item.nodeid.split("::")[0]))
    yield
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # an older pytest reads `_nodeid` itself
        return
    if getattr(config.option, "loadgroup", False):
        for item in items:
            grouped = getattr(item, "_nodeid", None)
            if isinstance(grouped, str) and grouped != item.nodeid and "@" in grouped:
                item._id = NodeId.parse(grouped)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> Iterator[None]:
    """Each test's database is new, often under a URL an earlier test used: the process's memos of database facts
    (the publication rules in force, confirmed "Information innan start"; D-64) start empty with it."""
    from overview import facts, publication

    publication.forget_current()
    facts.forget_acknowledged()
    yield


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that takes ``db_backend`` once per configured database."""
    if "db_backend" in metafunc.fixturenames:
        backends = ["sqlite"] + (["postgresql"] if os.environ.get("NPO_TEST_DATABASE_URL") else [])
        metafunc.parametrize("db_backend", backends)


# ---------------------------------------------------------------------- application
@pytest.fixture
def app_settings(tmp_path: Path, directory_config: DirectoryConfig, _sqlite_template: Path):  # type: ignore[no-untyped-def]
    """Settings for an app on the session's slapd and a fresh, migrated SQLite database (a copy of the session's
    template); runtime uses them."""
    from kernel import runtime
    from kernel.settings import Settings

    shutil.copy(_sqlite_template, tmp_path / "npo.db")  # the session's migrated file (migrating costs more)
    settings = Settings(var_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'npo.db'}",
                        ldap_url=directory_config.url, ldap_bind_dn=directory_config.bind_dn,
                        ldap_password=directory_config.password, ldap_cache_seconds=0, env="test",
                        smtp_port=free_port())  # nothing listens; not 8025, where make run's sink may
    runtime.configure(settings)
    yield settings
    runtime.configure(Settings(var_dir=tmp_path / "unused"))


@pytest.fixture
def client(app_settings):  # type: ignore[no-untyped-def]
    """A TestClient on the real app."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


# ---------------------------------------------------------------------- Prefect
@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A real Prefect API server (temporary database) for the whole session, started on first use."""
    import pydantic.v1  # noqa: F401  (STACK.md: import before freezegun ever freezes the clock)
    import pydantic.v1.error_wrappers  # noqa: F401
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


# ---------------------------------------------------------------------- mail
class MailSink:
    """A real SMTP server (aiosmtpd) on a free port that keeps what it receives."""

    def __init__(self) -> None:
        import email
        from email import policy

        from aiosmtpd.controller import Controller

        self.messages: list = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
                message = email.message_from_bytes(envelope.content, policy=policy.default)
                sink.messages.append((list(envelope.rcpt_tos), message))
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def subjects(self) -> list[str]:
        return [str(message["Subject"]) for _to, message in self.messages]

    def to(self, address: str) -> list:
        return [message for rcpt, message in self.messages if address in rcpt]

    def wait_for(self, predicate: Callable[[MailSink], bool], timeout: float = 15.0) -> bool:
        """Wait until ``predicate(self)`` holds (mail is sent after the response, by a background step)."""
        import time

        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True


@pytest.fixture
def smtp_sink() -> Iterator[MailSink]:
    """A running SMTP sink for one test."""
    sink = MailSink()
    sink.start()
    yield sink
    sink.stop()
