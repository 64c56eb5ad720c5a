"""The ordering pages and JSON API through the real app: forms, dashboard, decisions, bad input, CSRF."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace

import pytest
from sqlmodel import select

from catalog import Directory
from catalog.model import Person, Validity
from flows.steps import provisioning_config
from kernel import runtime
from kernel.clock import local_date, local_midnight, local_minute, now
from provisioning import automation, decisions
from provisioning.authz import load_actor
from provisioning.models import Order, OrderState
from tests.api.conftest import Browser
from tests.conftest import MailSink, free_port
from tests.world import World


def count_orders() -> int:
    with runtime.session_scope() as session:
        return len(session.exec(select(Order)).all())


def commission_form(web: Browser, unit: str, **overrides: str) -> dict[str, str]:
    start = (local_date(now()) + dt.timedelta(days=7)).isoformat()
    form = {"csrf": web.csrf(), "unit_hsa_id": unit, "justification": "Vi vårdar många patienter från Halland.",
            "contact_name": "Maria Chef", "contact_phone": "040-12 34 56", "contact_email": "maria@vard.example",
            "requested_start": start, "care_agreement_reference": ""}
    return {**form, **overrides}


def test_public_commission_from_form_to_directory(web: Browser, world: World, smtp_sink: MailSink) -> None:
    web.login(world.public_manager.hsa_id)
    assert "Beställ medarbetaruppdrag VoB SJF" in web.client.get("/bestall/uppdrag").text
    response = web.client.post("/bestall/uppdrag", data=commission_form(web, world.public_unit.hsa_id),
                               follow_redirects=False)
    assert response.status_code == 303
    reference = re.search(r"/bestallningar/(NPO-[0-9A-Z-]+)", response.headers["location"]).group(1)
    page = web.client.get(response.headers["location"]).text
    assert "Väntar på katalogförvaltningen" in page and "är mottagen" in page
    assert "hsaCommissionRight=Läsa;Alla;SJF" in page  # what will be written, shown before anyone decides
    web.login(world.skf.hsa_id)
    dashboard = web.client.get("/attest").text
    assert reference in dashboard and 'data-queue="skaneforvaltningen"' in dashboard
    order_page = web.client.get(f"/bestallningar/{reference}").text
    assert "Godkänn" in order_page
    decided = web.client.post("/attest/beslut", data={"csrf": web.csrf(), "order": reference, "approve": "1",
                                                      "stage": "awaiting_catalog_admin"}, follow_redirects=False)
    assert decided.status_code == 303
    final = web.client.get(f"/bestallningar/{reference}").text
    assert "Klar – upplagd i Skånekatalogen" in final
    assert [c.name for c in world.directory.commissions_on_unit(world.public_unit.hsa_id)] == ["VoB SJF"]
    subjects = smtp_sink.subjects()
    assert any("Ny beställning" in s for s in subjects) and any("är klar" in s for s in subjects)


BAD_FIELDS = [
    ("justification", "", "Motivering måste fyllas i"),
    ("justification", "kort", "minst 10 tecken"),
    ("justification", "x" * 2001, "högst 2000 tecken"),
    ("contact_name", "", "Kontaktperson måste fyllas i"),
    ("contact_name", "A" * 121, "högst 120 tecken"),
    ("contact_phone", "ring mig", "Telefon ska bestå av siffror"),
    ("contact_email", "maria(at)vard", "E-post ska vara en adress"),
    ("requested_start", "imorgon", "ÅÅÅÅ-MM-DD"),
    ("requested_start", "2001-01-01", "bakåt i tiden"),
    ("unit_hsa_id", "", "Vårdenhet måste fyllas i"),
    ("unit_hsa_id", "SE2321000255-Å*)(cn=*", "otillåtna tecken"),
    ("unit_hsa_id", "SE2321000255-V2002", "verksamhetschef"),  # a real-looking unit the manager does not manage
    ("contact_name", "Maria\x00Chef", "styrtecken"),
]


@pytest.mark.parametrize(("field", "value", "says"), BAD_FIELDS)
def test_bad_commission_input_comes_back_beside_the_field_and_nothing_is_stored(
        web: Browser, world: World, field: str, value: str, says: str) -> None:
    web.login(world.public_manager.hsa_id)
    before = count_orders()
    form = commission_form(web, world.public_unit.hsa_id, **{field: value})
    response = web.client.post("/bestall/uppdrag", data=form)
    assert response.status_code == 422
    assert f'data-field="{field}"' in response.text and says in response.text
    assert "Beställningen är inte skickad" in response.text
    kept = form["justification"] if field != "justification" else None
    if kept:
        assert kept in response.text  # what was typed is still there
    assert count_orders() == before


def test_html_and_ldap_filter_characters_are_stored_as_text_and_escaped(web: Browser, world: World) -> None:
    web.login(world.public_manager.hsa_id)
    hostile = "<script>alert(1)</script> (cn=*)(objectClass=*) \\2a"
    response = web.client.post("/bestall/uppdrag", data=commission_form(
        web, world.public_unit.hsa_id, justification=hostile))
    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; (cn=*)(objectClass=*)" in response.text
    assert "<script>alert(1)" not in response.text


def test_a_post_without_the_csrf_token_is_refused_and_stores_nothing(web: Browser, world: World) -> None:
    web.login(world.public_manager.hsa_id)
    before = count_orders()
    form = commission_form(web, world.public_unit.hsa_id, csrf="fel")
    response = web.client.post("/bestall/uppdrag", data=form)
    assert response.status_code == 403 and "Formuläret har gått ut" in response.text
    assert count_orders() == before


def test_membership_form_lists_the_units_staff_and_refuses_other_units_people(web: Browser, world: World) -> None:
    world.directory.ensure_commission(world.private_unit.hsa_id)
    web.login(world.private_manager.hsa_id)
    page = web.client.get(f"/bestall/behorigheter?unit={world.private_unit.hsa_id}").text
    assert all(p.hsa_id in page for p in world.private_staff)
    start = local_date(now()).isoformat()
    bad = web.client.post("/bestall/behorigheter", data={
        "csrf": web.csrf(), "unit_hsa_id": world.private_unit.hsa_id, "action": "add",
        "extra_hsa_ids": world.public_staff[0].hsa_id, "valid_from": start})
    assert bad.status_code == 422 and "tillhör inte" in bad.text
    good = web.client.post("/bestall/behorigheter", data={
        "csrf": web.csrf(), "unit_hsa_id": world.private_unit.hsa_id, "action": "add",
        "person_hsa_ids": [p.hsa_id for p in world.private_staff[:2]], "valid_from": start}, follow_redirects=False)
    assert good.status_code == 303
    with runtime.session_scope() as session:
        order = session.exec(select(Order).where(Order.unit_hsa_id == world.private_unit.hsa_id)).one()
    assert order.state is OrderState.AWAITING_USER_ADMIN and order.queue == "it-kundtjanst-privata"


def test_json_api_and_a_clear_conflict_for_the_second_decision(web: Browser, world: World) -> None:
    web.login(world.private_manager.hsa_id)
    csrf = web.api_csrf()
    body = {"unit_hsa_id": world.private_unit.hsa_id, "justification": "Hälsoval, många listade från Blekinge.",
            "contact_name": "Helena", "contact_phone": "0411-123 45", "contact_email": "helena@vard.example",
            "requested_start": (local_date(now()) + dt.timedelta(days=3)).isoformat(),
            "care_agreement_reference": "HVS-77"}
    assert web.client.post("/api/orders/commission", json=body).status_code == 403  # no CSRF header
    created = web.client.post("/api/orders/commission", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    reference = created.json()["reference"]
    assert web.client.get(f"/api/orders/{reference}").json()["state"] == "awaiting_contract_manager"
    bad = web.client.post("/api/orders/commission", json={**body, "contact_email": "x"},
                          headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422 and "contact_email" in bad.json()["errors"]
    assert web.client.post("/api/orders/commission", content=b"{nope", headers={
        "X-CSRF-Token": csrf, "content-type": "application/json"}).status_code == 422
    web.login(world.contract_manager.hsa_id)
    csrf = web.api_csrf()
    decision = {"approve": True, "stage": "awaiting_contract_manager"}
    first = web.client.post(f"/api/orders/{reference}/decision", json=decision, headers={"X-CSRF-Token": csrf})
    assert first.status_code == 200 and first.json()["state"] == "awaiting_catalog_admin"
    second = web.client.post(f"/api/orders/{reference}/decision", json=decision, headers={"X-CSRF-Token": csrf})
    assert second.status_code == 409 and "redan godkänd av Per Avtal" in second.json()["error"]
    assert web.client.post(f"/api/orders/{reference}/decision", json={"approve": "ja"},
                           headers={"X-CSRF-Token": csrf}).status_code == 422


def test_a_delegation_of_the_ordering_right_is_listed_until_and_including_its_last_day(web: Browser,
                                                                                      world: World) -> None:
    web.login(world.public_manager.hsa_id)
    last = local_date(now()) + dt.timedelta(days=60)
    granted = web.client.post("/delegering", data={
        "csrf": web.csrf(), "unit_hsa_id": world.public_unit.hsa_id, "delegate_hsa_id": world.public_staff[0].hsa_id,
        "valid_to": last.isoformat()}, follow_redirects=False)
    assert granted.status_code == 303, granted.text
    page = web.client.get("/delegering").text
    assert f"<td>{last.isoformat()}</td>" in page and "Gäller till och med" in page
    assert f"{last + dt.timedelta(days=1)} 00:00" not in page


def membership_post(web: Browser, world: World, **fields: object) -> dict[str, object]:
    return {"csrf": web.csrf(), "unit_hsa_id": world.public_unit.hsa_id, "action": "add",
            "valid_from": local_date(now()).isoformat(), **fields}


def test_the_membership_form_proposes_the_commissions_start_and_refuses_an_earlier_one(web: Browser,
                                                                                       world: World) -> None:
    later = local_date(now()) + dt.timedelta(days=14)
    world.directory.ensure_commission(world.public_unit.hsa_id, valid_from=local_midnight(later))
    web.login(world.public_manager.hsa_id)
    form = web.client.get(f"/bestall/behorigheter?unit={world.public_unit.hsa_id}").text
    assert re.search(rf'name="valid_from"[^>]*value="{later}"', form)
    assert f"gäller från och med {later} tills vidare" in form
    refused = web.client.post("/bestall/behorigheter", data=membership_post(
        web, world, person_hsa_ids=[world.public_staff[0].hsa_id]))
    assert refused.status_code == 422
    beside = re.search(r'data-field="valid_from".*?</div>\s*</div>', refused.text, re.S).group(0)
    assert f"tidigast {later}" in beside and count_orders() == 0


def test_every_problem_of_a_membership_form_comes_back_at_once(web: Browser, world: World) -> None:
    world.directory.ensure_commission(world.public_unit.hsa_id)
    web.login(world.public_manager.hsa_id)
    other = world.private_staff[0]
    response = web.client.post("/bestall/behorigheter", data=membership_post(
        web, world, extra_hsa_ids=f"SE-fel* {other.hsa_id}"))
    assert response.status_code == 422
    assert "tillhör inte" in response.text and 'data-field="extra_hsa_ids"' in response.text
    assert re.search(r'data-field="extra_hsa_ids".*?field-error', response.text, re.S)


def test_an_empty_comment_is_not_shown_as_a_comment(web: Browser, world: World) -> None:
    world.directory.ensure_commission(world.public_unit.hsa_id)
    web.login(world.public_manager.hsa_id)
    sent = web.client.post("/bestall/behorigheter", data=membership_post(
        web, world, person_hsa_ids=[world.public_staff[0].hsa_id], comment=""), follow_redirects=False)
    assert sent.status_code == 303
    page = web.client.get(sent.headers["location"]).text
    assert "Kommentar" not in page and "Beställning av behörigheter</td>" not in page
    with_comment = web.client.post("/bestall/behorigheter", data=membership_post(
        web, world, person_hsa_ids=[world.public_staff[1].hsa_id], comment="Ny på enheten"), follow_redirects=False)
    assert "<th>Kommentar</th><td>Ny på enheten</td>" in web.client.get(with_comment.headers["location"]).text


def test_the_staff_picker_searches_by_name_or_hsa_id_and_marks_members(web: Browser, world: World) -> None:
    commission, _ = world.directory.ensure_commission(world.public_unit.hsa_id)
    member, other = world.public_staff[0], world.public_staff[1]
    world.directory.ensure_membership(commission.hsa_id, member.hsa_id, Validity(now() - dt.timedelta(days=1)))
    web.login(world.public_manager.hsa_id)
    url = f"/bestall/behorigheter?unit={world.public_unit.hsa_id}"
    everyone = web.client.get(url).text
    marked = re.search(rf'<label class="check" data-person="{member.hsa_id}"[^>]*>.*?</label>', everyone, re.S)
    assert 'data-member="1"' in marked.group(0) and "har redan behörighet tills vidare" in marked.group(0)
    assert f'data-person="{other.hsa_id}" data-member' not in everyone
    by_name = web.client.get(f"{url}&sok={other.surname.lower()}").text
    assert f'data-person="{other.hsa_id}"' in by_name and f'data-person="{member.hsa_id}"' not in by_name
    by_id = web.client.get(f"{url}&sok={member.hsa_id.split('-')[-1]}").text
    assert f'data-person="{member.hsa_id}"' in by_id and f'data-person="{other.hsa_id}"' not in by_id
    assert "Ingen medarbetare vid enheten matchar" in web.client.get(f"{url}&sok=xyzzy").text


def test_rejecting_without_a_reason_comes_back_to_the_order_with_the_message_beside_the_field(
        web: Browser, world: World) -> None:
    web.login(world.public_manager.hsa_id)
    sent = web.client.post("/bestall/uppdrag", data=commission_form(web, world.public_unit.hsa_id),
                           follow_redirects=False)
    reference = sent.headers["location"].split("/bestallningar/")[1].split("?")[0]
    web.login(world.skf.hsa_id)
    web.client.get(f"/bestallningar/{reference}")
    refused = web.client.post("/attest/beslut", data={"csrf": web.csrf(), "order": reference, "approve": "0",
                                                      "stage": "awaiting_catalog_admin", "reason": "   "})
    assert refused.status_code == 422
    assert f"<h1>{reference}" in refused.text and "Logga in" not in refused.text  # the order page, signed in
    assert refused.text.count("Ange en motivering när du avslår") == 1
    assert re.search(r'data-field="reason".*?id="e-reason" role="alert">Ange en motivering', refused.text, re.S)
    too_long = web.client.post("/attest/beslut", data={"csrf": web.csrf(), "order": reference, "approve": "0",
                                                       "stage": "awaiting_catalog_admin", "reason": "x" * 1001})
    assert too_long.status_code == 422 and "högst 1000 tecken" in too_long.text and "x" * 1001 in too_long.text
    done = web.client.post("/attest/beslut", data={"csrf": web.csrf(), "order": reference, "approve": "0",
                                                   "stage": "awaiting_catalog_admin", "reason": "Fel enhet"})
    assert done.status_code == 200 and "Avslagen" in done.text


def approved_commission(web: Browser, world: World) -> tuple[str, int]:
    """A public commission order submitted through the form and approved by Skåneförvaltningen: (reference, id)."""
    web.login(world.public_manager.hsa_id)
    sent = web.client.post("/bestall/uppdrag", data=commission_form(web, world.public_unit.hsa_id),
                           follow_redirects=False)
    reference = sent.headers["location"].split("/bestallningar/")[1].split("?")[0]
    with runtime.session_scope() as session:
        order = session.exec(select(Order).where(Order.reference == reference)).one()
        skf = load_actor(world.directory, session, world.skf.hsa_id, now=now())
        decisions.decide(session=session, directory=world.directory, config=provisioning_config(), actor=skf,
                         order_id=order.id, approve=True, reason=None, now=now())
        return reference, order.id


def unreachable_directory(world: World) -> Directory:
    """The directory's settings with a port nobody listens on: Skånekatalogen down."""
    return Directory(replace(world.directory.config, url=f"ldap://127.0.0.1:{free_port()}"), cache_seconds=0)


def failed_order(web: Browser, world: World) -> str:
    """A public commission order, approved, whose provisioning failed while Skånekatalogen was down."""
    reference, order_id = approved_commission(web, world)
    down = unreachable_directory(world)
    config = replace(provisioning_config(), max_attempts=1)
    for _ in range(2):  # approved -> provisioning -> failed
        with runtime.session_scope() as session:
            automation.advance_one(session=session, directory=down, config=config, order_id=order_id, now=now(),
                                   information="")
    return reference


def test_a_unit_manager_reads_a_swedish_sentence_where_provisioning_failed(web: Browser, world: World) -> None:
    reference = failed_order(web, world)
    web.login(world.public_manager.hsa_id)
    page = web.client.get(f"/bestallningar/{reference}").text
    assert "Uppläggningen i Skånekatalogen misslyckades" in page and "NPÖ-förvaltningen har fått ärendet" in page
    assert "cannot be reached" not in page and "ldap://" not in page
    sentence = ("Uppläggningen i Skånekatalogen misslyckades. NPÖ-förvaltningen har fått ärendet och åtgärdar det; "
                "du får e-post när beställningen är klar.")
    mine = web.client.get(f"/api/orders/{reference}").json()  # the JSON API says what the page says
    assert mine["last_error"] == sentence and "cannot be reached" not in json.dumps(mine)
    assert [o["last_error"] for o in web.client.get("/api/orders").json() if o["reference"] == reference] == [sentence]
    web.login(world.sysadmin.hsa_id)
    admin = web.client.get(f"/bestallningar/{reference}").text
    assert "cannot be reached" in admin and "(försök 1)" in admin
    assert "hos NPÖ-förvaltningen" not in admin  # the state label already says who acts
    raw = web.client.get(f"/api/orders/{reference}").json()["last_error"]
    assert raw.startswith("Senaste försök: ") and "cannot be reached" in raw and raw.endswith("(försök 1)")


def test_a_step_waiting_for_the_directory_says_so_and_each_step_links_its_task_run_for_npo_forvaltningen(
        web: Browser, world: World) -> None:
    reference, order_id = approved_commission(web, world)
    down = unreachable_directory(world)
    config = provisioning_config()  # 48 attempts: this one will be retried
    run = "0b6f6c1e-8d64-4d43-9a57-3f1c2f9e7a10"
    for _ in range(2):  # approved -> provisioning, then an attempt that finds no directory
        with runtime.session_scope() as session:
            step = automation.advance_one(session=session, directory=down, config=config, order_id=order_id,
                                          now=now(), information="", run_id=run)
    assert step.note == "retry later"
    with runtime.session_scope() as session:
        retry_at = session.get(Order, order_id).next_attempt_at
    page = web.client.get(f"/bestallningar/{reference}").text
    assert ('<li data-event="waiting" class="waiting"><strong>Nu</strong> – Väntar på Skånekatalogen (1 försök utan '
            f'svar). Nästa försök omkring {local_minute(retry_at)}.</li>') in page
    assert "data-task-run" not in page and "Prefect" not in page  # the unit manager does not operate Prefect
    runtime.configure(runtime.settings().model_copy(update={"prefect_api_url": "http://prefect.example:4200/api"}))
    web.login(world.sysadmin.hsa_id)
    admin = web.client.get(f"/bestallningar/{reference}").text
    link = f'<a href="http://prefect.example:4200/runs/task-run/{run}" data-task-run="{run}">Prefect-körningen</a>'
    assert admin.count(link) == 1  # start_provisioning; the failed attempt moved no state
    timeline = web.client.get(f"/api/orders/{reference}").json()["timeline"]
    # submitted, routed (in the web's process: no Prefect here), approved, then the step the "task run" did
    assert [(e["event"], e["task_run_id"]) for e in timeline] == [
        ("submit", None), ("route_public", None), ("approve", None), ("start_provisioning", run)]
    with runtime.session_scope() as session:  # the directory answers again: the retry provisions and clears it
        automation.advance_one(session=session, directory=world.directory, config=config, order_id=order_id,
                               now=now(), information="", run_id=run)
    done = web.client.get(f"/bestallningar/{reference}").text
    assert 'data-event="waiting"' not in done and done.count(link) == 2


def test_npo_forvaltning_cancels_a_failed_order_with_a_reason_and_the_orderer_is_mailed(
        web: Browser, world: World, smtp_sink: MailSink) -> None:
    reference = failed_order(web, world)
    web.login(world.public_manager.hsa_id)
    assert "Avbryt beställningen" not in web.client.get(f"/bestallningar/{reference}").text
    assert web.client.post(f"/bestallningar/{reference}/avbryt", data={"csrf": web.csrf(), "reason": "Nej"}
                           ).status_code == 403
    web.login(world.sysadmin.hsa_id)
    assert "Avbryt beställningen" in web.client.get(f"/bestallningar/{reference}").text
    empty = web.client.post(f"/bestallningar/{reference}/avbryt", data={"csrf": web.csrf(), "reason": " "})
    assert empty.status_code == 422 and f"<h1>{reference}" in empty.text
    assert re.search(r'data-field="cancel_reason".*?role="alert">Ange varför beställningen avbryts', empty.text, re.S)
    done = web.client.post(f"/bestallningar/{reference}/avbryt", data={
        "csrf": web.csrf(), "reason": "Enheten slås ihop med Vårdcentralen Syd."}, follow_redirects=False)
    assert done.status_code == 303
    page = web.client.get(f"/bestallningar/{reference}").text
    assert "Avbruten av NPÖ-förvaltningen" in page and "Enheten slås ihop med Vårdcentralen Syd." in page
    assert "Försök igen" not in page and "Avbryt beställningen" not in page
    assert smtp_sink.wait_for(lambda sink: any("avbruten" in s for s in sink.subjects()))


def test_the_first_approvers_status_names_koncernkontoret_once(web: Browser, world: World) -> None:
    web.login(world.private_manager.hsa_id)
    sent = web.client.post("/bestall/uppdrag", data=commission_form(
        web, world.private_unit.hsa_id, care_agreement_reference="HVS-9"), follow_redirects=False)
    page = web.client.get(sent.headers["location"]).text
    assert "Väntar på avtalsförvaltaren (Koncernkontoret)" in page and "hos Koncernkontoret" not in page


def test_the_dashboard_finds_a_membership_order_by_a_staff_members_name_or_hsa_id(web: Browser,
                                                                                  world: World) -> None:
    world.directory.ensure_commission(world.public_unit.hsa_id)
    asa = world.directory.create_person(Person(world.region.hsa("OBERG"), "", "Åsa", "Öberg", title="Undersköterska",
                                               unit_hsa_id=world.public_unit.hsa_id))
    web.login(world.public_manager.hsa_id)
    sent = web.client.post("/bestall/behorigheter", data=membership_post(web, world, person_hsa_ids=[asa.hsa_id]),
                           follow_redirects=False)
    reference = sent.headers["location"].split("/bestallningar/")[1].split("?")[0]
    web.login(world.public_admin.hsa_id)
    for needle in ("öberg", "ÅSA ÖBERG", asa.hsa_id.lower()):
        assert f'data-reference="{reference}"' in web.client.get("/attest", params={"q": needle}).text, needle
    assert f'data-reference="{reference}"' not in web.client.get("/attest", params={"q": "Sköterska1"}).text


def test_a_refusal_by_the_directory_reaches_people_as_a_swedish_sentence(caplog: pytest.LogCaptureFixture) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api import errors
    from catalog import DirectoryError

    app = FastAPI()
    errors.install(app)
    raw = "modify hsaIdentity=SE1,c=SE was refused by Skånekatalogen: insufficientAccessRights (resultCode 50)"

    @app.get("/prov")
    def refused() -> None:
        raise DirectoryError(raw, code=50)

    response = TestClient(app).get("/prov")
    assert response.status_code == 422 and "Skånekatalogen kunde inte utföra det du bad om" in response.text
    assert "resultCode" not in response.text and "insufficientAccessRights" not in response.text
    assert raw in caplog.text  # the detail is kept for NPÖ-förvaltningen
