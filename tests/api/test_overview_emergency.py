"""Nödåtkomst as the pages show it, step by step: the box about blocked data says what is true in each state and
offers only the next step; an active-emergency banner with its end time (Swedish time) is on every overview page
while it lasts; the consent and emergency dialogs show the patient's name and personnummer, logged as a read of the
patient's details. The real app, the demo directory in slapd, the named patients (tests/api/test_overview_pages.py).
"""
# ruff: noqa: F811  (the shared fixtures are imported from test_overview_pages and requested by name)

from __future__ import annotations

import datetime as dt
import re

from freezegun import freeze_time

from demo import organisation as catalog_demo
from kernel import clock
from overview.models import EmergencyOpening
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    FATIMA,
    PATIENTS,
    SARA,
    Clinic,
    clinic,
    log_rows,
    overview_db,
    overview_site,
    rows_of,
)


def box(html: str) -> str:
    """The box about blocked data."""
    return html.split('data-blocked="1"', 1)[1].split("</div>", 1)[0] if 'data-blocked="1"' in html else ""


def banner(html: str) -> str:
    """The active-emergency banner ('' when there is none)."""
    found = re.search(r'<div class="[^"]*emergency-banner[^"]*"[^>]*data-emergency="(\w+)"[^>]*>(.*?)</div>', html,
                      re.S)
    return f"{found.group(1)}: {' '.join(re.sub(r'<[^>]+>', '', found.group(2)).split())}" if found else ""


def action(html: str) -> str:
    found = re.search(r'data-blocked-action="(\w+)"', html)
    return found.group(1) if found else ""


def test_the_blocked_box_and_the_banner_follow_each_step_of_emergency_access(clinic: Clinic) -> None:
    with freeze_time(clock.now(), tick=True) as frozen:
        clinic.use(FATIMA).ready()
        page = clinic.open("bengt").text
        assert action(page) == "open_emergency" and banner(page) == ""
        assert 'href="/oversikt/patient/nodatkomst"' in box(page) and "blocked-step1" not in page
        assert "Öppna nödåtkomst först" not in page

        opened = clinic.post("/oversikt/patient/nodatkomst", reason="Medvetslös efter trafikolycka", hours="2").text
        [opening] = rows_of(EmergencyOpening)
        until = opening.expires_at.astimezone(clock.STOCKHOLM).strftime("%Y-%m-%d %H:%M")
        assert banner(opened).startswith("open: Nödåtkomst pågår för patienten 19560930-2152 till")
        assert f"{until} (svensk tid)" in banner(opened)
        assert action(opened) == "step1" and "blocked-step1" in opened
        assert "nodatkomst" not in box(opened) and "Öppna nödåtkomst" not in box(opened)

        later = clinic.client.get("/oversikt/patient/tidslinje").text  # a later page load, the flash is gone
        assert "Nödåtkomst öppnad till" not in later and until in banner(later)
        for other in ("/oversikt", "/oversikt/felsokning", "/oversikt/patient/samtycke"):
            assert until in banner(clinic.client.get(other).text), other

        step1 = clinic.post("/oversikt/patient/sparrat/steg1").text
        assert "Region Blekinge" in step1 and banner(step1).startswith("revealed:")
        revealed = clinic.client.get("/oversikt/patient").text
        assert action(revealed) == "step2" and "Visas inte: Region Blekinge." in box(revealed)
        assert "blocked-step2-choose" in revealed and "blocked-step1" not in revealed

        step2 = clinic.post("/oversikt/patient/sparrat/steg2", providers=catalog_demo.BLEKINGE).text
        assert "Besök på akuten för yrsel" in step2 and action(step2) == "none"
        assert "visas inte" not in box(step2).lower() and "är öppnade med nödöppning och visas nedan" in box(step2)
        assert "<form" not in box(step2) and banner(step2).startswith("data_opened:")
        assert "Spärrade uppgifter är öppnade (steg 2)" in banner(step2)

        while clock.now() < opening.expires_at:  # the clinician keeps working (an idle session would end, D-33)
            frozen.tick(dt.timedelta(minutes=20))
            clinic.client.get("/oversikt/patient")
        expired = clinic.client.get("/oversikt/patient").text
        assert banner(expired) == "" and action(expired) == "open_emergency"
        assert "Besök på akuten för yrsel" not in expired
        assert banner(clinic.client.get("/oversikt").text) == ""


def test_no_banner_without_an_open_emergency_and_none_for_a_closed_patient(clinic: Clinic) -> None:
    clinic.use(FATIMA).ready()
    clinic.open("bengt")
    clinic.post("/oversikt/patient/nodatkomst", reason="Medvetslös efter trafikolycka", hours="1")
    assert banner(clinic.client.get("/oversikt").text)
    clinic.post("/oversikt/patient/stang")
    assert banner(clinic.client.get("/oversikt").text) == ""  # no patient in view: nothing to warn about
    clinic.use(SARA).ready()  # another person's card in the same browser never sees Fatima's emergency
    page = clinic.open("astrid").text
    assert banner(page) == "" and banner(clinic.client.get("/oversikt/felsokning").text) == ""


def test_the_consent_and_emergency_dialogs_name_the_patient_and_log_that_they_did(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    clinic.open("dagny")
    for path, dialog in (("/oversikt/patient/samtycke", "samtyckesdialogen"),
                         ("/oversikt/patient/nodatkomst", "nödåtkomstdialogen")):
        before = len(log_rows())
        page = clinic.client.get(path)
        header = page.text.split('class="patient-header"', 1)[1].split("</div>", 1)[0]
        assert page.status_code == 200 and "Dagny Svensson" in header and "19350127-0627" in header, path
        [row] = log_rows()[before:]
        assert (row.action, row.resource_type, row.outcome, row.detail) == ("Läsa", "patientuppgifter", "beviljad",
                                                                            dialog)
        assert row.patient_personnummer == PATIENTS["dagny"] and row.care_unit_hsa_id == catalog_demo.VC_HORBY
    invalid = clinic.post("/oversikt/patient/samtycke", overview="1", scope="unit", duration="evigt")
    assert invalid.status_code == 422 and "Dagny Svensson" in invalid.text  # the re-shown form too


def test_a_dialog_for_a_patient_the_gate_refuses_shows_no_name(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    clinic.open("gunnar")  # no patient relation at VC Hörby
    before = len(log_rows())
    for path in ("/oversikt/patient/samtycke", "/oversikt/patient/nodatkomst"):
        page = clinic.client.get(path)
        assert page.status_code == 403 and "Gunnar" not in page.text and "ingen patientrelation" in page.text, path
    assert [r for r in log_rows()[before:] if r.resource_type == "patientuppgifter"] == []
