"""Recertification with usage through the real app (issue 14 item 3): each member's last NPÖ read through the unit's
commission, members idle for the threshold flagged and pre-marked, and "Ta bort alla markerade" as one decision with
one reason, refused as a whole when something is wrong."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from freezegun import freeze_time
from pydantic import ValidationError

from api.app import create_app
from catalog.model import Validity
from kernel import runtime
from kernel.clock import local_date, local_midnight, now
from kernel.settings import Settings
from overview import accesslog
from overview.accesslog import Action, LogEntry, Outcome, Resource
from provisioning.authz import load_actor
from provisioning.recertification import decisions
from provisioning.recertification.models import ItemDecision
from tests.api.conftest import Browser
from tests.api.test_review_web import CONFIG, items_by_person, open_round
from tests.conftest import MailSink
from tests.world import World

DAY = dt.timedelta(days=1)
REMOVE_MARKED = "/behorighetskontroll/{}/ta-bort-markerade"


def read(world: World, who: str, at: dt.datetime, commission: str, outcome: Outcome = Outcome.GRANTED) -> None:
    """One overview read in the access log, as the overview writes it."""
    with runtime.session_scope() as session:
        accesslog.append(session, LogEntry(at=at, user_hsa_id=who, action=Action.READ,
                                           resource_type=Resource.OVERVIEW, outcome=outcome,
                                           commission_hsa_id=commission, care_unit_hsa_id=world.public_unit.hsa_id,
                                           patient_personnummer="196004011232"))


def commission_of(world: World) -> str:
    return world.directory.commissions_on_unit(world.public_unit.hsa_id)[0].hsa_id


def row(page: str, person: str) -> str:
    """The member's row of the round's table."""
    return page.split(f'data-person="{person}"', 1)[1].split("</tr>", 1)[0]


def marked(page: str) -> set[int]:
    return {int(m) for m in re.findall(r'name="markerad" value="(\d+)" checked', page)}


@pytest.fixture
def readers(world: World) -> tuple[int, str]:
    """A round of the public unit whose three nurses (members since 2025-01-01) read NPÖ differently: the first 10
    days ago, the second 175 days ago, the third never through this commission (yesterday through another unit's)."""
    round_id = open_round(world)
    commission = commission_of(world)
    first, second, third = (n.hsa_id for n in world.public_staff)
    read(world, first, now() - 40 * DAY, commission)
    read(world, first, now() - 10 * DAY, commission)
    read(world, first, now() - 2 * DAY, commission, outcome=Outcome.REFUSED)  # refused: nothing was read
    read(world, second, now() - 175 * DAY, commission)
    read(world, third, now() - DAY, f"{world.private_unit.hsa_id}-SJF")
    return round_id, commission


def test_each_member_shows_the_last_read_and_the_idle_ones_are_flagged_and_marked(web: Browser, world: World,
                                                                                   readers: tuple[int, str]) -> None:
    round_id, _ = readers
    first, second, third = (n.hsa_id for n in world.public_staff)
    items = items_by_person(round_id)
    web.login(world.public_manager.hsa_id)
    page = web.client.get(f"/behorighetskontroll/{round_id}").text
    assert f"Senaste läsning i NPÖ: {local_date(now() - 10 * DAY)}" in row(page, first)
    assert f"Senaste läsning i NPÖ: {local_date(now() - 175 * DAY)}" in row(page, second)
    assert "Aldrig läst i NPÖ" in row(page, third)  # another commission's read: not here
    assert [p for p in (first, second, third) if "Ingen läsning på 6 månader" in row(page, p)] == [third]
    assert 'data-idle="ja"' in row(page, third) and 'data-idle="nej"' in row(page, second)
    assert "1 av 3 medarbetare har inte läst i NPÖ" in page
    assert marked(page) == {items[third].id}
    assert '<label class="check"><input type="checkbox" form="ta-bort-markerade-form" name="markerad"' in page
    assert 'action="/behorighetskontroll/' in page and ">Ta bort alla markerade</button>" in page
    assert '<label for="f-motivering-markerade">' in page  # the shared reason has its label

    with freeze_time(now() + 9 * DAY, tick=True):  # the second nurse's last read is now 184 days back
        web.login(world.public_manager.hsa_id)
        later = web.client.get(f"/behorighetskontroll/{round_id}").text
    assert [p for p in (first, second, third) if "Ingen läsning på 6 månader" in row(later, p)] == [second, third]
    assert marked(later) == {items[second].id, items[third].id}


def test_ta_bort_alla_markerade_removes_them_in_one_decision_with_one_reason(web: Browser, world: World,
                                                                           readers: tuple[int, str]) -> None:
    round_id, commission = readers
    first, second, third = (n.hsa_id for n in world.public_staff)
    items = items_by_person(round_id)
    web.login(world.public_manager.hsa_id)
    chosen = [str(items[second].id), str(items[third].id)]  # the manager adds the second nurse to the marked one
    missing = web.client.post(REMOVE_MARKED.format(round_id), data={"csrf": web.csrf(), "markerad": chosen,
                                                                    "motivering-markerade": "  "})
    assert missing.status_code == 422
    assert "Inget är sparat" in missing.text and "Ange varför de markerade medarbetarna ska tas bort" in missing.text
    assert 'id="e-motivering-markerade"' in missing.text and 'aria-invalid="true"' in missing.text
    assert marked(missing.text) == {items[second].id, items[third].id}  # the selection is kept as posted
    nothing = web.client.post(REMOVE_MARKED.format(round_id), data={"csrf": web.csrf(),
                                                                    "motivering-markerade": "Använder inte NPÖ"})
    assert nothing.status_code == 422 and "Markera minst en medarbetare att ta bort." in nothing.text
    assert 'value="Använder inte NPÖ"' in nothing.text  # what was typed is kept
    assert {i.decision for i in items_by_person(round_id).values()} == {ItemDecision.PENDING}

    saved = web.client.post(REMOVE_MARKED.format(round_id), data={
        "csrf": web.csrf(), "markerad": chosen, "motivering-markerade": "Har inte använt NPÖ på ett halvår"},
        follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/behorighetskontroll/{round_id}"
    assert "2 beslut sparade" in web.client.get(saved.headers["location"]).text
    decided = items_by_person(round_id)
    assert {p: decided[p].decision for p in (first, second, third)} == {
        first: ItemDecision.PENDING, second: ItemDecision.REMOVED, third: ItemDecision.REMOVED}
    assert {decided[p].reason for p in (second, third)} == {"Har inte använt NPÖ på ett halvår"}
    assert {decided[p].decided_by for p in (second, third)} == {world.public_manager.hsa_id}
    valid = {m.person_hsa_id for m in world.directory.memberships(commission) if m.is_valid_at(now() + DAY)}
    assert valid == {first}


def test_a_member_of_another_units_round_is_not_removable(web: Browser, world: World,
                                                          readers: tuple[int, str]) -> None:
    round_id, _ = readers
    private, _ = world.directory.ensure_commission(world.private_unit.hsa_id)
    for nurse in world.private_staff:
        world.directory.ensure_membership(private.hsa_id, nurse.hsa_id, Validity(local_midnight(dt.date(2025, 1, 1))))
    with runtime.session_scope() as session:
        manager = load_actor(world.directory, session, world.private_manager.hsa_id, now=now())
        assert manager is not None
        other = decisions.start_round(session=session, directory=world.directory, config=CONFIG, actor=manager,
                                      unit_hsa_id=world.private_unit.hsa_id, now=now())
        other_id = other.id
    assert other_id is not None
    foreign = next(iter(items_by_person(other_id).values()))
    own = items_by_person(round_id)[world.public_staff[2].hsa_id]
    web.login(world.public_manager.hsa_id)
    mixed = web.client.post(REMOVE_MARKED.format(round_id), data={
        "csrf": web.csrf(), "markerad": [str(own.id), str(foreign.id)], "motivering-markerade": "Slutat"})
    assert mixed.status_code == 422 and "en medarbetare finns inte i kontrollen" in mixed.text
    refused = web.client.post(REMOVE_MARKED.format(other_id), data={
        "csrf": web.csrf(), "markerad": [str(foreign.id)], "motivering-markerade": "Slutat"})
    assert refused.status_code == 403
    for rid in (round_id, other_id):
        assert {i.decision for i in items_by_person(rid).values()} == {ItemDecision.PENDING}
    valid = {m.person_hsa_id for m in world.directory.memberships(private.hsa_id) if m.is_valid_at(now() + DAY)}
    assert valid == {n.hsa_id for n in world.private_staff}


def test_bad_input_to_ta_bort_alla_markerade_is_answered_in_swedish(web: Browser, world: World,
                                                                    readers: tuple[int, str]) -> None:
    round_id, _ = readers
    item = items_by_person(round_id)[world.public_staff[2].hsa_id]
    web.login(world.public_manager.hsa_id)
    long = web.client.post(REMOVE_MARKED.format(round_id), data={
        "csrf": web.csrf(), "markerad": [str(item.id)], "motivering-markerade": "x" * 501})
    assert long.status_code == 422 and "Motiveringen får vara högst 500 tecken (nu 501)." in long.text
    odd = web.client.post(REMOVE_MARKED.format(round_id), data={
        "csrf": web.csrf(), "markerad": ["abc", "²", "-1"], "motivering-markerade": "Slutat"})
    assert odd.status_code == 422 and "Markera minst en medarbetare att ta bort." in odd.text
    forged = web.client.post(REMOVE_MARKED.format(round_id), data={
        "markerad": [str(item.id)], "motivering-markerade": "Slutat"})
    assert forged.status_code == 403
    assert web.client.post(REMOVE_MARKED.format(10**15), data={
        "csrf": web.csrf(), "markerad": [str(item.id)], "motivering-markerade": "Slutat"}).status_code == 404
    assert items_by_person(round_id)[item.person_hsa_id].decision is ItemDecision.PENDING


@pytest.fixture
def web_month(app_settings: Settings, world: World, smtp_sink: MailSink) -> Iterator[Browser]:
    """The app of the ``web`` fixture with a threshold of 30 days (NPO_RECERT_IDLE_DAYS=30)."""
    runtime.configure(app_settings.model_copy(update={
        "dev_login": True, "region_provider_hsa_id": world.region.provider.hsa_id, "smtp_port": smtp_sink.port,
        "public_base_url": "http://npo.test", "recert_idle_days": 30}))
    with TestClient(create_app()) as client:
        yield Browser(client)


def test_the_threshold_is_a_setting(web_month: Browser, world: World, readers: tuple[int, str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    round_id, _ = readers
    first, second, third = (n.hsa_id for n in world.public_staff)
    web_month.login(world.public_manager.hsa_id)
    page = web_month.client.get(f"/behorighetskontroll/{round_id}").text
    assert "Ingen läsning på 6 månader" not in page
    assert [p for p in (first, second, third) if "Ingen läsning på 1 månad" in row(page, p)] == [second, third]
    monkeypatch.setenv("NPO_RECERT_IDLE_DAYS", "90")
    assert Settings(_env_file=None).recert_idle_days == 90  # type: ignore[call-arg]
    monkeypatch.setenv("NPO_RECERT_IDLE_DAYS", "0")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]
