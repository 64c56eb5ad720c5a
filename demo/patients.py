"""Deterministic synthetic patients for the overview: named patients first, then generated ones.

``load(session, patients=N, seed=S)`` writes N patients (the named ones included) with their producer items, care
contacts and bookings, consents and blocks; it is idempotent (a patient already present is left as it is). The
named patients are the same for every seed, so that docs and browser journeys can name them (``NAMED``):

* Astrid Nilsson, 19480312-3423: Sara Lund and Erik Månsson (VC Hörby) get a full overview; the unit's consent
  covers Region Halland; the drug list needs a personal consent (Erik has one); Mikael Andersson (Läkarhuset
  Söder, private) reads Region Skåne's data under his own unit's consent.
* Bengt Johansson, 19560930-2152: Region Blekinge's data is blocked (outer block) and there is no consent: Fatima
  Ali (SUS Lund akut) sees that blocked data exists and opens it by emergency access in two steps.
* Sanna Ek, 19900721-4688: skyddad identitet; name and address are never shown (VC Hörby).
* Elsa Karlsson, 20170504-1281: a child; her guardian gave the consent at VC Hörby; a block the guardian
  registered on Region Halland's data has no effect.
* Omar Haddad, 19920274-3911: samordningsnummer; a personal consent and a drug-list consent for Fatima Ali only
  (Anders Persson at the same unit sees less).
* Gunnar Persson, 19401201-0379: no patient relation at VC Hörby or SUS akut: refused, unless the user asserts one.
* Cecilia Holm, 19790618-2444: inner block on Kvinnokliniken SUS Malmö 2019–2021 (alert information excepted);
  Sara Lund learns only that blocked data exists; a temporary revoke lets Fatima Ali see it.
* Dagny Svensson, 19350127-0627: her consents at VC Hörby were voided and ended: Region Halland's data needs a new
  consent.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faker import Faker
from sqlmodel import Session, col, select

from demo import organisation as org
from demo.items import History, ItemMaker
from demo.named import NAMED, Bundle, make_personnummer, named_bundles
from kernel import clock
from overview.gate import BlockKind, ConsentPurpose, ConsentScope, RelationKind
from overview.models import Block, BlockRevoke, CareContact, Consent, Guardianship, Patient, ProducerItem

__all__ = ["NAMED", "Bundle", "LoadReport", "generate", "load", "make_personnummer"]

SKANE_CENTRES = [u for u in org.organisation()[1]
                 if u.provider_hsa_id == org.SKANE and u.kind == "vårdcentral"]
SKANE_HOSPITAL_UNITS = [u.hsa_id for u in org.organisation()[1]
                        if u.provider_hsa_id == org.SKANE and u.kind == "sjukhus"]
_ORDER = (Patient, Guardianship, ProducerItem, CareContact, Consent, Block, BlockRevoke)  # foreign keys point left


def generate(*, patients: int = 200, seed: int = 1, today: dt.date | None = None) -> list[Bundle]:
    """``patients`` bundles: the named patients first (the same for every seed), then generated ones."""
    today = today or clock.local_date(clock.now())
    bundles = named_bundles(today)[:patients]
    rng = random.Random(seed)
    fake = Faker("sv_SE")
    fake.seed_instance(seed)
    used = {b.patient.personnummer for b in bundles}
    while len(bundles) < patients:
        bundles.append(_generated(rng, fake, today, used))
    return bundles


def _generated(rng: random.Random, fake: Faker, today: dt.date, used: set[str]) -> Bundle:
    birth = dt.date(1932, 1, 1) + dt.timedelta(days=rng.randrange((today - dt.date(1932, 1, 1)).days - 30))
    while True:
        serial = rng.randrange(1000)
        pnr = make_personnummer(birth, serial, coordination=rng.random() < 0.03)
        if pnr not in used:
            used.add(pnr)
            break
    female = serial % 2 == 0
    deceased = today - dt.timedelta(days=rng.randrange(1, 900)) if birth.year < 1945 and rng.random() < 0.1 else None
    patient = Patient(personnummer=pnr, given_name=fake.first_name_female() if female else fake.first_name_male(),
                      surname=fake.last_name(), street=fake.street_address(), postal_code=fake.postcode(),
                      city=fake.city(), birth_date=birth, protected_identity=rng.random() < 0.02,
                      deceased_on=deceased)
    bundle = Bundle(patient)
    centre = org.VC_HORBY if rng.random() < 0.2 else rng.choice(SKANE_CENTRES).hsa_id
    hospitals = tuple({org.SUS_AKUT if rng.random() < 0.2 else rng.choice(SKANE_HOSPITAL_UNITS),
                       rng.choice(SKANE_HOSPITAL_UNITS)})
    region = rng.choice([org.HALLAND, org.BLEKINGE]) if rng.random() < 0.3 else None
    history = History(centre, hospitals, region, psychiatry=rng.random() < 0.05)
    maker = ItemMaker(patient, rng, today)
    maker.demographics(centre, next(u.name for u in SKANE_CENTRES if u.hsa_id == centre))
    maker.skane_history(history, rng.randint(6, 28))
    if region:
        maker.region_history(region, rng.randint(2, 8))
    bundle.items(maker)
    _relations(bundle, rng, today, history)
    if deceased is None:
        _consents(bundle, rng, today, history)
    if rng.random() < 0.08:
        _block(bundle, rng, today, history)
    return bundle


def _at(day: dt.date, hour: int = 8) -> dt.datetime:
    return clock.local_midnight(day) + dt.timedelta(hours=hour)


def _relations(bundle: Bundle, rng: random.Random, today: dt.date, history: History) -> None:
    since = today - dt.timedelta(days=rng.randrange(1, 1500))
    open_now = rng.random() < 0.5 and bundle.patient.deceased_on is None
    bundle.contact(history.home_centre, _at(since), None if open_now else _at(since + dt.timedelta(days=30)))
    for unit in history.hospitals:
        start = today - dt.timedelta(days=rng.randrange(0, 800))
        ongoing = rng.random() < 0.25 and bundle.patient.deceased_on is None
        bundle.contact(unit, _at(start), None if ongoing else _at(start + dt.timedelta(days=rng.randint(1, 8))))
    if rng.random() < 0.15 and bundle.patient.deceased_on is None:
        bundle.contact(history.home_centre, _at(today + dt.timedelta(days=rng.randint(1, 30)), 9), None,
                       kind=RelationKind.BOOKING)


def _employee(unit: str) -> str:
    """The demo employee who registered something at ``unit``: a cast member where the cast works there."""
    cast = [m.hsa_id for m in org.CAST if m.member_of == unit]
    return cast[-1] if cast else f"{unit.split('-')[0]}-PDEMO1"


def _consents(bundle: Bundle, rng: random.Random, today: dt.date, history: History) -> None:
    roll = rng.random()
    if roll > 0.35:
        return
    unit = rng.choice((history.home_centre, *history.hospitals))
    start = _at(today - dt.timedelta(days=rng.randrange(0, 300)))
    end = start + dt.timedelta(days=365) if rng.random() < 0.6 else None
    guardian = None
    if clock.local_date(start).year - bundle.patient.birth_date.year < 17:
        guardian = make_personnummer(bundle.patient.birth_date.replace(year=1980, day=1), rng.randrange(1000))
    by = _employee(unit)
    scope = ConsentScope.EMPLOYEE if roll < 0.07 else ConsentScope.UNIT
    state: dict[str, Any] = {}  # ended_* or voided_* columns of the consent
    if 0.07 <= roll < 0.12:
        state = {"ended_at": start + dt.timedelta(days=20), "ended_by": by}
    elif 0.12 <= roll < 0.15:
        state = {"voided_at": start + dt.timedelta(hours=1), "voided_by": by}
    bundle.consent(unit, org.SKANE, by, start, end=end, scope=scope, represented_by=guardian, **state)
    if roll < 0.05:
        bundle.consent(unit, org.SKANE, by, start, end=end, scope=ConsentScope.EMPLOYEE,
                       purpose=ConsentPurpose.DRUG_LIST)


def _block(bundle: Bundle, rng: random.Random, today: dt.date, history: History) -> None:
    registered = _at(today - dt.timedelta(days=rng.randrange(30, 2000)))
    if history.other_region:
        block = bundle.block(BlockKind.OUTER, history.other_region, None, registered, _employee(history.other_region))
    else:
        unit = rng.choice(SKANE_HOSPITAL_UNITS)
        start = dt.date(rng.randint(2012, 2022), 1, 1) if rng.random() < 0.4 else None
        block = bundle.block(BlockKind.INNER, org.SKANE, unit, registered, _employee(unit), info_start=start,
                             info_end=start.replace(year=start.year + 2) if start else None,
                             excluded=rng.choice(["", "", "upp", "lak,upp"]))
    if rng.random() < 0.2:
        bundle.revoke(block, history.home_centre, _at(today + dt.timedelta(days=rng.randint(1, 60))), registered)


@dataclass(frozen=True, slots=True)
class LoadReport:
    """How many patients a load wrote and found already present."""

    created: int
    existing: int
    rows: int


def load(session: Session, *, patients: int = 200, seed: int = 1, today: dt.date | None = None,
         progress: Callable[[int, int], None] | None = None) -> LoadReport:
    """Write the demo patients that are not there yet (flushes; the caller commits)."""
    bundles = generate(patients=patients, seed=seed, today=today)
    present: set[str] = set()
    pnrs = [b.patient.personnummer for b in bundles]
    for start in range(0, len(pnrs), 500):
        present |= set(session.exec(select(Patient.personnummer).where(
            col(Patient.personnummer).in_(pnrs[start:start + 500]))).all())
    new = [b for b in bundles if b.patient.personnummer not in present]
    rows = 0
    for index, model in enumerate(_ORDER):
        batch = [b.patient for b in new] if model is Patient else [r for b in new for r in b.rows
                                                                    if isinstance(r, model)]
        session.add_all(batch)
        session.flush()
        rows += len(batch)
        if progress:
            progress(index + 1, len(_ORDER))
    return LoadReport(created=len(new), existing=len(present), rows=rows)
