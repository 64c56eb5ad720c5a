"""The dialog for a patient who cannot decide (issue 13 item 6) on the real app: a temporary inability is refused and
pointed to nödåtkomst; a lasting one, with its reasons, opens Region Halland's data at VC Hörby, marked with its
basis, until the unit ends it. The demo's directory in a slapd, the demo's named patients (tests/api)."""

from __future__ import annotations

from overview.models import IncapacityAssessment
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    ERIK,
    PATIENTS,
    SARA,
    Clinic,
    clinic,
    error_beside,
    log_rows,
    overview_db,
    overview_site,
    rows_of,
)

FIXTURES = (clinic, overview_db, overview_site)  # pytest finds them here; named so the imports count as used
DIALOG = "/oversikt/patient/beslutsoformogen"
REASONS = {"attitude_clarified": "Samtal med dottern; patienten ville tidigare att vården samordnas.",
           "no_objection": "Inget tyder på att patienten skulle motsätta sig."}


def test_a_lasting_incapacity_opens_the_other_vardgivare_until_the_unit_ends_it(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    before = clinic.open("dagny")
    assert "Region Halland" not in before.text and 'id="incapacity-link"' in before.text
    form = clinic.client.get(DIALOG)
    assert form.status_code == 200 and "Dagny Svensson" in form.text
    assert log_rows()[-1].detail == "dialogen beslutsoförmögen patient"
    temporary = clinic.post(DIALOG, lasting="tillfalligt", duration="manad", **REASONS)
    assert temporary.status_code == 422 and "nödåtkomst" in error_beside(temporary.text, "lasting")
    assert 'href="/oversikt/patient/nodatkomst"' in temporary.text
    missing = clinic.post(DIALOG, lasting="varaktigt", duration="manad", attitude_clarified=" ",
                          no_objection=REASONS["no_objection"])
    assert missing.status_code == 422 and "inställning" in error_beside(missing.text, "attitude_clarified")
    assert rows_of(IncapacityAssessment) == []
    opened = clinic.post(DIALOG, lasting="varaktigt", duration="manad", **REASONS)
    assert opened.status_code == 200 and "beslutsoförmögen är registrerad" in opened.text
    assert "Region Halland" in opened.text and "Beslutsoförmögen patient" in opened.text
    [row] = rows_of(IncapacityAssessment)
    assert (row.registered_by, row.personnummer) == (SARA, PATIENTS["dagny"])
    assert [r.resource_type for r in log_rows()][-2:] == ["beslutsoförmåga", "översikt"]

    clinic.use(ERIK).ready()  # the whole unit
    clinic.open("dagny")
    listed = clinic.client.get(DIALOG)
    assert f'data-assessment="{row.id}"' in listed.text
    ended = clinic.post(f"{DIALOG}/avsluta", assessment_id=row.id)
    assert ended.status_code == 200 and "Region Halland" not in ended.text
    assert rows_of(IncapacityAssessment)[0].ended_by == ERIK
