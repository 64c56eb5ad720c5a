"""Deterministic demo content for Skånekatalogen: Region Skåne, private health-choice providers, two other regions.

``generate(persons=N, seed=S)`` always yields the same catalog for the same N and S. A fixed cast of named people
(the approvers, a few unit managers and clinicians, see :data:`CAST`) exists in every demo so that the dev login,
the docs and the browser journeys can name them; the rest are Faker (sv_SE) staff spread over the units.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from faker import Faker

from catalog import entries as E
from catalog.bulk import BulkWriter
from catalog.directory import derived_commission_id
from catalog.identifiers import make_hsa_id, validate_personnummer
from catalog.ldapconn import DirectoryConfig, DirectoryUnavailable
from catalog.model import (
    SJF_READ_RIGHT,
    VOB_PURPOSE,
    VOB_SJF_NAME,
    CareProvider,
    CareUnit,
    Commission,
    Management,
    Membership,
    Person,
    Role,
    RoleName,
    Validity,
)
from kernel.clock import local_date, local_midnight

SKANE_ORG = "2321000255"
SKANE = "SE2321000255-E00001"
HALLAND = "SE2321000115-E00001"
BLEKINGE = "SE2321000081-E00001"
HALSOVAL = "Hälsoval Skåne (LOV)"

HOSPITALS = {
    "SUS Lund": ["Akutmottagningen", "Medicinska kliniken", "Infektionskliniken", "Ortopedkliniken",
                 "Barn- och ungdomsmedicin", "Geriatriska kliniken"],
    "SUS Malmö": ["Akutmottagningen", "Medicinska kliniken", "Kirurgiska kliniken", "Kvinnokliniken"],
    "Helsingborgs lasarett": ["Akutmottagningen", "Medicinska kliniken", "Ortopedkliniken"],
    "Centralsjukhuset Kristianstad": ["Akutmottagningen", "Medicinska kliniken", "Kirurgiska kliniken"],
    "Ystads lasarett": ["Akutmottagningen", "Medicinska kliniken"],
    "Landskrona lasarett": ["Medicinska kliniken"],
    "Trelleborgs lasarett": ["Medicinska kliniken", "Ortopedkliniken"],
    "Ängelholms sjukhus": ["Medicinska kliniken"],
    "Hässleholms sjukhus": ["Medicinska kliniken"],
}
VARDCENTRALER = ["Åhus", "Hörby", "Sjöbo", "Eslöv", "Höör", "Simrishamn", "Tomelilla", "Kävlinge", "Lomma",
                 "Staffanstorp", "Svedala", "Skurup", "Vellinge", "Bjuv", "Klippan", "Perstorp", "Osby", "Broby",
                 "Bromölla", "Svalöv", "Båstad", "Höganäs", "Åstorp", "Tollarp", "Degeberga", "Löberöd"]
ADMIN_UNITS = {"ADM01": "Skåneförvaltningen, Regionservice", "ADM02": "Koncernkontoret, Avtalsförvaltning",
               "ADM03": "Vårdgivarservice", "ADM04": "IT Kundtjänst Privata",
               "ADM05": "Digitalisering, NPÖ-förvaltning"}
PRIVATE_PROVIDERS = [
    # (org number stem, name, consumer, [(unit local id, unit name, town)])
    ("556612", "Vårdcentralen Kärnan AB", True, [("VC01", "Vårdcentralen Kärnan", "Helsingborg")]),
    ("556734", "Läkarhuset Söder i Malmö AB", True, [("VC01", "Läkarhuset Söder", "Malmö"),
                                                    ("VC02", "Läkarhuset Limhamn", "Malmö")]),
    ("556845", "Hälsans Vårdcentral i Lund AB", True, [("VC01", "Hälsans Vårdcentral", "Lund")]),
    ("556956", "Österlens Läkargrupp AB", True, [("VC01", "Österlens Läkargrupp Simrishamn", "Simrishamn"),
                                                 ("VC02", "Österlens Läkargrupp Tomelilla", "Tomelilla")]),
    ("559123", "Familjeläkarna i Landskrona AB", False, [("VC01", "Familjeläkarna Landskrona", "Landskrona")]),
]
OTHER_REGIONS = [
    (HALLAND, "Region Halland", "2321000115", [("V0001", "Hallands sjukhus Halmstad, Medicinkliniken", "Halmstad"),
                                              ("V0002", "Vårdcentralen Laholm", "Laholm")]),
    (BLEKINGE, "Region Blekinge", "2321000081", [("V0001", "Blekingesjukhuset Karlskrona, Akutkliniken",
                                                  "Karlskrona"),
                                                 ("V0002", "Vårdcentralen Olofström", "Olofström")]),
]
TITLES = [  # (title, hsaTitle or None, paTitleCode, weight)
    ("Sjuksköterska", "Sjuksköterska", "301010", 30),
    ("Undersköterska", None, "321010", 25),
    ("Läkare", "Läkare", "201010", 15),
    ("Specialistläkare", "Läkare", "202010", 8),
    ("Medicinsk sekreterare", None, "411010", 8),
    ("Fysioterapeut", "Fysioterapeut", "341010", 4),
    ("Arbetsterapeut", "Arbetsterapeut", "342010", 3),
    ("Barnmorska", "Barnmorska", "303010", 2),
    ("Kurator", "Hälso- och sjukvårdskurator", "351010", 2),
    ("Psykolog", "Psykolog", "352010", 1),
    ("Dietist", "Dietist", "343010", 1),
    ("Biomedicinsk analytiker", "Biomedicinsk analytiker", "361010", 1),
]


@dataclass(frozen=True)
class CastMember:
    """A named demo identity every demo contains."""

    hsa_id: str
    given_name: str
    surname: str
    title: str
    unit_hsa_id: str
    personnummer: str
    roles: tuple[tuple[RoleName, str | None], ...] = ()
    manages: tuple[str, ...] = ()
    member_of: str | None = None  # unit whose VoB SJF commission the person holds
    note: str = ""


def _org(stem: str) -> str:
    """Complete a 6-digit stem to a valid 10-digit organisationsnummer (deterministic)."""
    for tail in range(1000):
        body = f"{stem}{tail:03d}"
        for check in range(10):
            candidate = f"{body}{check}"
            try:
                make_hsa_id(candidate, "X")
                return candidate
            except ValueError:
                continue
    raise AssertionError(stem)


def _skane(local: str) -> str:
    return make_hsa_id(SKANE_ORG, local)


def private_unit_id(stem: str, local: str) -> str:
    """HSA-ID of a private provider's unit in the demo."""
    return make_hsa_id(_org(stem), local)


VC_AHUS = _skane("V2001")  # Vårdcentralen Åhus: public, no commission yet (the ordering journey starts here)
VC_HORBY = _skane("V2002")  # Vårdcentralen Hörby: public, holds VoB SJF
SUS_AKUT = _skane("V1001")  # SUS Lund, Akutmottagningen: public, holds VoB SJF
KARNAN = private_unit_id("556612", "VC01")  # private health choice, no commission yet
LAKARHUSET = private_unit_id("556734", "VC01")  # private health choice, holds VoB SJF

CAST = [
    CastMember(_skane("SKF1"), "Karin", "Lindqvist", "Handläggare, Skåneförvaltningen", _skane("ADM01"),
               "197503142387", roles=((RoleName.SKANEFORVALTNINGEN, None),), note="attesterar offentliga uppdrag"),
    CastMember(_skane("KK1"), "Per", "Holmberg", "Avtalsförvaltare, Koncernkontoret", _skane("ADM02"),
               "196811073110", roles=((RoleName.CONTRACT_MANAGER, None),), note="avtalsförvaltare hälsoval"),
    CastMember(_skane("VGS1"), "Eva", "Bergström", "Handläggare, Vårdgivarservice", _skane("ADM03"),
               "198002219023", roles=((RoleName.VARDGIVARSERVICE, None),), note="Vårdgivarservice"),
    CastMember(_skane("ITKP1"), "Jonas", "Ek", "Handläggare, IT Kundtjänst Privata", _skane("ADM04"),
               "199104305678", roles=((RoleName.IT_KUNDTJANST_PRIVATA, None),), note="IT Kundtjänst Privata"),
    CastMember(_skane("ADM1"), "Lena", "Sjöberg", "Systemförvaltare NPÖ", _skane("ADM05"), "197009096848",
               roles=((RoleName.SYSTEM_ADMIN, None), (RoleName.SERVICE_DESK, None)), note="systemförvaltning"),
    CastMember(_skane("VCA1"), "Maria", "Olsson", "Verksamhetschef", VC_AHUS, "197206152428",
               manages=(VC_AHUS,), note="chef Vårdcentralen Åhus"),
    CastMember(_skane("VCA2"), "Ahmed", "Hassan", "Sjuksköterska", VC_AHUS, "198507253212",
               roles=((RoleName.UNIT_CATALOG_ADMIN, VC_AHUS),), note="katalogadministratör Åhus"),
    CastMember(_skane("VCA3"), "Johanna", "Berg", "Distriktssköterska", VC_AHUS, "199012012382",
               note="sjuksköterska Åhus"),
    CastMember(_skane("VCH1"), "Sofia", "Nilsson", "Verksamhetschef", VC_HORBY, "197811206643",
               manages=(VC_HORBY,), member_of=VC_HORBY, note="chef Vårdcentralen Hörby"),
    CastMember(_skane("VCH2"), "Sara", "Lund", "Sjuksköterska", VC_HORBY, "198803038820", member_of=VC_HORBY,
               note="sjuksköterska Hörby"),
    CastMember(_skane("VCH3"), "Erik", "Månsson", "Läkare", VC_HORBY, "198204117553", member_of=VC_HORBY,
               roles=((RoleName.UNIT_CATALOG_ADMIN, VC_HORBY),), note="läkare Hörby, katalogadministratör"),
    CastMember(_skane("SUS1"), "Anders", "Persson", "Verksamhetschef", SUS_AKUT, "196905301237",
               manages=(SUS_AKUT,), member_of=SUS_AKUT, note="chef Akutmottagningen SUS Lund"),
    CastMember(_skane("SUS2"), "Fatima", "Ali", "Specialistläkare", SUS_AKUT, "198609144327", member_of=SUS_AKUT,
               note="akutläkare SUS Lund"),
    CastMember(make_hsa_id(_org("556612"), "CHEF1"), "Helena", "Strand", "Verksamhetschef", KARNAN,
               "197404046661", manages=(KARNAN,), note="chef Vårdcentralen Kärnan (privat)"),
    CastMember(make_hsa_id(_org("556612"), "SSK1"), "Oskar", "Lindgren", "Sjuksköterska", KARNAN, "199302026654",
               note="sjuksköterska Kärnan"),
    CastMember(make_hsa_id(_org("556612"), "LAK1"), "Elin", "Fredriksson", "Läkare", KARNAN, "198711118888",
               note="läkare Kärnan"),
    CastMember(make_hsa_id(_org("556734"), "CHEF1"), "Mikael", "Andersson", "Verksamhetschef", LAKARHUSET,
               "197107078896", manages=(LAKARHUSET,), member_of=LAKARHUSET, note="chef Läkarhuset Söder"),
]


@dataclass
class DemoCatalog:
    """Everything one demo load writes, parents before children."""

    providers: list[CareProvider] = field(default_factory=list)
    units: list[CareUnit] = field(default_factory=list)
    persons: list[Person] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    commissions: list[Commission] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)

    def phases(self, base: str) -> Iterator[list[tuple[str, list[str], dict[str, Any]]]]:
        """The entries in load order, one list per tree level (a level must exist before the next)."""
        provider_dn = {p.hsa_id: E.child_dn(base, p.hsa_id) for p in self.providers}
        unit_dn = {u.hsa_id: E.child_dn(provider_dn[u.provider_hsa_id], u.hsa_id) for u in self.units}
        commission_dn = {c.hsa_id: E.child_dn(unit_dn[c.unit_hsa_id], c.hsa_id) for c in self.commissions}
        yield [(provider_dn[p.hsa_id], E.PROVIDER_CLASSES, E.provider_attributes(p)) for p in self.providers]
        yield [(unit_dn[u.hsa_id], E.UNIT_CLASSES, E.unit_attributes(u)) for u in self.units]
        level3 = [(E.child_dn(unit_dn[p.unit_hsa_id or ""], p.hsa_id), E.PERSON_CLASSES, E.person_attributes(p))
                  for p in self.persons]
        level3 += [(E.child_dn(unit_dn[c.unit_hsa_id], c.hsa_id), E.COMMISSION_CLASSES, E.commission_attributes(c))
                   for c in self.commissions]
        level3 += [(E.role_dn(base, r.name.value, r.scope), E.ROLE_CLASSES, E.role_attributes(r))
                   for r in self.roles]
        yield level3
        yield [(E.membership_dn(commission_dn[m.commission_hsa_id], m.person_hsa_id), E.MEMBERSHIP_CLASSES,
                E.membership_attributes(m)) for m in self.memberships]


def organisation() -> tuple[list[CareProvider], list[CareUnit]]:
    """The demo's vårdgivare and vårdenheter (no people): the same for every seed."""
    providers = [CareProvider(SKANE, "", "Region Skåne", SKANE_ORG, Management.PUBLIC, None, True, True,
                              "npo-forvaltning@skane.example")]
    units: list[CareUnit] = []
    number = 1000
    for hospital, departments in HOSPITALS.items():
        for department in departments:
            number += 1
            units.append(CareUnit(_skane(f"V{number}"), "", f"{department}, {hospital}", SKANE, kind="sjukhus",
                                  locality=hospital.split()[-1]))
    for index, town in enumerate(VARDCENTRALER, start=1):
        units.append(CareUnit(_skane(f"V{2000 + index}"), "", f"Vårdcentralen {town}", SKANE, kind="vårdcentral",
                              locality=town))
    for local, name in ADMIN_UNITS.items():
        units.append(CareUnit(_skane(local), "", name, SKANE, kind="förvaltning", locality="Malmö"))
    for stem, name, consumer, private_units in PRIVATE_PROVIDERS:
        org = _org(stem)
        provider_id = make_hsa_id(org, "E00001")
        agreement = f"{HALSOVAL}, avtal {org[-4:]}"
        providers.append(CareProvider(provider_id, "", name, org, Management.PRIVATE, agreement, consumer, False))
        units += [CareUnit(make_hsa_id(org, local), "", unit_name, provider_id, kind="vårdcentral",
                           care_agreement=agreement, locality=town) for local, unit_name, town in private_units]
    for provider_id, name, org, region_units in OTHER_REGIONS:
        providers.append(CareProvider(provider_id, "", name, org, Management.PUBLIC, None, True, True))
        units += [CareUnit(make_hsa_id(org, local), "", unit_name, provider_id,
                           kind="sjukhus" if "sjukhus" in unit_name else "vårdcentral", locality=town)
                  for local, unit_name, town in region_units]
    return providers, units


def generate(*, persons: int = 2000, seed: int = 1, today: dt.date | None = None) -> DemoCatalog:
    """A deterministic demo catalog with ``persons`` people in all (the cast included)."""
    today = today or dt.date.today()
    rng = random.Random(seed)
    fake = Faker("sv_SE")
    fake.seed_instance(seed)
    providers, units = organisation()
    catalog = DemoCatalog(providers=providers)
    care_units = [u for u in units if u.kind != "förvaltning"]
    by_id = {u.hsa_id: u for u in units}
    managers: dict[str, str] = {}
    used_ids: set[str] = set()
    used_pnr: set[str] = set()

    def add_person(hsa_id: str, given: str, surname: str, title: str, unit_id: str, pnr: str,
                   hsa_title: str | None, pa_code: str | None) -> Person:
        used_ids.add(hsa_id.upper())
        used_pnr.add(pnr)
        start = today - dt.timedelta(days=rng.randint(60, 6000))
        person = Person(hsa_id=hsa_id, dn="", given_name=given, surname=surname, personnummer=pnr, title=title,
                        hsa_titles=(hsa_title,) if hsa_title else (), pa_title_codes=(pa_code,) if pa_code else (),
                        mail=f"{_ascii(given)}.{_ascii(surname)}.{hsa_id.split('-')[-1].lower()}@"
                             f"{'skane' if hsa_id.startswith('SE2321000255') else 'vard'}.example",
                        unit_hsa_id=unit_id, employment_start=local_midnight(start))
        catalog.persons.append(person)
        return person

    titles_by_name = {t[0]: t for t in TITLES}
    for member in CAST:
        _t, hsa_title, pa, _w = titles_by_name.get(member.title, (member.title, None, None, 0))
        add_person(member.hsa_id, member.given_name, member.surname, member.title, member.unit_hsa_id,
                   validate_personnummer(member.personnummer), hsa_title, pa)
        for unit_id in member.manages:
            managers[unit_id] = member.hsa_id

    weights = [3 if u.kind == "sjukhus" else 1 for u in care_units]
    title_weights = [t[3] for t in TITLES]
    org_of = {p.hsa_id: p.org_no for p in providers}
    # every care unit gets a manager first, then staff are spread by weight
    remaining = max(0, persons - len(catalog.persons))
    assignments = [u for u in care_units if u.hsa_id not in managers][:remaining]
    assignments += rng.choices(care_units, weights=weights, k=remaining - len(assignments))
    for unit in assignments:
        org = org_of[unit.provider_hsa_id]
        hsa_id = _new_id(rng, org, used_ids)
        pnr = _new_pnr(fake, used_pnr)
        if unit.hsa_id not in managers:
            managers[unit.hsa_id] = hsa_id
            add_person(hsa_id, fake.first_name(), fake.last_name(), "Verksamhetschef", unit.hsa_id, pnr,
                       "Läkare" if rng.random() < 0.5 else "Sjuksköterska", "101010")
            continue
        title, hsa_title, pa, _w = rng.choices(TITLES, weights=title_weights)[0]
        add_person(hsa_id, fake.first_name(), fake.last_name(), title, unit.hsa_id, pnr, hsa_title, pa)

    catalog.units = [replace(u, manager_hsa_id=managers.get(u.hsa_id)) for u in units]
    _roles(catalog, by_id)
    _commissions(catalog, rng, today)
    return catalog


def _roles(catalog: DemoCatalog, units: dict[str, CareUnit]) -> None:
    held: dict[tuple[RoleName, str | None], list[str]] = {}
    for member in CAST:
        for role in member.roles:
            held.setdefault(role, []).append(member.hsa_id)
    mails = {RoleName.SKANEFORVALTNINGEN: "skaneforvaltningen@skane.example",
             RoleName.CONTRACT_MANAGER: "avtalsforvaltning@skane.example",
             RoleName.VARDGIVARSERVICE: "vardgivarservice@skane.example",
             RoleName.IT_KUNDTJANST_PRIVATA: "it-kundtjanst-privata@skane.example",
             RoleName.SYSTEM_ADMIN: "npo-forvaltning@skane.example",
             RoleName.SERVICE_DESK: "servicedesk@skane.example"}
    for name in RoleName:
        if name is RoleName.UNIT_CATALOG_ADMIN:
            continue
        catalog.roles.append(Role(name, "", None, tuple(held.get((name, None), ())), mails.get(name)))
    # one catalog administrator per public care unit: the cast's where given, else the first staff member
    first_staff: dict[str, str] = {}
    for person in catalog.persons:
        if person.title != "Verksamhetschef":
            first_staff.setdefault(person.unit_hsa_id or "", person.hsa_id)
    for unit in units.values():
        if unit.provider_hsa_id != SKANE or unit.kind == "förvaltning":
            continue
        members = held.get((RoleName.UNIT_CATALOG_ADMIN, unit.hsa_id)) or (
            [first_staff[unit.hsa_id]] if unit.hsa_id in first_staff else [])
        catalog.roles.append(Role(RoleName.UNIT_CATALOG_ADMIN, "", unit.hsa_id, tuple(members)))


def _commissions(catalog: DemoCatalog, rng: random.Random, today: dt.date) -> None:
    """About 40 % of care units hold VoB SJF (fixed for the cast's units); ~60 % of their staff are members."""
    holding = {VC_HORBY, SUS_AKUT, LAKARHUSET}
    never = {VC_AHUS, KARNAN}
    for unit in catalog.units:
        if unit.kind == "förvaltning" or unit.hsa_id in never:
            continue
        if unit.hsa_id in holding or rng.random() < 0.4:
            holding.add(unit.hsa_id)
    start = local_midnight(dt.date(2024, 1, 1))
    for unit_id in sorted(holding):
        commission_id = derived_commission_id(unit_id)
        catalog.commissions.append(Commission(commission_id, "", VOB_SJF_NAME, VOB_PURPOSE, (SJF_READ_RIGHT,),
                                              unit_id, Validity(start), "demo"))
    cast_members = {(m.member_of, m.hsa_id) for m in CAST if m.member_of}
    for person in catalog.persons:
        unit_id = person.unit_hsa_id or ""
        if unit_id not in holding:
            continue
        is_cast = (unit_id, person.hsa_id) in cast_members
        if not is_cast and (any(person.hsa_id == m.hsa_id for m in CAST) or rng.random() >= 0.6):
            continue
        begin = local_midnight(today - dt.timedelta(days=rng.randint(1, 700)))
        roll = rng.random()
        end = None
        if not is_cast and roll < 0.05:
            end = local_midnight(today + dt.timedelta(days=rng.randint(1, 30)))  # ends soon
        elif not is_cast and roll < 0.08:
            end = local_midnight(today - dt.timedelta(days=rng.randint(1, 90)))  # already ended
        catalog.memberships.append(Membership(derived_commission_id(unit_id), person.hsa_id, "",
                                              Validity(begin, end), "demo"))


def _new_id(rng: random.Random, org: str, used: set[str]) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    while True:
        candidate = f"SE{org}-P{''.join(rng.choice(alphabet) for _ in range(6))}"
        if candidate.upper() not in used:
            return candidate


def _new_pnr(fake: Faker, used: Container[str | None]) -> str:
    while True:
        # Faker's types describe the default locale's ssn(); the sv_SE provider's takes min_age and max_age
        pnr = validate_personnummer(fake.ssn(min_age=19, max_age=67))  # type: ignore[call-arg]  # see above
        if pnr not in used:
            return pnr


def _ascii(text: str) -> str:
    table = str.maketrans({"å": "a", "ä": "a", "ö": "o", "Å": "a", "Ä": "a", "Ö": "o", "é": "e", "ü": "u"})
    return "".join(c for c in text.translate(table).lower() if c.isalnum())


@dataclass
class LoadReport:
    """How many entries a demo load wrote (existing entries count as written: the load is idempotent)."""

    written: int = 0
    failed: list[str] = field(default_factory=list)


def load(config: DirectoryConfig, catalog: DemoCatalog, *, progress: Callable[[int, int], None] | None = None
         ) -> LoadReport:
    """Write the demo into the directory, level by level, pipelined; existing entries are left as they are."""
    report = LoadReport()
    phases = list(catalog.phases(config.base))
    total = sum(len(p) for p in phases)
    for phase in phases:
        with BulkWriter(config) as writer:
            for dn, classes, attrs in phase:
                writer.add(dn, dn, classes, attrs)
            result = writer.finish()
        if result.unavailable:
            raise DirectoryUnavailable(f"Skånekatalogen stopped answering during the demo load: {result.unavailable}")
        report.written += len(result.done)
        report.failed += [f"{o.tag}: {o.message} ({o.code})" for o in result.failed]
        if progress:
            progress(report.written + len(report.failed), total)
    return report


def hr_export_rows(catalog: DemoCatalog, *, seed: int = 1, today: dt.date | None = None) -> list[dict[str, str]]:
    """An HR export of Region Skåne matching the demo, with a few realistic differences to reconcile:
    three leavers missing, two new hires, three changed titles, one bad personnummer and one unknown unit."""
    today = today or dt.date.today()
    rng = random.Random(seed + 7)
    fake = Faker("sv_SE")
    fake.seed_instance(seed + 7)
    cast_ids = {m.hsa_id for m in CAST}
    skane = [p for p in catalog.persons if p.hsa_id.startswith("SE2321000255")]
    candidates = [p for p in skane if p.hsa_id not in cast_ids]
    picked = [p.hsa_id for p in rng.sample(candidates, min(6, len(candidates)))]
    leavers, retitled = set(picked[:3]), set(picked[3:])
    rows = []
    for person in skane:
        if person.hsa_id in leavers:
            continue
        start = local_date(person.employment_start) if person.employment_start else today
        rows.append({
            "personnummer": person.personnummer or "", "given_name": person.given_name, "surname": person.surname,
            "unit_hsa_id": person.unit_hsa_id or "",
            "title": f"{person.title}, samordnare" if person.hsa_id in retitled else person.title or "",
            "employment_start": start.isoformat(), "employment_end": "",
            "hsa_title": "|".join(person.hsa_titles), "pa_title_code": "|".join(person.pa_title_codes),
            "mail": person.mail or ""})
    used = {p.personnummer for p in catalog.persons}
    vc = [u for u in catalog.units if u.provider_hsa_id == SKANE and u.kind == "vårdcentral"]
    for _ in range(2):
        unit = rng.choice(vc)
        rows.append({"personnummer": _new_pnr(fake, used), "given_name": fake.first_name(),
                     "surname": fake.last_name(), "unit_hsa_id": unit.hsa_id, "title": "Sjuksköterska",
                     "employment_start": (today + dt.timedelta(days=7)).isoformat(), "employment_end": "",
                     "hsa_title": "Sjuksköterska", "pa_title_code": "301010", "mail": ""})
    rows.append({"personnummer": "19650229-1234", "given_name": "Felaktig", "surname": "Rad",
                 "unit_hsa_id": vc[0].hsa_id, "title": "Undersköterska", "employment_start": "2020-01-01",
                 "employment_end": "", "hsa_title": "", "pa_title_code": "", "mail": ""})
    rows.append({"personnummer": _new_pnr(fake, used), "given_name": "Okänd", "surname": "Enhet",
                 "unit_hsa_id": _skane("V9999"), "title": "Läkare", "employment_start": "2021-03-01",
                 "employment_end": "", "hsa_title": "Läkare", "pa_title_code": "201010", "mail": ""})
    return rows
