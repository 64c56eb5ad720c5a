"""The gated overview over real TLS: uvicorn with the mTLS protocol of api.mtls, SITHS-like certificates from the dev
CA presented by httpx clients (valid, expired, from another CA, without HSA-ID, none at all)."""
# ruff: noqa: F811  (the shared fixtures are imported from test_overview_pages and then requested by name)

from __future__ import annotations

import datetime as dt
import re
import ssl
from collections.abc import Callable, Iterator

import httpx
import pytest

from api.app import create_app
from api.mtls import ForeignCertificates, mtls_config
from kernel.settings import Settings
from npo.certs import Issued
from overview import info
from tests.api.test_mtls import running
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    PATIENTS,
    SARA,
    OverviewSite,
    log_rows,
    overview_db,
    overview_site,
    pnr,
)
from tests.conftest import free_port

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def listener(overview_site: OverviewSite) -> Iterator[str]:
    """The SITHS (mTLS) listener serving the real app; foreign certificates reach the app and get a page."""
    config, tls = mtls_config(create_app(), overview_site.settings, port=free_port(), log_level="warning")
    assert tls.foreign is ForeignCertificates.PAGE
    with running(config) as url:
        yield url


def client(site: OverviewSite, issued: Issued | None) -> httpx.Client:
    """A client that trusts the dev CA and presents ``issued`` as its client certificate."""
    context = ssl.create_default_context(cafile=str(site.ca.cert_path))
    if issued is not None:
        context.load_cert_chain(*site.files_of(issued))
    return httpx.Client(verify=context, timeout=20, follow_redirects=True)


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def test_a_valid_certificate_reads_the_overview_over_mtls(overview_site: OverviewSite, overview_db: Settings,
                                                          listener: str) -> None:
    with client(overview_site, overview_site.certificate(SARA)) as browser:
        first = browser.get(f"{listener}/oversikt")
        assert first.status_code == 200 and "Information innan start med NPÖ" in first.text  # redirected there
        token = csrf(first.text)
        browser.post(f"{listener}/oversikt/information", data={"csrf": token, "read": "1",
                                                               "version": str(info.VERSION)})
        page = browser.post(f"{listener}/oversikt/patient", data={"csrf": token, "personnummer": pnr("astrid")},
                            follow_redirects=True)
        assert page.status_code == 200 and "Astrid Nilsson" in page.text and "Sara Lund · SITHS" in page.text
        assert str(page.url).endswith("/oversikt/patient") and PATIENTS["astrid"] not in str(page.url)
    read = log_rows()[-1]
    assert (read.user_hsa_id, read.patient_personnummer, read.outcome) == (SARA, PATIENTS["astrid"], "beviljad")


REFUSED: dict[str, tuple[Callable[[OverviewSite], Issued | None], str, str]] = {
    "expired": (lambda s: s.certificate(SARA, not_after=NOW - dt.timedelta(days=1)), "expired",
                "Certifikatet har gått ut"),
    "wrong CA": (lambda s: s.foreign.issue_user(SARA, "Sara Lund"), "foreign_issuer",
                 "Certifikatet är inte utfärdat av SITHS"),
    "no HSA-ID": (lambda s: s.certificate(None, "Sara Lund"), "no_hsa_id", "Certifikatet saknar HSA-id"),
    "no certificate": (lambda s: None, "missing", "Inget SITHS-certifikat skickades"),
    "revoked card": (lambda s: _revoked(s), "revoked", "Ditt SITHS-certifikat är spärrat sedan"),
}


def _revoked(site: OverviewSite) -> Issued:
    """Sara's card reported lost: a valid certificate on the dev CA's revocation list (npo certs revoke)."""
    lost = site.certificate(SARA)
    site.ca.revoke([lost.cert.serial_number])
    return lost


@pytest.mark.parametrize("case", REFUSED)
def test_a_refused_certificate_gets_the_page_and_no_patient_data(overview_site: OverviewSite, overview_db: Settings,
                                                                 listener: str, case: str) -> None:
    make, code, says = REFUSED[case]
    with client(overview_site, make(overview_site)) as browser:
        for path in ("/oversikt", "/oversikt/patient", "/oversikt/patient/tidslinje"):
            page = browser.get(f"{listener}{path}")
            assert page.status_code == 401, (path, page.status_code)
            assert f'data-code="{code}"' in page.text and says in page.text and "0776-73 00 00" in page.text
        search = browser.post(f"{listener}/oversikt/patient", data={"personnummer": pnr("astrid")},
                              follow_redirects=True)
        assert search.status_code == 401 and "Astrid" not in search.text
        help_page = browser.get(f"{listener}/oversikt/felsokning")
        assert help_page.status_code == 401 and "1. SITHS-certifikat" in help_page.text
        check_one = "certificate.missing" if code == "missing" else "certificate.invalid"
        assert f'data-code="{check_one}"' in help_page.text and "Ej kontrollerad" in help_page.text
        if code != "missing":
            assert says in help_page.text
    assert log_rows() == []


def test_a_valid_certificate_of_someone_unknown_to_the_directory(overview_site: OverviewSite, overview_db: Settings,
                                                                 listener: str) -> None:
    with client(overview_site, overview_site.certificate("SE2321000255-OKAND1", "Okänd Person")) as browser:
        page = browser.get(f"{listener}/oversikt")
        assert page.status_code == 403 and "finns inte i Skånekatalogen" in page.text
        assert "katalogadministratör" in page.text
        help_page = browser.get(f"{listener}/oversikt/felsokning")
        assert 'data-code="user.not_in_directory"' in help_page.text
