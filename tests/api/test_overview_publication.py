"""The publication rules administered (issue 13 item 5) on the real app: NPÖ's system administration stores a new
version on the page, with a reason; a malformed one is named beside the field and changes nothing; the history says
who changed what and when; the overview follows the new version; the CLI imports and exports the same documents."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from demo import named
from npo.cli import app
from overview.models import ProducerItem, PublicationRuleSet
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    LENA,
    PATIENTS,
    SARA,
    Clinic,
    clinic,
    error_beside,
    overview_db,
    overview_site,
    rows_of,
)

FIXTURES = (clinic, overview_db, overview_site)  # pytest finds them here; named so the imports count as used
PAGE = "/oversikt/publicering"


def shown_items(html: str) -> set[str]:
    return set(re.findall(r'data-item="([^"]+)"', html))


def sus_medicin_items() -> set[str]:
    return {i.id for i in rows_of(ProducerItem) if i.personnummer == PATIENTS["dagny"]
            and i.care_unit_hsa_id == named.SUS_MEDICIN}


def test_a_new_version_on_the_page_changes_what_the_overview_shows_and_the_history_says_who(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    before = shown_items(clinic.open("dagny").text)
    assert sus_medicin_items() & before  # SUS Medicinkliniken's notes are shown today
    assert clinic.client.get(PAGE).status_code == 403  # a nurse does not administer the rules

    clinic.use(LENA)
    page = clinic.client.get(PAGE)
    assert page.status_code == 200 and 'data-in-force="1"' in page.text and "version: 1" in page.text
    [version_1] = rows_of(PublicationRuleSet)
    current = version_1.document
    changed = current.replace("excluded_units: [SE2321000255-V3001]",
                              f"excluded_units: [SE2321000255-V3001, {named.SUS_MEDICIN}]")
    assert changed != current
    no_reason = clinic.post(PAGE, document=changed, comment="")
    assert no_reason.status_code == 422 and "varför reglerna ändras" in error_beside(no_reason.text, "comment")
    broken = clinic.post(PAGE, document=changed.replace("version: 1", "version: 7"), comment="Test")
    assert broken.status_code == 422 and "version" in error_beside(broken.text, "document")
    assert len(rows_of(PublicationRuleSet)) == 1  # nothing stored half-way
    stored = clinic.post(PAGE, document=changed, comment="Medicinkliniken producerar inte längre till NPÖ")
    assert stored.status_code == 200 and "Version 2 av publiceringsreglerna gäller nu" in stored.text
    row = stored.text.split('data-version="2"', 1)[1].split("</tr>", 1)[0]
    assert LENA in row and "Medicinkliniken producerar inte" in row and "+1 −1 rader" in row
    assert named.SUS_MEDICIN in row  # the diff shows what changed
    again = clinic.post(PAGE, document=changed, comment="Samma igen")
    assert "ingen ny version sparades" in again.text and len(rows_of(PublicationRuleSet)) == 2
    exported = clinic.client.get(f"{PAGE}/export")
    assert exported.status_code == 200 and exported.text == changed
    assert clinic.client.get(f"{PAGE}/1").text == current
    assert clinic.client.get(f"{PAGE}/999").status_code == 404
    assert clinic.client.get(f"{PAGE}/noll").status_code == 422

    clinic.use(SARA)
    after = shown_items(clinic.open("dagny").text)  # the process that stored it forgot its memo at once
    assert not (sus_medicin_items() & after) and after < before


def test_the_cli_imports_exports_and_lists_the_same_documents(clinic: Clinic, tmp_path: Path) -> None:
    runner = CliRunner()
    exported = runner.invoke(app, ["rules", "export", "--out", str(tmp_path / "rules.yaml")])
    assert exported.exit_code == 0, exported.output
    text = (tmp_path / "rules.yaml").read_text(encoding="utf-8")
    (tmp_path / "new.yaml").write_text(text.replace("from_date: 2012-01-01", "from_date: 2014-01-01", 1),
                                       encoding="utf-8")
    imported = runner.invoke(app, ["rules", "import", str(tmp_path / "new.yaml"), "--comment", "Pasis från 2014",
                                   "--by", "SE2321000255-ADM1"])
    assert imported.exit_code == 0 and "Version 2 gäller nu" in imported.output
    history = runner.invoke(app, ["rules", "history"])
    assert history.exit_code == 0 and "SE2321000255-ADM1" in history.output and "Pasis från 2014 (new.yaml)" in \
        history.output and "+1 -1" in history.output
    (tmp_path / "bad.yaml").write_text("version: 1\nsystems: [nope]\n", encoding="utf-8")
    refused = runner.invoke(app, ["rules", "import", str(tmp_path / "bad.yaml"), "--comment", "Fel"])
    assert refused.exit_code == 3 and "systems" in refused.output
    missing = runner.invoke(app, ["rules", "import", str(tmp_path / "saknas.yaml"), "--comment", "Fel"])
    assert missing.exit_code == 3 and "kunde inte läsas" in missing.output
    assert len(rows_of(PublicationRuleSet)) == 2
