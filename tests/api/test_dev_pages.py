"""The development pages: the dev login's list of the demo cast says who holds VoB SJF as the directory has it now,
and /dev/mail shows when each mail was sent in Swedish time, like every other page. The demo directory in a slapd of
its own (the fixtures of tests/api/test_overview_pages.py), the real app.
"""
# ruff: noqa: F811  (the shared fixtures are imported from test_overview_pages and requested by name)

from __future__ import annotations

import datetime as dt
import mailbox
import re
from email.message import EmailMessage

import pytest

from catalog.directory import derived_commission_id
from catalog.model import Validity
from demo import organisation as catalog_demo
from kernel import clock, runtime
from tests.api.test_overview_pages import Clinic, clinic, overview_db, overview_site  # noqa: F401  (fixtures)

MARIA, JOHANNA, SARA, KARIN = "SE2321000255-VCA1", "SE2321000255-VCA3", "SE2321000255-VCH2", "SE2321000255-SKF1"


@pytest.fixture
def dev(clinic: Clinic) -> Clinic:
    runtime.configure(runtime.settings().model_copy(update={"dev_login": True}))
    return clinic


def note_of(html: str, hsa_id: str) -> str:
    row = html.split(f'data-cast="{hsa_id}"', 1)[1].split("</tr>", 1)[0]
    return re.findall(r"<td>(.*?)</td>", row)[1]


def test_the_dev_login_list_reads_who_holds_the_commission_from_the_directory(dev: Clinic) -> None:
    directory = dev.site.directory
    page = dev.client.get("/login").text
    assert note_of(page, MARIA) == "chef Vårdcentralen Åhus (enheten saknar uppdrag)"
    assert note_of(page, JOHANNA) == "sjuksköterska Åhus (utan uppdrag)"
    assert note_of(page, SARA) == "sjuksköterska Hörby (har VoB SJF)"
    assert note_of(page, KARIN) == "attesterar offentliga uppdrag"  # an approver holds a role, not a commission
    commission, _ = directory.ensure_commission(catalog_demo.VC_AHUS)  # the Åhus journey's commission arrives
    horby = derived_commission_id(catalog_demo.VC_HORBY)
    try:
        page = dev.client.get("/login").text
        assert note_of(page, MARIA) == "chef Vårdcentralen Åhus (enheten har VoB SJF)"
        assert note_of(page, JOHANNA) == "sjuksköterska Åhus (utan uppdrag)"
        directory.ensure_membership(commission.hsa_id, JOHANNA, Validity(clock.now() - dt.timedelta(days=1)))
        assert note_of(dev.client.get("/login").text, JOHANNA) == "sjuksköterska Åhus (har VoB SJF)"
        directory.end_membership(horby, SARA, reason="test")
        assert note_of(dev.client.get("/login").text, SARA) == "sjuksköterska Hörby (utan uppdrag)"
    finally:  # the module's demo directory serves the next database backend too: put it back as it was
        for membership in directory.memberships(commission.hsa_id):
            directory.ldap.delete(membership.dn)
        directory.ldap.delete(commission.dn)
        directory.ensure_membership(horby, SARA, Validity(clock.now() - dt.timedelta(days=1)))


def test_dev_mail_shows_the_date_in_swedish_time(dev: Clinic) -> None:
    folder = runtime.settings().var_dir / "mail"
    box = mailbox.Maildir(folder, create=True)
    message = EmailMessage()
    message["Subject"], message["To"], message["From"] = "Beställning mottagen", "a@skane.example", "npo@skane.example"
    message["Date"] = "Tue, 01 Jul 2025 10:05:00 +0000"
    message.set_content("Hej")
    box.add(message)
    page = dev.client.get("/dev/mail").text
    summary = page.split('data-subject="Beställning mottagen"', 1)[1].split("</summary>", 1)[0]
    assert "2025-07-01 12:05" in summary  # summer time in Sweden
    assert "Tue" not in summary and "+0000" not in summary
