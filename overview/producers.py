"""Producer systems and their publication rules (publiceringsregler): what each system shares with NPÖ, from when.

The seed's pages "Vad visas i NPÖ?" and "Vilken information producerar Region Skåne till NPÖ?" as data: one
:class:`SystemRule` per producer system, gathered in :class:`PublicationRules`, which the gate reads in step 9
(ARCHITECTURE §5). :func:`demo_rules` builds them for the demo organisation (``catalog.demo.organisation()``).
Nothing here imports the gate; :meth:`PublicationRules.refusal` reads any object shaped like ``gate.ItemFacts``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from catalog import demo
from catalog.model import CareProvider, CareUnit
from kernel.clock import local_midnight

# System keys (ItemFacts.system).
PASIS, MELIOR, PMO, RIS, TELEFON_1177, EHM = "pasis", "melior", "pmo", "ris", "1177", "ehm"
HALLAND_SYSTEM, BLEKINGE_SYSTEM = "halland", "blekinge"
# eHälsomyndigheten is no vårdgivare of Skånekatalogen; its drug-dispensing items carry this demo HSA-ID.
EHM_PROVIDER = "SE2021006255-EHM"
DRUG_LIST_CATEGORY = "lakemedelsuttag"  # needs a personal DRUG_LIST consent (DOMAIN §4.4)
DOCTOR = "lakare"  # ItemFacts.profession of a physician
OUTPATIENT, INPATIENT = "oppenvard", "slutenvard"
SHARED_START = dt.date(2012, 1, 1)  # "Informationen som visas sträcker sig från 2012-01-01 och framåt."
# Psychiatry and Habilitering & Hjälpmedel are not produced (seed): recognised by unit name.
NOT_PRODUCED_WORDS = ("psykiatri", "habilitering", "hjälpmedel")

SYSTEM_NAMES = {
    PASIS: "Pasis (patientadministration)",
    MELIOR: "Melior (sjukhusens journalsystem)",
    PMO: "PMO (primärvårdens journalsystem)",
    RIS: "Sectra/RIS (röntgen och fysiologi)",
    TELEFON_1177: "1177 Vårdguiden på telefon",
    EHM: "eHälsomyndigheten (läkemedelsuttag)",
    HALLAND_SYSTEM: "Region Halland",
    BLEKINGE_SYSTEM: "Region Blekinge",
}
CATEGORY_NAMES = {
    "demografi": "Namn och adress",
    "vardkontakt": "Vårdkontakter",
    "bokning": "Bokade besök",
    "diagnos": "Diagnoser",
    "uppmarksamhet": "Uppmärksamhetssignal (smitta)",
    "listning": "Vald vårdcentral (listning)",
    "journalanteckning": "Journalanteckningar",
    "sammanfattning": "Sammanfattning",
    "bilddiagnostik": "Bilddiagnostik",
    "klinfys": "Klinisk fysiologi",
    "neurofys": "Klinisk neurofysiologi",
    "sjukskoterskeanteckning": "Sjuksköterskeanteckningar från samtal",
    "provsvar": "Provsvar",
    "vaccination": "Vaccinationer",
    DRUG_LIST_CATEGORY: "Läkemedelsuttag",
}
DOCUMENT_KIND_NAMES = {
    "slutanteckning": "Slutanteckning",
    "mottagningsanteckning": "Mottagningsanteckning",
    "omvardnadsanteckning": "Omvårdnadsanteckning",
    "daganteckning": "Daganteckning",
    "lakarjournal": "Läkarjournal",
    "skoterskejournal": "Sköterskejournal",
    "paramedicinsk_journal": "Paramedicinsk journal",
    "psykosocial_journal": "Psykosocial journal",
    "ungdomsmottagningsjournal": "Ungdomsmottagningsjournal",
    "scannat": "Scannat dokument",
    "brev": "Brev",
    "remiss": "Remiss",
}


class ItemLike(Protocol):
    """The fields of ``overview.gate.ItemFacts`` that publication rules read (read-only: ItemFacts is frozen)."""

    @property
    def system(self) -> str: ...

    @property
    def category(self) -> str: ...

    @property
    def care_provider_hsa_id(self) -> str: ...

    @property
    def care_unit_hsa_id(self) -> str: ...

    @property
    def date(self) -> dt.datetime: ...

    @property
    def document_kind(self) -> str | None: ...

    @property
    def profession(self) -> str | None: ...

    @property
    def setting(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class SystemRule:
    """What one producer system shares: categories, from which date, per-unit start dates, exclusions."""

    system: str
    provider_hsa_id: str | None  # whose data the system carries; None = any (eHälsomyndigheten's national list)
    categories: frozenset[str]
    from_date: dt.date | None = None  # earliest information date shown (Swedish date)
    unit_from: Mapping[str, dt.date] = field(default_factory=dict)  # per-unit start; non-empty = only these units
    early: frozenset[tuple[str, str | None]] = frozenset()  # (document_kind, profession|None): from from_date anyway
    document_kinds: Mapping[str, frozenset[str]] = field(default_factory=dict)  # per category: only these kinds
    excluded_document_kinds: frozenset[str] = frozenset()  # never shown (Melior: scanned, letters, referrals)
    undated: frozenset[str] = frozenset()  # current-state categories (name, listing, alert): no from-date
    future_only: frozenset[str] = frozenset()  # categories shown only when dated now or later (bookings)
    doctor_only_outpatient: frozenset[str] = frozenset()  # categories whose non-inpatient items need a doctor


@dataclass(frozen=True, slots=True)
class PublicationRules:
    """Every producer system's rules, plus units that produce nothing (psychiatry, Habilitering & Hjälpmedel)."""

    systems: Mapping[str, SystemRule]
    excluded_units: frozenset[str] = frozenset()  # upper-cased HSA-IDs

    def refusal(self, item: ItemLike, now: dt.datetime) -> str | None:
        """The code of the rule that keeps ``item`` out of NPÖ, or None when its producer publishes it."""
        rule = self.systems.get(item.system)
        if rule is None:
            return "publication.system_not_produced"
        unit = item.care_unit_hsa_id.upper()
        if unit in self.excluded_units:
            return "publication.unit_not_produced"
        if rule.provider_hsa_id is not None and item.care_provider_hsa_id.upper() != rule.provider_hsa_id.upper():
            return "publication.provider_not_producer"
        category = item.category
        if category not in rule.categories:
            return "publication.category_not_produced"
        kind = item.document_kind
        if kind in rule.excluded_document_kinds:
            return "publication.document_kind_excluded"
        allowed = rule.document_kinds.get(category)
        if allowed is not None and kind not in allowed:
            return "publication.document_kind_not_produced"
        # Outpatient contacts are produced for doctors only; an unknown setting is treated as outpatient.
        if category in rule.doctor_only_outpatient and item.setting != INPATIENT and item.profession != DOCTOR:
            return "publication.outpatient_not_doctor"
        if category in rule.future_only and item.date < now:
            return "publication.past_booking"
        if category in rule.undated:
            return None
        return _date_refusal(rule, unit, kind, item)


def _date_refusal(rule: SystemRule, unit: str, kind: str | None, item: ItemLike) -> str | None:
    early = (kind, None) in rule.early or (kind, item.profession) in rule.early
    start = rule.from_date
    if rule.unit_from:
        unit_start = rule.unit_from.get(unit)
        if unit_start is None:
            return "publication.unit_not_connected"
        if not early:
            start = unit_start if start is None else max(start, unit_start)
    if start is not None and item.date < _midnight(start):
        return "publication.before_start"
    return None


_MIDNIGHTS: dict[dt.date, dt.datetime] = {}


def _midnight(day: dt.date) -> dt.datetime:
    # A handful of distinct dates; the zoneinfo conversion is the slow part of the check.
    instant = _MIDNIGHTS.get(day)
    if instant is None:
        instant = _MIDNIGHTS[day] = local_midnight(day)
    return instant


def melior_join_dates(units: Iterable[CareUnit]) -> dict[str, dt.date]:
    """Each Region Skåne hospital's date of joining the Skåne-wide Melior record, successively during 2013."""
    hospitals = sorted({_hospital(u) for u in units if u.provider_hsa_id == demo.SKANE and u.kind == "sjukhus"})
    joined = {name: dt.date(2013, 2 + index % 10, 1 + (7 * index) % 28) for index, name in enumerate(hospitals)}
    return {u.hsa_id.upper(): joined[_hospital(u)] for u in units
            if u.provider_hsa_id == demo.SKANE and u.kind == "sjukhus"}


def pmo_start_dates(units: Iterable[CareUnit]) -> dict[str, dt.date]:
    """Each Region Skåne vårdcentral's PMO start date, spread over 2012–2013 in HSA-ID order."""
    centres = sorted(u.hsa_id for u in units if u.provider_hsa_id == demo.SKANE and u.kind == "vårdcentral")
    return {hsa_id.upper(): dt.date(2012, 1, 16) + dt.timedelta(days=27 * index)
            for index, hsa_id in enumerate(centres)}


def _hospital(unit: CareUnit) -> str:
    # Demo hospital units are named "<department>, <hospital>".
    return unit.name.rsplit(", ", 1)[-1]


def skane_rules(units: Iterable[CareUnit]) -> dict[str, SystemRule]:
    """Region Skåne's producer systems (the seed's lists), with per-unit dates for Melior and PMO."""
    units = list(units)
    return {
        PASIS: SystemRule(PASIS, demo.SKANE, frozenset({"demografi", "vardkontakt", "bokning", "diagnos",
                                                        "uppmarksamhet", "listning"}),
                          from_date=SHARED_START, undated=frozenset({"demografi", "listning", "uppmarksamhet"}),
                          future_only=frozenset({"bokning"}), doctor_only_outpatient=frozenset({"vardkontakt"})),
        MELIOR: SystemRule(MELIOR, demo.SKANE, frozenset({"journalanteckning"}), from_date=SHARED_START,
                           unit_from=melior_join_dates(units),
                           early=frozenset({("slutanteckning", None), ("mottagningsanteckning", DOCTOR)}),
                           excluded_document_kinds=frozenset({"scannat", "brev", "remiss"})),
        PMO: SystemRule(PMO, demo.SKANE, frozenset({"journalanteckning", "sammanfattning"}),
                        unit_from=pmo_start_dates(units),
                        document_kinds={"journalanteckning": frozenset({
                            "lakarjournal", "skoterskejournal", "paramedicinsk_journal", "psykosocial_journal",
                            "ungdomsmottagningsjournal"})}),
        RIS: SystemRule(RIS, demo.SKANE, frozenset({"bilddiagnostik", "klinfys", "neurofys"}), from_date=SHARED_START),
        TELEFON_1177: SystemRule(TELEFON_1177, demo.SKANE, frozenset({"sjukskoterskeanteckning"}),
                                 from_date=SHARED_START),
        EHM: SystemRule(EHM, None, frozenset({DRUG_LIST_CATEGORY})),
    }


def other_region_rules() -> dict[str, SystemRule]:
    """Region Halland and Region Blekinge as producers (our choice; the seed does not say what they share)."""
    journal = frozenset({"vardkontakt", "diagnos", "journalanteckning", "uppmarksamhet", "provsvar",
                         "bilddiagnostik"})
    return {
        HALLAND_SYSTEM: SystemRule(HALLAND_SYSTEM, demo.HALLAND, journal | {"vaccination"}, from_date=SHARED_START,
                                   undated=frozenset({"uppmarksamhet"}),
                                   excluded_document_kinds=frozenset({"scannat"})),
        BLEKINGE_SYSTEM: SystemRule(BLEKINGE_SYSTEM, demo.BLEKINGE, journal, from_date=dt.date(2013, 1, 1),
                                    undated=frozenset({"uppmarksamhet"}),
                                    excluded_document_kinds=frozenset({"scannat", "brev"})),
    }


def demo_rules(providers: Iterable[CareProvider] | None = None,
               units: Iterable[CareUnit] | None = None) -> PublicationRules:
    """The publication rules for the demo organisation (deterministic; ``catalog.demo.organisation()`` by default)."""
    if providers is None or units is None:
        providers, units = demo.organisation()
    units = list(units)
    producing = {p.hsa_id for p in providers if p.producer}
    systems = {key: rule for key, rule in (skane_rules(units) | other_region_rules()).items()
               if rule.provider_hsa_id is None or rule.provider_hsa_id in producing}
    excluded = frozenset(u.hsa_id.upper() for u in units
                         if any(word in u.name.casefold() for word in NOT_PRODUCED_WORDS))
    return PublicationRules(systems, excluded)
