"""Applying an HR plan against the real slapd: progress, moves that end only the old unit's memberships, a refused
change among others, the scope, and the run's own bookkeeping (the main flows: test_reconcile.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from freezegun import freeze_time

from catalog import Directory
from catalog.hrexport import read_export
from catalog.ldapconn import EntryNotFound
from catalog.model import CareUnit, Validity
from catalog.reconcile import Change, ChangeKind, SyncPlan, apply_plan, persons_in_scope, plan_sync, run_sync
from tests.catalog.test_reconcile import TODAY, P, hr, mine, sync
from tests.conftest import Org


def test_progress_is_reported_per_phase_with_the_total(org: Org, directory: Directory) -> None:
    a = org.unit_a.hsa_id
    calls: list[tuple[str, int, int]] = []
    report = sync(directory, org, hr(org, *[(p, "N", "N", a, "T", "") for p in P[:3]]),
                  progress=lambda phase, done, total: calls.append((phase, done, total)))
    assert report.ok and report.dry_run is False and not report.forced and 0 <= report.seconds < 120
    assert calls == [("skapar", 3, 3)]
    b = org.unit_b.hsa_id
    changed = hr(org, (P[0], "N", "Ny", a, "T", ""), (P[1], "N", "N", b, "T", ""))  # update, move, disable
    calls.clear()
    assert sync(directory, org, changed, progress=lambda *call: calls.append(call)).ok
    assert calls == [("uppdaterar", 3, 3)]
    calls.clear()  # only attribute changes: the pipelined phase reports itself
    assert sync(directory, org, hr(org, (P[0], "N", "Nyare", a, "T", ""), (P[1], "N", "N", b, "T", "")),
                progress=lambda *call: calls.append(call)).ok
    assert calls == [("uppdaterar", 1, 1)]


def test_a_move_ends_only_the_old_units_memberships(org: Org, directory: Directory) -> None:
    a, b = org.unit_a.hsa_id, org.unit_b.hsa_id
    third = directory.create_unit(CareUnit(org.hsa("V0003"), "", "Tredje vårdcentralen", org.provider.hsa_id,
                                           kind="vårdcentral"))
    sync(directory, org, hr(org, (P[0], "Anna", "Ek", a, "T", "")))
    [anna] = mine(directory, org, P[0])
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    at_a, _ = directory.ensure_commission(a)
    at_third, _ = directory.ensure_commission(third.hsa_id)
    for commission in (at_a, at_third):
        directory.ensure_membership(commission.hsa_id, anna.hsa_id, Validity(since))
    moving = hr(org, (P[0], "Anna", "Ek", b, "T", ""))
    refused = sync(directory, org, moving)  # her memberships at A end: the threshold counts that as for a leaver
    assert refused.refused and "avslutar behörigheterna för 1 som flyttar av 1 personer" in refused.refused
    report = sync(directory, org, moving, max_disable_share=1.0)
    assert report.ok and [m.commission_hsa_id for m in report.moved_memberships[anna.hsa_id]] == [at_a.hsa_id]
    by_commission = {m.commission_hsa_id: m for m in directory.memberships_of(anna.hsa_id)}
    assert by_commission[at_a.hsa_id].validity.end is not None
    assert by_commission[at_a.hsa_id].ended_reason == "bytt enhet enligt HR"
    assert by_commission[at_third.hsa_id].validity.end is None  # she still works with the third unit's data


def test_a_refused_change_is_reported_and_the_rest_is_applied(org: Org, directory: Directory) -> None:
    sync(directory, org, hr(org, (P[0], "N", "N", org.unit_a.hsa_id, "T", "")))
    [person] = mine(directory, org, P[0])
    ghost = Change(ChangeKind.DISABLE, org.hsa("PGONE"), None, reason="saknas i HR-underlaget")
    real = Change(ChangeKind.DISABLE, person.hsa_id, P[0], current=person, reason="saknas i HR-underlaget")
    plan = SyncPlan(source="hand", scope_provider=org.provider.hsa_id, scope_active=1, disables=[ghost, real])
    report = apply_plan(directory, plan)
    assert report.failed == [(ghost, f"Personen {org.hsa('PGONE')} finns inte i Skånekatalogen.")]
    assert report.applied == [real] and report.unknown == [] and report.not_attempted == []
    assert not directory.find_person(person.hsa_id).active  # type: ignore[union-attr]


def test_the_scope_is_one_providers_persons_and_units(org: Org, directory: Directory) -> None:
    other = Org(directory)
    mine_person, theirs = org.person(), other.person()
    persons, units = persons_in_scope(directory, org.provider.hsa_id)
    assert {p.hsa_id for p in persons} == {mine_person.hsa_id}
    assert theirs.hsa_id not in {p.hsa_id for p in persons}
    assert set(units) == {org.unit_a.hsa_id, org.unit_b.hsa_id}
    with pytest.raises(EntryNotFound, match=rf"^Vårdgivaren {org.hsa('E9999')} \(NPO_HR_PROVIDER_HSA_ID\) finns inte "
                                            "i Skånekatalogen.$"):
        persons_in_scope(directory, org.hsa("E9999"))


def test_a_dry_run_says_so_and_a_forced_run_is_marked(org: Org, directory: Directory) -> None:
    data = hr(org, (P[0], "N", "N", org.unit_a.hsa_id, "T", ""))
    dry = sync(directory, org, data, dry_run=True, force=True)
    assert dry.dry_run is True and dry.forced is True and dry.applied == [] and 0 <= dry.seconds < 120
    forced = sync(directory, org, data, force=True)
    assert forced.dry_run is False and forced.forced is True and len(forced.applied) == 1


def test_today_is_the_swedish_date_when_none_is_given(org: Org, directory: Directory) -> None:
    a = org.unit_a.hsa_id
    sync(directory, org, hr(org, (P[0], "N", "N", a, "T", "")))
    last_day = TODAY.isoformat()
    data = read_export(hr(org, (P[0], "N", "N", a, "T", last_day)), name="hr.csv")
    with freeze_time(dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC), tick=True):  # 00:30 on the 26th in Sweden
        report = run_sync(directory, data, provider_hsa_id=org.provider.hsa_id, max_disable_share=1.0, dry_run=True)
    assert [c.kind for c in report.plan.disables] == [ChangeKind.DISABLE]  # the day after the last working day


def test_refusals_in_both_pipelined_phases_are_all_reported(org: Org, directory: Directory) -> None:
    sync(directory, org, hr(org, (P[0], "N", "N", org.unit_a.hsa_id, "T", "")))
    [person] = mine(directory, org, P[0])
    bad_mail = replace(person, hsa_id=org.hsa("PBAD"), personnummer=P[1], mail="åsa@vård.example")  # not IA5
    create = Change(ChangeKind.CREATE, bad_mail.hsa_id, P[1], wanted=bad_mail)
    gone = replace(person, hsa_id=org.hsa("PGONE"), dn=person.dn.replace(person.hsa_id, org.hsa("PGONE")))
    update = Change(ChangeKind.UPDATE, gone.hsa_id, P[2], current=gone, wanted=replace(gone, title="Ny"),
                    fields=("titel",))  # removed from the directory after the plan was made
    plan = SyncPlan(source="hand", scope_provider=org.provider.hsa_id, scope_active=1, creates=[create],
                    updates=[update])
    report = apply_plan(directory, plan)
    assert report.failed == [(create, "mail: value #0 invalid per syntax (resultCode 21)"),
                             (update, " (resultCode 32)")]  # slapd names no attribute for a missing entry
    assert (report.applied, report.unknown, report.not_attempted, report.unavailable) == ([], [], [], None)


def test_ldap_gone_before_a_phase_accounts_for_every_change_of_it(make_slapd) -> None:  # type: ignore[no-untyped-def]
    instance = make_slapd()
    instance.start()
    directory = Directory(instance.app_config(), cache_seconds=0)
    org = Org(directory)
    a, b = org.unit_a.hsa_id, org.unit_b.hsa_id
    sync(directory, org, hr(org, *[(p, "N", "N", a, "T", "") for p in P[:4]]))
    current, units = persons_in_scope(directory, org.provider.hsa_id)

    def planned(*rows: tuple[str, str, str, str, str, str]) -> SyncPlan:
        return plan_sync(read_export(hr(org, *rows), name="hr.csv"), current, units,
                         provider_hsa_id=org.provider.hsa_id, today=TODAY)

    # attribute updates of P0 and P2 (pipelined), then P1's move and P3's disable (one by one)
    pipelined = planned((P[0], "N", "Ny", a, "T", ""), (P[1], "N", "N", b, "T", ""), (P[2], "N", "Ny", a, "T", ""))
    # only P0's move and the disables of P2 and P3 (one by one)
    one_by_one = planned((P[0], "N", "N", b, "T", ""), (P[1], "N", "N", a, "T", ""))
    instance.stop()  # LDAP goes away after planning
    url = instance.app_config().url
    report = apply_plan(directory, pipelined)
    p0, p1, p2 = (next(c for c in pipelined.updates if c.personnummer == p) for p in P[:3])
    assert (p0.fields, p1.fields, p2.fields) == (("namn", "efternamn"), ("enhet",), ("namn", "efternamn"))
    assert report.unavailable == f"Skånekatalogen ({url}) cannot be reached: [Errno 111] Connection refused"
    assert (report.applied, report.failed, report.unknown) == ([], [], [p0, p2])
    assert report.not_attempted == [p1, *pipelined.disables] and len(pipelined.disables) == 1
    report = apply_plan(directory, one_by_one)
    assert report.unavailable == (f"Skånekatalogen ({url}) cannot be reached: socket connection error while "
                                  "opening: [Errno 111] Connection refused")
    [move] = one_by_one.updates
    assert (report.applied, report.failed, report.unknown) == ([], [], [move])  # it may have been half done
    assert report.not_attempted == one_by_one.disables and len(one_by_one.disables) == 2
    directory.close()


@freeze_time("2026-11-25 10:00:00")
def test_a_move_announced_ahead_keeps_the_old_memberships_until_the_old_employment_ends(org: Org,
                                                                                       directory: Directory) -> None:
    a, b = org.unit_a.hsa_id, org.unit_b.hsa_id
    sync(directory, org, hr(org, (P[0], "Anna", "Ek", a, "T", "")))
    [anna] = mine(directory, org, P[0])
    at_a, _ = directory.ensure_commission(a)
    directory.ensure_membership(at_a.hsa_id, anna.hsa_id, Validity(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    two_rows = ("personnummer;given_name;surname;unit_hsa_id;title;employment_start;employment_end\n"
                f"{P[0]};Anna;Ek;{a};T;2020-01-01;2026-12-13\n{P[0]};Anna;Ek;{b};T;2026-12-14;\n").encode()
    report = sync(directory, org, two_rows, max_disable_share=1.0, mover_grace_days=2)
    assert report.ok and report.counts()["movers"] == 1
    [membership] = directory.memberships_of(anna.hsa_id)
    # the last day at A is 13 December; two days' grace: in force until 16 December 00:00 Swedish time
    assert membership.validity.end == dt.datetime(2026, 12, 15, 23, 0, tzinfo=dt.UTC)
    assert directory.find_person(anna.hsa_id).unit_hsa_id == b  # type: ignore[union-attr]
    again = sync(directory, org, two_rows, max_disable_share=1.0, mover_grace_days=2)
    assert again.ok and again.counts()["movers"] == 0  # idempotent: she is at B now
