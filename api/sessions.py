"""Server-side web sessions: the cookie carries only a random token; the database holds the session.

A session can therefore be ended: at logout (a replayed cookie finds an ended row and gets the login page), after
30 minutes without a request (idle), 8 hours after sign-in (absolute), and when the SITHS card it was opened with is
revoked (checked on every request against the current revocation lists). Every web process reads the same table, so
the web stays stateless (ARCHITECTURE D9). Nothing a page stores in the session (the chosen patient, flash
messages, the CSRF token) ever reaches the browser, and the database holds only the token's SHA-256, so a copy of
the table cannot be replayed either.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from anyio.to_thread import run_sync
from sqlalchemy import Column, Engine, Text, delete, or_, update
from sqlmodel import Field, Session, SQLModel, col
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel import runtime
from kernel.clock import now
from kernel.sqltypes import UTCDateTime, rowcount

COOKIE = "npo_session"
SEEN_EVERY = dt.timedelta(seconds=60)  # last activity is written at most once a minute per session
PRUNE_EVERY_SECONDS = 600
KEEP_ENDED = dt.timedelta(days=7)


class WebSession(SQLModel, table=True):
    """One browser's session (the row of a cookie token)."""

    __tablename__ = "web_sessions"

    id: str = Field(primary_key=True, max_length=64, description="SHA-256 (hex) of the cookie's token")
    hsa_id: str | None = Field(default=None, max_length=64, index=True)
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    seen_at: dt.datetime = Field(sa_type=UTCDateTime, index=True)
    ended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_reason: str | None = Field(default=None, max_length=32)
    card_serial: str | None = Field(default=None, max_length=64, description="SITHS certificate it was opened with")
    card_issuer: str | None = Field(default=None, max_length=500)


ENDED_MESSAGES = {
    "idle": "Du har loggats ut eftersom du inte har använt tjänsten på {minutes} minuter. Logga in igen.",
    "absolute": "Du har loggats ut eftersom du har varit inloggad i {hours} timmar. Logga in igen.",
    "revoked": "Du har loggats ut eftersom SITHS-kortet du loggade in med har spärrats.",
}


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives."""

    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=8)
    secure_cookie: bool = False

    def expiry(self, row: WebSession, at: dt.datetime) -> str | None:
        """Why ``row`` no longer holds at ``at`` (idle / absolute), or None."""
        if at - row.created_at >= self.absolute:
            return "absolute"
        if at - row.seen_at >= self.idle:
            return "idle"
        return None

    def ended_message(self, reason: str) -> str | None:
        """The Swedish sentence for the login page after a session ended by itself."""
        text = ENDED_MESSAGES.get(reason)
        return text and text.format(minutes=int(self.idle.total_seconds() // 60),
                                    hours=round(self.absolute.total_seconds() / 3600))


class ServerSession(dict[str, Any]):
    """The session a request sees as ``request.session``; remembers whether it changed and what to do with it."""

    def __init__(self, data: dict[str, Any] | None = None):
        super().__init__(data or {})
        self.modified = False
        self.end_reason: str | None = None
        self.renew = False
        self.card: tuple[str, str] | None = None

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.modified = True
        super().__delitem__(key)

    def clear(self) -> None:
        self.modified = True
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        self.modified = self.modified or key in self
        return super().pop(key, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.modified = True
        super().update(*args, **kwargs)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.modified = True
        return super().setdefault(key, default)

    def start(self, card: tuple[str, str] | None = None) -> None:
        """Sign-in: a new token (no session fixation), empty data, and the SITHS card it was opened with."""
        self.clear()
        self.renew, self.card = True, card

    def end(self, reason: str = "logout") -> None:
        """Logout: the row is ended for good and the cookie removed."""
        self.clear()
        self.end_reason = reason


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Reads and writes session rows; every method is one short transaction."""

    def __init__(self, engine: Callable[[], Engine], policy: SessionPolicy,
                 revoked: Callable[[str, str], bool] = lambda _serial, _issuer: False):
        self.engine, self.policy, self.revoked = engine, policy, revoked
        self._pruned = 0.0

    def load(self, token: str | None) -> tuple[WebSession | None, str | None]:
        """The live row of ``token``, or (None, why it ended) when it ended just now by idling, age or revocation."""
        if not token or len(token) > 200:
            return None, None
        at = now()
        with Session(runtime.reads(self.engine())) as session:  # no write lock for the lookup (D-62)
            row = session.get(WebSession, _digest(token))
            if row is None or row.ended_at is not None:
                return None, None
            reason = self.policy.expiry(row, at)
            if reason is None and row.card_serial and self.revoked(row.card_serial, row.card_issuer or ""):
                reason = "revoked"
            if reason is None:
                session.expunge(row)
                return row, None
        with Session(self.engine()) as session:
            self._end(session, row.id, reason, at)
            session.commit()
        return None, reason

    def save(self, row: WebSession | None, session: ServerSession) -> str | None:
        """Persist what the request did to its session; the new cookie token when one is issued."""
        at = now()
        ending = row is not None and (session.end_reason is not None or session.renew)
        creating = (row is None or ending) and bool(session or session.renew) and session.end_reason is None
        touching = row is not None and not ending and (session.modified or at - row.seen_at >= SEEN_EVERY)
        if not (ending or creating or touching):
            return None
        token = secrets.token_urlsafe(32) if creating else None
        with Session(self.engine()) as db:
            if ending and row is not None:  # ending and touching both imply a row
                self._end(db, row.id, session.end_reason or "renewed", at)
            if token:
                serial, issuer = session.card or (None, None)
                db.add(WebSession(id=_digest(token), hsa_id=session.get("hsa_id"), data=json.dumps(session),
                                  created_at=at, seen_at=at, card_serial=serial, card_issuer=issuer))
            # data only when this request changed it: a parallel request's change is not undone
            if touching and row is not None:
                changes = {"data": json.dumps(session), "hsa_id": session.get("hsa_id")} if session.modified else {}
                db.execute(update(WebSession).where(col(WebSession.id) == row.id).values(
                    seen_at=at, **changes))
            db.commit()
        self._prune(at)
        return token

    def end_all(self, *, hsa_id: str, reason: str, card_serial: str | None = None) -> int:
        """End every live session of a person (optionally only those opened with one card); how many ended."""
        with Session(self.engine()) as db:
            query = update(WebSession).where(col(WebSession.hsa_id) == hsa_id, col(WebSession.ended_at).is_(None))
            if card_serial is not None:
                query = query.where(col(WebSession.card_serial) == card_serial)
            result = db.execute(query.values(ended_at=now(), ended_reason=reason))
            db.commit()
            return rowcount(result)

    @staticmethod
    def _end(db: Session, row_id: str, reason: str, at: dt.datetime) -> None:
        db.execute(update(WebSession).where(col(WebSession.id) == row_id, col(WebSession.ended_at).is_(None)).values(
            ended_at=at, ended_reason=reason))

    def _prune(self, at: dt.datetime) -> None:
        """Now and then, forget sessions that ended (or went idle) a week ago: they are not a log."""
        if time.monotonic() - self._pruned < PRUNE_EVERY_SECONDS:
            return
        self._pruned = time.monotonic()
        with Session(self.engine()) as db:
            db.execute(delete(WebSession).where(or_(col(WebSession.ended_at) < at - KEEP_ENDED,
                                                    col(WebSession.seen_at) < at - KEEP_ENDED)))
            db.commit()


def _cookie_token(scope: Scope) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == b"cookie":
            morsel = SimpleCookie(value.decode("latin-1")).get(COOKIE)
            if morsel is not None:
                return morsel.value
    return None


class ServerSessionMiddleware:
    """ASGI middleware: ``request.session`` backed by :class:`SessionStore`."""

    def __init__(self, app: ASGIApp, store: SessionStore):
        self.app, self.store = app, store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path", "").startswith("/static/"):
            await self.app(scope, receive, send)
            return
        presented = _cookie_token(scope)
        row, ended = await run_sync(self.store.load, presented)
        session = ServerSession(json.loads(row.data) if row else None)
        if ended and (message := self.store.policy.ended_message(ended)):
            session["flash"] = message
        scope["session"] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                token = await run_sync(self.store.save, row, session)
                stale = presented is not None and token is None and (row is None or session.end_reason is not None)
                cookie = self._cookie(token, remove=stale)
                if cookie:
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _cookie(self, token: str | None, *, remove: bool) -> str | None:
        secure = "; Secure" if self.store.policy.secure_cookie else ""
        if token:
            return f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}"
        if remove:
            return f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}"
        return None
