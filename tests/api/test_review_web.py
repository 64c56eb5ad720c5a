"""The behörighetskontroll pages through the real app: the manager sees and decides, others are refused, bad input
comes back beside the field with every choice kept, and nothing is written without the CSRF token."""

from __future__ import annotations

import datetime as dt
import re

from sqlmodel import select

from catalog.model import Validity
from kernel import runtime
from kernel.clock import local_midnight, now
from kernel.outbox import OutboxMail
from provisioning.authz import load_actor
from provisioning.recertification import decisions
from provisioning.recertification.common import ReviewConfig
from provisioning.recertification.models import ItemDecision, RecertificationItem, RecertificationRound
from tests.api.conftest import Browser
from tests.world import World

CONFIG = ReviewConfig(public_base_url="http://npo.test")


def with_members(world: World) -> str:
    commission, _ = world.directory.ensure_commission(world.public_unit.hsa_id)
    start = local_midnight(dt.date(2025, 1, 1))
    for nurse in world.public_staff:
        world.directory.ensure_membership(commission.hsa_id, nurse.hsa_id, Validity(start))
    return commission.hsa_id


def open_round(world: World, opened: dt.datetime | None = None) -> int:
    """A round of the public unit opened by its manager (at ``opened``, default now)."""
    with_members(world)
    with runtime.session_scope() as session:
        manager = load_actor(world.directory, session, world.public_manager.hsa_id, now=now())
        assert manager is not None
        started = decisions.start_round(session=session, directory=world.directory, config=CONFIG, actor=manager,
                                        unit_hsa_id=world.public_unit.hsa_id, now=opened or now())
        return started.id  # type: ignore[return-value]


def items_by_person(round_id: int) -> dict[str, RecertificationItem]:
    with runtime.session_scope() as session:
        rows = session.exec(select(RecertificationItem).where(RecertificationItem.round_id == round_id)).all()
    return {i.person_hsa_id: i for i in rows}


def test_the_manager_confirms_and_removes_from_the_page(web: Browser, world: World) -> None:
    round_id = open_round(world)
    items = items_by_person(round_id)
    keep, leave, rest = (items[n.hsa_id] for n in world.public_staff)
    web.login(world.public_manager.hsa_id)
    listing = web.client.get("/behorighetskontroll").text
    assert 'href="/behorighetskontroll"' in listing and f"BK-{round_id}" in listing and "0 av 3" in listing
    page = web.client.get(f"/behorighetskontroll/{round_id}").text
    assert all(n.name in page for n in world.public_staff) and "arbetsdagar kvar" in page
    bad = web.client.post(f"/behorighetskontroll/{round_id}", data={
        "csrf": web.csrf(), "rad": [str(keep.id), str(leave.id), str(rest.id)], f"beslut-{keep.id}": "bekrafta",
        f"beslut-{leave.id}": "ta-bort", f"motivering-{keep.id}": "Arbetar kvar"})
    assert bad.status_code == 422
    assert "Inget är sparat" in bad.text and f"Ange varför {leave.person_name} ska tas bort" in bad.text
    assert re.search(rf'name="beslut-{keep.id}" value="bekrafta" checked', bad.text)  # nothing typed is lost
    assert re.search(rf'name="beslut-{leave.id}" value="ta-bort" checked', bad.text)
    assert 'value="Arbetar kvar"' in bad.text
    assert {i.decision for i in items_by_person(round_id).values()} == {ItemDecision.PENDING}
    saved = web.client.post(f"/behorighetskontroll/{round_id}", data={
        "csrf": web.csrf(), "rad": [str(keep.id), str(leave.id), str(rest.id)], f"beslut-{keep.id}": "bekrafta",
        f"beslut-{leave.id}": "ta-bort", f"motivering-{leave.id}": "Har slutat"}, follow_redirects=False)
    assert saved.status_code == 303
    after = web.client.get(saved.headers["location"]).text
    assert "2 beslut sparade" in after and 'data-progress="2/3"' in after and "Har slutat" in after
    memberships = {m.person_hsa_id: m for m in world.directory.memberships(
        world.directory.commissions_on_unit(world.public_unit.hsa_id)[0].hsa_id)}
    assert not memberships[leave.person_hsa_id].is_valid_at(now() + dt.timedelta(seconds=1))
    assert memberships[keep.person_hsa_id].is_valid_at(now())
    rest_confirmed = web.client.post(f"/behorighetskontroll/{round_id}", data={
        "csrf": web.csrf(), "rad": [str(rest.id)], "alla": "bekrafta"})
    assert "Kontrollen är klar och avslutad" in rest_confirmed.text and "Kontrollen avslutades" in rest_confirmed.text
    decided = items_by_person(round_id)
    assert decided[rest.person_hsa_id].decision is ItemDecision.CONFIRMED
    assert decided[leave.person_hsa_id].decided_by == world.public_manager.hsa_id
    with runtime.session_scope() as session:
        templates = [m.template for m in session.exec(select(OutboxMail).order_by(OutboxMail.id)).all()]
    assert templates == ["recert_request", "recert_ended_member", "recert_closed"]


def test_a_round_can_be_started_from_the_page_once(web: Browser, world: World) -> None:
    with_members(world)
    web.login(world.public_manager.hsa_id)
    assert f"Starta kontroll för {world.public_unit.name}" in web.client.get("/behorighetskontroll").text
    first = web.client.post("/behorighetskontroll/starta", data={"csrf": web.csrf(),
                                                                  "unit_hsa_id": world.public_unit.hsa_id},
                            follow_redirects=False)
    again = web.client.post("/behorighetskontroll/starta", data={"csrf": web.csrf(),
                                                                  "unit_hsa_id": world.public_unit.hsa_id},
                            follow_redirects=False)
    assert first.status_code == again.status_code == 303 and first.headers["location"] == again.headers["location"]
    with runtime.session_scope() as session:
        assert len(session.exec(select(RecertificationRound)).all()) == 1
    assert "Starta kontroll för" not in web.client.get("/behorighetskontroll").text
    web.login(world.private_manager.hsa_id)  # a unit without VoB SJF has nothing to check
    refused = web.client.post("/behorighetskontroll/starta", data={"csrf": web.csrf(),
                                                                    "unit_hsa_id": world.private_unit.hsa_id})
    assert refused.status_code == 422 and "inget medarbetaruppdrag VoB SJF" in refused.text


def test_only_the_manager_and_delegates_get_in(web: Browser, world: World) -> None:
    round_id = open_round(world)
    item = items_by_person(round_id)[world.public_staff[1].hsa_id]
    web.client.cookies.clear()
    for path in ("/behorighetskontroll", f"/behorighetskontroll/{round_id}"):
        response = web.client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    for outsider in (world.public_staff[1], world.skf, world.private_manager):
        web.login(outsider.hsa_id)
        assert web.client.get(f"/behorighetskontroll/{round_id}").status_code == 403
        posted = web.client.post(f"/behorighetskontroll/{round_id}", data={
            "csrf": web.csrf(), "rad": [str(item.id)], f"beslut-{item.id}": "ta-bort", f"motivering-{item.id}": "x"})
        assert posted.status_code == 403
        listing = web.client.get("/behorighetskontroll")
        if outsider is world.private_manager:  # a manager of another unit: their own (empty) list, not this round
            assert listing.status_code == 200 and f"BK-{round_id}" not in listing.text
        else:
            assert listing.status_code == 403 and 'href="/behorighetskontroll"' not in listing.text
    web.login(world.public_manager.hsa_id)
    forged = web.client.post(f"/behorighetskontroll/{round_id}", data={
        "rad": [str(item.id)], f"beslut-{item.id}": "ta-bort", f"motivering-{item.id}": "x"})
    assert forged.status_code == 403 and "inget har sparats" in forged.text
    assert items_by_person(round_id)[item.person_hsa_id].decision is ItemDecision.PENDING


def test_after_the_deadline_the_page_says_so_and_takes_no_decisions(web: Browser, world: World) -> None:
    round_id = open_round(world, opened=now() - dt.timedelta(days=30))
    item = items_by_person(round_id)[world.public_staff[0].hsa_id]
    web.login(world.public_manager.hsa_id)
    page = web.client.get(f"/behorighetskontroll/{round_id}").text
    assert "Tidsgränsen gick ut" in page and 'type="radio"' not in page
    late = web.client.post(f"/behorighetskontroll/{round_id}", data={
        "csrf": web.csrf(), "rad": [str(item.id)], f"beslut-{item.id}": "bekrafta"})
    assert late.status_code == 409 and "Tidsgränsen" in late.text


def test_a_decision_removing_many_members_runs_as_a_massbeslut_with_a_progress_page(web: Browser,
                                                                                   world: World) -> None:
    commission = with_members(world)
    start = local_midnight(dt.date(2025, 1, 1))
    for n in range(21):  # 24 members in all; removing 22 is more than a request should carry
        nurse = world.region.person(given="Nils", surname=f"Många{n}")
        world.directory.ensure_membership(commission, nurse.hsa_id, Validity(start))
    round_id = open_round(world)
    items = list(items_by_person(round_id).values())
    keep, leave = items[:2], items[2:]
    web.login(world.public_manager.hsa_id)
    data: dict[str, object] = {"csrf": web.csrf(), "rad": [str(i.id) for i in items]}
    data |= {f"beslut-{i.id}": "bekrafta" for i in keep}
    data |= {f"beslut-{i.id}": "ta-bort" for i in leave} | {f"motivering-{i.id}": "Har slutat" for i in leave}
    saved = web.client.post(f"/behorighetskontroll/{round_id}", data=data, follow_redirects=False)
    assert saved.status_code == 303 and re.fullmatch(r"/massbeslut/\d+", saved.headers["location"])
    page = web.client.get(saved.headers["location"]).text
    assert "24 av 24 beslutade, 22 borttagna ur medarbetaruppdraget." in page and 'data-bulk-state="done"' in page
    assert f'href="/behorighetskontroll/{round_id}"' in page
    decided = items_by_person(round_id)
    assert {decided[i.person_hsa_id].decision for i in leave} == {ItemDecision.REMOVED}
    assert {decided[i.person_hsa_id].decision for i in keep} == {ItemDecision.CONFIRMED}
    valid = {m.person_hsa_id for m in world.directory.memberships(commission) if m.is_valid_at(
        now() + dt.timedelta(seconds=1))}
    assert valid == {i.person_hsa_id for i in keep}
    assert "Kontrollen avslutades" in web.client.get(f"/behorighetskontroll/{round_id}").text
