"""The outbox against a real SMTP server: delivered once, kept while SMTP is down, never lost."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from kernel import outbox
from kernel.outbox import OutboxMail
from tests.conftest import MailSink
from tests.provisioning.conftest import NOW


def enqueue(sessions, key: str, to: list[str]) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        outbox.enqueue(session, template="access_ready", to=to, dedupe_key=key, now=NOW, context={
            "order": {"unit_name": "Vårdcentralen Åhus", "reference": "NPO-1"}, "person_name": "Åsa Öberg",
            "valid_from": "2026-12-01", "valid_to": None, "starts_later": False, "npo_url": "https://npo.sjunet.org",
            "information": "Samtycke, spärr och logg <b>gäller</b>.", "kind_label": "behörigheter", "link": "x"})


def test_mail_is_rendered_at_enqueue_and_delivered_once(sessions, smtp_sink: MailSink) -> None:  # type: ignore[no-untyped-def]
    enqueue(sessions, "k1", ["asa@vard.example", "", None, "-"])
    enqueue(sessions, "k1", ["asa@vard.example"])  # the same change never mails twice
    config = outbox.SmtpConfig("127.0.0.1", smtp_sink.port, "npo@skane.example")
    report = outbox.deliver(sessions, config, now=lambda: NOW)
    assert len(report.sent) == 1 and report.failed == []
    [(rcpt, message)] = smtp_sink.messages
    assert rcpt == ["asa@vard.example"]
    assert message["Subject"] == "Du har nu behörighet till Nationell patientöversikt (NPÖ) vid Vårdcentralen Åhus"
    assert message["Message-ID"] == f"<outbox-{report.sent[0]}@npo-access>"
    html = message.get_body(("html",)).get_content()
    assert "&lt;b&gt;gäller&lt;/b&gt;" in html and "https://npo.sjunet.org" in html
    assert outbox.deliver(sessions, config, now=lambda: NOW + dt.timedelta(hours=1)).sent == []  # nothing twice
    assert len(smtp_sink.messages) == 1


def test_smtp_down_keeps_the_mail_and_a_later_run_delivers_it_once(sessions) -> None:  # type: ignore[no-untyped-def]
    enqueue(sessions, "k2", ["bo@vard.example"])
    sink = MailSink()
    down = outbox.SmtpConfig("127.0.0.1", sink.port, "npo@skane.example", timeout=2)
    failed = outbox.deliver(sessions, down, now=lambda: NOW)
    assert failed.sent == [] and len(failed.failed) == 1
    with sessions() as session:
        [mail] = session.exec(select(OutboxMail)).all()
    assert mail.sent_at is None and mail.attempts == 1 and "Connection" in (mail.last_error or "")
    assert mail.next_attempt_at == NOW + dt.timedelta(seconds=30)
    assert outbox.deliver(sessions, down, now=lambda: NOW + dt.timedelta(seconds=10)).failed == []  # not yet due
    sink.start()
    try:
        later = outbox.deliver(sessions, down, now=lambda: NOW + dt.timedelta(minutes=1))
        assert len(later.sent) == 1
        assert outbox.deliver(sessions, down, now=lambda: NOW + dt.timedelta(hours=1)).sent == []
        assert len(sink.messages) == 1
    finally:
        sink.stop()


def test_a_claimed_mail_is_not_sent_by_a_second_deliverer(sessions, smtp_sink: MailSink) -> None:  # type: ignore[no-untyped-def]
    enqueue(sessions, "k3", ["c@vard.example"])
    with sessions() as session:
        [mail_id] = outbox.due(session, now=NOW)
        assert outbox._claim(session, mail_id, NOW) is not None  # another deliverer holds it
    config = outbox.SmtpConfig("127.0.0.1", smtp_sink.port, "npo@skane.example")
    assert outbox.deliver(sessions, config, now=lambda: NOW + dt.timedelta(seconds=5)).sent == []
    assert smtp_sink.messages == []
    # the claim expires (the other deliverer died): the mail goes out
    assert len(outbox.deliver(sessions, config, now=lambda: NOW + dt.timedelta(minutes=5)).sent) == 1
