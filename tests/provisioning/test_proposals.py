"""Proposed membership orders (issue 14 items 1–2, provisioning/proposals.py) on the real slapd and database: the HR
sync's movers and joiners become prefilled orders for the new unit's manager (the old unit's manager told), a
person asks from Felsökning, the manager orders in one click or declines with a reason; duplicates, archived
persons, a unit without a manager and a person who has since left are each met with the reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace

import pytest
from freezegun import freeze_time
from sqlmodel import Session, select

from catalog.hrexport import read_export
from catalog.model import CareUnit, Person, Validity
from catalog.reconcile import SyncReport, run_sync
from kernel.outbox import OutboxMail
from provisioning import proposals
from provisioning.authz import Actor
from provisioning.automation import lines_of
from provisioning.errors import Conflict, InvalidInput, NotAllowed, NotFound
from provisioning.models import AccessProposal, OrderState, ProposalOrigin, ProposalState
from tests.conftest import Org
from tests.provisioning.conftest import NOW
from tests.world import World

Sessions = Callable[[], AbstractContextManager[Session]]
HEADER = "personnummer;given_name;surname;unit_hsa_id;title;employment_start;employment_end;mail"
PNR = {"chef_a": "198001010001", "chef_b": "198202020002", "nurse": "198403030003", "new": "198604040004",
       "chef_c": "198805050005"}


def _pnr(key: str) -> str:
    from stdnum import luhn

    body = PNR[key][:11]
    return body + luhn.calc_check_digit(body[2:])


def mails(sessions: Sessions, template: str) -> list[OutboxMail]:
    with sessions() as session:
        return list(session.exec(select(OutboxMail).where(OutboxMail.template == template)).all())


class HrWorld:
    """A vårdgivare fed by HR: units A and B with managers and VoB SJF, a nurse with a membership at A."""

    def __init__(self, world: World) -> None:
        self.world, self.directory = world, world.directory
        self.org = Org(world.directory)
        self.config = replace(world.config, region_provider_hsa_id=self.org.provider.hsa_id)
        self.a, self.b = self.org.unit_a, self.org.unit_b
        self.rows: dict[str, str] = {}
        for key, unit, given in (("chef_a", self.a, "Anders"), ("chef_b", self.b, "Britt"), ("nurse", self.a, "Nora")):
            self.employ(key, unit, given)
        assert self.sync().ok
        self.chef_a, self.chef_b, self.nurse = (self.by_pnr(k) for k in ("chef_a", "chef_b", "nurse"))
        for unit, chef in ((self.a, self.chef_a), (self.b, self.chef_b)):
            world.directory.set_unit_manager(unit.hsa_id, chef.hsa_id)
            world.directory.ensure_commission(unit.hsa_id)
        self.commission_a = world.directory.commissions_on_unit(self.a.hsa_id)[0]
        world.directory.ensure_membership(self.commission_a.hsa_id, self.nurse.hsa_id,
                                          Validity(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))

    def employ(self, key: str, unit: CareUnit, given: str, *, start: str = "2020-01-01", end: str = "") -> None:
        self.rows[key] = (f"{_pnr(key)};{given};Hr{key.title()};{unit.hsa_id};Sjuksköterska;{start};{end};"
                          f"{key}.{self.org.org_no}@vard.example")

    def sync(self) -> SyncReport:
        data = ("\n".join([HEADER, *self.rows.values()]) + "\n").encode()
        return run_sync(self.directory, read_export(data, name="hr.csv"), provider_hsa_id=self.org.provider.hsa_id,
                        max_disable_share=1.0)

    def by_pnr(self, key: str) -> Person:
        [person] = [p for p in self.directory.persons_by_personnummer(_pnr(key))
                    if p.active and p.hsa_id.startswith(f"SE{self.org.org_no}")]
        return person

    def propose(self, sessions: Sessions, report: SyncReport) -> list[AccessProposal]:
        with sessions() as session:
            return proposals.from_sync(session=session, directory=self.directory, config=self.config,
                                       arrivals=report.arrivals(), now=NOW)


@pytest.fixture
def actor(world: World, sessions: Sessions) -> Callable[[Person], Actor]:
    """The actor for a person, loaded once per test before any session of the test is open (SQLite has one
    writer: a second session inside an open one would wait for it)."""
    from provisioning.authz import load_actor

    loaded: dict[str, Actor] = {}
    people = [world.public_manager, world.private_manager, world.sysadmin]
    for person in people:
        with sessions() as session:
            found = load_actor(world.directory, session, person.hsa_id, now=NOW)
        assert found is not None
        loaded[person.hsa_id] = found

    def load(person: Person) -> Actor:
        if person.hsa_id not in loaded:
            with sessions() as session:
                found = load_actor(world.directory, session, person.hsa_id, now=NOW)
            assert found is not None
            loaded[person.hsa_id] = found
        return loaded[person.hsa_id]
    return load


@pytest.fixture
def hr(world: World) -> HrWorld:
    with freeze_time(NOW):
        return HrWorld(world)


@freeze_time(NOW)
def test_a_mover_gets_a_prefilled_order_at_the_new_unit_and_keeps_the_old_access_until_the_move(
        hr: HrWorld, sessions: Sessions, actor: Callable[[Person], Actor]) -> None:
    chef_b = actor(hr.chef_b)
    hr.employ("nurse", hr.b, "Nora", start="2026-12-07")  # moves to B on Monday 7 December
    report = hr.sync()
    assert report.ok and report.counts()["movers"] == 1
    [proposal] = hr.propose(sessions, report)
    assert (proposal.origin, proposal.state, proposal.unit_hsa_id, proposal.from_unit_hsa_id) == (
        ProposalOrigin.MOVER, ProposalState.OPEN, hr.b.hsa_id, hr.a.hsa_id)
    assert proposal.valid_from == dt.date(2026, 12, 7) and proposal.valid_to is None and proposal.no_manager is None
    assert "upphör 2026-12-07 00:00" in proposal.comment
    [old] = hr.directory.memberships_of(hr.nurse.hsa_id)
    assert old.validity.end == dt.datetime(2026, 12, 6, 23, 0, tzinfo=dt.UTC)  # midnight Swedish time: no gap
    [to_new] = mails(sessions, "proposal_to_manager")
    assert to_new.recipients == f"chef_b.{hr.org.org_no}@vard.example" and "Nora" in to_new.subject
    [to_old] = mails(sessions, "mover_old_unit")
    assert to_old.recipients == f"chef_a.{hr.org.org_no}@vard.example" and "2026-12-07 00:00" in to_old.text_body
    assert hr.propose(sessions, hr.sync()) == []  # the next night's run finds nothing new

    with sessions() as session:
        done = proposals.order_from(session=session, directory=hr.directory, config=hr.config,
                                    actor=chef_b, proposal_id=proposal.id or 0, valid_from="2026-12-07",
                                    valid_to="", now=NOW)
        assert done.order is not None and done.closed is None
        reference, state = done.order.reference, done.order.state
        [line] = lines_of(session, done.order)
    assert state is OrderState.SUBMITTED and (line.person_hsa_id, line.valid_from) == (hr.nurse.hsa_id,
                                                                                       dt.date(2026, 12, 7))
    with sessions() as session:
        stored = session.get(AccessProposal, proposal.id)
        assert stored is not None and stored.state is ProposalState.ORDERED and stored.decision_reason == reference
        assert [e.event for e in proposals.events(session, stored.id or 0)] == ["created", "ordered"]
        with pytest.raises(Conflict, match="redan beställd"):
            proposals.order_from(session=session, directory=hr.directory, config=hr.config, actor=chef_b,
                                 proposal_id=proposal.id or 0, valid_from="2026-12-07", valid_to="", now=NOW)


@freeze_time(NOW)
def test_a_joiner_at_a_unit_with_vob_sjf_is_suggested_and_one_without_is_not(hr: HrWorld, sessions: Sessions) -> None:
    c = hr.directory.create_unit(CareUnit(hr.org.hsa("V0003"), "", "Barnmottagningen Testa", hr.org.provider.hsa_id))
    hr.employ("new", hr.b, "Nils")
    hr.employ("chef_c", c, "Cilla")  # C has no VoB SJF: nothing to order there yet
    [joiner] = hr.propose(sessions, hr.sync())
    assert (joiner.origin, joiner.person_name, joiner.unit_hsa_id) == (ProposalOrigin.JOINER, "Nils HrNew",
                                                                       hr.b.hsa_id)
    assert joiner.valid_from == NOW.date() and "nyanställd" in joiner.comment


@freeze_time(NOW)
def test_a_mover_to_a_unit_without_a_manager_goes_to_npo_forvaltningen_with_the_reason(
        hr: HrWorld, sessions: Sessions, actor: Callable[[Person], Actor]) -> None:
    c = hr.directory.create_unit(CareUnit(hr.org.hsa("V0003"), "", "Barnmottagningen Testa", hr.org.provider.hsa_id))
    hr.directory.ensure_commission(c.hsa_id)
    chef_b = actor(hr.chef_b)
    hr.employ("nurse", c, "Nora", start="2026-11-24")
    [proposal] = hr.propose(sessions, hr.sync())
    assert proposal.no_manager == "Barnmottagningen Testa har ingen verksamhetschef i Skånekatalogen."
    [mail] = mails(sessions, "proposal_to_manager")
    assert "npo-forvaltning@skane.example" in mail.recipients and "ingen verksamhetschef" in mail.text_body
    with sessions() as session:
        assert [p.id for p in proposals.visible(session, actor(hr.world.sysadmin))] == [proposal.id]
        assert proposals.visible(session, chef_b) == []
        with pytest.raises(NotAllowed, match="För in verksamhetschefen"):
            proposals.order_from(session=session, directory=hr.directory, config=hr.config,
                                 actor=actor(hr.world.sysadmin), proposal_id=proposal.id or 0,
                                 valid_from="2026-11-24", valid_to="", now=NOW)


def test_a_request_from_felsokning_reaches_the_manager_who_turns_it_into_an_order(
        world: World, sessions: Sessions, actor: Callable[[Person], Actor]) -> None:
    world.directory.ensure_commission(world.public_unit.hsa_id)
    sara = world.public_staff[0]
    with sessions() as session:
        asked = proposals.request_access(session=session, directory=world.directory, config=world.config,
                                         person_hsa_id=sara.hsa_id, comment="Jag börjar på akuten i morgon.", now=NOW)
        assert (asked.origin, asked.comment, asked.unit_hsa_id) == (ProposalOrigin.REQUEST, "Jag börjar på akuten i "
                                                                    "morgon.", world.public_unit.hsa_id)
    [mail] = mails(sessions, "proposal_to_manager")
    assert world.public_manager.mail in mail.recipients and "Jag börjar på akuten" in mail.text_body
    with sessions() as session, pytest.raises(Conflict, match="redan begärt behörighet"):
        proposals.request_access(session=session, directory=world.directory, config=world.config,
                                 person_hsa_id=sara.hsa_id, comment="", now=NOW)
    with sessions() as session:
        assert [p.id for p in proposals.visible(session, actor(world.public_manager))] == [asked.id]
        with pytest.raises(NotFound):
            proposals.get(session, actor(world.private_manager), asked.id or 0)
        done = proposals.order_from(session=session, directory=world.directory, config=world.config,
                                    actor=actor(world.public_manager), proposal_id=asked.id or 0,
                                    valid_from=NOW.date().isoformat(), valid_to="2027-06-30", now=NOW)
        assert done.order is not None
        reference = done.order.reference
    [told] = mails(sessions, "proposal_decided")
    assert told.recipients == sara.mail and reference in told.text_body and "beställd" in told.subject
    with sessions() as session, pytest.raises(Conflict, match=f"{reference}.*på väg"):
        proposals.request_access(session=session, directory=world.directory, config=world.config,
                                 person_hsa_id=sara.hsa_id, comment="", now=NOW)
    with sessions() as session:
        [mine] = proposals.of_person(session, sara.hsa_id)
        [pending] = proposals.pending_orders(session, sara.hsa_id)
    assert mine.state is ProposalState.ORDERED and (pending.reference, pending.state_label) == (reference, "Inskickad")


def test_a_declined_request_needs_a_reason_and_the_requester_is_told_it(
        world: World, sessions: Sessions, actor: Callable[[Person], Actor]) -> None:
    world.directory.ensure_commission(world.public_unit.hsa_id)
    sara = world.public_staff[1]
    with sessions() as session:
        asked = proposals.request_access(session=session, directory=world.directory, config=world.config,
                                         person_hsa_id=sara.hsa_id, comment="", now=NOW)
    with sessions() as session, pytest.raises(InvalidInput, match="varför förslaget avböjs"):
        proposals.decline(session=session, actor=actor(world.public_manager), config=world.config,
                          proposal_id=asked.id or 0, reason="  ", now=NOW)
    with sessions() as session:
        proposals.decline(session=session, actor=actor(world.public_manager), config=world.config,
                          proposal_id=asked.id or 0, reason="Du arbetar inte med patienter.", now=NOW)
    [told] = mails(sessions, "proposal_decided")
    assert "avböjd" in told.subject and "Du arbetar inte med patienter." in told.text_body
    with sessions() as session:
        again = proposals.request_access(session=session, directory=world.directory, config=world.config,
                                         person_hsa_id=sara.hsa_id, comment="Nu har jag patientkontakt.", now=NOW)
    assert again.id != asked.id  # a declined request does not block a new one


def test_requests_that_cannot_be_met_say_why(world: World, sessions: Sessions) -> None:
    d = world.directory
    commission, _ = d.ensure_commission(world.public_unit.hsa_id)
    member, archived = world.public_staff[2], world.public_staff[0]
    d.ensure_membership(commission.hsa_id, member.hsa_id, Validity(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    d.mark_person(archived.hsa_id, archived=True)

    def ask(hsa_id: str, comment: str = "") -> AccessProposal:
        with sessions() as session:
            return proposals.request_access(session=session, directory=d, config=world.config, person_hsa_id=hsa_id,
                                            comment=comment, now=NOW)

    with pytest.raises(Conflict, match="redan behörighet.*tills vidare"):
        ask(member.hsa_id)
    with pytest.raises(NotAllowed, match="arkiverad"):
        ask(archived.hsa_id)
    with pytest.raises(NotFound, match="finns inte"):
        ask(world.region.hsa("P9999"))
    with pytest.raises(InvalidInput, match="högst 1000"):
        ask(world.private_staff[0].hsa_id, "x" * 1001)
    with pytest.raises(InvalidInput, match="styrtecken"):
        ask(world.private_staff[0].hsa_id, "hej\x00")
    # a unit without a manager: the request goes to NPÖ-förvaltningen with the reason
    loner = d.create_person(Person(world.region.hsa("LONE"), "", "Lone", "Ensam", title="Undersköterska",
                                   mail="lone@vard.example", unit_hsa_id=world.region.unit_b.hsa_id))
    waiting = ask(loner.hsa_id)
    assert waiting.no_manager and "ingen verksamhetschef" in waiting.no_manager


def test_a_proposal_for_someone_who_has_left_is_closed_with_the_reason_and_nothing_is_ordered(
        world: World, sessions: Sessions, actor: Callable[[Person], Actor]) -> None:
    world.directory.ensure_commission(world.public_unit.hsa_id)
    sara = world.public_staff[0]
    with sessions() as session:
        asked = proposals.request_access(session=session, directory=world.directory, config=world.config,
                                         person_hsa_id=sara.hsa_id, comment="", now=NOW)
    world.directory.disable_person(sara.hsa_id, reason="slutat")
    with sessions() as session:
        done = proposals.order_from(session=session, directory=world.directory, config=world.config,
                                    actor=actor(world.public_manager), proposal_id=asked.id or 0,
                                    valid_from=NOW.date().isoformat(), valid_to="", now=NOW)
    assert done.order is None and done.closed is not None and "har slutat" in done.closed
    with sessions() as session:
        stored = session.get(AccessProposal, asked.id)
        assert stored is not None and stored.state is ProposalState.CLOSED
        assert proposals.pending_orders(session, sara.hsa_id) == []


def test_a_bad_validity_is_refused_by_the_order_rules_and_the_proposal_stays_open(
        world: World, sessions: Sessions, actor: Callable[[Person], Actor]) -> None:
    from provisioning.errors import InvalidInputs

    world.directory.ensure_commission(world.public_unit.hsa_id)
    with sessions() as session:
        asked = proposals.request_access(session=session, directory=world.directory, config=world.config,
                                         person_hsa_id=world.public_staff[0].hsa_id, comment="", now=NOW)
    with sessions() as session, pytest.raises(InvalidInputs) as refused:
        proposals.order_from(session=session, directory=world.directory, config=world.config,
                             actor=actor(world.public_manager), proposal_id=asked.id or 0, valid_from="igår",
                             valid_to="", now=NOW)
    assert "valid_from" in refused.value.errors
    with sessions() as session:
        stored = session.get(AccessProposal, asked.id)
        assert stored is not None and stored.state is ProposalState.OPEN


def test_the_migration_builds_exactly_the_proposal_tables(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine
    from sqlmodel import SQLModel

    from npo.db import upgrade
    from tests.overview.test_models import _table_of

    upgrade(db_url)
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = [d for d in compare_metadata(context, SQLModel.metadata)
                           if _table_of(d) in {"access_proposals", "proposal_events"}]
    finally:
        engine.dispose()
    assert differences == []


def test_a_delegate_of_a_former_manager_is_not_asked_and_the_new_managers_delegate_is(
        world: World, sessions: Sessions, actor: Callable[[Person], Actor]) -> None:
    from provisioning.recertification import delegations

    unit = world.public_unit.hsa_id
    world.directory.ensure_commission(unit)
    old_delegate, new_delegate, asker = world.public_staff
    manager = actor(world.public_manager)
    with sessions() as session:
        delegations.grant(session=session, directory=world.directory, actor=manager, unit_hsa_id=unit,
                          delegate_hsa_id=old_delegate.hsa_id, valid_to=NOW.date() + dt.timedelta(days=30),
                          now=NOW - dt.timedelta(hours=1))
    successor = world.region.person(given="Nina", surname="Nychef")
    world.directory.set_unit_manager(unit, successor.hsa_id)
    successor_actor = actor(successor)
    with sessions() as session:
        delegations.grant(session=session, directory=world.directory, actor=successor_actor, unit_hsa_id=unit,
                          delegate_hsa_id=new_delegate.hsa_id, valid_to=NOW.date() + dt.timedelta(days=30),
                          now=NOW - dt.timedelta(minutes=5))
    with sessions() as session:
        asked = [p.hsa_id for p in proposals.deciders(session, world.directory, world.directory.require_unit(unit),
                                                      now=NOW)]
        proposals.request_access(session=session, directory=world.directory, config=world.config,
                                 person_hsa_id=asker.hsa_id, comment="", now=NOW)
    assert asked == [successor.hsa_id, new_delegate.hsa_id]  # the old delegation lapsed with its manager
    [mail] = mails(sessions, "proposal_to_manager")
    assert new_delegate.mail in mail.recipients and old_delegate.mail not in mail.recipients
