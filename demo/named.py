"""The named demo patients (the same in every demo) and the building blocks of every demo patient.

Each named patient shows one thing the gate decides; demo/patients.py's docstring lists them. Their data does not
depend on the seed; dates that must stay current (open care contacts, open-ended consents) have no end, and the few
that must lie ahead (a booking, a temporary revoke) are placed relative to the day of loading.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import SQLModel
from stdnum import luhn

from catalog.directory import derived_commission_id
from catalog.identifiers import make_hsa_id, validate_personnummer
from demo import organisation as org
from demo.items import HALLAND_UNITS, NAMESPACE, History, ItemMaker
from kernel import clock
from overview import producers as P
from overview.gate import BlockKind, ConsentPurpose, ConsentScope, RelationKind, RevokeReason
from overview.models import Block, BlockRevoke, CareContact, Consent, Guardianship, Patient

SKANE, HALLAND, BLEKINGE = org.SKANE, org.HALLAND, org.BLEKINGE
HORBY, SUS_AKUT, LAKARHUSET = org.VC_HORBY, org.SUS_AKUT, org.LAKARHUSET
LAKARHUSET_PROVIDER = make_hsa_id("5567340004", "E00001")
SUS_MEDICIN = make_hsa_id(org.SKANE_ORG, "V1002")
SUS_KVINNO = make_hsa_id(org.SKANE_ORG, "V1010")  # Kvinnokliniken, SUS Malmö
HELSINGBORG_MEDICIN = make_hsa_id(org.SKANE_ORG, "V1012")
SJOBO = make_hsa_id(org.SKANE_ORG, "V2003")
SARA, ERIK = make_hsa_id(org.SKANE_ORG, "VCH2"), make_hsa_id(org.SKANE_ORG, "VCH3")
FATIMA = make_hsa_id(org.SKANE_ORG, "SUS2")
MIKAEL = make_hsa_id("5567340004", "CHEF1")
BLEKINGE_STAFF, HALLAND_STAFF = make_hsa_id("2321000081", "PDEMO1"), make_hsa_id("2321000115", "PDEMO1")


@dataclass
class Bundle:
    """One patient and every row that belongs to them."""

    patient: Patient
    rows: list[SQLModel] = field(default_factory=list)
    _counter: int = 0

    def uid(self, kind: str) -> str:
        """A deterministic ID for the next row of ``kind``."""
        self._counter += 1
        return str(uuid.uuid5(NAMESPACE, f"{self.patient.personnummer}:{kind}:{self._counter}"))

    def contact(self, unit: str, start: dt.datetime, end: dt.datetime | None = None,
                kind: RelationKind = RelationKind.CARE_CONTACT) -> None:
        self.rows.append(CareContact(id=self.uid("contact"), personnummer=self.patient.personnummer,
                                     care_unit_hsa_id=unit, kind=kind.value, start=start, end=end))

    def consent(self, unit: str, provider: str, by: str, start: dt.datetime, *, end: dt.datetime | None = None,
                scope: ConsentScope = ConsentScope.UNIT, purpose: ConsentPurpose = ConsentPurpose.OVERVIEW,
                represented_by: str | None = None, **state: Any) -> Consent:
        row = Consent(id=self.uid("consent"), personnummer=self.patient.personnummer, purpose=purpose.value,
                      scope=scope.value, care_provider_hsa_id=provider, care_unit_hsa_id=unit,
                      employee_hsa_id=by if scope is ConsentScope.EMPLOYEE else None, start=start, end=end,
                      registered_at=start, registered_by=by, registered_commission_hsa_id=derived_commission_id(unit),
                      represented_by=represented_by, **state)
        self.rows.append(row)
        return row

    def block(self, kind: BlockKind, provider: str, unit: str | None, registered: dt.datetime, by: str, *,
              info_start: dt.date | None = None, info_end: dt.date | None = None, excluded: str = "",
              guardian: bool = False) -> Block:
        row = Block(id=self.uid("block"), personnummer=self.patient.personnummer, kind=kind.value,
                    care_provider_hsa_id=provider, care_unit_hsa_id=unit, info_start=info_start, info_end=info_end,
                    excluded_types=excluded, registered_at=registered, registered_by=by,
                    registered_by_guardian=guardian, reason="På patientens begäran")
        self.rows.append(row)
        return row

    def revoke(self, block: Block, unit: str, end: dt.datetime, registered: dt.datetime, *,
               employee: str | None = None, reason: RevokeReason = RevokeReason.PATIENTS_CONSENT) -> None:
        self.rows.append(BlockRevoke(id=self.uid("revoke"), block_id=block.id, care_unit_hsa_id=unit,
                                     employee_hsa_id=employee, start=registered, end=end, reason=reason.value,
                                     registered_at=registered))

    def items(self, maker: ItemMaker) -> None:
        self.rows.extend(maker.items)


def make_personnummer(birth: dt.date, serial: int, *, coordination: bool = False) -> str:
    """A personnummer (or samordningsnummer: day + 60) with a valid check digit, as 12 digits."""
    body = f"{birth:%y%m}{birth.day + (60 if coordination else 0):02d}{serial:03d}"
    return validate_personnummer(f"{birth.year // 100:02d}{body}{luhn.calc_check_digit(body)}")


def _at(day: dt.date, hour: int = 8) -> dt.datetime:
    return clock.local_midnight(day) + dt.timedelta(hours=hour)


def _patient(given: str, surname: str, birth: dt.date, serial: int, street: str, postal: str, city: str, *,
             coordination: bool = False, protected: bool = False) -> Patient:
    return Patient(personnummer=make_personnummer(birth, serial, coordination=coordination), given_name=given,
                   surname=surname, street=street, postal_code=postal, city=city, birth_date=birth,
                   protected_identity=protected)


def _maker(patient: Patient, today: dt.date, history: History, count: int, region: str | None = None,
           region_count: int = 0) -> ItemMaker:
    maker = ItemMaker(patient, random.Random(patient.personnummer), today)
    maker.demographics(history.home_centre, "Vårdcentralen Hörby" if history.home_centre == HORBY
                       else "Vårdcentralen Sjöbo")
    maker.skane_history(history, count)
    if region:
        maker.region_history(region, region_count)
        system, unit = ((P.HALLAND_SYSTEM, HALLAND_UNITS[0]) if region == HALLAND
                        else (P.BLEKINGE_SYSTEM, make_hsa_id("2321000081", "V0001")))
        maker.add(system, "journalanteckning", region, unit, dt.date(2024, 3, 5), "Journalanteckning",
                  "Besök på akuten för yrsel. Utredning utan anmärkning.", document_kind="daganteckning",
                  profession="lakare")
    return maker


def astrid(today: dt.date) -> Bundle:
    """Full overview at VC Hörby; Halland under the unit's consent; drug list for Erik only; Läkarhuset's consent."""
    b = Bundle(_patient("Astrid", "Nilsson", dt.date(1948, 3, 12), 342, "Storgatan 12", "242 30", "Hörby"))
    maker = _maker(b.patient, today, History(HORBY, (SUS_AKUT, SUS_MEDICIN)), 22, HALLAND, 5)
    maker.add(P.MELIOR, "journalanteckning", SKANE, SUS_MEDICIN, dt.date(2019, 4, 2), "Scannat dokument",
              "Inscannad blankett.", document_kind="scannat")
    maker.add(P.MELIOR, "journalanteckning", SKANE, SUS_MEDICIN, dt.date(2021, 9, 14), "Remiss",
              "Remiss till ortopedmottagningen.", document_kind="remiss", profession="lakare")
    maker.add(P.PMO, "journalanteckning", SKANE, HORBY, dt.date(2011, 5, 20), "Läkarjournal",
              "Anteckning från före PMO-starten.", document_kind="lakarjournal", profession="lakare")
    maker.add(P.PASIS, "bokning", SKANE, HORBY, today + dt.timedelta(days=14), "Bokat besök",
              "Återbesök distriktsläkare.", setting=P.OUTPATIENT)
    maker.dispensing(dt.date(2025, 10, 3))
    maker.dispensing(dt.date(2026, 1, 9))
    b.items(maker)
    b.contact(HORBY, _at(dt.date(2024, 2, 1)))
    b.contact(LAKARHUSET, _at(dt.date(2025, 1, 10)))
    b.consent(HORBY, SKANE, SARA, _at(dt.date(2024, 2, 1), 9))
    b.consent(HORBY, SKANE, ERIK, _at(dt.date(2024, 2, 1), 10), scope=ConsentScope.EMPLOYEE,
              purpose=ConsentPurpose.DRUG_LIST)
    b.consent(LAKARHUSET, LAKARHUSET_PROVIDER, MIKAEL, _at(dt.date(2025, 1, 10), 9))
    return b


def bengt(today: dt.date) -> Bundle:
    """Region Blekinge's data is blocked (outer block); no consent: emergency access in two steps at SUS akut."""
    b = Bundle(_patient("Bengt", "Johansson", dt.date(1956, 9, 30), 215, "Åsvägen 4", "275 33", "Sjöbo"))
    b.items(_maker(b.patient, today, History(SJOBO, (SUS_AKUT, SUS_MEDICIN)), 16, BLEKINGE, 7))
    b.contact(SUS_AKUT, _at(dt.date(2025, 6, 1)))
    b.block(BlockKind.OUTER, BLEKINGE, None, _at(dt.date(2020, 5, 4)), BLEKINGE_STAFF)
    return b


def protected(today: dt.date) -> Bundle:
    """Skyddad identitet: name and address are never shown."""
    b = Bundle(_patient("Sanna", "Ek", dt.date(1990, 7, 21), 468, "Hemlig adress", "", "", protected=True))
    b.items(_maker(b.patient, today, History(HORBY, (SUS_MEDICIN,)), 10))
    b.contact(HORBY, _at(dt.date(2023, 9, 1)))
    return b


def elsa(today: dt.date) -> Bundle:
    """A child: her guardian gave the consent; a block the guardian registered has no effect."""
    b = Bundle(_patient("Elsa", "Karlsson", dt.date(2017, 5, 4), 128, "Lärkvägen 7", "242 31", "Hörby"))
    guardian = make_personnummer(dt.date(1985, 11, 2), 517)
    b.items(_maker(b.patient, today, History(HORBY, (SUS_AKUT,)), 8, HALLAND, 4))
    b.contact(HORBY, _at(dt.date(2023, 3, 1)))
    b.consent(HORBY, SKANE, SARA, _at(dt.date(2023, 3, 1), 9), represented_by=guardian)
    b.block(BlockKind.OUTER, HALLAND, None, _at(dt.date(2023, 4, 12)), HALLAND_STAFF, guardian=True)
    b.rows.append(Guardianship(guardian_personnummer=guardian, child_personnummer=b.patient.personnummer,
                               valid_from=b.patient.birth_date))  # she sees Elsa's log (patient view, D-76)
    return b


def omar(today: dt.date) -> Bundle:
    """Samordningsnummer; a personal consent and a drug-list consent for Fatima Ali only."""
    b = Bundle(_patient("Omar", "Haddad", dt.date(1992, 2, 14), 391, "Kvarngatan 2", "222 20", "Lund",
                        coordination=True))
    maker = _maker(b.patient, today, History(SJOBO, (SUS_AKUT,)), 10, HALLAND, 5)
    maker.dispensing(dt.date(2025, 8, 20))
    b.items(maker)
    b.contact(SUS_AKUT, _at(dt.date(2025, 9, 1)))
    b.consent(SUS_AKUT, SKANE, FATIMA, _at(dt.date(2025, 9, 1), 9), scope=ConsentScope.EMPLOYEE)
    b.consent(SUS_AKUT, SKANE, FATIMA, _at(dt.date(2025, 9, 1), 9), scope=ConsentScope.EMPLOYEE,
              purpose=ConsentPurpose.DRUG_LIST)
    return b


def gunnar(today: dt.date) -> Bundle:
    """No relation at VC Hörby or SUS akut (cared for in Helsingborg and Halland)."""
    b = Bundle(_patient("Gunnar", "Persson", dt.date(1940, 12, 1), 37, "Kullagatan 30", "252 20", "Helsingborg"))
    b.items(_maker(b.patient, today, History(SJOBO, (HELSINGBORG_MEDICIN,)), 12, HALLAND, 4))
    b.contact(HELSINGBORG_MEDICIN, _at(dt.date(2022, 3, 3)), _at(dt.date(2022, 3, 9)))
    b.contact(HALLAND_UNITS[0], _at(dt.date(2023, 8, 1)), _at(dt.date(2023, 8, 4)))
    return b


def cecilia(today: dt.date) -> Bundle:
    """Inner block on Kvinnokliniken SUS Malmö 2019–2021 (alert information excepted); revoke for Fatima Ali."""
    b = Bundle(_patient("Cecilia", "Holm", dt.date(1979, 6, 18), 244, "Bygatan 9", "242 32", "Hörby"))
    maker = _maker(b.patient, today, History(HORBY, (SUS_AKUT,)), 10)
    for day, title in ((dt.date(2019, 3, 5), "Mottagningsanteckning"), (dt.date(2020, 11, 17), "Slutanteckning"),
                       (dt.date(2021, 6, 2), "Mottagningsanteckning")):
        maker.add(P.MELIOR, "journalanteckning", SKANE, SUS_KVINNO, day, title, "Anteckning från kvinnokliniken.",
                  document_kind=title.lower(), profession="lakare")
    maker.add(P.PASIS, "uppmarksamhet", SKANE, SUS_KVINNO, dt.date(2020, 1, 8), "Smitta: MRSA",
              "Bärarskap av MRSA.", info_type="upp")
    b.items(maker)
    b.contact(HORBY, _at(dt.date(2024, 5, 1)))
    b.contact(SUS_AKUT, _at(dt.date(2025, 10, 1)))
    block = b.block(BlockKind.INNER, SKANE, SUS_KVINNO, _at(dt.date(2022, 1, 20)),
                    make_hsa_id(org.SKANE_ORG, "PDEMO1"), info_start=dt.date(2019, 1, 1),
                    info_end=dt.date(2021, 12, 31), excluded="upp")
    b.revoke(block, HORBY, _at(dt.date(2024, 6, 1)), _at(dt.date(2024, 5, 1)))  # expired
    b.revoke(block, SUS_AKUT, _at(today + dt.timedelta(days=365)), _at(dt.date(2025, 10, 1)), employee=FATIMA)
    return b


def dagny(today: dt.date) -> Bundle:
    """Consents at VC Hörby that were ended and voided: Region Halland's data needs a new consent."""
    b = Bundle(_patient("Dagny", "Svensson", dt.date(1935, 1, 27), 62, "Ringsjövägen 1", "242 94", "Hörby"))
    b.items(_maker(b.patient, today, History(HORBY, (SUS_MEDICIN,)), 10, HALLAND, 5))
    b.contact(HORBY, _at(dt.date(2022, 10, 3)))
    b.consent(HORBY, SKANE, SARA, _at(dt.date(2024, 1, 10), 9), voided_at=_at(dt.date(2024, 1, 10), 10),
              voided_by=SARA)
    b.consent(HORBY, SKANE, SARA, _at(dt.date(2024, 2, 1), 9), ended_at=_at(dt.date(2025, 3, 1)), ended_by=SARA)
    return b


_NAMED = (astrid, bengt, protected, elsa, omar, gunnar, cecilia, dagny)
NAMED: dict[str, str] = {}  # personnummer → what the named patient demonstrates (for docs and journeys)


ELSA_GUARDIAN = make_personnummer(dt.date(1985, 11, 2), 517)  # Elsa Karlsson's vårdnadshavare (not a patient here)


def patient_sign_in() -> list[tuple[str, str, str]]:
    """The patient view's dev sign-in list: the named patients and Elsa's guardian (personnummer, name, note)."""
    named = named_bundles(clock.local_date(clock.now()))
    lines = [(b.patient.personnummer, "Skyddad identitet" if b.patient.protected_identity else
              f"{b.patient.given_name} {b.patient.surname}", (NAMED[b.patient.personnummer] or "").split(";")[0])
             for b in named]
    return [*lines, (ELSA_GUARDIAN, "Vårdnadshavare till Elsa Karlsson", "Ser Elsas logg (barnet är under 13 år)")]


def named_bundles(today: dt.date) -> list[Bundle]:
    """The named patients, in the order of demo/patients.py's table."""
    bundles = [make(today) for make in _NAMED]
    NAMED.update({b.patient.personnummer: make.__doc__ or "" for b, make in zip(bundles, _NAMED, strict=True)})
    return bundles
