"""Benchmark: the pure PDL gate, ``overview.gate.decide``, over generated cases (never a timed test).

    .venv/bin/python bench/gate.py --json

Generates ``--cases`` mixed cases from a fixed seed (most pass checks 1–6 and carry 0–40 items from Region Skåne,
Halland, Blekinge and eHälsomyndigheten with consents, emergency openings and blocks; the rest fail somewhere in
1–6 or ask only the access checks), times each ``decide`` call alone (generation is not timed) and prints one JSON
object: ``decide_cases``, ``decide_p50_us``, ``decide_p99_us``, ``decide_mean_us``, ``peak_rss_mb`` and a few counts.

Each part is a function returning a dict, and ``main`` merges the parts: an HTTP part (the gated overview at 32
concurrent clients beside a trivial endpoint) can be added as another ``measure_*`` function without touching these.
Figures vary with the machine's load; compare them on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from catalog import demo  # noqa: E402
from overview import producers as P  # noqa: E402
from overview.gate import (  # noqa: E402
    BlockFacts,
    BlockKind,
    CommissionFacts,
    ConsentFacts,
    ConsentPurpose,
    ConsentScope,
    EmergencyFacts,
    GateFacts,
    ItemFacts,
    PatientFacts,
    RelationEvidence,
    RelationKind,
    RevokeReason,
    TemporaryRevoke,
    UserFacts,
    decide,
)

NOW = dt.datetime(2025, 3, 12, 2, 47, tzinfo=dt.UTC)
_PROVIDERS, _UNITS = demo.organisation()
_SKANE_UNITS = [u.hsa_id for u in _UNITS if u.provider_hsa_id == demo.SKANE and u.kind != "förvaltning"]
_OTHER = [(u.provider_hsa_id, u.hsa_id) for u in _UNITS if u.provider_hsa_id in {demo.HALLAND, demo.BLEKINGE}]
_SYSTEMS = {demo.HALLAND: P.HALLAND_SYSTEM, demo.BLEKINGE: P.BLEKINGE_SYSTEM}
_SKANE_ITEMS = [(P.PASIS, "diagnos"), (P.PASIS, "vardkontakt"), (P.PASIS, "demografi"), (P.MELIOR, "journalanteckning"),
                (P.PMO, "journalanteckning"), (P.RIS, "bilddiagnostik")]
_KINDS = [None, "slutanteckning", "mottagningsanteckning", "lakarjournal", "scannat", "remiss"]
_ITEM_COUNTS = [0, 1, 3, 5, 8, 12, 20, 40]


def _hours(rng: random.Random, low: int, high: int) -> dt.datetime:
    return NOW + dt.timedelta(hours=rng.randint(low, high))


def _item(rng: random.Random, index: int, own_unit: str) -> ItemFacts:
    roll = rng.random()
    if roll < 0.55:
        system, category = rng.choice(_SKANE_ITEMS)
        provider, unit = demo.SKANE, rng.choice([own_unit, *rng.sample(_SKANE_UNITS, 2)])
    elif roll < 0.9:
        provider, unit = rng.choice(_OTHER)
        system, category = _SYSTEMS[provider], rng.choice(["diagnos", "journalanteckning", "vardkontakt"])
    else:
        provider = unit = P.EHM_PROVIDER
        system, category = P.EHM, P.DRUG_LIST_CATEGORY
    date = NOW - dt.timedelta(days=rng.randint(0, 5000))
    return ItemFacts(f"i{index}", system, category, provider, unit, date, document_kind=rng.choice(_KINDS),
                     profession=rng.choice([None, P.DOCTOR, "sjukskoterska"]),
                     setting=rng.choice([P.OUTPATIENT, P.INPATIENT]), info_type=rng.choice([None, None, "lak", "upp"]))


def _commission(rng: random.Random, unit: str, index: int) -> CommissionFacts:
    purpose = "Vård och behandling" if rng.random() < 0.95 else "Statistik"
    right = rng.choice(["Läsa;Alla;SJF", "läsa;alla;sjf", "LÄSA;alla;SJF"]) if rng.random() < 0.95 else "Läsa;Alla"
    return CommissionFacts(f"{unit}-U{index}", "VoB SJF", purpose, (right,), NOW - dt.timedelta(days=400), None,
                           unit, "Vårdenhet", demo.SKANE, "Region Skåne", True)


def _block(rng: random.Random, index: int) -> BlockFacts:
    provider, unit = rng.choice([*_OTHER, (demo.SKANE, rng.choice(_SKANE_UNITS))])
    kind = BlockKind.INNER if provider == demo.SKANE else rng.choice(list(BlockKind))
    start = (NOW - dt.timedelta(days=rng.randint(100, 3000))).date() if rng.random() < 0.5 else None
    revokes = (TemporaryRevoke("r", unit, None, _hours(rng, -5, 48), RevokeReason.PATIENTS_CONSENT),) \
        if rng.random() < 0.2 else ()
    return BlockFacts(f"b{index}", kind, provider, unit if kind is BlockKind.INNER else None, info_start=start,
                      excluded_types=frozenset(rng.sample(["lak", "upp"], rng.randint(0, 2))), revokes=revokes)


def generate_case(rng: random.Random, rules: P.PublicationRules) -> GateFacts:
    """One mixed case: about four in five pass checks 1–6, 4 % ask only checks 1–5, the rest fail in 1–6."""
    user = f"SE2321000255-P{rng.randint(0, 99999):05d}"
    units = rng.sample(_SKANE_UNITS, rng.choice([1, 1, 1, 2, 3]))
    commissions = tuple(_commission(rng, unit, i) for i, unit in enumerate(units))
    chosen = commissions[0].hsa_id if len(commissions) > 1 and rng.random() < 0.9 else None
    own = commissions[0].unit_hsa_id or ""
    relation = RelationEvidence(own if rng.random() < 0.97 else rng.choice(_SKANE_UNITS),
                                rng.choice([RelationKind.CARE_CONTACT, RelationKind.BOOKING]), _hours(rng, -20, 0))
    consents = tuple(ConsentFacts(f"c{i}", rng.choice([ConsentPurpose.OVERVIEW, ConsentPurpose.DRUG_LIST]),
                                  ConsentScope.EMPLOYEE, demo.SKANE, own, user, _hours(rng, -300, 1),
                                  rng.choice([None, _hours(rng, -2, 300)]), _hours(rng, -300, 0),
                                  voided_at=_hours(rng, -10, 0) if rng.random() < 0.05 else None)
                     for i in range(rng.choice([0, 0, 1, 1, 2])))
    emergencies = (EmergencyFacts("e1", user, demo.SKANE, own, "Medvetslös", _hours(rng, -3, 0), _hours(rng, -1, 4),
                                  rng.random() < 0.5, frozenset({demo.HALLAND})),) if rng.random() < 0.1 else ()
    blocks = tuple(_block(rng, i) for i in range(rng.choice([0, 0, 0, 1, 2])))
    items = tuple(_item(rng, i, own) for i in range(rng.choice(_ITEM_COUNTS)))
    return GateFacts(UserFacts(user, certificate_error="Certifikatet har gått ut" if rng.random() < 0.02 else None),
                     commissions, chosen, True, 4, 4 if rng.random() < 0.97 else 3,
                     PatientFacts("191212121212", birth_date=dt.date(1950, 1, 1)) if rng.random() < 0.95 else None,
                     (relation,), consents, emergencies, blocks, items, rules)


def cases(count: int, seed: int) -> Iterator[GateFacts]:
    """``count`` cases from ``seed``, generated one at a time (they are never all in memory)."""
    rng, rules = random.Random(seed), P.demo_rules()
    for _ in range(count):
        yield generate_case(rng, rules)


def percentile(sorted_values: list[float], share: float) -> float:
    """The nearest-rank percentile of already sorted values."""
    return sorted_values[min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))]


def measure_decide(count: int, seed: int) -> dict[str, float | int]:
    """Time ``decide`` alone over ``count`` generated cases (µs per call)."""
    timings: list[float] = []
    allowed = items = 0
    clock = time.perf_counter_ns
    for facts in cases(count, seed):
        start = clock()
        decision = decide(facts, NOW)
        timings.append((clock() - start) / 1000)
        allowed += decision.allowed
        items += len(facts.items)
    timings.sort()
    return {"decide_cases": count, "decide_p50_us": round(percentile(timings, 0.50), 2),
            "decide_p99_us": round(percentile(timings, 0.99), 2),
            "decide_mean_us": round(statistics.fmean(timings), 2),
            "decide_allowed_share": round(allowed / count, 3), "decide_items_mean": round(items / count, 2)}


def peak_rss_mb() -> dict[str, float]:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    return {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run(parts: list[Callable[[], dict]]) -> dict:
    """Run the benchmark parts in order and merge their figures (peak RSS last, so it covers them all)."""
    figures: dict = {}
    for part in parts:
        figures |= part()
    return figures | peak_rss_mb()


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run the parts, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    figures = run([lambda: measure_decide(args.cases, args.seed)])
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>24}  {value}")


if __name__ == "__main__":
    main()
