"""The one LDAP connection point: connection reuse per thread, paged searches, error mapping, time codec.

Everything above this module sees :class:`DirectoryUnavailable` (LDAP down, unreachable or busy) or
:class:`DirectoryError` (a refused operation), never an ldap3 exception.

A config may name several servers (the providers of one replicated directory): connections then come from an
ldap3 ``ServerPool`` that hands out the first live one, and an operation whose server dies is retried once on the
next; only when none answers is the directory unavailable.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from ldap3 import BASE, FIRST, LEVEL, NONE, SUBTREE, SYNC, Connection, Server, ServerPool, set_config_parameter
from ldap3.core.exceptions import (
    LDAPBindError,
    LDAPCommunicationError,
    LDAPResponseTimeoutError,
    LDAPServerPoolExhaustedError,
    LDAPStartTLSError,
)
from ldap3.utils.conv import escape_filter_chars

T = TypeVar("T")

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
# resultCode values (RFC 4511 §4.1.9) that mean "try again later" rather than "refused".
_UNAVAILABLE_CODES = {51, 52, 80}  # busy, unavailable, other (slapd shutting down)
NO_SUCH_OBJECT = 32
ALREADY_EXISTS = 68
SCOPES: dict[str, Literal["BASE", "LEVEL", "SUBTREE"]] = {"base": BASE, "one": LEVEL, "sub": SUBTREE}
# How long a server the pool found dead is skipped before it is probed again (while another one answers).
POOL_RECHECK_SECONDS = 10


class DirectoryError(Exception):
    """The directory refused an operation; ``message`` says what happened."""

    def __init__(self, message: str, *, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code


class DirectoryUnavailable(DirectoryError):
    """Skånekatalogen cannot be reached (down, unreachable, busy). Work that needs it must wait and retry."""


class EntryNotFound(DirectoryError):
    """A unit, person or commission the caller named is not in the directory."""


@dataclass(frozen=True)
class DirectoryConfig:
    """Where and as whom to bind. ``url`` may list several servers, separated by spaces or commas (`urls`)."""

    url: str
    base: str
    bind_dn: str
    password: str = field(repr=False)
    page_size: int = 1000
    connect_timeout: float = 3.0
    receive_timeout: int = 15

    @property
    def urls(self) -> tuple[str, ...]:
        """Every server ``url`` names, in the order they are tried."""
        return tuple(part.rstrip("/") for part in re.split(r"[\s,]+", self.url.strip()) if part)


Entry = tuple[str, Mapping[str, list[str]]]


def ldap_time(value: dt.datetime) -> str:
    """GeneralizedTime (UTC) for an aware datetime."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the directory; use an aware one")
    return value.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")


def parse_ldap_time(value: str | None) -> dt.datetime | None:
    """Aware UTC datetime from GeneralizedTime ('20261125120000Z', fractions allowed), or None."""
    if not value:
        return None
    text = value.rstrip("Z").split(".")[0].split(",")[0]
    return dt.datetime.strptime(text.ljust(14, "0"), "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)


def escape(value: str) -> str:
    """Escape a value for use inside an LDAP filter (RFC 4515)."""
    return escape_filter_chars(value)


def _forget(conn: Connection, *, dead: bool = False) -> None:
    """Drop the state a ServerPool keeps per connection it served (it never drops one itself); with ``dead``,
    first mark the connection's server offline, so the pool skips it for POOL_RECHECK_SECONDS."""
    if conn.server_pool is None:
        return
    state = conn.server_pool.pool_states.pop(conn, None)
    if dead and state is not None:
        for server_state in state.server_states:
            if server_state.server is conn.server:
                server_state.available = False
                server_state.last_checked_time = dt.datetime.now()  # ldap3 compares naive local times


class LdapSession:
    """Thread-local ldap3 connections to one directory, reused across calls and re-opened after a failure."""

    def __init__(self, config: DirectoryConfig):
        self.config = config
        self._local = threading.local()
        self._all: list[Connection] = []
        self._lock = threading.Lock()
        self._pool = self._new_pool() if len(config.urls) > 1 else None

    # ------------------------------------------------------------------ connections
    def _new_pool(self) -> ServerPool:
        """A pool over every configured server: FIRST live one, one pass (active=1), dead ones skipped a while."""
        # After a pass that found no live server ldap3 sleeps POOLING_LOOP_TIMEOUT (10 s) before giving up, even
        # with active=1; with 0 "every server is down" is known as soon as each refused (ServerPool reads nothing
        # else of this process-wide setting).
        set_config_parameter("POOLING_LOOP_TIMEOUT", 0)
        servers = [Server(url, get_info=NONE, connect_timeout=self.config.connect_timeout) for url in self.config.urls]
        # ldap3 takes a number of passes for `active` and seconds for `exhaust` (pooling.py); its stubs say bool.
        return ServerPool(servers, FIRST, active=1, exhaust=POOL_RECHECK_SECONDS)  # type: ignore[arg-type]

    def _server(self) -> Server | ServerPool:
        if self._pool is not None:
            return self._pool
        # A fresh Server each time: ldap3 marks an address unusable after a failed connect and never retries it.
        return Server(self.config.url.rstrip("/"), get_info=NONE, connect_timeout=self.config.connect_timeout)

    def _open(self) -> Connection:
        """A new bound connection; with several servers each is tried at most once, the pool's choice first."""
        tries = len(self.config.urls) if self._pool is not None else 1
        for attempt in range(1, tries + 1):
            conn = Connection(self._server(), user=self.config.bind_dn, password=self.config.password,
                              client_strategy=SYNC, raise_exceptions=False,
                              receive_timeout=int(self.config.receive_timeout), return_empty_attributes=True)
            try:
                self._bind(conn)
            except LDAPServerPoolExhaustedError as exc:
                _forget(conn)
                # Every server was down or skipped as recently dead: probe them all afresh on the next call.
                self._pool = self._new_pool()
                raise DirectoryUnavailable(
                    f"Skånekatalogen cannot be reached: none of its servers answers "
                    f"(tried {', '.join(self.config.urls)}).") from exc
            except (LDAPCommunicationError, LDAPResponseTimeoutError, LDAPStartTLSError, LDAPBindError) as exc:
                # A server can accept the TCP connection and still drop it (dying, or busy): try the next one.
                _forget(conn, dead=True)
                if attempt == tries:
                    raise DirectoryUnavailable(f"Skånekatalogen ({self.config.url}) cannot be reached: {exc}") from exc
            except DirectoryUnavailable:
                _forget(conn, dead=True)
                if attempt == tries:
                    raise
            except DirectoryError:
                _forget(conn)
                raise
            else:
                with self._lock:
                    self._all.append(conn)
                return conn
        raise AssertionError("unreachable")

    def _bind(self, conn: Connection) -> None:
        if not conn.bind():
            code = conn.result.get("result") if conn.result else None
            if code in _UNAVAILABLE_CODES:
                raise DirectoryUnavailable(f"Skånekatalogen ({self.config.url}) is not accepting binds now.")
            raise DirectoryError(
                f"Skånekatalogen refused the bind as {self.config.bind_dn}: "
                f"{conn.result.get('description') if conn.result else 'unknown error'} "
                "(check NPO_LDAP_BIND_DN and NPO_LDAP_PASSWORD).", code=code)

    def connection(self) -> Connection:
        """This thread's bound connection (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._open()
            self._local.conn = conn
        return conn

    def _discard(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)
            _forget(conn)
            with contextlib.suppress(Exception):  # the socket is already broken; closing is best effort
                conn.unbind()

    def close(self) -> None:
        """Unbind every connection this session opened."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            _forget(conn)
            with contextlib.suppress(Exception):  # best effort at shutdown
                conn.unbind()
        self._local = threading.local()

    def run(self, operation: Callable[[Connection], T]) -> T:
        """Run ``operation`` on this thread's connection; reconnect once on a broken connection (with several
        servers the pool then hands out the next live one)."""
        for attempt in (1, 2):
            conn = self.connection()
            try:
                return operation(conn)
            except (LDAPCommunicationError, LDAPResponseTimeoutError) as exc:
                self._discard()
                if attempt == 2:
                    raise DirectoryUnavailable(
                        f"Skånekatalogen ({self.config.url}) stopped answering: {exc}") from exc
            except DirectoryUnavailable:
                self._discard()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ operations
    @staticmethod
    def check(conn: Connection, ok: bool, what: str, *, allow: tuple[int, ...] = ()) -> int:
        """Turn an ldap3 result into a return code or an exception."""
        code = conn.result.get("result", 0) if conn.result else 0
        if ok or code in allow:
            return code
        description = conn.result.get("message") or conn.result.get("description") if conn.result else ""
        if code in _UNAVAILABLE_CODES:
            raise DirectoryUnavailable(f"Skånekatalogen is unavailable ({what}): {description}", code=code)
        if code == NO_SUCH_OBJECT:
            raise EntryNotFound(f"{what}: entry not found", code=code)
        raise DirectoryError(f"{what} was refused by Skånekatalogen: {description} (resultCode {code})", code=code)

    def search(self, base: str, filter_: str, *, scope: str = "sub", attributes: list[str] | None = None,
               paged: bool = True) -> list[Entry]:
        """All entries matching ``filter_`` (paged on the wire), as (dn, attributes) pairs."""
        return list(self.iter_search(base, filter_, scope=scope, attributes=attributes, paged=paged))

    def iter_search(self, base: str, filter_: str, *, scope: str = "sub", attributes: list[str] | None = None,
                    paged: bool = True) -> Iterator[Entry]:
        """Yield matching entries page by page; a missing base yields nothing."""
        cookie: bytes | None = None
        served_by: Connection | None = None
        yielded: set[str] = set()
        while True:
            def one_page(conn: Connection, cookie: bytes | None = cookie, served_by: Connection | None = served_by
                         ) -> tuple[list[Entry], bytes | None, Connection]:
                if conn is not served_by:
                    # A paged-results cookie is only valid on the connection that issued it: after a reconnect
                    # (to the same or the next server) the search starts over, and entries already given are skipped.
                    cookie = None
                ok = conn.search(base, filter_, search_scope=SCOPES[scope], attributes=attributes or ["*"],
                                 paged_size=self.config.page_size if paged else None, paged_cookie=cookie)
                if self.check(conn, ok, f"search {filter_} under {base}", allow=(0, NO_SUCH_OBJECT)) != 0:
                    return [], None, conn
                assert conn.response is not None  # a search that answered has its list of responses
                page = [(item["dn"], item["attributes"]) for item in conn.response
                        if item.get("type") == "searchResEntry"]
                next_cookie = None
                if paged:
                    control = (conn.result.get("controls") or {}).get(PAGED_RESULTS_OID)
                    next_cookie = control["value"]["cookie"] if control else None
                return page, next_cookie, conn

            page, cookie, served_by = self.run(one_page)
            yield from (entry for entry in page if entry[0] not in yielded)
            if not cookie:
                return
            yielded.update(dn for dn, _attrs in page)

    def read(self, dn: str, attributes: list[str] | None = None) -> Entry | None:
        """One entry by DN, or None."""
        found = self.search(dn, "(objectClass=*)", scope="base", attributes=attributes, paged=False)
        return found[0] if found else None

    def add(self, dn: str, object_classes: list[str], attributes: dict[str, Any]) -> bool:
        """Add an entry; False (not an error) when it already exists."""
        def op(conn: Connection) -> bool:
            ok = conn.add(dn, object_classes, attributes)
            return self.check(conn, ok, f"add {dn}", allow=(ALREADY_EXISTS,)) == 0
        return self.run(op)

    def modify(self, dn: str, changes: dict[str, list[tuple[str, list[Any]]]]) -> None:
        """Apply an ldap3 change dict to ``dn``."""
        def op(conn: Connection) -> None:
            self.check(conn, conn.modify(dn, changes), f"modify {dn}")
        self.run(op)

    def move(self, dn: str, new_rdn: str, new_superior: str) -> None:
        """Move ``dn`` under ``new_superior`` keeping its RDN."""
        def op(conn: Connection) -> None:
            self.check(conn, conn.modify_dn(dn, new_rdn, new_superior=new_superior), f"move {dn}")
        self.run(op)

    def delete(self, dn: str) -> bool:
        """Delete one entry (only used for test clean-up of whole trees); False when it was already gone."""
        def op(conn: Connection) -> bool:
            return self.check(conn, conn.delete(dn), f"delete {dn}", allow=(NO_SUCH_OBJECT,)) == 0
        return self.run(op)

    def ping(self) -> None:
        """Raise DirectoryUnavailable unless the directory answers a base read of the suffix."""
        if self.read(self.config.base, ["objectClass"]) is None:
            raise DirectoryError(f"The base {self.config.base} is missing in Skånekatalogen.")
