"""The block dialog on the real app (issue 13): a nurse registers a block on the patient's request and her colleague
no longer sees the data; only the registrant voids it; a guardian's request is refused beside the field; with the
patient present and consenting, a temporary revoke shows what the block hid, until it is cancelled. The demo's
directory in a slapd, the demo's named patients, identity from SITHS-like certificates (as in
tests/api/test_overview_pages)."""

from __future__ import annotations

import datetime as dt

from demo import named
from kernel import clock
from overview.models import Block, BlockRevoke
from tests.api.test_overview_pages import (  # noqa: F401  (fixtures)
    ERIK,
    FATIMA,
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
DIALOG = "/oversikt/patient/sparr"


def blocks_of(who: str) -> list[Block]:
    return [b for b in rows_of(Block) if b.personnummer == PATIENTS[who]]


def test_an_inner_block_hides_the_units_data_from_a_colleague_until_voided(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    before = clinic.open("dagny")
    assert before.status_code == 200 and 'data-blocked="1"' not in before.text and 'id="blocks-link"' in before.text
    form = clinic.client.get(DIALOG)
    assert form.status_code == 200 and "Registrera spärr på patientens begäran" in form.text
    assert "Dagny Svensson" in form.text and 'data-holding="0"' in form.text
    assert log_rows()[-1].detail == "spärrdialogen"
    done = clinic.post(DIALOG, kind="inner", care_unit_hsa_id=named.SUS_MEDICIN, requested_by="patient",
                       reason="Vill inte att vårdcentralen ser vårdtiden.")
    assert done.status_code == 200 and "Spärren är registrerad (inre spärr)" in done.text
    [block] = blocks_of("dagny")
    assert (block.kind, block.care_unit_hsa_id, block.registered_by, block.state) == \
        ("inner", named.SUS_MEDICIN, SARA, "active")
    assert f'data-block="{block.id}"' in done.text
    write = [r for r in log_rows() if r.resource_type == "spärr"]
    assert [(r.action, r.user_hsa_id, r.patient_personnummer) for r in write] == [("Skriva", SARA, PATIENTS["dagny"])]

    clinic.use(ERIK).ready()  # a colleague at Hörby: outside the blocked unit
    page = clinic.open("dagny")
    assert 'data-blocked="1"' in page.text and "temporary-revoke-link" in page.text
    dialog = clinic.client.get(DIALOG)
    row = dialog.text.split(f'data-block="{block.id}"', 1)[1].split("</tr>", 1)[0]
    assert 'value="hav"' in row and 'value="makulera"' not in row  # only Sara registered it
    refused = clinic.post(f"{DIALOG}/andra", block_id=block.id, action="makulera", reason="Fel patient")
    assert refused.status_code == 403 and "Bara den som registrerade spärren" in refused.text

    clinic.use(SARA).open("dagny")  # another certificate in the browser started afresh: Sara opens the patient again
    empty = clinic.post(f"{DIALOG}/andra", block_id=block.id, action="makulera", reason=" ")
    assert empty.status_code == 422 and "Ange varför spärren makuleras" in empty.text
    voided = clinic.post(f"{DIALOG}/andra", block_id=block.id, action="makulera", reason="Registrerad av misstag.")
    assert voided.status_code == 200 and "Spärren är makulerad" in voided.text
    assert blocks_of("dagny")[0].state == "deleted"
    clinic.use(ERIK)
    assert 'data-blocked="1"' not in clinic.open("dagny").text


def test_a_guardians_request_and_bad_input_are_named_and_nothing_is_stored(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    clinic.open("elsa")  # a child
    guardian = clinic.post(DIALOG, kind="outer", requested_by="guardian", reason="<script>x</script>")
    assert guardian.status_code == 422
    assert "vårdnadshavare kan inte spärra ett barns uppgifter" in error_beside(guardian.text, "requested_by")
    assert "&lt;script&gt;x&lt;/script&gt;" in guardian.text  # what was typed is kept, as text
    period = clinic.post(DIALOG, kind="outer", requested_by="patient", info_start="2024-05-02", info_end="2024-05-01")
    assert period.status_code == 422 and "sista dag" in error_beside(period.text, "info_end")
    nonsense = clinic.post(DIALOG, kind="sideways", requested_by="patient", info_start="2024-13-40")
    assert nonsense.status_code == 422 and "yttre spärr" in error_beside(nonsense.text, "kind")
    assert "inget giltigt datum" in error_beside(nonsense.text, "info_start")
    assert [b for b in blocks_of("elsa") if b.registered_by == SARA] == []  # (the demo's guardian block stays)
    unknown = clinic.post(f"{DIALOG}/andra", block_id="00000000-0000-0000-0000-000000000000", action="hav")
    assert unknown.status_code == 404 and "Spärren finns inte" in unknown.text


def test_a_temporary_revoke_on_consent_shows_the_blocked_notes_until_cancelled(clinic: Clinic) -> None:
    clinic.use(SARA).ready()
    page = clinic.open("cecilia")  # an inner block on Kvinnokliniken SUS Malmö
    assert 'data-blocked="1"' in page.text and "Anteckning från kvinnokliniken" not in page.text
    dialog = clinic.client.get(DIALOG)
    assert 'data-holding="1"' in dialog.text
    [demo_block] = blocks_of("cecilia")  # Region Skåne's own: listed, but not which unit (where she was cared for)
    row = dialog.text.split(f'data-block="{demo_block.id}"', 1)[1].split("</tr>", 1)[0]
    assert "en annan vårdenhet" in row and "Kvinnokliniken" not in row and named.SUS_KVINNO not in row
    past = clinic.post(f"{DIALOG}/tillfallig", scope="unit", duration="datum", end="2020-01-01")
    assert past.status_code == 422 and "passerat" in error_beside(past.text, "end")
    assert not [r for r in rows_of(BlockRevoke) if r.registered_by == SARA]
    lifted = clinic.post(f"{DIALOG}/tillfallig", scope="employee", duration="dag", reason_text="Patienten är här.")
    assert lifted.status_code == 200 and "tillfälligt hävd för dig med patientens samtycke" in lifted.text
    assert "Anteckning från kvinnokliniken" in lifted.text and 'data-blocked="1"' not in lifted.text
    [revoke] = [r for r in rows_of(BlockRevoke) if r.registered_by == SARA]
    assert revoke.employee_hsa_id == SARA and revoke.reason == "PatientsConsent"
    assert dt.timedelta(hours=23) < revoke.end - clock.now() <= dt.timedelta(days=1)
    clinic.use(ERIK).ready()
    assert "Anteckning från kvinnokliniken" not in clinic.open("cecilia").text  # lifted for Sara only
    clinic.use(SARA)
    clinic.open("cecilia")
    listed = clinic.client.get(DIALOG)
    assert f'data-revoke="{revoke.id}"' in listed.text
    cancelled = clinic.post(f"{DIALOG}/tillfallig/avbryt", revoke_id=revoke.id)
    assert cancelled.status_code == 200 and "avbruten" in cancelled.text
    assert "Anteckning från kvinnokliniken" not in clinic.open("cecilia").text
    assert FATIMA  # the demo's own revoke (for Fatima at SUS akut) is untouched
    assert [r.cancelled_at for r in rows_of(BlockRevoke) if r.employee_hsa_id == FATIMA] == [None]
