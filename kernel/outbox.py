"""The mail outbox (D3): mail is written in the same transaction as the change it tells about, and delivered
later by a flow, with retries, once each.

Delivery claims a row with a conditional UPDATE before sending (two deliverers never send the same mail), sends it
through SMTP with `emails`, and marks it sent. SMTP down: the row stays, with a later next attempt. Each message has
a stable Message-ID (`<outbox-ID@npo-access>`), so a mail re-sent after a crash between send and commit can be
recognised by the receiver.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import emails
from emails.backend.smtp import SMTPBackend
from sqlalchemy import Column, String, Text, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from kernel.mail import render
from kernel.sqltypes import UTCDateTime, rowcount, stored_ids


def _utc(*, nullable: bool, index: bool | None = None) -> Any:
    """A timezone-aware UTC timestamp column."""
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class OutboxMail(SQLModel, table=True):
    """A mail written in the same transaction as the change it tells about; delivered later, once (D3)."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(sa_column=Column(String(160), unique=True, nullable=False))
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
    template: str = Field(max_length=60)
    recipients: str = Field(sa_column=Column(Text, nullable=False))  # comma-separated addresses
    subject: str = Field(max_length=300)
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = _utc(nullable=False)
    attempts: int = 0
    next_attempt_at: dt.datetime = _utc(nullable=False)
    claimed_until: dt.datetime | None = _utc(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sent_at: dt.datetime | None = _utc(nullable=True, index=True)


CLAIM_SECONDS = 120
BACKOFF_SECONDS = (30, 60, 300, 900, 1800, 3600)


@dataclass(frozen=True)
class SmtpConfig:
    """Where mail goes."""

    host: str
    port: int
    mail_from: str
    sender_name: str = "Region Skåne – NPÖ-behörigheter"
    timeout: float = 10.0


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    sent: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


def enqueue(session: Session, *, template: str, to: Iterable[str | None], context: dict[str, object],
            dedupe_key: str, now: dt.datetime, order_id: int | None = None) -> OutboxMail | None:
    """Render ``template`` now and store it for delivery; the same dedupe_key is stored only once."""
    recipients = sorted({address.strip() for address in to if address and "@" in address})
    if not recipients:
        return None
    if session.exec(select(OutboxMail).where(OutboxMail.dedupe_key == dedupe_key)).first():
        return None
    subject, text, html = render(template, context)
    mail = OutboxMail(dedupe_key=dedupe_key, order_id=order_id, template=template, recipients=",".join(recipients),
                      subject=subject, text_body=text, html_body=html, created_at=now, next_attempt_at=now)
    try:
        with session.begin_nested():
            session.add(mail)
    except IntegrityError:
        return None  # a concurrent writer stored it first
    return mail


def due(session: Session, *, now: dt.datetime, order_id: int | None = None, limit: int = 100) -> list[int]:
    """IDs of unsent mail whose next attempt is due."""
    query = select(col(OutboxMail.id)).where(col(OutboxMail.sent_at).is_(None), col(OutboxMail.next_attempt_at) <= now)
    if order_id is not None:
        query = query.where(OutboxMail.order_id == order_id)
    return stored_ids(session.exec(query.order_by(col(OutboxMail.id)).limit(limit)).all())


def _claim(session: Session, mail_id: int, now: dt.datetime) -> OutboxMail | None:
    claimed = session.execute(
        update(OutboxMail).where(col(OutboxMail.id) == mail_id, col(OutboxMail.sent_at).is_(None),
                                 or_(col(OutboxMail.claimed_until).is_(None), col(OutboxMail.claimed_until) < now))
        .values(claimed_until=now + dt.timedelta(seconds=CLAIM_SECONDS)).execution_options(synchronize_session=False))
    if rowcount(claimed) != 1:
        return None
    return session.get(OutboxMail, mail_id)


Sessions = Callable[[], AbstractContextManager[Session]]


def deliver(sessions: Sessions, smtp: SmtpConfig, *, now: Callable[[], dt.datetime], order_id: int | None = None,
            limit: int = 100) -> DeliveryReport:
    """Send due mail, one transaction per message; failures are kept for a later attempt."""
    report = DeliveryReport()
    with sessions() as session:
        ids = due(session, now=now(), order_id=order_id, limit=limit)
    if not ids:
        return report
    backend = SMTPBackend(host=smtp.host, port=smtp.port, timeout=smtp.timeout, fail_silently=False)
    try:
        for mail_id in ids:
            with sessions() as session:
                mail = _claim(session, mail_id, now())
            if mail is None:
                continue  # another deliverer has it
            error = _send(backend, smtp, mail)
            with sessions() as session:
                row = session.get(OutboxMail, mail_id)
                assert row is not None
                row.claimed_until = None
                if error is None:
                    row.sent_at = now()
                    report.sent.append(mail_id)
                else:
                    row.attempts += 1
                    row.last_error = error[:2000]
                    row.next_attempt_at = now() + dt.timedelta(
                        seconds=BACKOFF_SECONDS[min(row.attempts, len(BACKOFF_SECONDS)) - 1])
                    report.failed.append((mail_id, error))
                session.add(row)
    finally:
        backend.close()
    return report


def _send(backend: SMTPBackend, smtp: SmtpConfig, mail: OutboxMail) -> str | None:
    message = emails.html(subject=mail.subject, html=mail.html_body, text=mail.text_body,
                          mail_from=(smtp.sender_name, smtp.mail_from),
                          headers={"Message-ID": f"<outbox-{mail.id}@npo-access>"})
    to: list[str | tuple[str | None, str]] = list(mail.recipients.split(","))  # emails: an address or (name, address)
    try:
        response = message.send(to=to, smtp=backend)
    except Exception as exc:  # noqa: BLE001 - any SMTP/network failure means "try again later"
        backend.close()  # a broken connection must not be reused for the next message
        return f"{type(exc).__name__}: {exc}"
    if response is None or not response.success:
        backend.close()
        return f"SMTP svarade {getattr(response, 'status_code', None)}: {getattr(response, 'error', '')}"
    return None
