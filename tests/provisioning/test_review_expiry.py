"""Memberships that end: a warning 14 days before, the end recorded and announced once (real slapd, SQLite and
PostgreSQL, the SMTP sink)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from catalog.model import Validity
from kernel import outbox
from kernel.clock import end_of_day, local_midnight
from kernel.outbox import OutboxMail
from provisioning.recertification import expiry as review
from provisioning.recertification.common import ReviewConfig
from provisioning.recertification.models import CommissionReviewEvent, ImmutableReviewEvent, ReviewEventKind
from tests.conftest import MailSink
from tests.world import World

CONFIG = ReviewConfig(public_base_url="http://npo.test")
LAST_DAY = dt.date(2027, 4, 5)  # a Monday after the spring DST change (2027-03-28)
END = end_of_day(LAST_DAY)  # local midnight after it: 2027-04-05T22:00Z (CEST)
START = local_midnight(dt.date(2026, 4, 1))


class Crash(Exception):
    """Stands in for a worker killed before its commit."""


def vob(world: World) -> str:
    commission, _ = world.directory.ensure_commission(world.public_unit.hsa_id, valid_from=START)
    return commission.hsa_id


def run(world: World, sessions, commission: str, now: dt.datetime) -> review.EndingReport:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return review.notify_endings(session=session, directory=world.directory, config=CONFIG,
                                     unit_hsa_id=world.public_unit.hsa_id, commission_hsa_id=commission, now=now)


def events(sessions) -> list[CommissionReviewEvent]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.exec(select(CommissionReviewEvent).order_by(CommissionReviewEvent.id)).all())


def mails(sessions) -> list[OutboxMail]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.exec(select(OutboxMail).order_by(OutboxMail.id)).all())


def test_the_warning_goes_out_from_local_midnight_14_days_before_and_only_once(world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    commission = vob(world)
    nurse = world.public_staff[0]
    world.directory.ensure_membership(commission, nurse.hsa_id, Validity(START, END))
    warn_from = local_midnight(LAST_DAY - dt.timedelta(days=13))  # 2027-03-23 00:00 CET = 2027-03-22T23:00Z
    assert warn_from == dt.datetime(2027, 3, 22, 23, 0, tzinfo=dt.UTC)
    assert run(world, sessions, commission, warn_from - dt.timedelta(seconds=1)).warned == []
    assert run(world, sessions, commission, warn_from + dt.timedelta(seconds=1)).warned == [nurse.hsa_id]
    for later in (dt.timedelta(hours=6), dt.timedelta(days=1), dt.timedelta(days=13, hours=22)):
        assert run(world, sessions, commission, warn_from + later).warned == []  # across DST: still once
    [event] = events(sessions)
    assert event.kind is ReviewEventKind.EXPIRY_WARNING and event.person_hsa_id == nurse.hsa_id
    assert "till och med 2027-04-05" in (event.detail or "")
    member, manager = mails(sessions)
    assert member.recipients == nurse.mail and member.template == "membership_end_member"
    assert member.subject == f"Din behörighet till NPÖ vid {world.public_unit.name} upphör efter 2027-04-05"
    assert manager.recipients == world.public_manager.mail and "1 upphör snart" in manager.subject
    assert nurse.name in manager.text_body and "/bestall/behorigheter" in manager.text_body


def test_the_end_is_recorded_at_local_midnight_across_dst_and_announced_once(world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    commission = vob(world)
    nurse = world.public_staff[1]
    world.directory.ensure_membership(commission, nurse.hsa_id, Validity(START, END))
    assert dt.datetime(2027, 4, 5, 22, 0, tzinfo=dt.UTC) == END  # midnight in Sweden, summer time
    assert run(world, sessions, commission, END - dt.timedelta(seconds=1)).expired == []
    with pytest.raises(Crash), sessions() as session:  # a run killed before its commit leaves nothing behind
        review.notify_endings(session=session, directory=world.directory, config=CONFIG,
                              unit_hsa_id=world.public_unit.hsa_id, commission_hsa_id=commission, now=END)
        raise Crash()
    assert [e for e in events(sessions) if e.kind is ReviewEventKind.EXPIRED] == []
    assert run(world, sessions, commission, END + dt.timedelta(seconds=1)).expired == [nurse.hsa_id]
    assert run(world, sessions, commission, END + dt.timedelta(days=1)).expired == []
    expired = [m for m in mails(sessions) if "har upphört" in m.subject]
    assert sorted(m.template for m in expired) == ["membership_end_manager", "membership_end_member"]
    # nothing was written to the directory: the membership stopped counting at npoValidTo by itself
    [membership] = world.directory.memberships(commission)
    assert membership.validity.end == END and membership.ended_reason is None


def test_ends_made_on_purpose_old_ends_and_open_ended_memberships_are_not_announced(world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    commission = vob(world)
    now = dt.datetime(2027, 4, 1, 5, 0, tzinfo=dt.UTC)
    d = world.directory
    removed, old, open_ended = world.public_staff
    d.ensure_membership(commission, removed.hsa_id, Validity(START, END))
    d.end_membership(commission, removed.hsa_id, reason="Borttagen enligt NPO-1", at=now - dt.timedelta(days=1))
    d.ensure_membership(commission, old.hsa_id, Validity(START, now - dt.timedelta(days=CONFIG.expiry_lookback_days,
                                                                                   seconds=1)))
    d.ensure_membership(commission, open_ended.hsa_id, Validity(START))
    d.ensure_membership(commission, world.public_admin.hsa_id, Validity(now + dt.timedelta(days=2), END))  # not begun
    report = run(world, sessions, commission, now)
    assert (report.warned, report.expired) == ([], []) and events(sessions) == [] and mails(sessions) == []


def test_a_longer_validity_is_a_new_period_with_its_own_warning(world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    commission = vob(world)
    nurse = world.public_staff[0]
    world.directory.ensure_membership(commission, nurse.hsa_id, Validity(START, END))
    assert run(world, sessions, commission, END - dt.timedelta(days=3)).warned == [nurse.hsa_id]
    later = end_of_day(LAST_DAY + dt.timedelta(days=60))
    world.directory.ensure_membership(commission, nurse.hsa_id, Validity(START, later))  # the manager extended it
    assert run(world, sessions, commission, END + dt.timedelta(days=1)).expired == []  # that end never came
    assert run(world, sessions, commission, later - dt.timedelta(days=2)).warned == [nurse.hsa_id]
    assert [e.kind for e in events(sessions)] == [ReviewEventKind.EXPIRY_WARNING] * 2


def test_a_digest_per_run_reaches_the_manager_and_the_sink(world: World, sessions, smtp_sink: MailSink) -> None:  # type: ignore[no-untyped-def]
    commission = vob(world)
    a, b, c = world.public_staff
    now = END - dt.timedelta(days=2)
    world.directory.ensure_membership(commission, a.hsa_id, Validity(START, END))
    world.directory.ensure_membership(commission, b.hsa_id, Validity(START, END + dt.timedelta(days=1)))
    world.directory.ensure_membership(commission, c.hsa_id, Validity(START, now - dt.timedelta(days=1)))
    report = run(world, sessions, commission, now)
    assert sorted(report.warned) == sorted([a.hsa_id, b.hsa_id]) and report.expired == [c.hsa_id]
    sent = outbox.deliver(sessions, outbox.SmtpConfig("127.0.0.1", smtp_sink.port, "npo@skane.example"),
                          now=lambda: now)
    assert len(sent.sent) == 4 and sent.failed == []  # three members and one digest for the manager
    [digest] = smtp_sink.to(world.public_manager.mail)
    assert digest["Subject"] == f"NPÖ-behörigheter vid {world.public_unit.name}: 2 upphör snart, 1 har upphört"
    body = digest.get_body(("plain",)).get_content()
    assert a.name in body and b.name in body and c.name in body
    assert smtp_sink.to(c.mail)[0]["Subject"].endswith("har upphört")


def test_review_events_cannot_be_changed(world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    commission = vob(world)
    world.directory.ensure_membership(commission, world.public_staff[0].hsa_id, Validity(START, END))
    run(world, sessions, commission, END - dt.timedelta(days=1))
    with pytest.raises(ImmutableReviewEvent, match="cannot change once recorded"), sessions() as session:
        [event] = session.exec(select(CommissionReviewEvent)).all()
        event.detail = "ändrad i efterhand"
        session.add(event)
        session.flush()
