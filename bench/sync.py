"""Benchmark: HR → Skånekatalogen reconciliation, beside OpenLDAP's own ldapadd as the floor (same run, same config).

    .venv/bin/python bench/sync.py --persons 50000 --json

Two fresh slapd instances with the project's config get the same organisation. Into one, OpenLDAP's C client
`ldapadd` loads the N persons the sync would create (as LDIF): the floor. Into the other, the reconciliation runs
three times: initial (N creates), no-op (same file), and a 1 % change (titles). Prints one JSON object.
Figures vary with the machine's load; run it on an otherwise idle machine and compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stdnum import luhn  # noqa: E402

from catalog import Directory  # noqa: E402
from catalog.bulk import BulkWriter  # noqa: E402
from catalog.entries import to_ldif  # noqa: E402
from catalog.hrexport import read_export, write_export  # noqa: E402
from catalog.reconcile import persons_in_scope, plan_sync, run_sync  # noqa: E402
from catalog.slapd import ManagedSlapd  # noqa: E402
from demo import organisation as demo  # noqa: E402

GIVEN = ["Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Sara", "Anders", "Emma", "Per", "Lena", "Nils", "Åsa",
         "Örjan", "Fatima", "Ali", "Elin", "Oskar", "Ingrid", "Björn"]
SURNAMES = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson",
            "Gustafsson", "Pettersson", "Jönsson", "Hansson", "Bengtsson", "Lindberg", "Åberg", "Holm", "Ek"]
TITLES = ["Sjuksköterska", "Undersköterska", "Läkare", "Specialistläkare", "Medicinsk sekreterare", "Fysioterapeut"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def personnummer(n: int) -> str:
    day = dt.date(1958, 1, 1) + dt.timedelta(days=n // 400)
    body = f"{day:%y%m%d}{n % 400 + 100:03d}"
    return f"{day:%Y}"[:2] + body + luhn.calc_check_digit(body)


def hr_rows(n: int, units: list[str], seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [{"personnummer": personnummer(i), "given_name": rng.choice(GIVEN), "surname": rng.choice(SURNAMES),
             "unit_hsa_id": units[i % len(units)], "title": rng.choice(TITLES),
             "employment_start": f"{2000 + i % 25}-0{1 + i % 9}-01", "employment_end": "", "hsa_title": "",
             "pa_title_code": "", "mail": ""} for i in range(n)]


def organisation_only(instance: ManagedSlapd, catalog: demo.DemoCatalog) -> None:
    phases = list(catalog.phases(instance.base))[:2]  # providers, units
    with BulkWriter(instance.app_config()) as writer:
        for phase in phases:
            for dn, classes, attrs in phase:
                writer.add(dn, dn, classes, attrs)
            writer.finish()


def slapd_peak_rss_mb(instance: ManagedSlapd) -> float:
    pid = instance.pid()
    if pid is None:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    args = parser.parse_args()
    log = (lambda *_: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    work = Path(tempfile.mkdtemp(prefix="npo-bench-sync-"))
    catalog = demo.generate(persons=20, seed=args.seed)
    units = [u.hsa_id for u in catalog.units if u.provider_hsa_id == demo.SKANE and u.kind != "förvaltning"]
    floor = ManagedSlapd(work / "floor", port=free_port())
    subject = ManagedSlapd(work / "subject", port=free_port())
    result: dict[str, object] = {"persons": args.persons}
    try:
        for instance in (floor, subject):
            instance.start()
            organisation_only(instance, catalog)
        source = work / "hr.csv"
        write_export(source, hr_rows(args.persons, units, args.seed))
        export = read_export(source)

        # the floor: ldapadd of exactly the entries the sync would create
        floor_dir = Directory(floor.app_config())
        current, unit_map = persons_in_scope(floor_dir, demo.SKANE)
        plan = plan_sync(export, current, unit_map, provider_hsa_id=demo.SKANE, today=dt.date.today())
        ldif = work / "persons.ldif"
        with ldif.open("w") as handle:
            from catalog import entries as E

            handle.writelines(to_ldif(
                (E.child_dn(unit_map[c.wanted.unit_hsa_id].dn, c.hsa_id), E.PERSON_CLASSES,
                 E.person_attributes(c.wanted)) for c in plan.creates))
        config = floor.app_config()
        log(f"ldapadd of {len(plan.creates)} persons …")
        started = time.perf_counter()
        subprocess.run(["ldapadd", "-x", "-H", config.url, "-D", config.bind_dn, "-w", config.password, "-f",
                        str(ldif)], check=True, stdout=subprocess.DEVNULL)
        result["ldapadd_s"] = round(time.perf_counter() - started, 2)
        floor_dir.close()

        directory = Directory(subject.app_config())
        log("initial sync …")
        report = run_sync(directory, export, provider_hsa_id=demo.SKANE, max_disable_share=0.05)
        assert report.ok and report.counts()["applied_create"] == args.persons, report.lines()
        result["initial_s"] = round(report.seconds, 2)
        log("no-op sync …")
        report = run_sync(directory, export, provider_hsa_id=demo.SKANE, max_disable_share=0.05)
        assert report.ok and not report.plan.changes
        result["noop_s"] = round(report.seconds, 2)
        rows = hr_rows(args.persons, units, args.seed)
        for row in random.Random(args.seed + 1).sample(rows, max(1, args.persons // 100)):
            row["title"] = row["title"] + ", samordnare"
        changed = work / "hr-changed.csv"
        write_export(changed, rows)
        log("1 % change …")
        changed_export = read_export(changed)
        report = run_sync(directory, changed_export, provider_hsa_id=demo.SKANE, max_disable_share=0.05)
        assert report.ok and report.counts()["applied_update"] == max(1, args.persons // 100)
        result["change_s"] = round(report.seconds, 2)
        result["ratio_initial_to_ldapadd"] = round(result["initial_s"] / result["ldapadd_s"], 2)  # type: ignore[operator]
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        result["slapd_peak_rss_mb"] = round(slapd_peak_rss_mb(subject), 1)
        directory.close()
    finally:
        floor.destroy()
        subject.destroy()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
