""""Vem har läst min journal?" on the real app (issue 15): a nurse reads, the patient sees the read with its basis
and the reader's title (not the name), flags it, and the verksamhetschef finds it first in the log follow-up; the
patient then sees the judgement. A guardian sees a child's view within the age rules; another patient's access,
script in the comment, a child past the limit and a closed sign-in get clear answers and nothing of anyone else.
The demo directory in slapd and the named patients (tests/api/test_overview_pages.py)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from demo import organisation as catalog_demo
from demo.named import ELSA_GUARDIAN
from kernel import runtime
from kernel.outbox import OutboxMail
from npo.web import create_app
from overview.logreview.models import LogReviewRound, LogReviewTask, PatientFlag
from overview.models import AccessLog, Guardianship, Patient
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    PATIENTS,
    SARA,
    Clinic,
    clinic,
    overview_db,
    overview_site,
)

FIXTURES = (clinic, overview_db, overview_site)
SOFIA = "SE2321000255-VCH1"  # verksamhetschef, Vårdcentralen Hörby
ASTRID, BENGT, ELSA = PATIENTS["astrid"], PATIENTS["bengt"], PATIENTS["elsa"]


@pytest.fixture
def patients(clinic: Clinic) -> Iterator[Clinic]:
    """The clinic's app with the dev sign-in of staff and patients (as `make run`)."""
    runtime.configure(runtime.settings().model_copy(update={"dev_login": True}))
    yield clinic


def token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    return found.group(1) if found else ""


def sign_in_patient(client: TestClient, personnummer: str) -> None:
    client.cookies.clear()
    page = client.get("/patient/logga-in")
    assert page.status_code == 200 and "Logga in som patient" in page.text
    done = client.post("/patient/inloggad", data={"csrf": token(page.text), "personnummer": personnummer,
                                                  "next": "/patient/"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/patient/", done.text[:300]


def staff(hsa_id: str) -> TestClient:
    client = TestClient(create_app(), raise_server_exceptions=False)
    page = client.get("/login")
    assert client.post("/dev/login", data={"csrf": token(page.text), "hsa_id": hsa_id, "next": "/"},
                       follow_redirects=False).status_code == 303
    return client


def rows(model: type) -> list:  # type: ignore[type-arg]
    with Session(runtime.engine()) as session:
        return list(session.exec(select(model)).all())


def accesses(html: str) -> list[str]:
    return re.findall(r'<tr data-access="(\d+)">', html)


def sara_reads(clinic: Clinic, who: str) -> int:
    """Sara opens the patient's overview; the log row's number."""
    clinic.use(SARA).ready()
    assert clinic.open(who).status_code == 200
    reads = [r for r in rows(AccessLog) if r.resource_type == "översikt" and r.patient_personnummer == PATIENTS[who]]
    return reads[-1].seq


def test_the_patient_sees_the_nurses_read_with_basis_and_title_and_the_view_is_logged(patients: Clinic) -> None:
    seq = sara_reads(patients, "astrid")
    patients.use(None)
    sign_in_patient(patients.client, ASTRID)
    page = patients.client.get("/patient/")
    assert page.status_code == 200 and str(seq) in accesses(page.text)
    row = page.text.split(f'<tr data-access="{seq}">', 1)[1].split("</tr>", 1)[0]
    assert "Vårdcentralen Hörby" in row and "Region Skåne" in row
    assert "Sara" not in row and "Lund" not in row  # the title, not the name (patient_show_reader_names off)
    assert "Vårdgivarens egen personal" in row and "Vårdkontakt vid enheten" in row
    assert 'data-chart="patient-accesses"' in page.text and f'data-item="access-{seq}"' in page.text
    views = [r for r in rows(AccessLog) if r.user_hsa_id == f"patient:{ASTRID}"]
    assert len(views) == 1 and views[0].resource_type == "loggutdrag" and views[0].care_unit_hsa_id is None
    assert views[0].patient_personnummer == ASTRID  # logged as the patient's own view, never in a review round

    runtime.configure(runtime.settings().model_copy(update={"patient_show_reader_names": True}))
    named = patients.client.get("/patient/").text
    assert "Sara Lund" in named.split(f'<tr data-access="{seq}">', 1)[1].split("</tr>", 1)[0]


def test_a_flag_is_first_in_the_managers_review_and_the_patient_sees_the_judgement(patients: Clinic) -> None:
    seq = sara_reads(patients, "astrid")
    patients.use(None)
    sign_in_patient(patients.client, ASTRID)
    form = patients.client.get(f"/patient/atkomst/{seq}")
    assert form.status_code == 200 and "Vad känner du inte igen?" in form.text
    comment = "Jag har inte varit på vårdcentralen <script>alert(1)</script> den dagen."
    sent = patients.client.post(f"/patient/atkomst/{seq}", data={"csrf": token(form.text), "comment": comment},
                                follow_redirects=True)
    assert sent.status_code == 200 and "granskas av verksamhetschefen" in sent.text
    assert "Granskas av verksamhetschefen" in sent.text.split(f'<tr data-access="{seq}">', 1)[1].split("</tr>")[0]
    [flag] = rows(PatientFlag)
    task = next(t for t in rows(LogReviewTask) if t.id == flag.task_id)
    round_ = next(r for r in rows(LogReviewRound) if r.id == task.round_id)
    assert flag.log_seq == seq and flag.comment == comment and not flag.by_guardian
    assert task.reasons == "patientmarkering" and task.outcome == "open"
    assert round_.unit_hsa_id == catalog_demo.VC_HORBY and round_.sampled_at is None  # today: sampled later
    mail = [m for m in rows(OutboxMail) if m.template == "logreview_patient_flag"]
    assert len(mail) == 1 and "Astrid" not in mail[0].text_body + mail[0].subject  # no patient name in a mail
    assert f"/loggranskning/atkomst/{task.id}" in mail[0].text_body

    again = patients.client.post(f"/patient/atkomst/{seq}", data={"csrf": token(form.text), "comment": "igen"})
    assert again.status_code == 200 and len(rows(PatientFlag)) == 1  # one flag per access

    with staff(SOFIA) as manager:
        review = manager.get("/loggranskning")
        assert review.status_code == 200
        first = re.findall(r'href="/loggranskning/atkomst/(\d+)"', review.text)
        assert first and first[0] == str(task.id)  # at the top
        page = manager.get(f"/loggranskning/atkomst/{task.id}")
        assert "Patienten känner inte igen åtkomsten" in page.text and "<script>alert" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # shown as text
        decided = manager.post(f"/loggranskning/atkomst/{task.id}", data={
            "csrf": token(page.text), "outcome": "justified", "expected": "open", "comment": ""})
        assert decided.status_code == 200
    after = patients.client.get("/patient/").text
    cell = after.split(f'<tr data-access="{seq}">', 1)[1].split("</tr>", 1)[0]
    assert "Granskad: åtkomsten bedömdes som befogad" in cell and 'data-flag-state="justified"' in cell


def test_another_patients_access_and_bad_comments_are_refused_and_lose_nothing(patients: Clinic) -> None:
    seq = sara_reads(patients, "astrid")
    patients.use(None)
    sign_in_patient(patients.client, BENGT)
    other = patients.client.get(f"/patient/atkomst/{seq}")
    assert other.status_code == 404 and "finns inte i din logg" in other.text and "Astrid" not in other.text
    page = patients.client.get("/patient/")
    assert str(seq) not in accesses(page.text) and "Astrid" not in page.text
    posted = patients.client.post(f"/patient/atkomst/{seq}", data={"csrf": token(page.text), "comment": "Nej"})
    assert posted.status_code == 404 and rows(PatientFlag) == []
    assert patients.client.get("/patient/atkomst/abc").status_code == 422
    assert patients.client.get("/patient/atkomst/999999999").status_code == 404

    sign_in_patient(patients.client, ASTRID)
    form = patients.client.get(f"/patient/atkomst/{seq}").text
    empty = patients.client.post(f"/patient/atkomst/{seq}", data={"csrf": token(form), "comment": "  "})
    assert empty.status_code == 422 and "Skriv kort vad du inte känner igen" in empty.text
    control = patients.client.post(f"/patient/atkomst/{seq}", data={"csrf": token(form), "comment": "a\x00b"})
    assert control.status_code == 422 and "styrtecken" in control.text
    long = "x" * 1001
    too_long = patients.client.post(f"/patient/atkomst/{seq}", data={"csrf": token(form), "comment": long})
    assert too_long.status_code == 422 and long in too_long.text.replace("\n", "")  # what was typed stays
    no_csrf = patients.client.post(f"/patient/atkomst/{seq}", data={"comment": "Känner inte igen"})
    assert no_csrf.status_code == 403 and rows(PatientFlag) == []


def test_a_guardian_sees_the_childs_view_within_the_age_rules(patients: Clinic) -> None:
    sign_in_patient(patients.client, ELSA_GUARDIAN)
    page = patients.client.get("/patient/")
    assert page.status_code == 200 and "Vem har läst Elsa Karlssons journal?" in page.text
    view = [r for r in rows(AccessLog) if r.user_hsa_id == f"patient:{ELSA_GUARDIAN}"]
    assert len(view) == 1 and view[0].patient_personnummer == ELSA and "vårdnadshavare" in view[0].detail
    # a guardian of a child past the limit (Astrid, here registered as a "child" of the same guardian) is refused
    with Session(runtime.engine()) as session:
        session.add(Guardianship(guardian_personnummer=ELSA_GUARDIAN, child_personnummer=ASTRID,
                                 valid_from=dt.date(1948, 3, 12)))
        session.commit()
    refused = patients.client.post("/patient/vem", data={"csrf": token(page.text), "subject": ASTRID})
    assert refused.status_code == 403 and "har fyllt 13 år" in refused.text and "Astrid" not in refused.text
    stranger = patients.client.post("/patient/vem", data={"csrf": token(page.text), "subject": BENGT})
    assert stranger.status_code == 403 and "inte registrerad som vårdnadshavare" in stranger.text

    sign_in_patient(patients.client, ELSA)  # a nine-year-old signing in herself
    own = patients.client.get("/patient/")
    assert own.status_code == 403 and "från det att du fyller 16 år" in own.text


def test_a_teen_past_the_guardians_limit_and_under_their_own_is_refused_to_both(patients: Clinic) -> None:
    teen = "201203152383"
    with Session(runtime.engine()) as session:
        session.add(Patient(personnummer=teen, given_name="Tea", surname="Tonår", birth_date=dt.date(2012, 3, 15)))
        session.flush()
        session.add(Guardianship(guardian_personnummer=ELSA_GUARDIAN, child_personnummer=teen,
                                 valid_from=dt.date(2012, 3, 15)))
        session.commit()
    sign_in_patient(patients.client, ELSA_GUARDIAN)
    page = patients.client.get("/patient/").text
    assert "Tea" not in page  # not offered: she is 14
    assert patients.client.post("/patient/vem", data={"csrf": token(page), "subject": teen}).status_code == 403


def test_a_patient_is_not_staff_and_staff_are_not_patients(patients: Clinic) -> None:
    sign_in_patient(patients.client, ASTRID)
    staff_page = patients.client.get("/loggranskning", follow_redirects=False)
    assert staff_page.status_code == 303 and staff_page.headers["location"].startswith("/login")
    with staff(SOFIA) as manager:
        start = manager.get("/patient/")
        assert start.status_code == 200 and "Logga in med e-legitimation" in start.text
        assert manager.get("/patient/atkomst/1", follow_redirects=False).headers["location"].startswith(
            "/patient/logga-in")
    out = patients.client.post("/patient/logga-ut", data={"csrf": token(patients.client.get("/patient/").text)})
    assert out.status_code == 200 and "Du är utloggad" in out.text
    assert "Logga in med e-legitimation" in patients.client.get("/patient/").text


def test_when_sign_in_is_off_or_the_dev_choice_is_bad_the_page_says_so(patients: Clinic) -> None:
    page = patients.client.get("/patient/logga-in")
    bad = patients.client.post("/patient/inloggad", data={"csrf": token(page.text), "personnummer": "19480312-0000"})
    assert bad.status_code == 401 and "har fel kontrollsiffra" in bad.text and "ÅÅÅÅMMDD-NNNN" in bad.text
    unknown = patients.client.post("/patient/inloggad", data={"csrf": token(page.text),
                                                               "personnummer": "19600401-1232"})
    assert unknown.status_code == 401 and "finns inte bland demons patienter" in unknown.text
    assert patients.client.get("/patient/inloggad").status_code == 401
    runtime.configure(runtime.settings().model_copy(update={"dev_login": False}))
    closed = patients.client.get("/patient/logga-in")
    assert closed.status_code == 503 and "Journalen på 1177.se" in closed.text
    assert "Inloggningen är inte öppen här" in patients.client.get("/patient/").text
