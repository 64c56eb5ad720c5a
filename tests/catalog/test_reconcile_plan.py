"""The pure half of HR reconciliation: what `plan_sync` decides and when `check_threshold` refuses (no directory).

The directory half (applying, outages, idempotence) is tests/catalog/test_reconcile.py against the real slapd.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import pytest
from stdnum import luhn

from catalog.hrexport import read_export
from catalog.model import CareUnit, Person, PersonStatus
from catalog.reconcile import ChangeKind, SyncPlan, SyncReport, check_threshold, plan_sync

TODAY = dt.date(2026, 11, 25)
PROVIDER = "SE2321000255-E000000000001"
UNIT = "SE2321000255-V1"
UNITS = {UNIT: CareUnit(UNIT, "", "Vårdcentralen Ett", PROVIDER)}
HEADER = "personnummer;given_name;surname;unit_hsa_id;title;employment_start;employment_end"


def pnr(n: int) -> str:
    body = f"19800101{n:03d}"  # 19800101 + a three-digit serial; check digit over the last nine
    return body + luhn.calc_check_digit(body[2:])


def person(n: int, *, status: PersonStatus = PersonStatus.ACTIVE, hsa_id: str | None = None,
           end: dt.date | None = None) -> Person:
    """A person in scope as the directory holds them, with the HR fields a row for `n` produces."""
    from kernel.clock import local_midnight

    return Person(hsa_id or f"SE2321000255-P{n:05d}", f"hsaIdentity=P{n}", "N", f"N{n}", personnummer=pnr(n),
                  title="T", status=status, unit_hsa_id=UNIT, employment_start=local_midnight(dt.date(2020, 1, 1)),
                  employment_end=local_midnight(end) if end else None)


def export(*rows: tuple[int, str]) -> bytes:
    """HR rows for persons `n`, each with an employment end ('' = none)."""
    lines = [HEADER] + [f"{pnr(n)};N;N{n};{UNIT};T;2020-01-01;{end}" for n, end in rows]
    return ("\n".join(lines) + "\n").encode()


def plan(current: list[Person], *rows: tuple[int, str]) -> SyncPlan:
    return plan_sync(read_export(export(*rows), name="hr.csv"), current, UNITS, provider_hsa_id=PROVIDER,
                     today=TODAY)


def test_a_truncated_file_is_refused_even_when_most_of_the_scope_is_already_disabled() -> None:
    # 4 active persons and 6 who left long ago; the file lost every row but the first: 3 of the 4 active would go.
    current = [person(n) for n in range(4)] + [person(n, status=PersonStatus.DISABLED) for n in range(4, 10)]
    truncated = plan(current, (0, ""))
    assert truncated.scope_active == 4 and len(truncated.disables) == 3
    assert truncated.disable_share == 0.75  # counting the disabled too would make it 3 of 10 and let it pass
    refusal = check_threshold(truncated, 0.5, force=False)
    assert refusal is not None and "inaktiverar 3 av 4 personer (75.0%)" in refusal and "--force" in refusal
    assert check_threshold(truncated, 0.5, force=True) is None


@pytest.mark.parametrize(("kept", "refused"), [(2, False), (1, True), (4, False)])
def test_the_threshold_refuses_only_above_the_allowed_share(kept: int, refused: bool) -> None:
    current = [person(n) for n in range(4)]
    planned = plan(current, *[(n, "") for n in range(kept)])
    assert len(planned.disables) == 4 - kept
    assert (check_threshold(planned, 0.5, force=False) is not None) is refused  # 2 of 4 is exactly 50 %: allowed


def test_an_empty_scope_has_nothing_to_disable() -> None:
    planned = plan([], (0, ""))
    assert planned.scope_active == 0 and planned.disable_share == 0.0 and [c.kind for c in planned.creates] == [
        ChangeKind.CREATE]
    assert check_threshold(planned, 0.0, force=False) is None


@pytest.mark.parametrize("disabled_first", [True, False])
def test_of_two_identities_sharing_a_personnummer_the_active_one_is_matched(disabled_first: bool) -> None:
    old = person(1, status=PersonStatus.DISABLED, hsa_id="SE2321000255-POLD")
    new = person(1, hsa_id="SE2321000255-PNEW")
    current = [old, new] if disabled_first else [new, old]
    same = plan(current, (1, ""))
    assert same.changes == [] and same.unchanged == 1  # not "re-enable the old identity"
    moved_end = plan(current, (1, "2026-12-31"))
    assert [(c.kind, c.hsa_id, c.fields) for c in moved_end.changes] == [
        (ChangeKind.UPDATE, "SE2321000255-PNEW", ("anställningsslut",))]


def test_a_leaver_is_disabled_the_day_after_their_last_working_day() -> None:
    # employment_end is the last working day (D-8): on that day the person still works
    last_day = TODAY.isoformat()
    on_the_day = plan([person(1, end=TODAY)], (1, last_day))
    assert on_the_day.disables == [] and on_the_day.unchanged == 1
    yesterday = (TODAY - dt.timedelta(days=1)).isoformat()
    after = plan([person(1, end=TODAY - dt.timedelta(days=1))], (1, yesterday))
    assert [(c.kind, c.reason) for c in after.disables] == [(ChangeKind.DISABLE, f"anställningen upphörde {yesterday}")]


def test_a_former_employee_never_registered_is_not_created() -> None:
    yesterday = (TODAY - dt.timedelta(days=1)).isoformat()
    assert plan([], (1, yesterday)).changes == []
    assert [c.kind for c in plan([], (1, TODAY.isoformat())).changes] == [ChangeKind.CREATE]  # works today


def test_an_already_disabled_leaver_is_left_alone() -> None:
    yesterday = TODAY - dt.timedelta(days=1)
    planned = plan([person(1, status=PersonStatus.DISABLED, end=yesterday)], (1, yesterday.isoformat()))
    assert planned.changes == [] and planned.unchanged == 1
    assert plan([person(1, status=PersonStatus.DISABLED)]).disables == []  # missing from the file, already off


def test_a_disabled_person_back_in_the_file_is_enabled_again() -> None:
    planned = plan([person(1, status=PersonStatus.DISABLED)], (1, ""))
    [change] = planned.changes
    assert (change.kind, change.fields) == (ChangeKind.UPDATE, ("återaktiveras",))  # not npoStatusChanged & co


def mixed_plan() -> SyncPlan:
    """One create (row 2), one update (row 3: new surname), one disable (person 3 missing) and a bad row (4)."""
    current = [person(1), person(2), person(3)]
    data = export((4, ""), (1, ""), (2, "")).replace(f"N;N1;{UNIT}".encode(), f"N;Ny1;{UNIT}".encode())
    data += b"19800101-0000;X;Y;" + UNIT.encode() + b";T;2020-01-01;\n"
    return plan_sync(read_export(data, name="hr.csv"), current, UNITS, provider_hsa_id=PROVIDER, today=TODAY)


def test_each_change_is_described_in_one_line_with_the_personnummer_masked() -> None:
    planned = mixed_plan()
    [create], [update], [disable] = planned.creates, planned.updates, planned.disables
    assert create.describe() == f"skapa   {create.hsa_id} (19800101-****) N N4, T vid {UNIT}"
    assert create.hsa_id.startswith("SE2321000255-P") and len(create.hsa_id) == len("SE2321000255-P") + 6
    assert update.describe() == "ändra   SE2321000255-P00001 (19800101-****): namn, efternamn"
    assert disable.describe() == "inaktivera SE2321000255-P00003 (19800101-****): saknas i HR-underlaget"
    assert [(r.line, r.reason) for r in planned.rejected] == [(5, "Personnumret '19800101-0000' har fel "
                                                                  "kontrollsiffra.")]


def test_a_dry_run_report_lists_counts_changes_and_rejected_rows() -> None:
    report = SyncReport(plan=mixed_plan(), dry_run=True)
    assert report.ok and report.counts() == {
        "joiners": 1, "movers": 0, "leavers": 1,
        "planned_create": 1, "planned_update": 1, "planned_disable": 1, "unchanged": 1, "rejected_rows": 1,
        "applied_create": 0, "applied_update": 0, "applied_disable": 0, "failed": 0, "unknown": 0,
        "not_attempted": 0}
    lines = report.lines(list_changes=True)
    assert lines[0] == f"Förhandsgranskning (inget ändrat) av hr.csv mot {PROVIDER} (3 aktiva personer i katalogen)"
    assert lines[1] == "  nyanställda: 1  flyttar: 0  slutat: 1"
    assert lines[2] == "  skapa: 1  ändra: 1  inaktivera: 1  oförändrade: 1  avvisade rader: 1"
    assert lines[3:5] == ["Avvisade rader (1), i filens ordning:",
                          "  rad 5: Personnumret '19800101-0000' har fel kontrollsiffra."]
    assert lines[5:] == ["Planerade ändringar (3):"] + [f"  {c.describe()}" for c in report.plan.changes]
    assert report.lines() == lines[:5]  # the changes are listed only on request


def test_an_applied_report_says_what_was_done_failed_and_left() -> None:
    planned = mixed_plan()
    [create], [update], [disable] = planned.creates, planned.updates, planned.disables
    report = SyncReport(plan=planned, dry_run=False, forced=True, applied=[create, disable],
                        failed=[(update, "Insufficient access")], seconds=1.23456)
    assert not report.ok
    assert report.counts()["applied_create"] == 1 and report.counts()["applied_disable"] == 1
    assert report.counts()["applied_update"] == 0 and report.counts()["failed"] == 1
    lines = report.lines()
    assert lines[0].startswith("Synkronisering av hr.csv mot ")
    assert lines[3] == ("  genomfört: skapade 1, ändrade 0, inaktiverade 1; misslyckade 1, okänt utfall 0, "
                        "ej påbörjade 0")
    assert lines[-1] == f"  FEL {update.describe()}: Insufficient access"
    assert report.to_dict() == {
        "source": "hr.csv", "dry_run": False, "forced": True, "ok": False, "refused": None, "unavailable": None,
        "seconds": 1.235, "counts": report.counts(), "mover_grace_days": 0, "movers": [],
        "rejected": [{"line": 5, "reason": planned.rejected[0].reason}],
        "failed": [{"change": update.describe(), "error": "Insufficient access"}], "unknown": [],
        "not_attempted": []}


def test_refused_and_unavailable_reports_say_so_and_are_not_ok() -> None:
    planned = mixed_plan()
    refused = SyncReport(plan=planned, dry_run=False, refused="planen inaktiverar för många")
    assert not refused.ok and refused.lines()[3] == "  AVBRUTET: planen inaktiverar för många"
    assert not any(line.startswith("  genomfört") for line in refused.lines())
    down = SyncReport(plan=planned, dry_run=False, unavailable="LDAP svarar inte", unknown=[planned.disables[0]],
                      not_attempted=[planned.updates[0]])
    assert not down.ok and down.to_dict()["unknown"] == [planned.disables[0].describe()]
    assert down.to_dict()["not_attempted"] == [planned.updates[0].describe()]
    assert ("  KATALOGEN SVARAR INTE: LDAP svarar inte. Det som står som genomfört är gjort; kör samma fil igen när "
            "katalogen svarar, så slutförs resten.") in down.lines()
    for only in ({"failed": [(planned.updates[0], "x")]}, {"unknown": [planned.updates[0]]},
                 {"not_attempted": [planned.updates[0]]}, {"unavailable": "x"}, {"refused": "x"}):
        assert not SyncReport(plan=planned, dry_run=False, **only).ok  # type: ignore[arg-type]
    assert SyncReport(plan=planned, dry_run=False).ok


def rows(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def sync_plan(current: list[Person], data: bytes, units: dict[str, CareUnit] = UNITS) -> SyncPlan:
    return plan_sync(read_export(data, name="hr.csv"), current, units, provider_hsa_id=PROVIDER, today=TODAY)


def test_new_hsa_ids_are_random_within_the_provider_and_differ_from_existing_ones() -> None:
    planned = sync_plan([], rows(*[f"{pnr(n)};N;N{n};{UNIT};T;2020-01-01;" for n in range(1, 41)]))
    ids = [c.hsa_id for c in planned.creates]
    assert len(set(ids)) == 40 and all(re.fullmatch(r"SE2321000255-P[A-HJ-NP-Z2-9]{6}", i) for i in ids)
    assert [c.wanted.hsa_id for c in planned.creates] == ids and [c.line for c in planned.creates] == list(
        range(2, 42))  # type: ignore[union-attr]


def test_a_drawn_hsa_id_already_taken_in_any_case_or_by_this_run_is_drawn_again() -> None:
    # The draw is the plan's one input from outside (like today): scripted here, because a collision of six
    # characters from 32 happens once in 10^9 draws. Each index picks from the alphabet the code offers.
    indexes = iter([0] * 6 + [1] * 6 + [1] * 6 + [2] * 6)  # A…, B… (taken by the first create), C…
    existing = person(9, hsa_id="SE2321000255-paaaaaa")  # the directory spells it in lower case
    planned = plan_sync(read_export(rows(f"{pnr(9)};N;N9;{UNIT};T;2020-01-01;", f"{pnr(1)};N;N1;{UNIT};T;2020-01-01;",
                                         f"{pnr(2)};N;N2;{UNIT};T;2020-01-01;"), name="hr.csv"),
                        [existing], UNITS, provider_hsa_id=PROVIDER, today=TODAY,
                        choice=lambda alphabet: alphabet[next(indexes)])
    assert [c.hsa_id for c in planned.creates] == ["SE2321000255-PBBBBBB", "SE2321000255-PCCCCCC"]
    assert [c.personnummer for c in planned.creates] == [pnr(1), pnr(2)] and planned.unchanged == 1
    assert list(indexes) == []  # four draws: one refused for the directory's ID, one for the run's own


def test_a_row_naming_a_unit_outside_the_scope_is_rejected_and_protects_its_person() -> None:
    elsewhere = "SE2321000255-V9"
    planned = sync_plan([person(1), person(2)], rows(f"{pnr(1)};N;N1;{elsewhere};T;2020-01-01;",
                                                     f"{pnr(2)};N;N2;{UNIT};T;2020-01-01;",
                                                     f"{pnr(3)};N;N3;{UNIT};T;2020-01-01;"))
    [rejected] = planned.rejected
    assert (rejected.line, rejected.personnummer) == (2, pnr(1))
    assert rejected.reason == f"enheten {elsewhere} finns inte hos vårdgivaren {PROVIDER} i Skånekatalogen"
    assert planned.disables == [] and planned.unchanged == 1  # person 1 is not a leaver; the rows after are read
    assert [c.personnummer for c in planned.creates] == [pnr(3)]


def test_the_unit_is_matched_case_insensitively_and_stored_as_the_directory_spells_it() -> None:
    typed = UNIT.replace("-V", "-v")  # HSA-IDs compare case-insensitively after the SE prefix
    planned = sync_plan([person(1)], rows(f"{pnr(1)};N;N1;{typed};T;2020-01-01;",
                                          f"{pnr(2)};N;N2;{typed};T;2020-01-01;"))
    assert planned.updates == [] and planned.unchanged == 1
    assert [c.wanted.unit_hsa_id for c in planned.creates] == [UNIT]  # type: ignore[union-attr]


def test_former_employees_never_registered_are_counted_once_each() -> None:
    gone = (TODAY - dt.timedelta(days=1)).isoformat()
    planned = sync_plan([], rows(f"{pnr(1)};N;N1;{UNIT};T;2020-01-01;{gone}",
                                 f"{pnr(2)};N;N2;{UNIT};T;2020-01-01;{gone}",
                                 f"{pnr(3)};N;N3;{UNIT};T;2020-01-01;"))
    assert planned.unchanged == 2 and [c.personnummer for c in planned.creates] == [pnr(3)]


def test_a_leaver_row_disables_with_its_line_and_the_person_as_found() -> None:
    gone = TODAY - dt.timedelta(days=1)
    one, two, three = person(1), person(2, status=PersonStatus.DISABLED, end=gone), person(3)
    planned = sync_plan([one, two, three], rows(f"{pnr(3)};N;N3;{UNIT};T;2020-01-01;",
                                                f"{pnr(1)};N;N1;{UNIT};T;2020-01-01;{gone}",
                                                f"{pnr(2)};N;N2;{UNIT};T;2020-01-01;{gone}"))
    [leaver] = planned.disables
    assert (leaver.hsa_id, leaver.personnummer, leaver.current, leaver.line) == (one.hsa_id, pnr(1), one, 3)
    assert planned.unchanged == 2  # person 3, then the already disabled leaver


def test_an_update_keeps_the_entry_and_what_the_file_does_not_carry() -> None:
    current = replace(person(1), dn="hsaIdentity=P1,ou=x", hsa_titles=("Läkare",), pa_title_codes=("201010",),
                      mail="n1@vard.example")
    planned = sync_plan([current], rows(f"{pnr(1)};N;Nytt;{UNIT};T;2020-01-01;"))  # no title or mail columns
    [update] = planned.updates
    assert update.current is current and update.line == 2 and update.fields == ("namn", "efternamn")
    wanted = update.wanted
    assert wanted is not None and (wanted.hsa_id, wanted.dn, wanted.surname) == (current.hsa_id, current.dn, "Nytt")
    assert (wanted.hsa_titles, wanted.pa_title_codes, wanted.mail) == (("Läkare",), ("201010",), "n1@vard.example")
    assert wanted.status is PersonStatus.ACTIVE


def test_columns_present_in_the_file_replace_what_the_directory_has() -> None:
    header = HEADER + ";hsa_title;pa_title_code;mail"
    current = replace(person(1), hsa_titles=("Läkare",), pa_title_codes=("201010",), mail="n1@vard.example")
    data = f"{header}\n{pnr(1)};N;N1;{UNIT};T;2020-01-01;;Sjuksköterska;;\n".encode()
    [update] = sync_plan([current], data).updates
    assert update.wanted is not None
    assert (update.wanted.hsa_titles, update.wanted.pa_title_codes, update.wanted.mail) == (("Sjuksköterska",), (),
                                                                                           None)
    assert update.fields == ("legitimation", "befattningskod", "e-post")


def test_a_move_is_named_as_a_change_of_unit() -> None:
    other = "SE2321000255-V2"
    units = {**UNITS, other: CareUnit(other, "", "Vårdcentralen Två", PROVIDER)}
    [move] = sync_plan([person(1)], rows(f"{pnr(1)};N;N1;{other};T;2020-01-01;"), units).updates
    assert (move.fields, move.line, move.wanted.unit_hsa_id) == (("enhet",), 2, other)  # type: ignore[union-attr]


def test_a_person_missing_from_the_file_is_disabled_as_found() -> None:
    missing = person(2)
    [leaver] = sync_plan([person(1), missing], rows(f"{pnr(1)};N;N1;{UNIT};T;2020-01-01;")).disables
    assert (leaver.current, leaver.reason, leaver.line) == (missing, "saknas i HR-underlaget", None)


def test_the_refusal_says_what_to_do() -> None:
    planned = plan([person(n) for n in range(4)], (0, ""))
    assert check_threshold(planned, 0.5, force=False) == (
        "planen inaktiverar 3 av 4 personer (75.0%), mer än tillåtna 50.0%. Kontrollera HR-filen; är ändringen "
        "avsedd, kör igen med --force.")


OTHER = "SE2321000255-V2"
TWO_UNITS = {**UNITS, OTHER: CareUnit(OTHER, "", "Vårdcentralen Två", PROVIDER)}


def test_a_mover_keeps_the_old_units_memberships_to_the_day_before_the_new_employment_plus_the_grace() -> None:
    from kernel.clock import local_midnight

    export = read_export(rows(f"{pnr(1)};N;N1;{OTHER};T;2026-12-14;"), name="hr.csv")
    holders = {"SE2321000255-P00001": frozenset({UNIT})}
    [move] = plan_sync(export, [person(1)], TWO_UNITS, provider_hsa_id=PROVIDER, today=TODAY,
                       holders=holders).movers
    assert move.memberships_end == local_midnight(dt.date(2026, 12, 14)) and move.holds_memberships
    assert move.describe() == (f"flytta  SE2321000255-P00001 (19800101-****) från {UNIT} till {OTHER} (ny "
                               "anställning från 2026-12-14; behörigheterna där upphör 2026-12-14 00:00)")
    [late] = plan_sync(export, [person(1)], TWO_UNITS, provider_hsa_id=PROVIDER, today=TODAY,
                       mover_grace_days=3).movers
    assert late.memberships_end == local_midnight(dt.date(2026, 12, 17)) and not late.holds_memberships
    assert "inga behörigheter där" in late.describe()


def test_a_mover_given_as_two_rows_ends_at_the_earlier_rows_last_day() -> None:
    from kernel.clock import local_midnight

    export = read_export(rows(f"{pnr(1)};N;N1;{UNIT};T;2020-01-01;2026-12-20",
                              f"{pnr(1)};N;N1;{OTHER};T;2027-01-07;"), name="hr.csv")
    assert export.rejected == []
    [row] = export.rows
    assert (row.unit_hsa_id, row.previous_unit_hsa_id, row.previous_end) == (OTHER, UNIT, dt.date(2026, 12, 20))
    [move] = plan_sync(export, [person(1)], TWO_UNITS, provider_hsa_id=PROVIDER, today=TODAY).movers
    assert move.memberships_end == local_midnight(dt.date(2026, 12, 21))


@pytest.mark.parametrize(("second", "why"), [
    (f"{{pnr}};N;N1;{OTHER};T;2026-12-01;", "överlappar"),  # the earlier employment has no end
    (f"{{pnr}};N;N1;{OTHER};T;2026-12-10;", "överlappar"),  # ends after the new one starts
])
def test_overlapping_rows_of_a_mover_are_set_aside_with_the_reason(second: str, why: str) -> None:
    first = f"{pnr(1)};N;N1;{UNIT};T;2020-01-01;" + ("2026-12-15" if "12-10" in second else "")
    export = read_export(rows(first, second.format(pnr=pnr(1))), name="hr.csv")
    assert export.rows == [] and [r.line for r in export.rejected] == [2, 3]
    assert all(why in r.reason and "2, 3" in r.reason for r in export.rejected)
    planned = plan_sync(export, [person(1)], TWO_UNITS, provider_hsa_id=PROVIDER, today=TODAY)
    assert planned.disables == [] and planned.movers == []  # a person with a rejected row is never a leaver


def test_three_rows_of_one_person_are_set_aside() -> None:
    export = read_export(rows(f"{pnr(1)};N;N1;{UNIT};T;2020-01-01;2021-01-01",
                              f"{pnr(1)};N;N1;{OTHER};T;2022-01-01;2023-01-01",
                              f"{pnr(1)};N;N1;{UNIT};T;2024-01-01;"), name="hr.csv")
    assert export.rows == [] and all("högst två rader" in r.reason for r in export.rejected)


def test_the_threshold_counts_movers_who_lose_memberships() -> None:
    export = read_export(rows(*[f"{pnr(n)};N;N{n};{OTHER};T;2026-12-01;" for n in range(3)],
                              f"{pnr(3)};N;N3;{UNIT};T;2020-01-01;"), name="hr.csv")
    holders = {f"SE2321000255-P{n:05d}": frozenset({UNIT}) for n in range(2)}
    planned = plan_sync(export, [person(n) for n in range(4)], TWO_UNITS, provider_hsa_id=PROVIDER, today=TODAY,
                        holders=holders)
    assert (len(planned.movers), planned.ending_memberships, planned.disables) == (3, 2, [])
    assert planned.disable_share == 0.5
    assert check_threshold(planned, 0.4, force=False) == (
        "planen inaktiverar 0 och avslutar behörigheterna för 2 som flyttar av 4 personer (50.0%), mer än "
        "tillåtna 40.0%. Kontrollera HR-filen; är ändringen avsedd, kör igen med --force.")
    report = SyncReport(plan=planned, dry_run=True)
    assert report.to_dict()["counts"]["movers"] == 3  # type: ignore[index]
    lines = report.lines()
    assert lines[1] == "  nyanställda: 0  flyttar: 3  slutat: 0"
    assert lines[3].startswith("Flyttar (3); behörigheter på den gamla enheten upphör")


def test_a_mover_whose_old_employment_has_already_ended_loses_the_old_access_when_the_sync_runs() -> None:
    export = read_export(rows(f"{pnr(1)};N;N1;{OTHER};T;{TODAY.isoformat()};"), name="hr.csv")
    [move] = plan_sync(export, [person(1)], TWO_UNITS, provider_hsa_id=PROVIDER, today=TODAY,
                       holders={"SE2321000255-P00001": frozenset({UNIT})}).movers
    assert move.memberships_end is None  # the day before today is over: no end in the past is written
    assert move.describe().endswith("behörigheterna där upphör när synkroniseringen körs)")
