"""Begär behörighet and Förslag att beställa on the real app (issue 14 item 2): a nurse without a commission asks
from Felsökning, sees her request waiting, cannot ask twice; the unit manager finds it on /bestall/forslag, a bad
validity is named beside its field, one click makes the order; a decline needs a reason. SITHS-like certificates on
the demo directory for Felsökning (as tests/api/test_overview_pages), the dev login for the manager's pages."""

from __future__ import annotations

from sqlmodel import Session, select

from kernel import runtime
from kernel.outbox import OutboxMail
from overview.models import HelpText
from provisioning import proposals
from provisioning.models import AccessProposal, ProposalState
from tests.api.conftest import Browser
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    JOHANNA,
    LENA,
    Clinic,
    clinic,
    overview_db,
    overview_site,
    rows_of,
)
from tests.provisioning.conftest import NOW
from tests.world import World

FIXTURES = (clinic, overview_db, overview_site)  # pytest finds them here; named so the imports count as used
MARIA = "SE2321000255-VCA1"  # the demo's manager of Johanna's unit


def test_a_nurse_without_access_asks_from_felsokning_and_sees_it_waiting(clinic: Clinic) -> None:
    clinic.use(JOHANNA)
    page = clinic.client.get("/oversikt/felsokning")
    assert page.status_code == 200 and 'id="request-access"' in page.text and "Begär behörighet" in page.text
    too_long = clinic.post("/oversikt/felsokning/begar", comment="x" * 1001)
    assert too_long.status_code == 422 and "högst 1000 tecken" in too_long.text and rows_of(AccessProposal) == []
    asked = clinic.post("/oversikt/felsokning/begar", comment="Jag arbetar på mottagningen från måndag.")
    assert asked.status_code == 200 and 'data-asked="1"' in asked.text
    assert "verksamhetschefen för" in asked.text and 'id="request-access"' not in asked.text  # no second button
    [made] = rows_of(AccessProposal)
    assert (made.person_hsa_id, made.state, made.comment) == (JOHANNA, ProposalState.OPEN,
                                                              "Jag arbetar på mottagningen från måndag.")
    assert f'data-request="{made.id}" data-state="open"' in asked.text and "Väntar på verksamhetschefen" in asked.text
    with Session(runtime.engine()) as session:
        [mail] = session.exec(select(OutboxMail).where(OutboxMail.template == "proposal_to_manager")).all()
    assert "Johanna Berg" in mail.subject and "Jag arbetar på mottagningen" in mail.text_body
    again = clinic.post("/oversikt/felsokning/begar", comment="")
    assert again.status_code == 409 and "Du har redan begärt behörighet" in again.text
    assert len(rows_of(AccessProposal)) == 1
    anonymous = clinic.use(None).post("/oversikt/felsokning/begar", follow=False, comment="")
    assert anonymous.status_code in (401, 403) and len(rows_of(AccessProposal)) == 1


def test_the_manager_orders_a_request_in_one_click_and_a_bad_date_is_named_beside_its_field(
        web: Browser, world: World) -> None:
    world.directory.ensure_commission(world.public_unit.hsa_id)
    sara = world.public_staff[0]
    with runtime.session_scope() as session:
        asked = proposals.request_access(session=session, directory=world.directory, config=world.config,
                                         person_hsa_id=sara.hsa_id, comment="Jag behöver NPÖ på akuten.", now=NOW)
        asked_id = asked.id
    web.login(world.public_manager.hsa_id)
    start = web.client.get("/bestall")
    assert start.status_code == 200 and 'data-proposals="1"' in start.text
    page = web.client.get("/bestall/forslag")
    assert page.status_code == 200 and f'data-proposal="{asked_id}"' in page.text and "Jag behöver NPÖ" in page.text
    bad = web.client.post(f"/bestall/forslag/{asked_id}/bestall",
                          data={"csrf": web.csrf(), "valid_from": "2020-01-01", "valid_to": ""})
    assert bad.status_code == 422 and "bakåt i tiden" in bad.text.split(f'id="e-valid_from-{asked_id}"', 1)[1][:200]
    no_reason = web.client.post(f"/bestall/forslag/{asked_id}/avboj", data={"csrf": web.csrf(), "reason": ""})
    assert no_reason.status_code == 422 and "varför förslaget avböjs" in no_reason.text
    today = runtime_today()
    done = web.client.post(f"/bestall/forslag/{asked_id}/bestall",
                           data={"csrf": web.csrf(), "valid_from": today, "valid_to": ""})
    assert done.status_code == 200 and "NPO-" in str(done.url) and sara.name in done.text
    again = web.client.get("/bestall/forslag")
    assert f'data-proposal="{asked_id}" data-state="ordered"' in again.text and 'data-waiting="0"' in again.text
    web.login(world.private_manager.hsa_id)  # another unit's manager: nothing to see or do
    other = web.client.post(f"/bestall/forslag/{asked_id}/avboj", data={"csrf": web.csrf(), "reason": "Nej."})
    assert other.status_code == 404


def runtime_today() -> str:
    from kernel.clock import local_date, now

    return local_date(now()).isoformat()


def test_npo_forvaltningen_keeps_the_net_id_advice_current_without_a_release(clinic: Clinic) -> None:
    clinic.use(JOHANNA)
    before = clinic.client.get("/oversikt/felsokning")
    assert "Region Skåne installerar" in before.text and 'id="netid-text"' not in before.text  # the default
    refused = clinic.post("/oversikt/felsokning/texter", text="Använd Net iD Access.", comment="Nytt program")
    assert refused.status_code == 403 and rows_of(HelpText) == []
    clinic.use(LENA)
    form = clinic.client.get("/oversikt/felsokning")
    assert 'id="netid-text"' in form.text and "ingen version är sparad" in form.text
    no_reason = clinic.post("/oversikt/felsokning/texter", text="Använd Net iD Access från Region Skåne.", comment="")
    assert no_reason.status_code == 422 and "varför texten ändras" in no_reason.text
    assert "Använd Net iD Access från Region Skåne." in no_reason.text and rows_of(HelpText) == []  # typed text kept
    saved = clinic.post("/oversikt/felsokning/texter", text="Använd Net iD Access från Region Skåne.",
                        comment="Regionen bytte kortläsarprogram")
    assert saved.status_code == 200 and "visas nu i Felsökning" in saved.text
    [version] = rows_of(HelpText)
    assert (version.changed_by, version.comment) == (LENA, "Regionen bytte kortläsarprogram")
    assert f'data-version="{version.id}"' in saved.text
    same = clinic.post("/oversikt/felsokning/texter", text="Använd Net iD Access från Region Skåne.", comment="Igen")
    assert "ingen ny version sparades" in same.text and len(rows_of(HelpText)) == 1
    clinic.use(JOHANNA)
    after = clinic.client.get("/oversikt/felsokning")
    assert "Använd Net iD Access från Region Skåne." in after.text and "Region Skåne installerar" not in after.text


def test_felsokning_reads_the_directory_as_it_is_now_not_the_grant_cache(clinic: Clinic) -> None:
    import datetime as dt
    import uuid

    from catalog.directory import derived_commission_id
    from catalog.model import Person, Validity
    from demo import organisation as catalog_demo
    from kernel import clock

    runtime.configure(runtime.settings().model_copy(update={"ldap_cache_seconds": 30.0}))  # as in production
    directory, commission = clinic.site.directory, derived_commission_id(catalog_demo.VC_HORBY)
    newcomer = directory.create_person(Person(  # the site's directory is the module's: a person of this test's own
        f"SE2321000255-T{uuid.uuid4().hex[:8].upper()}", "", "Nina", "Nyanställd", title="Sjuksköterska",
        unit_hsa_id=catalog_demo.VC_HORBY))
    clinic.use(newcomer.hsa_id, "Nina Nyanställd")
    before = clinic.client.get("/oversikt/felsokning")
    assert 'data-check="commission" data-code="commission.none"' in before.text
    directory.ensure_membership(commission, newcomer.hsa_id, Validity(clock.now() - dt.timedelta(minutes=1)))
    after = clinic.client.get("/oversikt/felsokning")  # within the cache's 30 s: the page asks the directory
    assert 'data-code="commission.none"' not in after.text and 'data-check="commission"' in after.text
