"""Producer systems and their publication rules (publiceringsregler): what each system shares with NPÖ, from when.

The seed's pages "Vad visas i NPÖ?" and "Vilken information producerar Region Skåne till NPÖ?" as data: one
:class:`SystemRule` per producer system, gathered in :class:`PublicationRules`, which the gate reads in step 9
(ARCHITECTURE §5). The rules in force are a row of the table ``publication_rules`` (overview/publication.py reads,
validates and stores them; D-54); the demo fills it from demo/data/publication_rules.yaml.
Nothing here imports the gate; :meth:`PublicationRules.refusal` reads any object shaped like ``gate.ItemFacts``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kernel.clock import local_midnight

# System keys (ItemFacts.system).
PASIS, MELIOR, PMO, RIS, TELEFON_1177, EHM = "pasis", "melior", "pmo", "ris", "1177", "ehm"
HALLAND_SYSTEM, BLEKINGE_SYSTEM = "halland", "blekinge"
# eHälsomyndigheten is no vårdgivare of Skånekatalogen; its drug-dispensing items carry this HSA-ID.
EHM_PROVIDER = "SE2021006255-EHM"
DRUG_LIST_CATEGORY = "lakemedelsuttag"  # needs a personal DRUG_LIST consent (DOMAIN §4.4)
DOCTOR = "lakare"  # ItemFacts.profession of a physician
OUTPATIENT, INPATIENT = "oppenvard", "slutenvard"

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
    """Every producer system's rules, plus units that produce nothing (psychiatry, Habilitering & Hjälpmedel) and
    the names of producers and units that deliver items but are not in Skånekatalogen (1177, eHälsomyndigheten)."""

    systems: Mapping[str, SystemRule]
    excluded_units: frozenset[str] = frozenset()  # upper-cased HSA-IDs
    names: Mapping[str, str] = field(default_factory=dict)  # upper-cased HSA-ID -> the name the overview shows

    # What refusal() works out from an item's fields other than its date, by those fields (D-61): the rules are
    # shared by every call, so each combination is screened once. Not compared: a cache, not a rule.
    screened: dict[Screen, Screening] = field(default_factory=dict, init=False, repr=False, compare=False)

    def refusal(self, item: ItemLike, now: dt.datetime) -> str | None:
        """The code of the rule that keeps ``item`` out of NPÖ, or None when its producer publishes it."""
        key = (item.system, item.category, item.care_provider_hsa_id, item.care_unit_hsa_id, item.document_kind,
               item.profession, item.setting)
        screening = self.screened.get(key) or self.screen(key)
        return dated_refusal(screening, item.date, now)

    def screen(self, key: Screen) -> Screening:
        """Everything :meth:`refusal` decides without the item's date, for ``key`` (system, category, provider,
        unit, document kind, profession, setting): (a refusal code or None, whether the category is shown only
        from now on, the code that follows that check or None, the earliest instant shown or None)."""
        system, category, provider, unit_id, kind, profession, setting = key
        screening = self._screen(system, category, provider, unit_id.upper(), kind, profession, setting)
        if len(self.screened) >= _SCREENED_MAX:  # a bound against unlimited distinct values; rarely reached
            self.screened.clear()
        self.screened[key] = screening
        return screening

    def _screen(self, system: str, category: str, provider: str, unit: str, kind: str | None,
                profession: str | None, setting: str | None) -> Screening:
        rule = self.systems.get(system)
        if rule is None:
            return ("publication.system_not_produced", False, None, None)
        if unit in self.excluded_units:
            return ("publication.unit_not_produced", False, None, None)
        if rule.provider_hsa_id is not None and provider.upper() != rule.provider_hsa_id.upper():
            return ("publication.provider_not_producer", False, None, None)
        if category not in rule.categories:
            return ("publication.category_not_produced", False, None, None)
        if kind in rule.excluded_document_kinds:
            return ("publication.document_kind_excluded", False, None, None)
        allowed = rule.document_kinds.get(category)
        if allowed is not None and kind not in allowed:
            return ("publication.document_kind_not_produced", False, None, None)
        # Outpatient contacts are produced for doctors only; an unknown setting is treated as outpatient.
        if category in rule.doctor_only_outpatient and setting != INPATIENT and profession != DOCTOR:
            return ("publication.outpatient_not_doctor", False, None, None)
        future = category in rule.future_only  # then refused as a past booking when dated before now
        if category in rule.undated:
            return (None, future, None, None)
        early = (kind, None) in rule.early or (kind, profession) in rule.early
        start = rule.from_date
        if rule.unit_from:
            unit_start = rule.unit_from.get(unit)
            if unit_start is None:
                return (None, future, "publication.unit_not_connected", None)
            if not early:
                start = unit_start if start is None else max(start, unit_start)
        return (None, future, None, None if start is None else _midnight(start))


Screen = tuple[str, str, str, str, str | None, str | None, str | None]
Screening = tuple[str | None, bool, str | None, dt.datetime | None]
_SCREENED_MAX = 100_000


def dated_refusal(screening: Screening, date: dt.datetime, now: dt.datetime) -> str | None:
    """The refusal code of an item dated ``date`` whose other fields were screened as ``screening``."""
    code, future, after, start = screening
    if code is not None:
        return code
    if future and date < now:
        return "publication.past_booking"
    if after is not None:
        return after
    if start is not None and date < start:
        return "publication.before_start"
    return None


_MIDNIGHTS: dict[dt.date, dt.datetime] = {}


def _midnight(day: dt.date) -> dt.datetime:
    # A handful of distinct dates; the zoneinfo conversion is the slow part of the check.
    instant = _MIDNIGHTS.get(day)
    if instant is None:
        instant = _MIDNIGHTS[day] = local_midnight(day)
    return instant
