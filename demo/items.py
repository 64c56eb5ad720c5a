"""Synthetic producer items for the demo patients: every producer system, 2010 to today, Swedish content.

Used by demo/patients.py. Content is invented and clinically plausible only on the surface; it never describes a
real person. Items deliberately include what the producers do not publish (before their start dates, Melior's
scanned documents, letters and referrals, psychiatry) so that the gate's step 9 has something to refuse.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from catalog.identifiers import make_hsa_id
from catalog.model import CareUnit
from demo import organisation as org
from kernel.clock import local_midnight
from overview import producers as P
from overview.models import Patient, ProducerItem

NAMESPACE = uuid.UUID("0b6f0f5e-3d1c-4f8e-9d1a-5a4f2c7e8b90")
SKANE, HALLAND, BLEKINGE = org.SKANE, org.HALLAND, org.BLEKINGE
TELEFON_1177_UNIT = make_hsa_id(org.SKANE_ORG, "V1177")  # 1177 Vårdguiden på telefon (not in the catalog)
PSYCHIATRY_UNIT = make_hsa_id(org.SKANE_ORG, "V3001")  # produces nothing to NPÖ (seed)
PSYCHIATRY_UNIT_NAME = "Vuxenpsykiatri, Psykiatri Skåne Lund"
# Units that deliver items but are not in the demo organisation (demo/publication.py puts them into the demo's
# publication rules: psychiatry produces nothing, and the overview names both by these names).
PRODUCER_ONLY_UNITS = (CareUnit(PSYCHIATRY_UNIT, "", PSYCHIATRY_UNIT_NAME, SKANE, kind="psykiatri"),
                       CareUnit(TELEFON_1177_UNIT, "", "1177 Vårdguiden på telefon", SKANE, kind="telefonrådgivning"))
HALLAND_UNITS = (make_hsa_id("2321000115", "V0001"), make_hsa_id("2321000115", "V0002"))
BLEKINGE_UNITS = (make_hsa_id("2321000081", "V0001"), make_hsa_id("2321000081", "V0002"))

DIAGNOSES = ["I10 Essentiell hypertoni", "E11.9 Typ 2-diabetes utan komplikationer", "J45.9 Astma, ospecificerad",
             "M54.5 Lumbago", "J18.9 Pneumoni, ospecificerad", "N39.0 Urinvägsinfektion", "I48.9 Förmaksflimmer",
             "S52.5 Fraktur på nedre änden av radius", "K35.8 Akut appendicit", "J06.9 Övre luftvägsinfektion",
             "R07.4 Bröstsmärtor, ospecificerade", "L03.1 Cellulit i extremitet"]
NOTES = ["Besök för kontroll. Mår bra, inga nya besvär. BT 138/84. Fortsatt behandling enligt plan.",
         "Söker för hosta och feber sedan fyra dagar. Auskultation: rassel basalt höger. Antibiotika insatt.",
         "Uppföljning efter sjukhusvård. Orkar mer, sover bättre. Ny kontroll om tre månader.",
         "Ryggvärk efter lyft. Ingen utstrålning. Råd om rörelse, smärtstillande vid behov.",
         "Telefonkontakt: frågor om läkemedel. Informerad om dosering och biverkningar.",
         "Omläggning av sår på underben. Läker fint. Ny omläggning om en vecka."]
DRUGS = ["Metformin 500 mg tablett", "Enalapril 10 mg tablett", "Atorvastatin 20 mg tablett", "Waran 2,5 mg tablett",
         "Omeprazol 20 mg kapsel", "Paracetamol 500 mg tablett", "Salbutamol 0,1 mg/dos inhalator",
         "Levaxin 50 mikrog tablett"]
EXAMS = {"bilddiagnostik": ["Lungröntgen", "DT hjärna", "Ultraljud buk", "MR ländrygg", "Skelettröntgen handled"],
         "klinfys": ["Arbets-EKG", "Ekokardiografi", "24-timmars blodtryck"],
         "neurofys": ["EEG", "Neurografi armar"]}
MELIOR_KINDS = [("slutanteckning", "lakare", 3), ("mottagningsanteckning", "lakare", 4),
                ("mottagningsanteckning", "sjukskoterska", 2), ("omvardnadsanteckning", "sjukskoterska", 3),
                ("scannat", None, 1), ("brev", None, 1), ("remiss", "lakare", 1)]
PMO_KINDS = [("lakarjournal", "lakare", 4), ("skoterskejournal", "sjukskoterska", 3),
             ("paramedicinsk_journal", "fysioterapeut", 1), ("psykosocial_journal", "kurator", 1)]


@dataclass(frozen=True, slots=True)
class History:
    """Where a patient has been cared for: the items are spread over these units."""

    home_centre: str  # Region Skåne vårdcentral (PMO)
    hospitals: tuple[str, ...]  # Region Skåne hospital units (Melior, RIS)
    other_region: str | None = None  # HALLAND or BLEKINGE
    psychiatry: bool = False


def item_id(personnummer: str, number: int) -> str:
    """A deterministic item ID."""
    return str(uuid.uuid5(NAMESPACE, f"{personnummer}:item:{number}"))


class ItemMaker:
    """Builds one patient's items with deterministic IDs."""

    def __init__(self, patient: Patient, rng: random.Random, today: dt.date):
        self.patient, self.rng, self.today = patient, rng, today
        self.items: list[ProducerItem] = []

    def add(self, system: str, category: str, provider: str, unit: str, day: dt.date, title: str, body: str = "",
            *, hour: int = 10, **more: Any) -> ProducerItem:
        """One item on ``day`` (local time ``hour``)."""
        at = local_midnight(day) + dt.timedelta(hours=hour, minutes=self.rng.randrange(60))
        item = ProducerItem(id=item_id(self.patient.personnummer, len(self.items)),
                            personnummer=self.patient.personnummer, system=system, category=category,
                            care_provider_hsa_id=provider, care_unit_hsa_id=unit, date=at, title=title, body=body,
                            **more)
        self.items.append(item)
        return item

    def day(self, start: dt.date | None = None) -> dt.date:
        """A random day between ``start`` (default 2010-01-01, never before birth) and today."""
        first = max(start or dt.date(2010, 1, 1), self.patient.birth_date)
        return first + dt.timedelta(days=self.rng.randrange(max(1, (self.today - first).days)))

    def demographics(self, centre: str, centre_name: str) -> None:
        """Pasis: name and address, and the vårdcentral the patient is listed at (undated current state)."""
        p = self.patient
        self.add(P.PASIS, "demografi", SKANE, centre, self.today, "Namn och adress",
                 f"{p.given_name} {p.surname}, {p.street}, {p.postal_code} {p.city}")
        self.add(P.PASIS, "listning", SKANE, centre, self.today, "Vald vårdcentral", f"Listad vid {centre_name}")

    def skane_history(self, history: History, count: int) -> None:
        """``count`` items from Pasis, Melior, PMO, RIS, 1177 and eHälsomyndigheten."""
        makers = [self._contact, self._diagnosis, self._melior, self._melior, self._pmo, self._pmo, self._ris,
                  self._telefon, self._dispensing, self._booking]
        for _ in range(count):
            self.rng.choice(makers)(history)
        if history.psychiatry:
            self.add(P.MELIOR, "journalanteckning", SKANE, PSYCHIATRY_UNIT, self.day(dt.date(2015, 1, 1)),
                     "Mottagningsanteckning psykiatri", "Samtal om sömn och oro. Ny tid om två veckor.",
                     document_kind="mottagningsanteckning", profession="lakare")

    def region_history(self, provider: str, count: int) -> None:
        """Items from Region Halland or Region Blekinge (their own system key)."""
        system, units = ((P.HALLAND_SYSTEM, HALLAND_UNITS) if provider == HALLAND
                         else (P.BLEKINGE_SYSTEM, BLEKINGE_UNITS))
        for _ in range(count):
            unit, day = self.rng.choice(units), self.day()
            kind = self.rng.choice(["vardkontakt", "diagnos", "journalanteckning", "journalanteckning", "provsvar"])
            if kind == "journalanteckning":
                doc = self.rng.choice(["daganteckning", "daganteckning", "scannat"])
                self.add(system, kind, provider, unit, day, "Journalanteckning" if doc != "scannat"
                         else "Scannat dokument", self.rng.choice(NOTES), document_kind=doc, profession="lakare")
            elif kind == "vardkontakt":
                self.add(system, kind, provider, unit, day, "Besök", "Öppenvårdsbesök", setting=P.OUTPATIENT,
                         profession="lakare")
            elif kind == "diagnos":
                self.add(system, kind, provider, unit, day, self.rng.choice(DIAGNOSES))
            else:
                self.add(system, kind, provider, unit, day, "Provsvar: P-Glukos", "P-Glukos 6,1 mmol/L")

    # ------------------------------------------------------------------ one item per system
    def _contact(self, h: History) -> None:
        if self.rng.random() < 0.3:
            day = self.day()
            self.add(P.PASIS, "vardkontakt", SKANE, self.rng.choice(h.hospitals), day, "Vårdtillfälle",
                     "Inskriven via akutmottagningen.", setting=P.INPATIENT, profession="lakare",
                     date_end=local_midnight(day + dt.timedelta(days=self.rng.randint(1, 9))))
            return
        self.add(P.PASIS, "vardkontakt", SKANE, h.home_centre, self.day(), "Besök", "Öppenvårdsbesök",
                 setting=P.OUTPATIENT, profession=self.rng.choice(["lakare", "lakare", "sjukskoterska"]))

    def _booking(self, h: History) -> None:
        """A booked visit: ahead (shown) or already past (Pasis shows bookings ahead only)."""
        day = self.today + dt.timedelta(days=self.rng.randint(-200, 60))
        self.add(P.PASIS, "bokning", SKANE, h.home_centre, day, "Bokat besök", "Mottagningsbesök, distriktsläkare.",
                 setting=P.OUTPATIENT)

    def _diagnosis(self, h: History) -> None:
        self.add(P.PASIS, "diagnos", SKANE, self.rng.choice((h.home_centre, *h.hospitals)), self.day(),
                 self.rng.choice(DIAGNOSES), setting=P.OUTPATIENT)

    def _melior(self, h: History) -> None:
        kind, profession = self._weighted(MELIOR_KINDS)
        titles = {"scannat": "Scannat dokument", "brev": "Brev till patient", "remiss": "Remiss"}
        self.add(P.MELIOR, "journalanteckning", SKANE, self.rng.choice(h.hospitals), self.day(),
                 titles.get(kind) or P.DOCUMENT_KIND_NAMES[kind], self.rng.choice(NOTES), document_kind=kind,
                 profession=profession)

    def _pmo(self, h: History) -> None:
        if self.rng.random() < 0.1:
            self.add(P.PMO, "sammanfattning", SKANE, h.home_centre, self.day(), "Sammanfattning",
                     "Hypertoni sedan 2015, välbehandlad. Inga kända allergier.")
            return
        kind, profession = self._weighted(PMO_KINDS)
        self.add(P.PMO, "journalanteckning", SKANE, h.home_centre, self.day(),
                 P.DOCUMENT_KIND_NAMES.get(kind, kind), self.rng.choice(NOTES), document_kind=kind,
                 profession=profession)

    def _ris(self, h: History) -> None:
        category = self.rng.choice(["bilddiagnostik", "bilddiagnostik", "klinfys", "neurofys"])
        exam = self.rng.choice(EXAMS[category])
        self.add(P.RIS, category, SKANE, self.rng.choice(h.hospitals), self.day(), exam,
                 f"{exam}: inga akuta förändringar.")

    def _telefon(self, h: History) -> None:
        self.add(P.TELEFON_1177, "sjukskoterskeanteckning", SKANE, TELEFON_1177_UNIT, self.day(dt.date(2011, 1, 1)),
                 "Rådgivning 1177", "Ringer om feber. Egenvårdsråd, ny kontakt vid försämring.",
                 profession="sjukskoterska")

    def _dispensing(self, h: History | None = None) -> None:
        self.dispensing(self.day())

    def dispensing(self, day: dt.date) -> None:
        """A drug dispensing from eHälsomyndigheten (needs a personal drug-list consent)."""
        drug = self.rng.choice(DRUGS)
        self.add(P.EHM, P.DRUG_LIST_CATEGORY, P.EHM_PROVIDER, P.EHM_PROVIDER, day, drug, f"Uttag av {drug}, 100 st.",
                 info_type="lak")

    def _weighted(self, options: Sequence[tuple[str, str | None, int]]) -> tuple[str, str | None]:
        kind, profession, _w = self.rng.choices(options, weights=[o[2] for o in options])[0]
        return kind, profession
