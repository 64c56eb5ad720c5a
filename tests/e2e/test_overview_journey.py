"""The overview journey in Debian's chromium over real mTLS: the nurse Sara Lund (VoB SJF at Vårdcentralen Hörby)
confirms the information, searches Dagny Svensson, registers a consent for the whole unit for a week, sees the
overview with Region Halland's data, then searches Cecilia Holm and sees the blocked-information notice. The doctor
Fatima Ali opens nödåtkomst for Bengt Johansson and his blocked data in two steps, with the banner saying until when.
Johanna Berg (no commission) gets Ej behörig, and Felsökning tells her why and what to do; her fault report reaches
the service desk.

Playwright's own Node process does the TLS for origins with client certificates, so it must trust the dev CA: the
contexts use ``ignore_https_errors`` (NODE_EXTRA_CA_CERTS would have to be set before the driver starts).
"""
# ruff: noqa: F811  (the shared fixtures are imported from tests/api/test_overview_pages and requested by name)

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator

import pytest

from api.app import create_app
from api.mtls import mtls_config
from demo import organisation as catalog_demo
from kernel import clock, runtime
from kernel.settings import Settings
from overview.models import Consent, EmergencyOpening
from tests.api.test_mtls import running
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    FATIMA,
    JOHANNA,
    PATIENTS,
    SARA,
    OverviewSite,
    log_rows,
    overview_db,
    overview_site,
    pnr,
    rows_of,
)
from tests.conftest import MailSink, free_port
from tests.e2e.axe import AxeChecker
from tests.e2e.test_accessibility import overflowing

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def listener(overview_site: OverviewSite) -> Iterator[str]:
    """The SITHS (mTLS) listener serving the real app."""
    config, _tls = mtls_config(create_app(), overview_site.settings, port=free_port(), log_level="warning")
    with running(config) as url:
        yield url


def card(browser, site: OverviewSite, listener: str, hsa_id: str, axe: AxeChecker):  # type: ignore[no-untyped-def]
    """A browser context holding this person's SITHS certificate for the listener (like a card in the reader);
    every document the test uses in it is checked with axe-core."""
    cert, key = site.files_of(site.certificate(hsa_id))
    context = browser.new_context(locale="sv-SE", ignore_https_errors=True, client_certificates=[
        {"origin": listener, "certPath": str(cert), "keyPath": str(key)}])
    page = axe.watch(context.new_page())
    page.set_default_timeout(15000)
    return context, page


def test_a_nurse_registers_a_unit_consent_for_a_week_and_sees_the_overview_and_the_blocked_notice(
        browser, overview_site: OverviewSite, overview_db: Settings, listener: str,  # type: ignore[no-untyped-def]
        axe: AxeChecker) -> None:
    context, page = card(browser, overview_site, listener, SARA, axe)
    try:
        page.goto(f"{listener}/oversikt")
        assert page.locator("h1").inner_text() == "Information innan start med NPÖ"
        page.check("#f-read")
        page.click("#acknowledge")
        page.wait_for_selector("#f-personnummer")
        assert "Sara Lund · SITHS" in page.content() and "Vårdcentralen Hörby" in page.content()

        page.fill("#f-personnummer", pnr("dagny"))
        page.click("#search")
        page.wait_for_selector(".patient-header .name")
        assert page.inner_text(".patient-header .name") == "Dagny Svensson"
        assert page.locator("[data-consent-missing]").count() == 1 and "Region Halland" not in page.content()

        page.click("#consent-link")
        page.check("#f-scope-unit")
        page.check("#f-duration-vecka")
        page.click("#register-consent")
        page.wait_for_selector("text=Samtycket är registrerat (för hela vårdenheten)")
        assert page.locator("article.item", has_text="Region Halland").count() >= 1
        page.click("text=Tidslinje")
        page.wait_for_selector("ol.timeline")
        assert page.locator("ol.timeline article.item").count() >= 5

        page.click("text=Stäng patienten")
        page.fill("#f-personnummer", pnr("cecilia"))
        page.click("#search")
        page.wait_for_selector("[data-blocked='1']")
        assert "Det finns spärrade uppgifter om patienten som inte visas" in page.inner_text("[data-blocked='1']")
        assert page.inner_text(".patient-header .name") == "Cecilia Holm"
        axe.finish(page)
    finally:
        context.close()
    [consent] = [c for c in rows_of(Consent) if c.registered_by == SARA and c.personnummer == PATIENTS["dagny"]
                 and c.voided_at is None and c.ended_at is None]
    assert (consent.scope, consent.care_unit_hsa_id) == ("unit", catalog_demo.VC_HORBY)
    assert dt.timedelta(days=7) - dt.timedelta(minutes=2) < consent.end - consent.start <= dt.timedelta(days=7)
    reads = [(r.patient_personnummer, r.resource_type) for r in log_rows() if r.user_hsa_id == SARA]
    assert (PATIENTS["dagny"], "samtycke") in reads and (PATIENTS["cecilia"], "översikt") in reads


def test_a_doctor_opens_blocked_data_in_an_emergency_and_every_page_says_until_when(
        browser, overview_site: OverviewSite, overview_db: Settings, listener: str,  # type: ignore[no-untyped-def]
        axe: AxeChecker) -> None:
    context, page = card(browser, overview_site, listener, FATIMA, axe)
    try:
        page.goto(f"{listener}/oversikt")
        page.check("#f-read")
        page.click("#acknowledge")
        page.fill("#f-personnummer", pnr("bengt"))
        page.click("#search")
        page.wait_for_selector("[data-blocked-action='open_emergency']")
        assert page.locator(".emergency-banner").count() == 0
        page.click("#open-emergency-link")
        assert page.inner_text(".patient-header .name") == "Bengt Johansson"  # the dialog names the patient
        page.fill("#f-reason", "Medvetslös efter trafikolycka")
        page.click("#open-emergency")
        page.wait_for_selector("[data-blocked-action='step1']")
        [opening] = rows_of(EmergencyOpening)
        until = opening.expires_at.astimezone(clock.STOCKHOLM).strftime("%Y-%m-%d %H:%M")
        assert until in page.inner_text(".emergency-banner") and "Öppna nödåtkomst först" not in page.content()
        page.goto(f"{listener}/oversikt/felsokning")  # a later page load, elsewhere in the overview
        assert until in page.inner_text(".emergency-banner")
        page.goto(f"{listener}/oversikt/patient")
        page.click("#blocked-step1")
        page.wait_for_selector("#blocked-step2")
        assert page.inner_text(".patient-header .name") == "Bengt Johansson"
        page.check(f"input[value='{catalog_demo.BLEKINGE}']")
        page.click("#blocked-step2")
        page.wait_for_selector("[data-blocked-action='none']")
        box = page.inner_text("[data-blocked='1']")
        assert "öppnade med nödöppning och visas nedan" in box and "visas inte" not in box
        assert page.locator("article.item", has_text="Besök på akuten för yrsel").count() == 1
        assert page.get_attribute(".emergency-banner", "data-emergency") == "data_opened"
        axe.finish(page)
    finally:
        context.close()


def test_a_user_without_commission_gets_felsokning_s_clear_answer(
        browser, overview_site: OverviewSite, overview_db: Settings, listener: str,  # type: ignore[no-untyped-def]
        smtp_sink: MailSink, axe: AxeChecker) -> None:
    runtime.configure(runtime.settings().model_copy(update={"smtp_port": smtp_sink.port}))
    context, page = card(browser, overview_site, listener, JOHANNA, axe)
    try:
        page.goto(f"{listener}/oversikt")
        page.wait_for_selector("[data-access='refused']")
        assert "Ej behörig" in page.content() and "Du har inget medarbetaruppdrag" in page.content()
        page.click("text=Felsökning: gå igenom kontrollerna")
        page.wait_for_selector("table.checks")
        row = page.locator("tr[data-check='commission']")
        assert row.locator("td").nth(1).inner_text() == "Fel"
        answer = row.inner_text()
        assert "Du har inget medarbetaruppdrag i Skånekatalogen" in answer
        assert "Verksamhetschefen avgör vem som ska ha uppdraget" in answer and "katalogansvarig" in answer
        assert "0776-73 00 00" in page.content() and "Net iD" in page.content()
        assert page.locator("tr[data-check='certificate']").locator("td").nth(1).inner_text() == "Godkänd"
        page.fill("#f-description", "Jag får Ej behörig när jag öppnar NPÖ.")
        page.click("#send-report")
        page.wait_for_selector("[data-sent]")
        reference = page.get_attribute("[data-sent]", "data-sent") or ""
        assert re.fullmatch(r"FEL-[0-9A-F]{8}", reference)
        axe.finish(page)
    finally:
        context.close()
    deadline = dt.datetime.now() + dt.timedelta(seconds=10)
    while not smtp_sink.messages and dt.datetime.now() < deadline:
        time.sleep(0.1)  # the mail leaves in a background task after the response
    [(recipients, message)] = smtp_sink.messages
    assert recipients == ["servicedesk@skane.example"] and reference in message["Subject"]


def test_the_overview_fits_a_320_px_phone(browser, overview_site: OverviewSite, overview_db: Settings,  # type: ignore[no-untyped-def]
                                          listener: str, axe: AxeChecker) -> None:
    context, page = card(browser, overview_site, listener, SARA, axe)
    wide: dict[str, list[str]] = {}

    def visit(path: str = "") -> None:
        if path:
            page.goto(f"{listener}{path}")
        found = overflowing(page)
        if found:
            wide[page.url.removeprefix(listener)] = found

    try:
        page.set_viewport_size({"width": 320, "height": 640})
        visit("/oversikt")  # Information innan start
        assert not page.is_visible("nav[aria-label] a[href='/oversikt/felsokning']")  # behind the menu button
        page.check("#f-read")
        page.click("#acknowledge")
        page.wait_for_selector("#f-personnummer")
        visit()
        page.fill("#f-personnummer", pnr("cecilia"))
        page.click("#search")
        page.wait_for_selector("[data-blocked='1']")
        visit()
        visit("/oversikt/patient/tidslinje")
        visit("/oversikt/patient/samtycke")
        page.uncheck("#f-overview")  # consent to nothing, until a date left out: each error beside its field
        page.check("#f-duration-datum")
        with page.expect_navigation():
            page.click("#register-consent")
        assert page.locator("fieldset[aria-describedby~=e-overview] #f-overview[aria-invalid=true]").count() == 1
        assert page.locator("#f-end[aria-invalid=true][aria-describedby=e-end]").count() == 1
        visit()
        visit("/oversikt/patient/nodatkomst")
        with page.expect_navigation():
            page.click("#open-emergency")  # no reason given
        assert page.locator("#f-reason[aria-invalid=true]").count() == 1
        visit()
        visit("/oversikt/felsokning")
        visit("/siths/vem-ar-jag")
        axe.finish(page)
    finally:
        context.close()
    assert not wide, f"wider than 320 px: {wide}"


def test_a_nurse_lifts_a_block_with_the_patients_consent_and_registers_one_on_request(
        browser, overview_site: OverviewSite, overview_db: Settings, listener: str,  # type: ignore[no-untyped-def]
        axe: AxeChecker) -> None:
    """Issue 13: the block dialog in chromium, checked with axe-core like every page here."""
    from overview.models import Block, BlockRevoke

    context, page = card(browser, overview_site, listener, SARA, axe)
    try:
        page.goto(f"{listener}/oversikt")
        page.check("#f-read")
        page.click("#acknowledge")
        page.fill("#f-personnummer", pnr("cecilia"))
        page.click("#search")
        page.wait_for_selector("[data-blocked='1']")
        assert "Anteckning från kvinnokliniken" not in page.content()
        page.click("#temporary-revoke-link")
        page.wait_for_selector("h1:has-text('Spärrar')")
        assert page.locator("[data-holding='1']").count() == 1
        page.check("#f-revoke-scope-employee")
        page.check("#f-revoke-duration-dag")
        page.fill("#f-reason_text", "Patienten är här och samtycker.")
        page.click("#temporary-revoke")
        page.wait_for_selector("text=tillfälligt hävd för dig med patientens samtycke")
        assert page.locator("article.item", has_text="Anteckning från kvinnokliniken").count() >= 1

        page.click("text=Stäng patienten")
        page.fill("#f-personnummer", pnr("dagny"))
        page.click("#search")
        page.click("#blocks-link")
        page.wait_for_selector("#register-block")
        page.check("#f-kind-outer")
        page.check("#f-requested_by-patient")
        page.fill("#f-reason", "Vill inte att andra vårdgivare ser uppgifterna.")
        page.click("#register-block")
        page.wait_for_selector("text=Spärren är registrerad (yttre spärr)")
        assert page.locator("tr[data-state='active']").count() == 1
        axe.finish(page)
    finally:
        context.close()
    assert [r.employee_hsa_id for r in rows_of(BlockRevoke) if r.registered_by == SARA] == [SARA]
    assert [(b.kind, b.registered_by) for b in rows_of(Block) if b.personnummer == PATIENTS["dagny"]] == \
        [("outer", SARA)]
