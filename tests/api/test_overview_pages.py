"""The gated overview's pages on the real app: the demo's directory in a slapd of its own, the demo's named patients
in a fresh database per test (SQLite, and PostgreSQL when configured), identity from real SITHS-like certificates.

The certificate reaches the app through the trusted-proxy header (the TestClient's peer is configured as the proxy),
which runs the same verification as mTLS; tests/api/test_overview_mtls.py drives real TLS. The fixtures here are
shared by tests/api/test_no_leaks.py and tests/e2e/test_overview_journey.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, text
from sqlmodel import Session, select

from api.sessions import WebSession
from catalog import Directory
from catalog.directory import derived_commission_id
from catalog.model import Person, Validity
from catalog.slapd import ManagedSlapd
from demo import organisation as catalog_demo
from demo import patients as demo
from demo import publication as demo_publication
from demo.items import TELEFON_1177_UNIT
from kernel import clock, runtime
from kernel.outbox import OutboxMail
from kernel.runtime import make_engine
from kernel.settings import Settings
from npo.certs import DevCA, Issued, with_dev_certificates
from npo.db import upgrade
from npo.web import create_app  # the app as the shell serves it: the demo's cast on the dev login
from overview import info
from overview.models import AccessLog, AssertedRelation, Consent, EmergencyOpening
from tests.conftest import MailSink, free_port

HEADER = "X-SSL-Client-Cert"
SARA, ERIK, JOHANNA = "SE2321000255-VCH2", "SE2321000255-VCH3", "SE2321000255-VCA3"
FATIMA, LENA, TOVE = "SE2321000255-SUS2", "SE2321000255-ADM1", "SE2321000255-TVA1"
NAMES = {SARA: "Sara Lund", ERIK: "Erik Månsson", JOHANNA: "Johanna Berg", FATIMA: "Fatima Ali",
         LENA: "Lena Sjöberg", TOVE: "Tove Tvåuppdrag"}
PATIENTS = {"astrid": "194803123423", "bengt": "195609302152", "sanna": "199007214688", "elsa": "201705041281",
            "omar": "199202743911", "gunnar": "194012010379", "cecilia": "197906182444", "dagny": "193501270627"}


def pnr(who: str) -> str:
    """A named patient's personnummer as a person types it (ÅÅÅÅMMDD-NNNN)."""
    number = PATIENTS[who]
    return f"{number[:8]}-{number[8:]}"


# ---------------------------------------------------------------------- the site
@dataclass
class OverviewSite:
    """The demo directory, the dev CA, and settings whose database each test replaces."""

    settings: Settings
    ca: DevCA
    foreign: DevCA
    directory: Directory
    template_db: Path
    files: Path

    def certificate(self, hsa_id: str | None, name: str = "", **options: object) -> Issued:
        """A SITHS-like certificate from the dev CA (``options`` as DevCA.issue_user)."""
        return self.ca.issue_user(hsa_id, name or NAMES.get(hsa_id or "", "Test Testsson"), **options)  # type: ignore[arg-type]

    def files_of(self, issued: Issued) -> tuple[Path, Path]:
        """The certificate and key as PEM files (for httpx and the browser)."""
        stem = self.files / uuid.uuid4().hex
        stem.with_suffix(".crt").write_bytes(issued.cert_pem())
        stem.with_suffix(".key").write_bytes(issued.key_pem())
        return stem.with_suffix(".crt"), stem.with_suffix(".key")


def _add_two_commission_nurse(directory: Directory) -> None:
    """Tove holds VoB SJF at VC Hörby and at SUS akut: she must choose."""
    directory.create_person(Person(TOVE, "", "Tove", "Tvåuppdrag", title="Sjuksköterska",
                                   unit_hsa_id=catalog_demo.VC_HORBY))
    since = Validity(clock.now() - dt.timedelta(days=30))
    for unit in (catalog_demo.VC_HORBY, catalog_demo.SUS_AKUT):
        directory.ensure_membership(derived_commission_id(unit), TOVE, since)


@pytest.fixture(scope="module")
def overview_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OverviewSite]:
    """A slapd with the demo catalog, a migrated database with the named patients (copied per test), the dev CA."""
    root = tmp_path_factory.mktemp("overview-site")
    slapd = ManagedSlapd(root / "ldap", port=free_port())
    slapd.start()
    try:
        config = slapd.app_config()
        assert catalog_demo.load(config, catalog_demo.generate(persons=20, seed=1)).failed == []
        directory = Directory(config, cache_seconds=0)
        _add_two_commission_nurse(directory)
        template = root / "template.db"
        settings = Settings(var_dir=root / "var", database_url=f"sqlite:///{template}", env="test",
                            ldap_url=config.url, ldap_base=config.base, ldap_bind_dn=config.bind_dn,
                            ldap_password=config.password, ldap_cache_seconds=0, trusted_proxies=["testclient"],
                            service_desk_mail="servicedesk@skane.example", smtp_port=free_port())  # not 8025 (make run)
        settings = with_dev_certificates(settings)
        _migrate_with_patients(settings.sql_url)
        (root / "files").mkdir()
        foreign = DevCA.open(root / "foreign", subject=_foreign_subject())
        yield OverviewSite(settings, DevCA.open(settings.certs_dir), foreign, directory, template, root / "files")
        directory.close()
    finally:
        slapd.destroy()


def _foreign_subject():  # type: ignore[no-untyped-def]
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Annan CA")])


def _migrate_with_patients(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        demo_publication.load(session, now=clock.now())
        demo.load(session, patients=8)
        session.commit()
    engine.dispose()


@pytest.fixture
def overview_db(overview_site: OverviewSite, db_backend: str, tmp_path: Path) -> Iterator[Settings]:
    """This test's database (a copy of the template, or a PostgreSQL schema of its own); runtime uses it."""
    schema = None
    if db_backend == "sqlite":
        shutil.copy(overview_site.template_db, tmp_path / "npo.db")
        url = f"sqlite:///{tmp_path / 'npo.db'}"
    else:
        base = os.environ["NPO_TEST_DATABASE_URL"]
        schema = f"ow_{uuid.uuid4().hex[:16]}"
        with create_engine(base).begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        _migrate_with_patients(url)
    settings = overview_site.settings.model_copy(update={"database_url": url})
    runtime.configure(settings)
    try:
        yield settings
    finally:
        runtime.configure(Settings(var_dir=tmp_path / "unused"))
        if schema:
            admin = create_engine(os.environ["NPO_TEST_DATABASE_URL"])
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


# ---------------------------------------------------------------------- a browser-like client with a certificate
class Clinic:
    """A TestClient whose requests carry one person's SITHS certificate (through the trusted-proxy header)."""

    def __init__(self, client: TestClient, site: OverviewSite):
        self.client, self.site = client, site

    def use(self, hsa_id: str | None, name: str = "", **options: object) -> Clinic:
        """Present this certificate from now on (the browser's cookies stay)."""
        self.present(self.site.certificate(hsa_id, name, **options))
        return self

    def present(self, issued: Issued | None) -> None:
        if issued is None:
            self.client.headers.pop(HEADER, None)
        else:
            self.client.headers[HEADER] = quote(issued.cert_pem().decode())

    def csrf(self) -> str:
        page = self.client.get("/oversikt/felsokning").text
        marker = 'name="csrf" value="'
        return page.split(marker, 1)[1].split('"', 1)[0] if marker in page else ""

    def post(self, path: str, follow: bool = True, **data: object) -> httpx.Response:
        return self.client.post(path, data={"csrf": self.csrf(), **data}, follow_redirects=follow)  # type: ignore[arg-type]

    def ready(self) -> Clinic:
        """Confirm the current "Information innan start"."""
        response = self.post("/oversikt/information", read="1", version=str(info.VERSION))
        assert response.status_code in (200, 403) and "Kryssa i" not in response.text, response.text[:500]
        return self

    def open(self, who: str) -> httpx.Response:
        """Search a named patient; the response is the page the search lands on."""
        return self.post("/oversikt/patient", personnummer=pnr(who))


@pytest.fixture
def clinic(overview_site: OverviewSite, overview_db: Settings) -> Iterator[Clinic]:
    """A client on the real app for this test's database."""
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield Clinic(client, overview_site)


def error_beside(html: str, field: str) -> str:
    """The message shown beside ``field`` (the first field error after the field's marker)."""
    after = html.split(f'data-field="{field}"', 1)[1]
    return after.split('class="field-error"', 1)[1].split("</div>", 1)[0]


def log_rows() -> list[AccessLog]:
    with Session(runtime.engine()) as session:
        return list(session.exec(select(AccessLog).order_by(AccessLog.seq)).all())


def rows_of(model: type) -> list:  # type: ignore[type-arg]
    with Session(runtime.engine()) as session:
        return list(session.exec(select(model)).all())


def count_logs() -> int:
    with Session(runtime.engine()) as session:
        return session.exec(select(func.count()).select_from(AccessLog)).one()


# ---------------------------------------------------------------------- identity
def test_without_a_certificate_every_page_explains_siths_even_with_a_signed_in_session(clinic: Clinic) -> None:
    for path in ("/oversikt", "/oversikt/patient", "/oversikt/patient/tidslinje", "/oversikt/uppdrag",
                 "/oversikt/information", "/oversikt/loggutdrag", "/oversikt/patient/samtycke"):
        page = clinic.client.get(path)
        assert page.status_code == 401, path
        # plain HTTP can never carry the card: the page leads with the SITHS listener, not "Sätt i ditt SITHS-kort"
        main = page.text.split("<h1>", 1)[1]
        assert main.startswith("Inloggning med SITHS krävs</h1>") and 'data-siths="plain-http"' in main
        assert re.findall(r'href="([^"]+)"', main)[0] == "https://127.0.0.1:8443/oversikt"
        before_help = main.split("Fungerar det inte där?", 1)[0]
        assert "Sätt i" not in before_help and "Inget SITHS-certifikat skickades" not in before_help
        assert "0776-73 00 00" in page.text
    clinic.use(SARA).ready().open("astrid")  # the browser now has a session remembering Astrid
    clinic.present(None)
    page = clinic.client.get("/oversikt/patient")
    assert page.status_code == 401 and "Astrid" not in page.text
    posted = clinic.client.post("/oversikt/patient", data={"personnummer": pnr("astrid")})
    assert posted.status_code == 401


def test_another_certificate_in_the_same_browser_starts_afresh(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    assert "Astrid Nilsson" in clinic.open("astrid").text
    clinic.use(ERIK)
    page = clinic.client.get("/oversikt/patient", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/oversikt"


def test_the_personnummer_is_neither_in_the_url_nor_in_the_cookie(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    page = clinic.open("astrid")
    assert "Astrid Nilsson" in page.text and str(page.url).endswith("/oversikt/patient")
    token = clinic.client.cookies["npo_session"]
    assert PATIENTS["astrid"] not in token and "19480312" not in token and len(token) < 60  # an opaque token
    with runtime.session_scope() as session:  # the choice is kept on the server, in this browser's session
        row = session.get(WebSession, hashlib.sha256(token.encode()).hexdigest())
    assert row is not None and PATIENTS["astrid"] in row.data


def test_the_information_must_be_confirmed_with_the_box_ticked(clinic: Clinic) -> None:
    clinic.use(SARA)
    first = clinic.client.get("/oversikt", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/oversikt/information"
    page = clinic.client.get("/oversikt/information")
    assert "Information innan start med NPÖ" in page.text and "Spärr" in page.text and "Nödåtkomst" in page.text
    unticked = clinic.post("/oversikt/information", version=str(info.VERSION))
    assert unticked.status_code == 422 and "Kryssa i att du har läst" in unticked.text
    outdated = clinic.post("/oversikt/information", read="1", version=str(info.VERSION - 1))
    assert outdated.status_code == 422 and "har uppdaterats" in outdated.text
    assert clinic.post("/oversikt/information", read="1", version=str(info.VERSION)).status_code == 200
    assert "Sök patient" in clinic.client.get("/oversikt").text
    assert [r.resource_type for r in log_rows()] == ["information innan start"]


def test_several_commissions_are_chosen_first_and_a_bogus_choice_is_refused(clinic: Clinic) -> None:
    clinic.use(TOVE).ready()
    start = clinic.client.get("/oversikt", follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"] == "/oversikt/uppdrag"
    choose = clinic.client.get("/oversikt/uppdrag")
    assert "Vårdcentralen Hörby" in choose.text and "Akutmottagningen" in choose.text
    bogus = clinic.post("/oversikt/uppdrag", commission="SE2321000255-XXXX")
    assert bogus.status_code == 422 and "Välj ett av dina medarbetaruppdrag" in bogus.text
    chosen = clinic.post("/oversikt/uppdrag", commission=derived_commission_id(catalog_demo.SUS_AKUT))
    assert chosen.status_code == 200 and "Sök patient" in chosen.text and "Byt uppdrag" in chosen.text
    assert "Akutmottagningen" in chosen.text
    # Bengt is cared for at SUS akut: reachable under this commission
    assert "Bengt Johansson" in clinic.open("bengt").text
    clinic.post("/oversikt/uppdrag", commission=derived_commission_id(catalog_demo.VC_HORBY))
    assert clinic.client.get("/oversikt/patient", follow_redirects=False).status_code == 303  # patient forgotten


# ---------------------------------------------------------------------- search and bad input
@pytest.mark.parametrize(("typed", "says"), [
    ("19480312-3424", "fel kontrollsiffra"), ("abc", "bara innehålla siffror"), ("1948", "ska ha 12 siffror"),
    ("1" * 5000, "för långt"), ("<b>1</b>", "bara innehålla siffror"), ("<script>alert(1)</script>", "för långt"),
])
def test_a_malformed_personnummer_is_named_beside_the_field_and_kept(clinic: Clinic, typed: str, says: str) -> None:
    clinic.use(SARA).ready()
    page = clinic.post("/oversikt/patient", personnummer=typed)
    assert page.status_code == 422 and says in error_beside(page.text, "personnummer")
    assert "<script>alert(1)</script>" not in page.text and "<b>1</b>" not in page.text
    if len(typed) < 100:
        assert f'value="{typed}"'.replace("<", "&lt;").replace(">", "&gt;") in page.text
    assert count_logs() == 1  # the acknowledgement only


def test_an_unknown_patient_is_named_and_nothing_is_logged(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    page = clinic.post("/oversikt/patient", personnummer="19121212-1212")
    assert page.status_code == 404 and "Patienten hittades inte" in page.text and 'value="19121212-1212"' in page.text
    assert count_logs() == 1


def test_without_commission_the_search_is_not_offered(clinic: Clinic) -> None:
    clinic.use(JOHANNA).ready()
    page = clinic.client.get("/oversikt")
    assert page.status_code == 403 and "Ej behörig" in page.text and "Du har inget medarbetaruppdrag" in page.text
    assert "Sök patient" not in page.text and "/oversikt/felsokning" in page.text
    searched = clinic.open("astrid")
    assert "Astrid" not in searched.text and "Ej behörig" in searched.text
    assert count_logs() == 1  # nothing about a patient was touched


def test_a_form_without_the_csrf_token_is_refused(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    page = clinic.client.post("/oversikt/patient", data={"personnummer": pnr("astrid")})
    assert page.status_code == 403 and "Formuläret har gått ut" in page.text


# ---------------------------------------------------------------------- reading
def test_the_overview_by_category_and_timeline_each_read_logged(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    page = clinic.open("astrid")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "Astrid Nilsson" in page.text and "Storgatan 12, 242 30 Hörby" in page.text
    for heading in ("Diagnoser", "Journalanteckningar", "Vårdkontakter"):
        assert heading in page.text
    assert "Region Halland" in page.text  # the unit's consent covers Halland
    assert "Läkemedelsförteckningen (eHälsomyndigheten) visas bara" in page.text  # Sara has no drug-list consent
    assert "Scannat dokument" not in page.text and "Remiss till ortopedmottagningen" not in page.text
    [read] = [r for r in log_rows() if r.resource_type == "översikt"]
    assert (read.user_hsa_id, read.patient_personnummer, read.outcome, read.action) == (
        SARA, PATIENTS["astrid"], "beviljad", "Läsa")
    assert read.care_unit_hsa_id == catalog_demo.VC_HORBY and read.item_count > 10
    timeline = clinic.client.get("/oversikt/patient/tidslinje")
    assert timeline.status_code == 200 and 'class="timeline"' in timeline.text and "<h2>2024</h2>" in timeline.text
    assert len([r for r in log_rows() if r.resource_type == "översikt"]) == 2


def test_items_name_their_unit_and_say_their_type_once(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    pages = [clinic.open(who).text for who in ("astrid", "dagny")]
    rows = [row for page in pages for row in page.split('<article class="item"')[1:]]
    telefon = [row for row in rows if "Rådgivning 1177" in row]
    footers = {" ".join(row.split('<footer class="muted">', 1)[1].split("</footer>", 1)[0].split()) for row in telefon}
    assert footers == {"1177 Vårdguiden på telefon · Region Skåne"}  # the unit's name (not its HSA-ID), once
    assert TELEFON_1177_UNIT not in "".join(pages)
    assert any("<strong>Sköterskejournal</strong>" in row for row in rows)
    twice = [m.group(1) for m in re.finditer(r'<strong>([^<]+)</strong> <span class="muted">\1</span>', "".join(rows))]
    assert twice == []


def test_a_protected_identity_shows_neither_name_nor_address(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    page = clinic.open("sanna")
    assert page.status_code == 200 and "Skyddad identitet" in page.text
    assert "Sanna" not in page.text and "Hemlig adress" not in page.text and "Namn och adress" not in page.text


def test_blocked_data_is_announced_and_not_counted(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    page = clinic.open("cecilia")
    assert 'data-blocked="1"' in page.text and "Det finns spärrade uppgifter" in page.text
    assert "Smitta: MRSA" in page.text  # alert information is excepted from the block
    assert "Anteckning från kvinnokliniken" not in page.text
    assert "data-consent-missing" not in page.text  # blocked items are never counted


# ---------------------------------------------------------------------- relation
def test_no_relation_gives_the_dialog_and_an_asserted_one_opens_the_overview(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    page = clinic.open("gunnar")
    assert page.status_code == 403 and "Patientrelation saknas" in page.text and "Gunnar" not in page.text
    assert log_rows()[-1].outcome == "nekad" and log_rows()[-1].reason_code == "relation.missing"
    empty = clinic.post("/oversikt/patient/relation", reason="  ")
    assert empty.status_code == 422 and "Ange skäl till patientrelationen" in empty.text
    long = clinic.post("/oversikt/patient/relation", reason="x" * 5000)
    assert long.status_code == 422 and "högst 1024" in long.text and "x" * 5000 in long.text  # kept as typed
    script = "<script>alert('x')</script> Ringer från hemtjänsten"
    opened = clinic.post("/oversikt/patient/relation", reason=script)
    assert opened.status_code == 200 and "Gunnar Persson" in opened.text and "<script>alert" not in opened.text
    [relation] = rows_of(AssertedRelation)
    assert relation.reason == script and relation.employee_hsa_id == SARA


# ---------------------------------------------------------------------- consent
def test_consent_for_the_whole_unit_for_a_week_opens_the_other_vardgivare(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    before = clinic.open("dagny")
    assert "Region Halland" not in before.text and "data-consent-missing" in before.text
    form = clinic.client.get("/oversikt/patient/samtycke")
    assert "Hela vårdenheten" in form.text and "Bara mig" in form.text and "En vecka" in form.text
    page = clinic.post("/oversikt/patient/samtycke", overview="1", scope="unit", duration="vecka",
                       start=clock.local_date(clock.now()).isoformat())
    assert page.status_code == 200 and "Samtycket är registrerat (för hela vårdenheten)" in page.text
    assert "Region Halland" in page.text
    [consent] = [c for c in rows_of(Consent) if c.registered_by == SARA and c.personnummer == PATIENTS["dagny"]
                 and c.voided_at is None and c.ended_at is None]
    assert (consent.scope, consent.employee_hsa_id, consent.care_unit_hsa_id) == ("unit", None, catalog_demo.VC_HORBY)
    assert dt.timedelta(days=7) - dt.timedelta(minutes=1) < consent.end - consent.start <= dt.timedelta(days=7)
    assert [r.resource_type for r in log_rows()][-2:] == ["samtycke", "översikt"]
    clinic.use(ERIK).ready()  # a colleague at the unit is covered too
    assert "Region Halland" in clinic.open("dagny").text


def test_a_consent_through_a_date_is_shown_until_and_including_that_date(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    clinic.open("dagny")
    today = clock.local_date(clock.now())
    last = today + dt.timedelta(days=3)
    page = clinic.post("/oversikt/patient/samtycke", overview="1", scope="unit", duration="datum",
                       start=today.isoformat(), end=last.isoformat())
    assert f"gäller till och med {last.isoformat()}." in page.text  # the flash, and the table below
    assert f"<td>{last.isoformat()}</td>" in page.text and f"{last + dt.timedelta(days=1)} 00:00" not in page.text


def _unit_consent_for_dagny(clinic: Clinic) -> Consent:
    clinic.use(SARA).ready()
    clinic.open("dagny")
    page = clinic.post("/oversikt/patient/samtycke", overview="1", scope="unit", duration="vecka",
                       start=clock.local_date(clock.now()).isoformat())
    assert "Region Halland" in page.text
    [consent] = [c for c in rows_of(Consent) if c.personnummer == PATIENTS["dagny"] and c.registered_by == SARA
                 and c.ended_at is None and c.voided_at is None]
    return consent


def test_a_colleague_ends_a_withdrawn_consent_and_the_other_vardgivare_disappear(clinic: Clinic) -> None:
    consent = _unit_consent_for_dagny(clinic)
    clinic.use(ERIK).ready()
    page = clinic.open("dagny")
    assert f'data-consent="{consent.id}"' in page.text and "Region Halland" in page.text
    row = page.text.split(f'data-consent="{consent.id}"', 1)[1].split("</tr>", 1)[0]
    assert 'value="avsluta"' in row and 'value="makulera"' not in row  # only Sara registered it
    refused = clinic.post("/oversikt/patient/samtycke/andra", consent_id=consent.id, action="makulera")
    assert refused.status_code == 403 and "Bara den som registrerade samtycket" in refused.text
    ended = clinic.post("/oversikt/patient/samtycke/andra", consent_id=consent.id, action="avsluta")
    assert ended.status_code == 200 and "Samtycket är avslutat från och med nu." in ended.text
    assert "Region Halland" not in ended.text and "data-consent-missing" in ended.text
    assert f'data-consent="{consent.id}"' not in ended.text
    [after] = [c for c in rows_of(Consent) if c.id == consent.id]
    assert after.ended_by == ERIK and after.voided_at is None
    change = [r for r in log_rows() if r.resource_type == "samtycke" and r.detail == "samtycket avslutat"]
    assert [(r.user_hsa_id, r.patient_personnummer) for r in change] == [(ERIK, PATIENTS["dagny"])]
    clinic.use(SARA)  # ended for the whole unit, also for the one who registered it
    assert "Region Halland" not in clinic.open("dagny").text


def test_the_registrant_voids_a_consent_registered_by_mistake(clinic: Clinic) -> None:
    consent = _unit_consent_for_dagny(clinic)
    voided = clinic.post("/oversikt/patient/samtycke/andra", consent_id=consent.id, action="makulera")
    assert voided.status_code == 200 and "Samtycket är makulerat" in voided.text
    assert "Region Halland" not in voided.text
    [after] = [c for c in rows_of(Consent) if c.id == consent.id]
    assert (after.voided_by, after.ended_at) == (SARA, None)
    assert log_rows()[-2].detail == "samtycket makulerat (registrerat av misstag)"


@pytest.mark.parametrize(("data", "status", "says"), [
    ({"action": "radera"}, 422, "avslutas eller makuleras"),
    ({"action": "avsluta", "consent_id": str(uuid.uuid4())}, 404, "finns inte för den här patienten"),
    ({"action": "avsluta", "consent_id": "' or 1=1 --<script>"}, 404, "finns inte för den här patienten"),
])
def test_a_bad_consent_change_is_refused_and_changes_nothing(clinic: Clinic, data: dict[str, str], status: int,
                                                            says: str) -> None:
    consent = _unit_consent_for_dagny(clinic)
    before = count_logs()
    page = clinic.post("/oversikt/patient/samtycke/andra", **{"consent_id": consent.id, **data})
    assert page.status_code == status and says in page.text and "<script>" not in page.text
    [after] = [c for c in rows_of(Consent) if c.id == consent.id]
    assert (after.ended_at, after.voided_at) == (None, None) and count_logs() == before


def test_another_patients_consent_cannot_be_ended_from_this_patient(clinic: Clinic) -> None:
    consent = _unit_consent_for_dagny(clinic)
    clinic.open("astrid")  # now Astrid is in view
    page = clinic.post("/oversikt/patient/samtycke/andra", consent_id=consent.id, action="avsluta")
    assert page.status_code == 404
    assert [c.ended_at for c in rows_of(Consent) if c.id == consent.id] == [None]


@pytest.mark.parametrize(("data", "field", "says"), [
    ({"duration": "datum", "start": "2099-05-10", "end": "2099-05-01"}, "end", "samma dag som startdatum eller senare"),
    ({"duration": "datum", "end": ""}, "end", "Ange sista dagen"),
    ({"duration": "vecka", "start": "2020-01-01"}, "start", "bakåt i tiden"),
    ({"duration": "vecka", "start": "2099-02-30"}, "start", "inget giltigt datum"),
    ({"duration": "evigt"}, "duration", "Välj hur länge"),
    ({"duration": "vecka", "scope": "alla"}, "scope", "hela vårdenheten eller bara dig"),
    ({"duration": "vecka", "overview": ""}, "scope", "Välj vad patienten samtycker till"),
    ({"duration": "vecka", "represented_by": "19850101-0006"}, "represented_by", "myndig"),
    ({"duration": "vecka", "represented_by": "<b>x</b>"}, "represented_by", "bara innehålla siffror"),
])
def test_bad_consent_input_is_named_beside_its_field_and_nothing_typed_is_lost(
        clinic: Clinic, data: dict[str, str], field: str, says: str) -> None:
    clinic.use(SARA).ready()
    clinic.open("dagny")
    posted = {"overview": "1", "scope": "unit", **data}
    page = clinic.post("/oversikt/patient/samtycke", **posted)
    assert page.status_code == 422 and says in page.text, page.text[:2000]
    assert says in error_beside(page.text, field)
    for key, value in posted.items():  # nothing typed is lost
        if key in ("scope", "duration") and value in {"unit", "employee", "dag", "vecka", "ar", "datum"}:
            assert f'id="f-{key}-{value}" checked' in page.text
        elif key in ("start", "end", "represented_by") and value and "<" not in value:
            assert f'value="{value}"' in page.text
    assert "<b>x</b>" not in page.text
    assert [c for c in rows_of(Consent) if c.registered_by == SARA and c.personnummer == PATIENTS["dagny"]
            and c.voided_at is None and c.ended_at is None] == []


def test_a_drug_list_consent_is_personal(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    assert "Uttag av" not in clinic.open("astrid").text
    page = clinic.post("/oversikt/patient/samtycke", drug_list="1", scope="unit", duration="dag",
                       start=clock.local_date(clock.now()).isoformat())
    assert "läkemedelsförteckningen för dig" in page.text and "Uttag av" in page.text
    [drug] = [c for c in rows_of(Consent) if c.registered_by == SARA and c.purpose == "drug_list"]
    assert (drug.scope, drug.employee_hsa_id) == ("employee", SARA)


def test_a_guardian_consents_for_a_child(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    clinic.open("elsa")
    page = clinic.post("/oversikt/patient/samtycke", overview="1", scope="employee", duration="dag",
                       represented_by="19850101-0006")
    assert page.status_code == 200, page.text[:800]
    [given] = [c for c in rows_of(Consent) if c.registered_by == SARA and c.represented_by == "198501010006"]
    assert given.scope == "employee"


# ---------------------------------------------------------------------- emergency access in two steps
def test_emergency_access_opens_blocked_data_in_two_logged_steps(clinic: Clinic) -> None:
    clinic.use(FATIMA).ready()
    page = clinic.open("bengt")
    assert 'data-blocked="1"' in page.text and "Region Blekinge" not in page.text
    early = clinic.post("/oversikt/patient/sparrat/steg1")
    assert early.status_code == 403 and "Öppna nödåtkomst med ett skäl först" in early.text
    assert "Region Blekinge" not in early.text
    no_reason = clinic.post("/oversikt/patient/nodatkomst", reason="", hours="2")
    assert no_reason.status_code == 422 and "Ange skäl till nödåtkomsten" in no_reason.text
    bad_hours = clinic.post("/oversikt/patient/nodatkomst", reason="Medvetslös", hours="48")
    assert bad_hours.status_code == 422 and "Välj hur länge" in bad_hours.text and "Medvetslös" in bad_hours.text
    opened = clinic.post("/oversikt/patient/nodatkomst", reason="Medvetslös efter trafikolycka", hours="2")
    assert opened.status_code == 200 and "Nödåtkomst öppnad till" in opened.text
    assert "Region Blekinge" not in opened.text  # still blocked: emergency alone does not open blocked data
    step1 = clinic.post("/oversikt/patient/sparrat/steg1")
    assert step1.status_code == 200 and "Region Blekinge" in step1.text and "Steg 2" in step1.text
    assert "Besök på akuten för yrsel" not in step1.text  # step 1 shows where, not what
    none_picked = clinic.post("/oversikt/patient/sparrat/steg2")
    assert none_picked.status_code == 422 and "Välj minst en vårdgivare" in none_picked.text
    step2 = clinic.post("/oversikt/patient/sparrat/steg2", providers=catalog_demo.BLEKINGE)
    assert step2.status_code == 200 and "Besök på akuten för yrsel" in step2.text
    assert "Nödöppning av spärrade uppgifter" in step2.text
    actions = [(r.action, r.resource_type) for r in log_rows() if r.user_hsa_id == FATIMA]
    assert ("Nödöppning", "spärr") in actions and actions[-1] == ("Nödöppning", "översikt")
    assert len(rows_of(EmergencyOpening)) == 1


# ---------------------------------------------------------------------- Felsökning
def test_felsokning_explains_a_missing_commission_check_by_check(clinic: Clinic) -> None:
    clinic.use(JOHANNA)
    page = clinic.client.get("/oversikt/felsokning")
    assert page.status_code == 200 and 'data-allowed="0"' in page.text
    for check, code in (("certificate", "certificate.ok"), ("user", "user.ok"), ("commission", "commission.none"),
                        ("acknowledgement", "acknowledgement.missing")):
        assert f'data-check="{check}" data-code="{code}"' in page.text
    assert "Du har inget medarbetaruppdrag i Skånekatalogen" in page.text
    assert "Verksamhetschefen avgör vem som ska ha uppdraget" in page.text
    assert "katalogansvarig för Skånekatalogen" in page.text and "VoB SJF" in page.text
    assert "30000 (internt)" in page.text and "0776-73 00 00" in page.text and "test.siths.se" in page.text
    assert "Net iD" in page.text and "5.6" not in page.text and "Skicka felanmälan" in page.text


def test_hsas_archived_marker_refuses_and_a_feigned_test_person_works_outside_production(clinic: Clinic) -> None:
    directory = clinic.site.directory
    since = Validity(clock.now() - dt.timedelta(days=30))
    for local, archived in (("ARK1", True), ("TOLVAN1", False)):
        hsa_id = f"SE2321000255-{local}"
        directory.create_person(Person(hsa_id, "", "Tolvan", "Tolvansson", unit_hsa_id=catalog_demo.VC_HORBY,
                                       archived=archived, feigned=not archived))
        directory.ensure_membership(derived_commission_id(catalog_demo.VC_HORBY), hsa_id, since)
    clinic.use("SE2321000255-ARK1", "Tolvan Tolvansson")
    page = clinic.client.get("/oversikt/felsokning")
    assert 'data-check="user" data-code="user.archived"' in page.text and "är arkiverat i Skånekatalogen" in page.text
    assert clinic.post("/oversikt/patient", personnummer=pnr("astrid")).status_code in (401, 403)
    clinic.use("SE2321000255-TOLVAN1", "Tolvan Tolvansson").ready()  # env "test": a feigned person may be used
    assert 'data-check="user" data-code="user.ok"' in clinic.client.get("/oversikt/felsokning").text
    assert "Astrid Nilsson" in clinic.open("astrid").text
    assert "SE2321000255-ARK1" not in {r.user_hsa_id for r in log_rows()}  # refused before any patient data


def test_felsokning_without_a_certificate_explains_check_one(clinic: Clinic) -> None:
    page = clinic.client.get("/oversikt/felsokning")
    assert page.status_code == 401 and 'data-code="certificate.missing"' in page.text
    assert "Ej kontrollerad" in page.text and "Skicka felanmälan" not in page.text
    clinic.use(SARA, not_after=clock.now() - dt.timedelta(days=1))
    expired = clinic.client.get("/oversikt/felsokning")
    assert 'data-code="certificate.invalid"' in expired.text and "Certifikatet har gått ut" in expired.text


def test_felsokning_for_a_user_who_may_search(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    page = clinic.client.get("/oversikt/felsokning")
    assert 'data-allowed="1"' in page.text and "Alla kontroller för inloggning är godkända" in page.text
    assert "kan användas för NPÖ" in page.text


def test_the_fault_report_mails_the_diagnosis_without_patient_data(clinic: Clinic, smtp_sink: MailSink) -> None:
    runtime.configure(runtime.settings().model_copy(update={"smtp_port": smtp_sink.port}))
    clinic.use(JOHANNA)
    clinic.open("astrid")  # a patient in the session must never reach the mail
    empty = clinic.post("/oversikt/felsokning", description="", phone="040-12")
    assert empty.status_code == 422 and "Ange vad som hände" in empty.text and 'value="040-12"' in empty.text
    bad_phone = clinic.post("/oversikt/felsokning", description="Det går inte", phone="ring mig")
    assert bad_phone.status_code == 422 and "Ange telefonnumret" in bad_phone.text and "Det går inte" in bad_phone.text
    huge = clinic.post("/oversikt/felsokning", description="y" * 10_000)
    assert huge.status_code == 422 and "högst 2000" in huge.text
    sent = clinic.post("/oversikt/felsokning", description="Jag kommer inte in i NPÖ <b>alls</b>.",
                       phone="040-123 45 67")
    assert sent.status_code == 200 and "Felanmälan FEL-" in sent.text and "är skickad" in sent.text
    again = clinic.client.get("/oversikt/felsokning")  # shown once, from the session; a URL cannot fake it
    assert "är skickad" not in again.text
    assert "är skickad" not in clinic.client.get("/oversikt/felsokning?skickad=FEL-ABCDEF12").text
    [mail] = rows_of(OutboxMail)
    assert mail.sent_at is not None and mail.recipients == "servicedesk@skane.example"
    [(recipients, message)] = smtp_sink.messages
    assert recipients == ["servicedesk@skane.example"]
    assert message["Subject"].startswith("Felanmälan NPÖ FEL-") and JOHANNA in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert "[commission.none]" in body and "Du har inget medarbetaruppdrag" in body and "040-123 45 67" in body
    assert "Jag kommer inte in i NPÖ <b>alls</b>." in body
    html = message.get_body(("html",)).get_content()
    assert "&lt;b&gt;alls&lt;/b&gt;" in html and "<b>alls</b>" not in html
    assert PATIENTS["astrid"] not in body and "Astrid" not in body and "Astrid" not in html


# ---------------------------------------------------------------------- log extract
def test_the_log_extract_is_for_system_administration_and_is_logged(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    clinic.open("astrid")
    refused = clinic.client.get("/oversikt/loggutdrag")
    assert refused.status_code == 403 and "npo-forvaltning" in refused.text
    assert clinic.post("/oversikt/loggutdrag", personnummer=pnr("astrid")).status_code == 403
    clinic.use(LENA)
    assert "Loggutdrag" in clinic.client.get("/oversikt/loggutdrag").text
    bad = clinic.post("/oversikt/loggutdrag", personnummer="1234")
    assert bad.status_code == 422 and "ska ha 12 siffror" in bad.text
    page = clinic.post("/oversikt/loggutdrag", personnummer=pnr("astrid"))
    assert page.status_code == 200 and "1 åtkomster" in page.text and "Vårdcentralen Hörby" in page.text
    assert SARA in page.text and "Läsa översikt (beviljad)" in page.text and "Astrid" not in page.text
    text_ = clinic.post("/oversikt/loggutdrag", personnummer=pnr("astrid"), format="text")
    assert text_.headers["content-type"].startswith("text/plain") and "Loggutdrag för 19480312-3423" in text_.text
    assert "Läsa loggutdrag" in text_.text  # the first extract is in the second
    assert "grund: egen vårdgivare; samtycke (" in text_.text and "  patientrelation: vårdkontakt" in text_.text
    assert "<td data-basis>egen vårdgivare; samtycke (" in page.text
    assert "<td data-relation>vårdkontakt</td>" in page.text
    as_csv = clinic.post("/oversikt/loggutdrag", personnummer=pnr("astrid"), format="csv")
    assert as_csv.headers["content-type"].startswith("text/csv") and as_csv.headers["cache-control"] == "no-store"
    assert as_csv.content.startswith("\ufeffTid;Händelse".encode()) and ";vårdkontakt;" in as_csv.text
    as_pdf = clinic.post("/oversikt/loggutdrag", personnummer=pnr("astrid"), format="pdf")
    assert as_pdf.headers["content-type"] == "application/pdf" and as_pdf.content.startswith(b"%PDF-")
    assert 'filename="loggutdrag-19480312.pdf"' in as_pdf.headers["content-disposition"]
    unknown = clinic.post("/oversikt/loggutdrag", personnummer=pnr("astrid"), format="xml")
    assert unknown.status_code == 422 and "text, csv eller pdf" in unknown.text
    extracts = [r for r in log_rows() if r.resource_type == "loggutdrag"]
    assert len(extracts) == 4 and {r.purpose for r in extracts} == {"Administration"}
