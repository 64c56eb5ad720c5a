"""The catalog-sync flow, run as a flow against a real Prefect server and the real slapd."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from catalog import Directory
from flows.catalog_sync import SyncNotApplied, catalog_sync
from kernel import runtime
from kernel.settings import Settings
from tests.conftest import Org

pytestmark = pytest.mark.prefect
HEADER = "personnummer;given_name;surname;unit_hsa_id;title;employment_start;employment_end\n"


def _configure(app_settings: Settings, org: Org) -> None:
    runtime.configure(app_settings.model_copy(update={"hr_provider_hsa_id": org.provider.hsa_id,
                                                      "sync_max_disable_share": 0.5}))


def test_flow_applies_the_export_and_leaves_a_report_artifact(prefect_server: None, app_settings: Settings,
                                                              org: Org, directory: Directory,
                                                              tmp_path: Path) -> None:
    _configure(app_settings, org)
    source = tmp_path / "hr.csv"
    source.write_text(HEADER + f"19121212-1212;Tolvan;Tolvansson;{org.unit_a.hsa_id};Läkare;2020-01-01;\n"
                               f"19121212-1213;Fel;Rad;{org.unit_a.hsa_id};Läkare;2020-01-01;\n")
    state = catalog_sync(source=str(source), return_state=True)
    assert state.is_completed()
    result = state.result()
    assert result["counts"]["applied_create"] == 1 and result["counts"]["rejected_rows"] == 1
    [created] = [p for p in directory.persons_by_personnummer("191212121212")
                 if p.hsa_id.startswith(f"SE{org.org_no}")]
    assert created.title == "Läkare"
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[
            "catalog-sync-report"])))
    assert any("skapa: 1" in (a.data or "") and "rad 3" in (a.data or "") for a in artifacts)


def test_flow_fails_visibly_when_the_plan_is_refused(prefect_server: None, app_settings: Settings, org: Org,
                                                     tmp_path: Path) -> None:
    _configure(app_settings, org)
    for n in range(3):
        org.person(local=f"L{n}")  # no personnummer: absent from every HR file
    source = tmp_path / "empty.csv"
    source.write_text(HEADER)
    state = catalog_sync(source=str(source), return_state=True)
    assert state.is_failed()
    with pytest.raises(SyncNotApplied, match="avbröts"):
        state.result()


def test_a_mover_in_the_flow_becomes_a_proposal_for_the_new_units_manager_and_a_mail(
        prefect_server: None, app_settings: Settings, org: Org, directory: Directory, tmp_path: Path) -> None:
    from sqlmodel import Session, select

    from catalog.model import Person, Validity
    from kernel.outbox import OutboxMail
    from provisioning.models import AccessProposal, ProposalOrigin

    _configure(app_settings, org)
    manager = directory.create_person(Person(org.hsa("CHEFB"), "", "Britt", "Chef", personnummer="198202020007",
                                             mail="britt@vard.example", unit_hsa_id=org.unit_b.hsa_id))
    directory.set_unit_manager(org.unit_b.hsa_id, manager.hsa_id)
    source = tmp_path / "hr.csv"
    rows = [f"19121212-1212;Tolvan;Tolvansson;{org.unit_a.hsa_id};Läkare;2020-01-01;",
            f"19820202-0007;Britt;Chef;{org.unit_b.hsa_id};Verksamhetschef;2020-01-01;"]
    source.write_text(HEADER + "\n".join(rows) + "\n")
    assert catalog_sync(source=str(source), return_state=True).is_completed()
    [tolvan] = [p for p in directory.persons_by_personnummer("191212121212") if p.hsa_id.startswith(f"SE{org.org_no}")]
    commission, _ = directory.ensure_commission(org.unit_a.hsa_id)
    directory.ensure_commission(org.unit_b.hsa_id)
    directory.ensure_membership(commission.hsa_id, tolvan.hsa_id, Validity(tolvan.employment_start))  # type: ignore[arg-type]
    rows[0] = f"19121212-1212;Tolvan;Tolvansson;{org.unit_b.hsa_id};Läkare;2020-01-01;"
    source.write_text(HEADER + "\n".join(rows) + "\n")
    state = catalog_sync(source=str(source), return_state=True, force=True)  # 1 of 2 loses memberships: forced
    assert state.is_completed() and state.result()["proposals"] == 1
    with Session(runtime.engine()) as session:
        [proposal] = session.exec(select(AccessProposal).where(AccessProposal.person_hsa_id == tolvan.hsa_id)).all()
        templates = {m.template: m for m in session.exec(select(OutboxMail)).all()}
    assert (proposal.origin, proposal.unit_hsa_id) == (ProposalOrigin.MOVER, org.unit_b.hsa_id)
    assert "britt@vard.example" in templates["proposal_to_manager"].recipients
    assert templates["proposal_to_manager"].sent_at is not None or templates["proposal_to_manager"].attempts >= 1
