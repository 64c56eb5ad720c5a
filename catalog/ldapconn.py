"""The one LDAP connection point: connection reuse per thread, paged searches, error mapping, time codec.

Everything above this module sees :class:`DirectoryUnavailable` (LDAP down, unreachable or busy) or
:class:`DirectoryError` (a refused operation), never an ldap3 exception.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from ldap3 import BASE, LEVEL, NONE, SUBTREE, SYNC, Connection, Server
from ldap3.core.exceptions import (
    LDAPBindError,
    LDAPCommunicationError,
    LDAPResponseTimeoutError,
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
    """Where and as whom to bind."""

    url: str
    base: str
    bind_dn: str
    password: str = field(repr=False)
    page_size: int = 1000
    connect_timeout: float = 3.0
    receive_timeout: int = 15


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


class LdapSession:
    """Thread-local ldap3 connections to one directory, reused across calls and re-opened after a failure."""

    def __init__(self, config: DirectoryConfig):
        self.config = config
        self._local = threading.local()
        self._all: list[Connection] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ connections
    def _open(self) -> Connection:
        # A fresh Server each time: ldap3 marks an address unusable after a failed connect and never retries it.
        server = Server(self.config.url.rstrip("/"), get_info=NONE, connect_timeout=self.config.connect_timeout)
        conn = Connection(server, user=self.config.bind_dn, password=self.config.password,
                          client_strategy=SYNC, raise_exceptions=False,
                          receive_timeout=int(self.config.receive_timeout), return_empty_attributes=True)
        try:
            if not conn.bind():
                code = conn.result.get("result") if conn.result else None
                if code in _UNAVAILABLE_CODES:
                    raise DirectoryUnavailable(f"Skånekatalogen ({self.config.url}) is not accepting binds now.")
                raise DirectoryError(
                    f"Skånekatalogen refused the bind as {self.config.bind_dn}: "
                    f"{conn.result.get('description') if conn.result else 'unknown error'} "
                    "(check NPO_LDAP_BIND_DN and NPO_LDAP_PASSWORD).", code=code)
        except (LDAPCommunicationError, LDAPResponseTimeoutError, LDAPStartTLSError, LDAPBindError) as exc:
            raise DirectoryUnavailable(f"Skånekatalogen ({self.config.url}) cannot be reached: {exc}") from exc
        with self._lock:
            self._all.append(conn)
        return conn

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
            with contextlib.suppress(Exception):  # the socket is already broken; closing is best effort
                conn.unbind()

    def close(self) -> None:
        """Unbind every connection this session opened."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(Exception):  # best effort at shutdown
                conn.unbind()
        self._local = threading.local()

    def run(self, operation: Callable[[Connection], T]) -> T:
        """Run ``operation`` on this thread's connection; reconnect once on a broken connection."""
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
        while True:
            def one_page(conn: Connection, cookie: bytes | None = cookie) -> tuple[list[Entry], bytes | None]:
                ok = conn.search(base, filter_, search_scope=SCOPES[scope], attributes=attributes or ["*"],
                                 paged_size=self.config.page_size if paged else None, paged_cookie=cookie)
                if self.check(conn, ok, f"search {filter_} under {base}", allow=(0, NO_SUCH_OBJECT)) != 0:
                    return [], None
                assert conn.response is not None  # a search that answered has its list of responses
                page = [(item["dn"], item["attributes"]) for item in conn.response
                        if item.get("type") == "searchResEntry"]
                next_cookie = None
                if paged:
                    control = (conn.result.get("controls") or {}).get(PAGED_RESULTS_OID)
                    next_cookie = control["value"]["cookie"] if control else None
                return page, next_cookie

            page, cookie = self.run(one_page)
            yield from page
            if not cookie:
                return

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
