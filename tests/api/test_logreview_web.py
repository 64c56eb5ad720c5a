"""The log follow-up pages through the real app: the verksamhetschef or a documented delegate reviews, everyone else is
refused, anonymous visitors go to the login page; forms keep what was typed and put each message beside its field."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlmodel import select

from catalog.model import Person
from kernel import runtime
from kernel.clock import STOCKHOLM, now
from overview import accesslog
from overview.accesslog import Action, LogEntry, Resource
from overview.logreview import rounds
from overview.logreview.models import LogReviewDecision, LogReviewDelegation, LogReviewTask
from overview.logreview.rules import ReviewConfig
from overview.models import AccessLog
from tests.api.conftest import Browser
from tests.world import World

DAY = dt.date(2026, 11, 2)  # a Monday
EVERYTHING = ReviewConfig(sample_share=1, sample_min=0, sample_max=100, sample_key="k")


def _at(hour: int) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour), STOCKHOLM).astimezone(dt.UTC)


def open_round(world: World, *users: Person) -> list[int]:
    """One access per user on DAY at the public unit (an emergency opening first), a round over them; task IDs."""
    unit = world.public_unit
    with runtime.session_scope() as session:
        for n, user in enumerate(users):
            accesslog.append(session, LogEntry(
                at=_at(9 + n), user_hsa_id=user.hsa_id, action=Action.EMERGENCY if n == 0 else Action.READ,
                resource_type=Resource.OVERVIEW, commission_hsa_id=f"{unit.hsa_id}-SJF", care_unit_hsa_id=unit.hsa_id,
                care_unit_name=unit.name, care_provider_hsa_id=world.region.provider.hsa_id,
                patient_personnummer="196004011232", basis=["emergency:e-1"] if n == 0 else ["own_provider"],
                relation="care_contact", detail="Medvetslös patient på akuten" if n == 0 else ""))
        made, _ = rounds.open_round(session=session, directory=world.directory, unit_hsa_id=unit.hsa_id, day=DAY,
                                    config=EVERYTHING, now=now())
        assert made is not None
        return list(session.exec(select(LogReviewTask.id).where(LogReviewTask.round_id == made.id)
                                 .order_by(LogReviewTask.log_seq)).all())  # type: ignore[arg-type]


def delegate(web: Browser, world: World, person: Person) -> None:
    web.login(world.public_manager.hsa_id)
    response = web.client.post("/loggranskning/delegering", data={
        "csrf": web.csrf(), "unit_hsa_id": world.public_unit.hsa_id, "delegate_hsa_id": person.hsa_id,
        "valid_to": (now().astimezone(STOCKHOLM).date() + dt.timedelta(days=30)).isoformat(),
        "note": "Beslut 2026-17"}, follow_redirects=False)
    assert response.status_code == 303, response.text


def decide(web: Browser, task_id: int, **data: str):  # type: ignore[no-untyped-def]
    return web.client.post(f"/loggranskning/atkomst/{task_id}", data={"csrf": web.csrf(), **data},
                           follow_redirects=False)


def outcome_of(task_id: int) -> str:
    with runtime.session_scope() as session:
        return session.get(LogReviewTask, task_id).outcome  # type: ignore[union-attr]


def test_the_manager_reviews_an_access_and_the_round_documents_it(web: Browser, world: World) -> None:
    clinician = world.public_staff[1]
    first, second = open_round(world, clinician, world.public_staff[2])
    web.login(world.public_manager.hsa_id)
    assert ">Logguppföljning</a>" in web.client.get("/mina-bestallningar").text
    index = web.client.get("/loggranskning")
    assert index.status_code == 200 and f'href="/loggranskning/atkomst/{first}"' in index.text
    assert "Nödöppning" in index.text and world.public_unit.name in index.text
    page = web.client.get(f"/loggranskning/atkomst/{first}")
    assert page.status_code == 200
    for shown in (clinician.hsa_id, "Medvetslös patient på akuten", "Nödåtkomst e-1", "19600401-1232",
                  "Vårdkontakt vid enheten"):
        assert shown in page.text, shown
    refused = decide(web, first, outcome="not_justified", comment="  ", expected="open")
    assert refused.status_code == 422 and outcome_of(first) == "open"
    assert re.search(r'data-field="comment">.*?role="alert">Skriv en kommentar', refused.text, re.S)
    assert 'value="not_justified" checked' in refused.text  # nothing typed is lost
    done = decide(web, first, outcome="not_justified", comment="Ingen vårdrelation <b>alls</b>", expected="open")
    assert done.status_code == 303 and done.headers["location"] == f"/loggranskning/atkomst/{second}?klart=1"
    last = decide(web, second, outcome="justified", comment="", expected="open")
    assert last.headers["location"].startswith("/loggranskning/omgang/")
    doc = web.client.get(last.headers["location"])
    assert doc.status_code == 200 and "Alla uttagna åtkomster i omgången är granskade." in doc.text
    assert "Ej befogad" in doc.text and "Ingen vårdrelation &lt;b&gt;alls&lt;/b&gt;" in doc.text
    assert world.public_manager.name in doc.text and "Befogad: 1, Ej befogad: 1" in doc.text


def test_a_decision_needs_the_csrf_token_and_a_stale_form_shows_who_decided(web: Browser, world: World) -> None:
    [task] = open_round(world, world.public_staff[1])
    web.login(world.public_manager.hsa_id)
    forged = web.client.post(f"/loggranskning/atkomst/{task}", data={"outcome": "justified"},
                             follow_redirects=False)
    assert forged.status_code == 403 and outcome_of(task) == "open"
    assert decide(web, task, outcome="justified", expected="open").status_code == 303
    stale = decide(web, task, outcome="not_justified", comment="Ändrar mig", expected="open")
    assert stale.status_code == 409 and "redan granskat" in stale.text and "Befogad" in stale.text
    assert outcome_of(task) == "justified"


@pytest.mark.parametrize("path", ["/loggranskning", "/loggranskning/atkomst/{task}",
                                  "/loggranskning/omgang/{round}", "/loggranskning/delegering"])
def test_only_reviewers_get_in_and_anonymous_visitors_log_in(web: Browser, world: World, path: str) -> None:
    [task] = open_round(world, world.public_staff[1])
    with runtime.session_scope() as session:
        round_id = session.get(LogReviewTask, task).round_id  # type: ignore[union-attr]
    url = path.format(task=task, round=round_id)
    web.client.cookies.clear()
    anonymous = web.client.get(url, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    for outsider in (world.public_staff[1], world.skf, world.sysadmin):
        web.login(outsider.hsa_id)
        assert web.client.get(url, follow_redirects=False).status_code == 403, outsider.hsa_id
    web.login(world.private_manager.hsa_id)  # a verksamhetschef, but of another unit
    other = web.client.get(url, follow_redirects=False)
    if "{" in path:
        assert other.status_code == 403
    else:
        assert other.status_code == 200 and world.public_unit.hsa_id not in other.text
    web.login(world.public_manager.hsa_id)
    assert web.client.get(url).status_code == 200


def test_a_documented_delegate_reviews_until_the_delegation_is_revoked(web: Browser, world: World) -> None:
    helper = world.public_staff[0]
    [task, own] = open_round(world, world.public_staff[1], world.public_manager)
    web.login(world.public_manager.hsa_id)
    mine = web.client.get(f"/loggranskning/atkomst/{own}")
    assert "Det här är din egen åtkomst" in mine.text and 'name="outcome"' not in mine.text
    assert decide(web, own, outcome="justified").status_code == 403
    delegate(web, world, helper)
    page = web.client.get("/loggranskning/delegering")
    assert helper.hsa_id in page.text and "Beslut 2026-17" in page.text and "Gäller" in page.text
    web.login(helper.hsa_id)
    assert ">Logguppföljning</a>" in web.client.get("/mina-bestallningar").text
    assert "Du granskar som delegat" in web.client.get("/loggranskning").text
    assert web.client.get("/loggranskning/delegering").status_code == 403  # delegates do not delegate further
    assert decide(web, own, outcome="justified", expected="open").status_code == 303
    with runtime.session_scope() as session:
        [decision] = session.exec(select(LogReviewDecision)).all()
        [documented] = session.exec(select(LogReviewDelegation)).all()
    assert (decision.decided_by, decision.decided_as, decision.on_behalf_of) == (
        helper.hsa_id, "delegat", world.public_manager.hsa_id)
    web.login(world.public_manager.hsa_id)
    revoked = web.client.post(f"/loggranskning/delegering/{documented.id}/aterkalla", data={"csrf": web.csrf()},
                              follow_redirects=False)
    assert revoked.status_code == 303 and "Återkallad" in web.client.get("/loggranskning/delegering").text
    web.login(helper.hsa_id)
    assert web.client.get(f"/loggranskning/atkomst/{task}").status_code == 403
    assert ">Logguppföljning</a>" not in web.client.get("/mina-bestallningar").text


def test_a_delegation_is_listed_until_and_including_its_last_day(web: Browser, world: World) -> None:
    last = now().astimezone(STOCKHOLM).date() + dt.timedelta(days=30)
    delegate(web, world, world.public_staff[0])  # valid_to = today + 30 days, "till och med"
    page = web.client.get("/loggranskning/delegering").text
    row = re.search(r'<tr data-delegation="\d+">.*?</tr>', page, re.S).group(0)
    assert f"<td>{last.isoformat()}</td>" in row and "Till och med" in page
    assert f"{last + dt.timedelta(days=1)} 00:00" not in row


def test_a_bad_delegation_comes_back_with_the_messages_beside_the_fields(web: Browser, world: World) -> None:
    web.login(world.public_manager.hsa_id)
    response = web.client.post("/loggranskning/delegering", data={
        "csrf": web.csrf(), "unit_hsa_id": world.public_unit.hsa_id, "delegate_hsa_id": world.public_manager.hsa_id,
        "valid_to": "2020-01-01", "note": "Mitt beslut"}, follow_redirects=False)
    assert response.status_code == 422
    assert re.search(r'data-field="delegate_hsa_id">.*?role="alert">Du kan inte delegera till dig själv', response.text,
                     re.S)
    assert re.search(r'data-field="valid_to">.*?role="alert">Slutdatumet kan inte ligga bakåt', response.text, re.S)
    assert "Mitt beslut</textarea>" in response.text and 'value="2020-01-01"' in response.text
    bad_date = web.client.post("/loggranskning/delegering", data={
        "csrf": web.csrf(), "unit_hsa_id": world.public_unit.hsa_id, "delegate_hsa_id": world.public_staff[0].hsa_id,
        "valid_to": "31/12", "note": ""}, follow_redirects=False)
    assert bad_date.status_code == 422 and "ÅÅÅÅ-MM-DD" in bad_date.text
    other_unit = web.client.post("/loggranskning/delegering", data={
        "csrf": web.csrf(), "unit_hsa_id": world.private_unit.hsa_id, "delegate_hsa_id": world.public_staff[0].hsa_id,
        "valid_to": (now().astimezone(STOCKHOLM).date() + dt.timedelta(days=5)).isoformat()}, follow_redirects=False)
    assert other_unit.status_code == 403
    with runtime.session_scope() as session:
        assert session.exec(select(LogReviewDelegation)).all() == []


def test_opening_an_access_to_review_is_itself_logged_and_never_sampled(web: Browser, world: World) -> None:
    [task] = open_round(world, world.public_staff[1])
    web.login(world.public_manager.hsa_id)
    assert web.client.get(f"/loggranskning/atkomst/{task}").status_code == 200
    with runtime.session_scope() as session:
        [row] = session.exec(select(AccessLog).where(AccessLog.resource_type == Resource.LOG_REVIEW.value)).all()
        looked_at = session.get(LogReviewTask, task).log_seq  # type: ignore[union-attr]
    assert (row.user_hsa_id, row.patient_personnummer, row.care_unit_hsa_id, row.purpose, row.detail) == (
        world.public_manager.hsa_id, "196004011232", world.public_unit.hsa_id, "Logguppföljning",
        f"loggrad #{looked_at}")
    web.login(world.public_staff[1].hsa_id)  # someone who may not review: refused before anything is logged
    assert web.client.get(f"/loggranskning/atkomst/{task}").status_code == 403
    with runtime.session_scope() as session:
        assert len(session.exec(select(AccessLog).where(
            AccessLog.resource_type == Resource.LOG_REVIEW.value)).all()) == 1
        assert rounds.accesses(session, world.public_unit.hsa_id, now().astimezone(STOCKHOLM).date()) == []


def test_the_round_page_names_the_active_rules_and_the_task_page_says_why(web: Browser, world: World) -> None:
    unit, reader = world.public_unit, world.public_staff[1]
    config = ReviewConfig(sample_share=0, sample_min=0, sample_max=0, sample_key="k", include_out_of_hours=False,
                          risk_rules=frozenset({"skyddad_identitet", "ovanlig_volym"}))
    with runtime.session_scope() as session:
        for n in range(21):  # a reader without history: more than 20 in a day is unusual
            accesslog.append(session, LogEntry(
                at=_at(9) + dt.timedelta(minutes=n), user_hsa_id=reader.hsa_id, action=Action.READ,
                resource_type=Resource.OVERVIEW, care_unit_hsa_id=unit.hsa_id, care_unit_name=unit.name,
                care_provider_hsa_id=world.region.provider.hsa_id, patient_personnummer="196004011232",
                basis=["own_provider"], relation="care_contact"))
        made, _ = rounds.open_round(session=session, directory=world.directory, unit_hsa_id=unit.hsa_id, day=DAY,
                                    config=config, now=now())
        assert made is not None
        round_id = made.id
        first = session.exec(select(LogReviewTask.id).where(LogReviewTask.round_id == round_id)).first()
    web.login(world.public_manager.hsa_id)
    doc = web.client.get(f"/loggranskning/omgang/{round_id}")
    assert doc.status_code == 200
    rules = re.findall(r'data-rule="([a-z_]+)"', doc.text)
    assert rules == ["nodoppning", "pastadd_relation", "beslutsoformogen", "skyddad_identitet", "ovanlig_volym",
                     "patientmarkering"]
    assert "Skyddad identitet</strong> (skyddad_identitet)" in doc.text and 'data-rule="kollega"' not in doc.text
    assert "ovanligt många åtkomster 10" in doc.text  # volume_tasks of the reader's day
    page = web.client.get(f"/loggranskning/atkomst/{first}")
    assert page.status_code == 200 and 'data-reason="ovanlig_volym"' in page.text
    assert "ovanligt många åtkomster den dagen jämfört med sina egna senaste 90 dagar" in page.text
