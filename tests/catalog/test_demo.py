"""Demo content: deterministic, complete (every queue staffed, cast present), loadable twice without change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from catalog import Directory
from catalog.hrexport import read_export, write_export
from catalog.model import VOB_PURPOSE, Management, RoleName
from catalog.reconcile import run_sync
from demo import organisation as demo

TODAY = dt.date(2026, 11, 25)


def test_same_seed_same_catalog_other_seed_other_staff() -> None:
    one = demo.generate(persons=300, seed=4, today=TODAY)
    two = demo.generate(persons=300, seed=4, today=TODAY)
    other = demo.generate(persons=300, seed=5, today=TODAY)
    assert one == two
    assert [p.hsa_id for p in one.persons] != [p.hsa_id for p in other.persons]
    assert len(one.persons) == 300
    assert len({p.hsa_id.upper() for p in one.persons}) == 300
    assert len({p.personnummer for p in one.persons}) == 300


def test_demo_covers_what_the_issue_asks_for() -> None:
    catalog = demo.generate(persons=400, seed=1, today=TODAY)
    providers = {p.hsa_id: p for p in catalog.providers}
    assert providers[demo.SKANE].management is Management.PUBLIC
    assert sum(1 for p in catalog.providers if p.management is Management.PRIVATE and p.care_agreement) >= 4
    assert {demo.HALLAND, demo.BLEKINGE} <= providers.keys()
    kinds = {u.kind for u in catalog.units if u.provider_hsa_id == demo.SKANE}
    assert {"sjukhus", "vårdcentral"} <= kinds
    care_units = [u for u in catalog.units if u.kind != "förvaltning"]
    assert all(u.manager_hsa_id for u in care_units)  # every care unit has a verksamhetschef
    for queue in (RoleName.SKANEFORVALTNINGEN, RoleName.CONTRACT_MANAGER, RoleName.VARDGIVARSERVICE,
                  RoleName.IT_KUNDTJANST_PRIVATA):
        [role] = [r for r in catalog.roles if r.name is queue]
        assert role.members, queue
    assert any(r.name is RoleName.UNIT_CATALOG_ADMIN and r.scope == demo.VC_AHUS for r in catalog.roles)
    held = {c.unit_hsa_id for c in catalog.commissions}
    assert {demo.VC_HORBY, demo.SUS_AKUT, demo.LAKARHUSET} <= held
    assert demo.VC_AHUS not in held and demo.KARNAN not in held  # left for the ordering journeys
    assert all(c.purpose == VOB_PURPOSE and c.rights == ("Läsa;Alla;SJF",) for c in catalog.commissions)
    assert catalog.memberships


def test_load_twice_then_query_like_the_application(tmp_path: Path, make_slapd) -> None:  # type: ignore[no-untyped-def]
    instance = make_slapd()
    instance.start()
    try:
        catalog = demo.generate(persons=250, seed=2, today=TODAY)
        first = demo.load(instance.app_config(), catalog)
        assert first.failed == [] and first.written == sum(len(p) for p in catalog.phases("c=SE"))
        again = demo.load(instance.app_config(), catalog)  # existing entries count as done
        assert again.failed == [] and again.written == first.written
        directory = Directory(instance.app_config())
        nurse = next(m for m in demo.CAST if m.hsa_id.endswith("VCH2"))
        grants = directory.commissions_of(nurse.hsa_id)
        assert [g.unit.hsa_id for g in grants] == [demo.VC_HORBY]
        chief = next(m for m in demo.CAST if m.hsa_id.endswith("VCA1"))
        assert [u.hsa_id for u in directory.units_managed_by(chief.hsa_id)] == [demo.VC_AHUS]
        approver = next(m for m in demo.CAST if m.hsa_id.endswith("KK1"))
        assert [r.name for r in directory.roles_of(approver.hsa_id)] == [RoleName.CONTRACT_MANAGER]
        # the demo's HR export reconciles into a small plan: 2 hires, 3 title changes, 3 leavers, 2 bad rows
        path = tmp_path / "hr.csv"
        write_export(path, demo.hr_export_rows(catalog, seed=2, today=TODAY))
        report = run_sync(directory, read_export(path), provider_hsa_id=demo.SKANE, max_disable_share=0.05,
                          dry_run=True, today=TODAY)
        counts = report.counts()
        assert (counts["planned_create"], counts["planned_update"], counts["planned_disable"],
                counts["rejected_rows"]) == (2, 3, 3, 2)
        directory.close()
    finally:
        instance.destroy()
