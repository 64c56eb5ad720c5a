"""Recertification written down exactly: every field of a round and its members, every review-log row (key, actor,
detail) and every mail (recipients, subject, text) from opening to closing, and the guards at their boundaries
(the flow's outcomes: test_review_recertification.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from catalog.model import Validity
from kernel.outbox import OutboxMail
from provisioning.automation import SYSTEM, SYSTEM_NAME
from provisioning.errors import NotFound
from provisioning.recertification import decisions, delegations
from provisioning.recertification import rounds as recertification
from provisioning.recertification.common import ReviewConfig
from provisioning.recertification.models import (
    CommissionReviewEvent,
    ItemDecision,
    RecertificationItem,
    RecertificationRound,
    ReviewEventKind,
    RoundState,
    RoundTrigger,
)
from tests.provisioning.test_review_recertification import (
    COMMISSION_START,
    CONFIG,
    OPENS,
    at,
    decide,
    items,
    lapse_all,
    load_round,
    open_due,
    unit_with_members,
)
from tests.world import World

D = ItemDecision
K = ReviewEventKind
DEADLINE = dt.datetime(2026, 12, 8, 23, 0, tzinfo=dt.UTC)  # the end of Tuesday 8 December, 10 business days on
LINK = "http://npo.test/behorighetskontroll"


def log(sessions) -> list[tuple]:  # type: ignore[no-untyped-def]
    """Every review-log row as (key, kind, at, unit, commission, person, round, actor, actor name, detail)."""
    with sessions() as session:
        rows = session.exec(select(CommissionReviewEvent).order_by(CommissionReviewEvent.id)).all()
    return [(e.key, e.kind, e.at, e.unit_hsa_id, e.commission_hsa_id, e.person_hsa_id, e.round_id, e.actor,
             e.actor_name, e.detail) for e in rows]


def mails(sessions) -> list[OutboxMail]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.exec(select(OutboxMail).order_by(OutboxMail.id)).all())


def item_rows(sessions, round_id: int) -> list[tuple]:  # type: ignore[no-untyped-def]
    """Each member as (round, person, name, mail, from, to, decision, by, by name, at, reason, on behalf of)."""
    return [(i.round_id, i.person_hsa_id, i.person_name, i.person_mail, i.valid_from, i.valid_to, i.decision,
             i.decided_by, i.decided_by_name, i.decided_at, i.reason, i.on_behalf_of)
            for i in items(sessions, round_id)]


def lapse(world: World, sessions, item_id: int, now: dt.datetime) -> ItemDecision:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return recertification.lapse_item(session=session, directory=world.directory, item_id=item_id, now=now)


def close(world: World, sessions, round_id: int, now: dt.datetime) -> bool:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return recertification.close_round(session=session, directory=world.directory, config=CONFIG,
                                           round_id=round_id, now=now)


def remind(world: World, sessions, round_id: int, now: dt.datetime,  # type: ignore[no-untyped-def]
           config: ReviewConfig = CONFIG) -> bool:
    with sessions() as session:
        return recertification.remind(session=session, directory=world.directory, config=config, round_id=round_id,
                                      now=now)


def membership(world: World, commission: str, person_hsa_id: str):  # type: ignore[no-untyped-def]
    return {m.person_hsa_id: m for m in world.directory.memberships(commission)}[person_hsa_id]


# ---------------------------------------------------------------------- one round, every row
def test_a_round_from_opening_to_closing_writes_exactly_these_rows_and_mails(world: World, sessions,  # type: ignore[no-untyped-def]
                                                                             actor) -> None:
    commission = unit_with_members(world)
    unit, manager, (first, second, third) = world.public_unit, world.public_manager, world.public_staff
    until = dt.datetime(2027, 6, 30, 22, 0, tzinfo=dt.UTC)
    world.directory.ensure_membership(commission, third.hsa_id, Validity(COMMISSION_START, until))
    with sessions() as session:  # the first nurse is the manager's delegate
        delegations.grant(session=session, directory=world.directory, actor=actor(manager), unit_hsa_id=unit.hsa_id,
                          delegate_hsa_id=first.hsa_id, valid_to=dt.date(2027, 6, 30),
                          now=OPENS - dt.timedelta(days=10))
    round_id = open_due(world, sessions, commission, OPENS)
    assert round_id is not None
    ref = f"BK-{round_id}"
    round_ = load_round(sessions, round_id)
    assert (round_.unit_hsa_id, round_.unit_name, round_.commission_hsa_id, round_.manager_hsa_id, round_.trigger,
            round_.opened_by, round_.opened_by_name, round_.opened_at, round_.deadline, round_.state,
            round_.open_unit, round_.closed_at) == (
        unit.hsa_id, unit.name, commission, manager.hsa_id, RoundTrigger.SCHEDULE, SYSTEM, SYSTEM_NAME, OPENS,
        DEADLINE, RoundState.OPEN, unit.hsa_id.upper(), None)
    pending = (D.PENDING, None, None, None, None, None)
    assert item_rows(sessions, round_id) == [
        (round_id, first.hsa_id, "Sara Sköterska1", first.mail, COMMISSION_START, None, *pending),
        (round_id, second.hsa_id, "Sara Sköterska2", second.mail, COMMISSION_START, None, *pending),
        (round_id, third.hsa_id, "Sara Sköterska3", third.mail, COMMISSION_START, until, *pending)]
    reviewers = ",".join(sorted([manager.mail, first.mail]))  # type: ignore[type-var]
    [opened] = mails(sessions)
    assert (opened.template, opened.recipients, opened.dedupe_key, opened.created_at) == (
        "recert_request", reviewers, f"recert-opened:{round_id}", OPENS)
    assert opened.subject == f"Behörighetskontroll {ref} av NPÖ-behörigheter vid {unit.name} – senast 2026-12-08"
    assert opened.text_body == (
        f"Hej,\n\nDet är dags för den årliga behörighetskontrollen ({ref}) av vilka medarbetare vid {unit.name} som "
        "har\nbehörighet till Nationell patientöversikt (NPÖ) genom medarbetaruppdraget VoB SJF. Som verksamhetschef "
        "ansvarar du\nbåde för att tilldela och för att kontrollera behörigheterna.\n\nBekräfta de medarbetare som "
        "fortfarande behöver NPÖ och ta bort dem som inte gör det, senast 2026-12-08.\nMedarbetare som inte är "
        "bekräftade då tas bort automatiskt.\n\nVäntar på beslut:\n  - Sara Sköterska1\n  - Sara Sköterska2\n"
        f"  - Sara Sköterska3\n\nGör kontrollen här: {LINK}/{round_id}\n")

    # the delegate removes the second nurse, the manager confirms the first (the delegate's own access)
    by_person = {i.person_hsa_id: i for i in items(sessions, round_id)}
    removed_at, confirmed_at = OPENS + dt.timedelta(days=1), OPENS + dt.timedelta(days=2)
    decide(world, sessions, actor, first, round_id,
           [decisions.Choice(by_person[second.hsa_id].id, False, "Har slutat")], removed_at)
    decide(world, sessions, actor, manager, round_id, [decisions.Choice(by_person[first.hsa_id].id, True)],
           confirmed_at)
    assert remind(world, sessions, round_id, at(dt.date(2026, 12, 4), 6))  # Friday: 4, 7 and 8 December left
    assert not remind(world, sessions, round_id, DEADLINE)  # from the deadline on nobody is reminded any more
    assert not remind(world, sessions, round_id, DEADLINE + dt.timedelta(days=1))
    assert lapse(world, sessions, by_person[third.hsa_id].id, DEADLINE) is D.LAPSED
    assert close(world, sessions, round_id, DEADLINE)
    assert not close(world, sessions, round_id, DEADLINE + dt.timedelta(hours=1))  # closed already: nothing again

    assert item_rows(sessions, round_id) == [
        (round_id, first.hsa_id, "Sara Sköterska1", first.mail, COMMISSION_START, None, D.CONFIRMED, manager.hsa_id,
         "Maria Chef", confirmed_at, None, None),
        (round_id, second.hsa_id, "Sara Sköterska2", second.mail, COMMISSION_START, None, D.REMOVED, first.hsa_id,
         "Sara Sköterska1", removed_at, "Har slutat", manager.hsa_id),
        (round_id, third.hsa_id, "Sara Sköterska3", third.mail, COMMISSION_START, until, D.LAPSED, SYSTEM,
         SYSTEM_NAME, DEADLINE, "Ej bekräftad före tidsgränsen", None)]
    round_ = load_round(sessions, round_id)
    assert (round_.state, round_.closed_at, round_.open_unit) == (RoundState.CLOSED, DEADLINE, None)
    lapsed_reason = f"Ej bekräftad vid behörighetskontroll {ref} (senast 2026-12-08)"
    assert (membership(world, commission, third.hsa_id).validity.end,
            membership(world, commission, third.hsa_id).ended_reason) == (DEADLINE, lapsed_reason)
    where = (unit.hsa_id, commission)
    reminded_at = at(dt.date(2026, 12, 4), 6)
    assert log(sessions) == [
        (f"round-opened:{round_id}", K.ROUND_OPENED, OPENS, *where, None, round_id, SYSTEM, SYSTEM_NAME,
         "3 medarbetare att kontrollera senast 2026-12-08"),
        (f"item-removed:{by_person[second.hsa_id].id}", K.REMOVED, removed_at, *where, second.hsa_id, round_id,
         first.hsa_id, "Sara Sköterska1", "Sara Sköterska2: Borttagen – Har slutat"),
        (f"item-confirmed:{by_person[first.hsa_id].id}", K.CONFIRMED, confirmed_at, *where, first.hsa_id, round_id,
         manager.hsa_id, "Maria Chef", "Sara Sköterska1: Bekräftad"),
        (f"round-reminder:{round_id}:3", K.REMINDER, reminded_at, *where, None, round_id, SYSTEM, SYSTEM_NAME,
         "1 medarbetare väntar på beslut; 3 arbetsdagar kvar"),
        (f"item-lapsed:{by_person[third.hsa_id].id}", K.LAPSED, DEADLINE, *where, third.hsa_id, round_id, SYSTEM,
         SYSTEM_NAME, "Sara Sköterska3: Ej bekräftad i tid – borttagen – Ej bekräftad före tidsgränsen"),
        (f"round-closed:{round_id}", K.ROUND_CLOSED, DEADLINE, *where, None, round_id, SYSTEM, SYSTEM_NAME,
         "bekräftad: 1, borttagen: 1, ej bekräftad i tid – borttagen: 1")]

    _, removed, reminder, lapsed, closed = mails(sessions)
    assert (removed.template, removed.recipients, removed.dedupe_key, removed.created_at) == (
        "recert_ended_member", second.mail, f"recert-ended:{by_person[second.hsa_id].id}", removed_at)
    assert removed.text_body == (
        "Hej Sara Sköterska2,\n\nDin behörighet till Nationell patientöversikt (NPÖ) genom medarbetaruppdraget VoB SJF "
        f"vid {unit.name} har\ntagits bort i behörighetskontrollen {ref} (beslut av Sara Sköterska1).\n\nBehöver du "
        "NPÖ i ditt arbete? Kontakta din verksamhetschef, som kan beställa behörigheten på nytt.\n")
    assert (reminder.template, reminder.recipients, reminder.dedupe_key, reminder.created_at) == (
        "recert_request", reviewers, f"round-reminder:{round_id}:3", reminded_at)
    assert reminder.subject == (f"Påminnelse: Behörighetskontroll {ref} av NPÖ-behörigheter vid {unit.name} – "
                                "senast 2026-12-08")
    assert reminder.text_body == (
        f"Hej,\n\nBehörighetskontrollen {ref} av NPÖ-behörigheterna vid {unit.name} är inte klar.\n1 av 3 medarbetare "
        "väntar på ditt beslut och 3 arbetsdagar återstår.\n\nBekräfta de medarbetare som fortfarande behöver NPÖ och "
        "ta bort dem som inte gör det, senast 2026-12-08.\nMedarbetare som inte är bekräftade då tas bort "
        f"automatiskt.\n\nVäntar på beslut:\n  - Sara Sköterska3\n\nGör kontrollen här: {LINK}/{round_id}\n")
    assert (lapsed.template, lapsed.recipients, lapsed.dedupe_key, lapsed.created_at) == (
        "recert_ended_member", third.mail, f"recert-ended:{by_person[third.hsa_id].id}", DEADLINE)
    assert lapsed.text_body == (
        "Hej Sara Sköterska3,\n\nDin behörighet till Nationell patientöversikt (NPÖ) genom medarbetaruppdraget VoB SJF "
        f"vid {unit.name} har\ntagits bort, eftersom den inte bekräftades i verksamhetschefens behörighetskontroll "
        f"({ref}) senast 2026-12-08.\n\nBehöver du NPÖ i ditt arbete? Kontakta din verksamhetschef, som kan beställa "
        "behörigheten på nytt.\n")
    assert (closed.template, closed.recipients, closed.dedupe_key, closed.created_at) == (
        "recert_closed", reviewers, f"recert-closed:{round_id}", DEADLINE)
    assert closed.subject == f"Behörighetskontroll {ref} vid {unit.name} är avslutad"
    assert closed.text_body == (
        f"Hej,\n\nBehörighetskontrollen {ref} av NPÖ-behörigheterna (medarbetaruppdraget VoB SJF) vid {unit.name}\när "
        "avslutad. Resultat:\n  - Bekräftad: 1\n  - Borttagen: 1\n  - Ej bekräftad i tid – borttagen: 1\n\n"
        "Kontrollen och varje beslut (vem, när, vad) sparas som dokumentation av behörighetsuppföljningen: "
        f"{LINK}/{round_id}\n")


# ---------------------------------------------------------------------- lapsing at its boundaries
def test_a_member_lapses_from_the_deadline_on_and_an_access_already_over_is_recorded_as_ended(world: World,  # type: ignore[no-untyped-def]
                                                                                                 sessions) -> None:
    commission = unit_with_members(world)
    first, second, third = world.public_staff
    world.directory.ensure_membership(commission, third.hsa_id, Validity(COMMISSION_START, DEADLINE))  # ends then
    round_id = open_due(world, sessions, commission, OPENS)
    assert round_id is not None
    by_person = {i.person_hsa_id: i.id for i in items(sessions, round_id)}
    assert lapse(world, sessions, by_person[first.hsa_id], DEADLINE - dt.timedelta(microseconds=1)) is D.PENDING
    assert membership(world, commission, first.hsa_id).validity.end is None
    world.directory.ldap.delete(membership(world, commission, second.hsa_id).dn)  # removed by hand in the catalogue
    assert lapse(world, sessions, by_person[first.hsa_id], DEADLINE) is D.LAPSED
    assert lapse(world, sessions, by_person[second.hsa_id], DEADLINE) is D.ENDED  # no membership left to end
    assert lapse(world, sessions, by_person[third.hsa_id], DEADLINE) is D.ENDED  # over at the very instant
    assert lapse(world, sessions, by_person[first.hsa_id], DEADLINE + dt.timedelta(hours=1)) is D.LAPSED  # once
    with pytest.raises(NotFound) as caught:
        lapse(world, sessions, 987654, DEADLINE)
    assert str(caught.value) == "Raden 987654 finns inte."
    ended = (D.ENDED, SYSTEM, SYSTEM_NAME, DEADLINE, "Behörigheten hade upphört före tidsgränsen", None)
    assert [row[6:] for row in item_rows(sessions, round_id)] == [
        (D.LAPSED, SYSTEM, SYSTEM_NAME, DEADLINE, "Ej bekräftad före tidsgränsen", None), ended, ended]
    assert (membership(world, commission, third.hsa_id).validity.end,
            membership(world, commission, third.hsa_id).ended_reason) == (DEADLINE, None)
    assert [(row[1], row[5], row[9]) for row in log(sessions)[1:]] == [
        (K.LAPSED, first.hsa_id, "Sara Sköterska1: Ej bekräftad i tid – borttagen – Ej bekräftad före tidsgränsen"),
        (K.ENDED, second.hsa_id, "Sara Sköterska2: Behörigheten hade redan upphört – Behörigheten hade upphört före "
                                 "tidsgränsen"),
        (K.ENDED, third.hsa_id, "Sara Sköterska3: Behörigheten hade redan upphört – Behörigheten hade upphört före "
                                "tidsgränsen")]
    assert [(m.template, m.recipients) for m in mails(sessions)] == [
        ("recert_request", world.public_manager.mail), ("recert_ended_member", first.mail)]


# ---------------------------------------------------------------------- several rounds
def test_closing_one_units_round_leaves_the_other_units_round_open(world: World, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    public = unit_with_members(world)
    private, _ = world.directory.ensure_commission(world.private_unit.hsa_id, valid_from=COMMISSION_START)
    for nurse in world.private_staff:
        world.directory.ensure_membership(private.hsa_id, nurse.hsa_id, Validity(COMMISSION_START))
    later = OPENS + dt.timedelta(days=1)
    with sessions() as session:
        private_id = recertification.open_due_round(session=session, directory=world.directory, config=CONFIG,
                                                    unit_hsa_id=world.private_unit.hsa_id,
                                                    commission_hsa_id=private.hsa_id, now=OPENS)
        assert private_id is not None
        private_id = private_id.id
    public_id = open_due(world, sessions, public, later)
    assert public_id is not None
    with sessions() as session:
        assert recertification.open_rounds(session) == [private_id, public_id]
        assert recertification.open_rounds(session, overdue_at=DEADLINE - dt.timedelta(seconds=1)) == []
        assert recertification.open_rounds(session, overdue_at=DEADLINE) == [private_id]
    report = decide(world, sessions, actor, world.public_manager, public_id,
                    [decisions.Choice(i.id, True) for i in items(sessions, public_id)], later)
    assert report.closed
    assert (load_round(sessions, private_id).state, load_round(sessions, private_id).open_unit) == (
        RoundState.OPEN, world.private_unit.hsa_id.upper())
    with sessions() as session:
        assert recertification.open_rounds(session) == [private_id]
    assert not close(world, sessions, private_id, later)  # its members wait


# ---------------------------------------------------------------------- opening: who, when, and for whom
def test_a_round_the_manager_starts_names_them_and_lists_a_member_missing_from_the_catalogue(world: World,  # type: ignore[no-untyped-def]
                                                                                              sessions, actor) -> None:
    unit_with_members(world)
    manager, (first, second, third) = world.public_manager, world.public_staff
    world.directory.ldap.delete(third.dn)  # the person entry is gone, the membership is still there
    reviewer = actor(manager)
    with sessions() as session:
        round_ = decisions.start_round(session=session, directory=world.directory, config=CONFIG, actor=reviewer,
                                       unit_hsa_id=world.public_unit.hsa_id, now=OPENS)
        round_id = round_.id
    assert round_id is not None
    with sessions() as session:  # pressed again: the open round, not a second one
        again = decisions.start_round(session=session, directory=world.directory, config=CONFIG, actor=reviewer,
                                      unit_hsa_id=world.public_unit.hsa_id, now=OPENS + dt.timedelta(hours=1))
        assert again.id == round_id
    round_ = load_round(sessions, round_id)
    assert (round_.trigger, round_.opened_by, round_.opened_by_name) == (RoundTrigger.MANUAL, manager.hsa_id,
                                                                         "Maria Chef")
    assert [row[1:4] for row in item_rows(sessions, round_id)] == [  # by name: the HSA-ID sorts first
        (third.hsa_id, third.hsa_id, None), (first.hsa_id, "Sara Sköterska1", first.mail),
        (second.hsa_id, "Sara Sköterska2", second.mail)]
    assert [row[7:] for row in log(sessions)] == [
        (manager.hsa_id, "Maria Chef", "3 medarbetare att kontrollera senast 2026-12-08")]
    [mail] = mails(sessions)
    assert mail.text_body.startswith(f"Hej,\n\nDet är dags för behörighetskontrollen (BK-{round_id}) av vilka ")
    assert (f"Väntar på beslut:\n  - {third.hsa_id}\n  - Sara Sköterska1\n  - Sara Sköterska2\n\nGör kontrollen "
            "här") in mail.text_body


def test_without_a_commission_start_the_round_is_due_a_year_after_the_first_member_started(world: World,  # type: ignore[no-untyped-def]
                                                                                             sessions) -> None:
    unit = world.region.unit_b
    commission, _ = world.directory.ensure_commission(unit.hsa_id)  # no npoValidFrom
    assert commission.validity is None

    def open_at(now: dt.datetime) -> int | None:
        with sessions() as session:
            opened = recertification.open_due_round(session=session, directory=world.directory, config=CONFIG,
                                                    unit_hsa_id=unit.hsa_id, commission_hsa_id=commission.hsa_id,
                                                    now=now)
            return opened.id if opened else None

    assert open_at(OPENS) is None  # nobody to check and nothing to count from
    world.directory.ensure_membership(commission.hsa_id, world.vgs.hsa_id, Validity(COMMISSION_START))
    world.directory.ensure_membership(commission.hsa_id, world.skf.hsa_id, Validity(COMMISSION_START + dt.timedelta(
        days=40)))
    assert open_at(at(dt.date(2026, 11, 23), 23, 59, 59)) is None
    round_id = open_at(at(dt.date(2026, 11, 24), 0, 0, 0))
    assert round_id is not None
    with sessions() as session:  # listed (and so lapsed) in HSA-ID order, whatever order the catalogue gives
        listed = session.exec(select(RecertificationItem).order_by(RecertificationItem.id)).all()
    assert [i.person_hsa_id for i in listed] == [world.skf.hsa_id, world.vgs.hsa_id]
    assert mails(sessions) == []  # the unit has no verksamhetschef and no mailbox: nobody to mail


def test_a_commission_without_members_opens_no_round(world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    commission, _ = world.directory.ensure_commission(world.public_unit.hsa_id, valid_from=COMMISSION_START)
    world.directory.ensure_membership(commission.hsa_id, world.public_staff[0].hsa_id,
                                      Validity(COMMISSION_START, OPENS - dt.timedelta(days=1)))  # over before
    assert open_due(world, sessions, commission.hsa_id, OPENS) is None
    with sessions() as session:
        assert session.exec(select(RecertificationRound)).all() == []
        assert session.exec(select(RecertificationItem)).all() == []


# ---------------------------------------------------------------------- reminders
def test_no_reminder_on_the_opening_day_of_a_short_round_nor_for_an_unknown_round(world: World,  # type: ignore[no-untyped-def]
                                                                                    sessions) -> None:
    short = ReviewConfig(public_base_url="http://npo.test", deadline_business_days=2)  # until Thursday 26 November
    commission = unit_with_members(world)
    round_id = open_due(world, sessions, commission, OPENS, short)
    assert round_id is not None
    assert not remind(world, sessions, round_id, at(dt.date(2026, 11, 24), 14), short)  # 3 days left, opened today
    assert remind(world, sessions, round_id, at(dt.date(2026, 11, 25), 6), short)
    assert remind(world, sessions, round_id, at(dt.date(2026, 11, 26), 6), short)
    assert not remind(world, sessions, 987654, at(dt.date(2026, 11, 26), 6), short)
    assert [(row[0], row[9]) for row in log(sessions)[1:]] == [
        (f"round-reminder:{round_id}:3", "3 medarbetare väntar på beslut; 2 arbetsdagar kvar"),
        (f"round-reminder:{round_id}:1", "3 medarbetare väntar på beslut; 1 arbetsdagar kvar")]


# ---------------------------------------------------------------------- closing without the unit, and the next round
def test_a_round_whose_unit_left_the_catalogue_closes_without_a_summary_mail(world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    commission = unit_with_members(world)
    round_id = open_due(world, sessions, commission, OPENS)
    assert round_id is not None
    unit = world.public_unit
    gone = f"{unit.hsa_id}-NEDLAGD"  # re-identified in the catalogue: the round's HSA-ID finds no unit any more
    world.directory.ldap.move(unit.dn, f"hsaIdentity={gone}", unit.dn.split(",", 1)[1])
    assert world.directory.unit(unit.hsa_id) is None
    assert lapse_all(world, sessions, DEADLINE) == {"lapsed": 3}
    round_ = load_round(sessions, round_id)
    assert (round_.state, round_.closed_at) == (RoundState.CLOSED, DEADLINE)
    assert log(sessions)[-1][:2] == (f"round-closed:{round_id}", K.ROUND_CLOSED)
    assert [m.template for m in mails(sessions)] == ["recert_request"] + ["recert_ended_member"] * 3


def test_the_third_round_counts_from_the_second(world: World, sessions, actor) -> None:  # type: ignore[no-untyped-def]
    commission = unit_with_members(world)
    for opened in (OPENS, at(dt.date(2027, 11, 24))):
        round_id = open_due(world, sessions, commission, opened)
        assert round_id is not None
        decide(world, sessions, actor, world.public_manager, round_id,
               [decisions.Choice(i.id, True) for i in items(sessions, round_id)], opened + dt.timedelta(hours=2))
    assert open_due(world, sessions, commission, at(dt.date(2027, 12, 1))) is None
    assert open_due(world, sessions, commission, at(dt.date(2028, 11, 23))) is None
    assert open_due(world, sessions, commission, at(dt.date(2028, 11, 24))) is not None
