"""HR → directory reconciliation against the real slapd: plan, apply, idempotence, threshold, outages."""

from __future__ import annotations

import datetime as dt

from catalog import Directory
from catalog.hrexport import read_export
from catalog.model import PersonStatus, Validity
from catalog.reconcile import ChangeKind, run_sync
from tests.conftest import Org

TODAY = dt.date(2026, 11, 25)
HEADER = "personnummer;given_name;surname;unit_hsa_id;title;employment_start;employment_end"


def hr(org: Org, *rows: tuple[str, str, str, str, str, str]) -> bytes:
    lines = [HEADER]
    for pnr, given, surname, unit, title, end in rows:
        lines.append(f"{pnr};{given};{surname};{unit};{title};2020-01-01;{end}")
    return ("\n".join(lines) + "\n").encode()


def sync(directory: Directory, org: Org, data: bytes, **kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("max_disable_share", 0.5)
    return run_sync(directory, read_export(data, name="hr.csv"), provider_hsa_id=org.provider.hsa_id, today=TODAY,
                    **kwargs)


def _pnrs() -> list[str]:
    from stdnum import luhn

    out = []
    for base in ("19800101000", "19820202000", "19840303000", "19860404000", "19880505000"):
        out.append(base + luhn.calc_check_digit(base[2:]))
    return out


P = _pnrs()


def mine(directory: Directory, org: Org, pnr: str) -> list:  # type: ignore[type-arg]
    """The persons with this personnummer in this test's organisation (other tests reuse the numbers)."""
    return [p for p in directory.persons_by_personnummer(pnr) if p.hsa_id.startswith(f"SE{org.org_no}-")]


def test_create_then_a_second_run_changes_nothing(org: Org, directory: Directory) -> None:
    a, b = org.unit_a.hsa_id, org.unit_b.hsa_id
    data = hr(org, (P[0], "Anna", "Ek", a, "Sjuksköterska", ""), (P[1], "Bo", "Al", b, "Läkare", ""))
    dry = sync(directory, org, data, dry_run=True)
    assert dry.ok and [c.kind for c in dry.plan.changes] == [ChangeKind.CREATE, ChangeKind.CREATE]
    assert mine(directory, org, P[0]) == []  # a dry run writes nothing
    first = sync(directory, org, data)
    assert first.ok and first.counts()["applied_create"] == 2
    [anna] = mine(directory, org, P[0])
    assert anna.unit_hsa_id == a and anna.title == "Sjuksköterska" and anna.hsa_id.startswith(f"SE{org.org_no}-P")
    second = sync(directory, org, data)
    assert second.ok and second.plan.changes == [] and second.plan.unchanged == 2


def test_updates_moves_and_leavers(org: Org, directory: Directory) -> None:
    a, b = org.unit_a.hsa_id, org.unit_b.hsa_id
    sync(directory, org, hr(org, (P[0], "Anna", "Ek", a, "Sjuksköterska", ""), (P[1], "Bo", "Al", a, "Läkare", ""),
                            (P[2], "Cecilia", "Ås", a, "Kurator", ""), (P[3], "Dan", "Öd", a, "Läkare", "")))
    anna, bo, cecilia, dan = (mine(directory, org, p)[0] for p in P[:4])
    commission, _ = directory.ensure_commission(a)
    for person in (anna, bo, cecilia, dan):
        directory.ensure_membership(commission.hsa_id, person.hsa_id, Validity(
            dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    changed = hr(org, (P[0], "Anna", "Ek-Lund", a, "Sjuksköterska", ""),  # new surname
                 (P[1], "Bo", "Al", b, "Läkare", ""),  # moved to unit B
                 (P[2], "Cecilia", "Ås", a, "Kurator", "2026-11-01"))  # left on 1 Nov; Dan is missing
    plan = sync(directory, org, changed, dry_run=True).plan
    assert {(c.kind, c.hsa_id) for c in plan.changes} == {
        (ChangeKind.UPDATE, anna.hsa_id), (ChangeKind.UPDATE, bo.hsa_id),
        (ChangeKind.DISABLE, cecilia.hsa_id), (ChangeKind.DISABLE, dan.hsa_id)}
    assert sync(directory, org, changed).refused  # two leavers and Bo's memberships: 3 of 4, above 50 %
    report = sync(directory, org, changed, max_disable_share=0.8)
    assert report.ok
    assert directory.find_person(anna.hsa_id).surname == "Ek-Lund"
    assert directory.find_person(bo.hsa_id).unit_hsa_id == b
    for leaver in (cecilia, dan):
        assert directory.find_person(leaver.hsa_id).status is PersonStatus.DISABLED  # disabled, never deleted
        assert directory.commissions_of(leaver.hsa_id) == []
    assert directory.commissions_of(bo.hsa_id) == []  # moving ends the old unit's commission
    assert len(directory.commissions_of(anna.hsa_id)) == 1  # others keep theirs
    assert sync(directory, org, changed).plan.changes == []  # idempotent
    rehired = hr(org, (P[0], "Anna", "Ek-Lund", a, "Sjuksköterska", ""), (P[1], "Bo", "Al", b, "Läkare", ""),
                 (P[3], "Dan", "Öd", a, "Läkare", ""))
    sync(directory, org, rehired, force=True)
    assert directory.find_person(dan.hsa_id).active  # the same HSA-ID comes back


def test_mass_disable_is_refused_unless_forced(org: Org, directory: Directory) -> None:
    a = org.unit_a.hsa_id
    everyone = hr(org, *[(p, "N", "N", a, "T", "") for p in P])
    sync(directory, org, everyone)
    only_one = hr(org, (P[0], "N", "N", a, "T", ""))
    refused = sync(directory, org, only_one, max_disable_share=0.5)
    assert refused.refused and "4 av 5" in refused.refused and "--force" in refused.refused
    assert refused.applied == [] and all(mine(directory, org, p)[0].active for p in P)
    forced = sync(directory, org, only_one, max_disable_share=0.5, force=True)
    assert forced.ok and forced.counts()["applied_disable"] == 4


def test_rejected_rows_are_reported_and_never_make_a_leaver(org: Org, directory: Directory) -> None:
    a = org.unit_a.hsa_id
    sync(directory, org, hr(org, (P[0], "Anna", "Ek", a, "T", ""), (P[1], "Bo", "Al", a, "T", "")))
    broken = hr(org, (P[0], "Anna", "Ek", a, "T", ""), (P[1], "", "Al", a, "T", ""),  # Bo's row lacks a name
                (P[2], "Ny", "Person", org.hsa("V9999"), "T", ""))  # unknown unit
    report = sync(directory, org, broken)
    assert report.ok
    assert [(r.line, r.reason.split()[0]) for r in report.plan.rejected] == [(3, "given_name"), (4, "enheten")]
    assert mine(directory, org, P[1])[0].active  # not disabled because his row was unreadable
    assert mine(directory, org, P[2]) == []


def test_the_report_leads_with_counts_and_rejected_rows_in_file_order_and_lists_changes_only_when_asked(
        org: Org, directory: Directory) -> None:
    a = org.unit_a.hsa_id
    data = hr(org, (P[0], "Ny", "Person", org.hsa("V9999"), "T", ""),  # line 2: unknown unit (found when planning)
              (P[1], "", "Al", a, "T", ""),  # line 3: no name (found when reading)
              (P[2], "Anna", "Ek", a, "T", ""), (P[3], "Bo", "Ek", a, "T", ""))
    report = sync(directory, org, data, dry_run=True)
    short = report.lines()
    assert short[0].startswith("Förhandsgranskning (inget ändrat) av hr.csv")
    assert short[1] == "  nyanställda: 2  flyttar: 0  slutat: 0"
    assert short[2].split() == ["skapa:", "2", "ändra:", "0", "inaktivera:", "0", "oförändrade:", "0", "avvisade",
                                "rader:", "2"]
    assert short[3:] == ["Avvisade rader (2), i filens ordning:", f"  rad 2: enheten {org.hsa('V9999')} finns inte "
                         f"hos vårdgivaren {org.provider.hsa_id} i Skånekatalogen", short[5]]
    assert short[5].startswith("  rad 3: given_name")
    full = report.lines(list_changes=True)
    assert full[:6] == short and full[6] == "Planerade ändringar (2):"
    assert [line.split()[0] for line in full[7:]] == ["skapa", "skapa"] and len(full) == 9


def test_ldap_down_mid_run_reports_what_was_applied_and_a_rerun_converges(make_slapd) -> None:  # type: ignore[no-untyped-def]
    instance = make_slapd()
    instance.start()
    directory = Directory(instance.app_config(), cache_seconds=0)
    org = Org(directory)
    people = many_pnrs(1500)
    data = hr(org, *[(p, "Ny", "Anställd", org.unit_a.hsa_id, "Sjuksköterska", "") for p in people])

    def kill_ldap_midway(phase: str, done: int, total: int) -> None:
        if done == 500:
            instance.stop()

    report = sync(directory, org, data, progress=kill_ldap_midway)
    assert report.unavailable and not report.ok
    counts = report.counts()
    assert counts["planned_create"] == 1500
    assert 0 < counts["applied_create"] < 1500
    assert counts["applied_create"] + counts["unknown"] + counts["failed"] == 1500  # every change accounted for
    assert any("KATALOGEN SVARAR INTE" in line for line in report.lines())
    instance.start()
    assert len(in_scope(directory, org)) == counts["applied_create"] + sum(
        1 for c in report.unknown if directory.find_person(c.hsa_id))  # exactly what was applied exists
    rerun = sync(directory, org, data)
    assert rerun.ok
    persons = in_scope(directory, org)
    assert sorted(p.personnummer for p in persons) == sorted(people)  # everyone once, no duplicates
    assert sync(directory, org, data).plan.changes == []
    directory.close()
    instance.destroy()


def in_scope(directory: Directory, org: Org) -> list:  # type: ignore[type-arg]
    from catalog.reconcile import persons_in_scope

    return persons_in_scope(directory, org.provider.hsa_id)[0]


def many_pnrs(n: int) -> list[str]:
    from stdnum import luhn

    out = []
    day = dt.date(1960, 1, 1)
    while len(out) < n:
        base = f"{day:%y%m%d}{len(out) % 900 + 100:03d}"
        out.append(f"{day:%Y}"[:2] + base + luhn.calc_check_digit(base))
        day += dt.timedelta(days=1)
    return out
