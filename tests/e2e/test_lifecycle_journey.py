"""The verksamhetschef's two follow-up duties in a real browser (Debian's chromium): the yearly behörighetskontroll
(start it, confirm one nurse, remove another with a reason, confirm the rest) and the log follow-up (judge each
sampled access, a comment required when it was not justified, the round documented at the end)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlmodel import select

from catalog.model import Validity
from kernel import runtime
from kernel.clock import STOCKHOLM, local_midnight, now
from overview import accesslog
from overview.accesslog import Action, LogEntry, Resource
from overview.logreview import rounds
from overview.logreview.models import LogReviewTask
from overview.logreview.rules import ReviewConfig
from tests.conftest import MailSink
from tests.e2e.conftest import LiveServer
from tests.e2e.test_ordering_journey import sign_in
from tests.world import World

pytestmark = pytest.mark.e2e

EVERYTHING = ReviewConfig(sample_share=1, sample_min=0, sample_max=100, sample_key="e2e")


def test_the_manager_recertifies_the_unit_in_the_browser(page, live: LiveServer, world: World,  # type: ignore[no-untyped-def]
                                                         smtp_sink: MailSink) -> None:
    commission, _ = world.directory.ensure_commission(world.public_unit.hsa_id)
    for nurse in world.public_staff:
        world.directory.ensure_membership(commission.hsa_id, nurse.hsa_id,
                                          Validity(local_midnight(dt.date(2025, 1, 1))))
    keep, leave, rest = world.public_staff

    sign_in(page, live, world.public_manager.hsa_id)
    page.click("nav >> text=Behörighetskontroll")
    with page.expect_navigation():
        page.click(f"text=Starta kontroll för {world.public_unit.name}")
    assert re.search(r"/behorighetskontroll/\d+$", page.url)
    assert page.locator("[data-progress='0/3']").count() == 1 and "arbetsdagar kvar" in page.content()

    def row(person):  # type: ignore[no-untyped-def]
        return page.locator(f"tr[data-person='{person.hsa_id}']")

    row(keep).locator("text=Bekräfta").click()
    row(leave).locator("text=Ta bort").click()
    page.click("button:text-is('Spara beslut')")  # the removal has no reason yet
    assert page.locator("[role=alert]:has-text('Inget är sparat')").count() == 1
    assert row(leave).locator(".field-error").inner_text().startswith(f"Ange varför {leave.name}")
    assert row(keep).locator("input[value=bekrafta]").is_checked()  # nothing chosen is lost
    assert row(leave).locator("input[value=ta-bort]").is_checked()
    row(leave).locator("input[name^=motivering]").fill("Har slutat på enheten")
    page.click("button:text-is('Spara beslut')")
    page.wait_for_selector("text=2 beslut sparade")
    assert row(leave).get_attribute("data-decision") == "removed"
    assert row(keep).get_attribute("data-decision") == "confirmed"
    ended = {m.person_hsa_id: m for m in world.directory.memberships(commission.hsa_id)}
    assert not ended[leave.hsa_id].is_valid_at(now() + dt.timedelta(seconds=1))  # removed in Skånekatalogen at once

    page.click("text=Spara och bekräfta alla övriga")
    page.wait_for_selector("text=Kontrollen avslutades")
    assert row(rest).get_attribute("data-decision") == "confirmed"
    assert page.locator("input[type=radio]").count() == 0  # a closed round takes no more decisions
    page.click("text=← Alla behörighetskontroller")
    assert "Avslutad" in page.locator("table.queue").inner_text()
    still = {m.person_hsa_id for m in world.directory.memberships(commission.hsa_id)
             if m.is_valid_at(now() + dt.timedelta(seconds=1))}
    assert still == {keep.hsa_id, rest.hsa_id}
    assert smtp_sink.wait_for(lambda sink: bool(sink.to(leave.mail)))


def test_the_manager_reviews_the_sampled_accesses_in_the_browser(page, live: LiveServer,  # type: ignore[no-untyped-def]
                                                                 world: World) -> None:
    # two days back: yesterday's log is not settled (rules.SETTLE) until 00:30 Swedish time
    unit, day = world.public_unit, now().astimezone(STOCKHOLM).date() - dt.timedelta(days=2)
    readers = world.public_staff[:2]
    with runtime.session_scope() as session:
        for n, user in enumerate(readers):
            accesslog.append(session, LogEntry(
                at=dt.datetime.combine(day, dt.time(9 + n), STOCKHOLM).astimezone(dt.UTC), user_hsa_id=user.hsa_id,
                action=Action.EMERGENCY if n == 0 else Action.READ, resource_type=Resource.OVERVIEW,
                commission_hsa_id=f"{unit.hsa_id}-SJF", care_unit_hsa_id=unit.hsa_id, care_unit_name=unit.name,
                care_provider_hsa_id=world.region.provider.hsa_id, patient_personnummer="196004011232",
                basis=["emergency:e-1"] if n == 0 else ["own_provider"], relation="care_contact",
                detail="Medvetslös patient på akuten" if n == 0 else ""))
        made, _ = rounds.open_round(session=session, directory=world.directory, unit_hsa_id=unit.hsa_id, day=day,
                                    config=EVERYTHING, now=now())
        assert made is not None
        round_id = made.id

    sign_in(page, live, world.public_manager.hsa_id)
    page.click("nav >> text=Logguppföljning")
    section = page.locator(f"section[data-unit='{unit.hsa_id}']")
    assert section.locator("tr[data-task]").count() == 2 and "Nödöppning" in section.inner_text()
    section.locator("tr[data-task] >> text=Granska").first.click()
    assert "Medvetslös patient på akuten" in page.content() and "19600401-1232" in page.content()

    page.check("input[name=outcome][value=not_justified]")
    page.click("text=Spara bedömningen")  # not justified needs a comment
    assert page.locator("[data-field=comment] [role=alert]").inner_text().startswith("Skriv en kommentar")
    assert page.locator("input[name=outcome][value=not_justified]").is_checked()
    page.fill("#f-comment", "Ingen vårdrelation; samtal med medarbetaren bokat.")
    with page.expect_navigation():
        page.click("text=Spara bedömningen")
    assert "klart=1" in page.url  # straight on to the next access to review

    page.check("input[name=outcome][value=justified]")
    with page.expect_navigation():
        page.click("text=Spara bedömningen")
    assert f"/loggranskning/omgang/{round_id}?" in page.url
    text = page.content()
    assert "Alla uttagna åtkomster i omgången är granskade." in text
    assert "Befogad: 1, Ej befogad: 1" in text and "samtal med medarbetaren bokat" in text
    with runtime.session_scope() as session:
        outcomes = sorted(t.outcome for t in session.exec(select(LogReviewTask)
                                                           .where(LogReviewTask.round_id == round_id)).all())
    assert outcomes == ["justified", "not_justified"]
