"""No route of the app returns patient data without passing the gate and writing a log row first (D6).

Every route the app serves (enumerated from the app itself, so a new route is covered without being named here) is
called in every state a request can be in: no certificate; a signed-in session cookie that once chose a patient but
no certificate; a certificate from another CA; an expired one; a person unknown to Skånekatalogen; a person without
commission; a person who has not confirmed "Information innan start"; a patient without relation; allowed; and the
system administrator. Each call starts from the same browser state, carries plausible form data (the named
patient's personnummer, a reason, a consent period, a vårdgivare) and follows redirects. A response that contains
any named patient's data (name, address, journal text) must have been preceded by a committed log row for that
patient that granted the read. In the states no request can change (the certificate ones, an unknown person, no
commission) no response may contain any of it at all; the others may legitimately pass the gate during the run (the
form data confirms the information and asserts a relation), and then the log row must be there.

The patient view (/patient/) is covered the same way: a patient signed in through the dev sign-in, and a guardian,
call every route too. What "Vem har läst min journal?" shows of a patient (the header's name) must follow a logged
view of that patient by the signed-in person (resource loggutdrag, actor ``patient:<personnummer>``); a staff state
that signs in as a patient through the dev sign-in (the form data carries a personnummer) counts as that patient.
"""
# ruff: noqa: F811  (the shared fixtures are imported from test_overview_pages and then requested by name)

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from sqlmodel import Session, select

from api.app import create_app
from catalog.directory import derived_commission_id
from demo import organisation as catalog_demo
from demo.named import ELSA_GUARDIAN
from kernel import runtime
from overview import info
from overview.models import AccessLog, Patient, ProducerItem
from tests.api.test_authorization_matrix import app_routes
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    FATIMA,
    JOHANNA,
    LENA,
    SARA,
    Clinic,
    clinic,
    overview_db,
    overview_site,
    pnr,
)

ERIK_NOT_CONFIRMED = "SE2321000255-VCH3"
UNKNOWN = "SE2321000255-OKAND1"
# A read of the overview, or of the patient's details that a dialog about them shows (consent, nödåtkomst).
GRANTED_READS = {("Läsa", "översikt"), ("Nödöppning", "översikt"), ("Läsa", "patientuppgifter")}
PATIENT_VIEW = ("Läsa", "loggutdrag")  # a patient's (or guardian's) own view of their log
NEVER = {"no certificate", "session cookie without certificate", "certificate from another CA", "expired certificate",
         "not in the directory", "no commission"}


def markers() -> dict[str, set[str]]:
    """Text that is patient data → the named patients it belongs to (names, addresses, journal titles and texts)."""
    found: dict[str, set[str]] = {}
    with Session(runtime.engine()) as session:
        for patient in session.exec(select(Patient)).all():
            for text in (f"{patient.given_name} {patient.surname}", patient.street):
                found.setdefault(text, set()).add(patient.personnummer)
        for item in session.exec(select(ProducerItem)).all():
            for text in (item.title, item.body):
                if len(text) >= 16:
                    found.setdefault(text, set()).add(item.personnummer)
    assert len(found) > 50
    return found


def granted_since(seq: int) -> set[str]:
    """Patients whose data a read granted since log row ``seq`` (rows are committed before the response)."""
    with Session(runtime.engine()) as session:
        rows = session.exec(select(AccessLog).where(AccessLog.seq > seq)).all()
    return {r.patient_personnummer for r in rows if r.outcome == "beviljad" and r.patient_personnummer and (
        (r.action, r.resource_type) in GRANTED_READS
        or ((r.action, r.resource_type) == PATIENT_VIEW and r.user_hsa_id.startswith("patient:")))}


def last_seq() -> int:
    with Session(runtime.engine()) as session:
        return max(session.exec(select(AccessLog.seq)).all(), default=0)


def _form(token: str) -> dict[str, object]:
    """Form data every route may pick from."""
    return {"csrf": token, "personnummer": pnr("astrid"), "reason": "Akut bedömning på mottagningen", "hours": "2",
            "overview": "1", "drug_list": "1", "scope": "unit", "duration": "vecka", "read": "1",
            "version": str(info.VERSION), "providers": catalog_demo.HALLAND, "description": "Det fungerar inte",
            "commission": derived_commission_id(catalog_demo.VC_HORBY), "format": "html", "hsa_id": SARA}


# ---------------------------------------------------------------------- the states
def _with_patient(hsa_id: str, who: str) -> Callable[[Clinic], None]:
    def setup(c: Clinic) -> None:
        c.use(hsa_id)
        if hsa_id != ERIK_NOT_CONFIRMED:
            c.ready()
        c.open(who)
    return setup


def _cookie_only(c: Clinic) -> None:
    c.client.post("/dev/login", data={"hsa_id": SARA, "csrf": _login_csrf(c), "next": "/"})
    _with_patient(SARA, "astrid")(c)
    c.present(None)


def _login_csrf(c: Clinic) -> str:
    page = c.client.get("/login").text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    return found.group(1) if found else ""


STATES: dict[str, Callable[[Clinic], None]] = {
    "no certificate": lambda c: c.present(None),
    "session cookie without certificate": _cookie_only,
    "certificate from another CA": lambda c: c.present(c.site.foreign.issue_user(SARA, "Sara Lund")),
    "expired certificate": lambda c: c.use(SARA, not_after=_yesterday()),
    "not in the directory": lambda c: c.use(UNKNOWN, "Okänd Person"),
    "no commission": _with_patient(JOHANNA, "astrid"),
    "information not confirmed": _with_patient(ERIK_NOT_CONFIRMED, "astrid"),
    "no patient relation": _with_patient(SARA, "gunnar"),
    "system administrator": _with_patient(LENA, "astrid"),
    "allowed": _with_patient(SARA, "astrid"),
    "allowed at SUS akut (blocked data)": _with_patient(FATIMA, "bengt"),
}


def _as_patient(personnummer: str) -> Callable[[Clinic], None]:
    def setup(c: Clinic) -> None:
        page = c.client.get("/patient/logga-in").text
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        done = c.client.post("/patient/inloggad", data={"csrf": found.group(1) if found else "",
                                                         "personnummer": personnummer}, follow_redirects=False)
        assert done.status_code == 303, done.text[:300]
    return setup


STATES |= {"patient Bengt signed in": _as_patient("195609302152"),
           "guardian of Elsa signed in": _as_patient(ELSA_GUARDIAN)}


def _yesterday():  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime.now(dt.UTC) - dt.timedelta(days=1)


def _call(client: httpx.Client, method: str, path: str, token: str) -> httpx.Response:
    url = re.sub(r"\{[^}]+\}", "1", path)
    if method == "GET":
        return client.get(url, follow_redirects=True)
    return client.request(method, url, data=_form(token), follow_redirects=True)  # type: ignore[arg-type]


@pytest.fixture
def devlogin(overview_db):  # type: ignore[no-untyped-def]
    runtime.configure(runtime.settings().model_copy(update={"dev_login": True}))


def test_no_route_returns_patient_data_without_the_gate_and_a_log_row(clinic: Clinic,
                                                                      devlogin: None) -> None:
    from fastapi.testclient import TestClient

    routes = sorted(app_routes(create_app()))
    texts = markers()
    seen_in_allowed: set[str] = set()
    seen_as_patient: set[tuple[str, str]] = set()
    for state, setup in STATES.items():
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            browser = Clinic(client, clinic.site)
            setup(browser)
            token = browser.csrf()
            cookies, header = dict(client.cookies), dict(client.headers)
            for method, path in routes:
                client.cookies.clear()
                for name, value in cookies.items():
                    client.cookies.set(name, value)
                client.headers.clear()
                client.headers.update(header)
                before = last_seq()
                response = _call(client, method, path, token)
                if path.startswith(("/oversikt", "/patient")):
                    assert response.status_code < 500, (state, method, path, response.text[:300])
                shown = {text for text in texts if text in response.text}
                if not shown:
                    continue
                owners = set().union(*(texts[t] for t in shown))
                granted = granted_since(before)
                # the dev sign-in of a patient needs no certificate: the patient's own view, logged
                assert state not in NEVER or path.startswith("/patient/"), (state, method, path, sorted(shown)[:5])
                assert granted and all(texts[t] & granted for t in shown), (state, method, path, owners, granted)
                if state == "allowed":
                    seen_in_allowed.add(path)
                if state.startswith(("patient", "guardian")):
                    seen_as_patient.add((state, path))
    # the check is not vacuous: the allowed reads did show the patient, through the gate's pages only
    assert {"/oversikt/patient", "/oversikt/patient/tidslinje"} <= seen_in_allowed
    assert all(path.startswith("/oversikt") for path in seen_in_allowed)
    # and the patient view did show each signed-in patient their own, after its log row
    assert {("patient Bengt signed in", "/patient/"), ("guardian of Elsa signed in", "/patient/")} <= seen_as_patient
