"""The demo's publication rules (gate step 9): built from the demo organisation, kept in
demo/data/publication_rules.yaml, loaded into the table ``publication_rules`` by ``npo demo load`` (D-54).

The file is what production reads (through overview.publication, the same import an administrator will use); the
builder below is how the demo's file was made: each of the nine demo hospitals joins Melior on its own date in 2013,
each Region Skåne vårdcentral starts PMO on its own date in 2012–2013, psychiatry and Habilitering & Hjälpmedel are
recognised by unit name. ``python -m demo.publication`` writes the file again after the demo organisation changed
(tests/overview/test_publication.py fails until then).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from sqlmodel import Session

from catalog.model import CareProvider, CareUnit
from demo.items import PRODUCER_ONLY_UNITS
from demo.organisation import BLEKINGE, HALLAND, SKANE, organisation
from overview import publication
from overview.models import PublicationRuleSet
from overview.producers import (
    BLEKINGE_SYSTEM,
    DOCTOR,
    DRUG_LIST_CATEGORY,
    EHM,
    EHM_PROVIDER,
    HALLAND_SYSTEM,
    MELIOR,
    PASIS,
    PMO,
    RIS,
    TELEFON_1177,
    PublicationRules,
    SystemRule,
)

DATA_FILE = Path(__file__).parent / "data" / "publication_rules.yaml"
SOURCE = "demo/data/publication_rules.yaml"
SHARED_START = dt.date(2012, 1, 1)  # "Informationen som visas sträcker sig från 2012-01-01 och framåt."
# Psychiatry and Habilitering & Hjälpmedel are not produced (seed): recognised by unit name.
NOT_PRODUCED_WORDS = ("psykiatri", "habilitering", "hjälpmedel")
HEADER = """Publiceringsregler för demon (NPÖ-grind steg 9): vad varje producerande system delar, från vilket datum.
Skriven av `python -m demo.publication` från demons organisation; läses in av `npo demo load`.
Källa: sidorna "Vad visas i NPÖ?" och "Vilken information producerar Region Skåne till NPÖ?"."""


def melior_join_dates(units: Iterable[CareUnit]) -> dict[str, dt.date]:
    """Each Region Skåne hospital's date of joining the Skåne-wide Melior record, successively during 2013."""
    hospitals = sorted({_hospital(u) for u in units if u.provider_hsa_id == SKANE and u.kind == "sjukhus"})
    joined = {name: dt.date(2013, 2 + index % 10, 1 + (7 * index) % 28) for index, name in enumerate(hospitals)}
    return {u.hsa_id.upper(): joined[_hospital(u)] for u in units
            if u.provider_hsa_id == SKANE and u.kind == "sjukhus"}


def pmo_start_dates(units: Iterable[CareUnit]) -> dict[str, dt.date]:
    """Each Region Skåne vårdcentral's PMO start date, spread over 2012–2013 in HSA-ID order."""
    centres = sorted(u.hsa_id for u in units if u.provider_hsa_id == SKANE and u.kind == "vårdcentral")
    return {hsa_id.upper(): dt.date(2012, 1, 16) + dt.timedelta(days=27 * index)
            for index, hsa_id in enumerate(centres)}


def _hospital(unit: CareUnit) -> str:
    # Demo hospital units are named "<department>, <hospital>".
    return unit.name.rsplit(", ", 1)[-1]


def skane_rules(units: Iterable[CareUnit]) -> dict[str, SystemRule]:
    """Region Skåne's producer systems (the seed's lists), with per-unit dates for Melior and PMO."""
    units = list(units)
    return {
        PASIS: SystemRule(PASIS, SKANE, frozenset({"demografi", "vardkontakt", "bokning", "diagnos",
                                                        "uppmarksamhet", "listning"}),
                          from_date=SHARED_START, undated=frozenset({"demografi", "listning", "uppmarksamhet"}),
                          future_only=frozenset({"bokning"}), doctor_only_outpatient=frozenset({"vardkontakt"})),
        MELIOR: SystemRule(MELIOR, SKANE, frozenset({"journalanteckning"}), from_date=SHARED_START,
                           unit_from=melior_join_dates(units),
                           early=frozenset({("slutanteckning", None), ("mottagningsanteckning", DOCTOR)}),
                           excluded_document_kinds=frozenset({"scannat", "brev", "remiss"})),
        PMO: SystemRule(PMO, SKANE, frozenset({"journalanteckning", "sammanfattning"}),
                        unit_from=pmo_start_dates(units),
                        document_kinds={"journalanteckning": frozenset({
                            "lakarjournal", "skoterskejournal", "paramedicinsk_journal", "psykosocial_journal",
                            "ungdomsmottagningsjournal"})}),
        RIS: SystemRule(RIS, SKANE, frozenset({"bilddiagnostik", "klinfys", "neurofys"}), from_date=SHARED_START),
        TELEFON_1177: SystemRule(TELEFON_1177, SKANE, frozenset({"sjukskoterskeanteckning"}),
                                 from_date=SHARED_START),
        EHM: SystemRule(EHM, None, frozenset({DRUG_LIST_CATEGORY})),
    }


def other_region_rules() -> dict[str, SystemRule]:
    """Region Halland and Region Blekinge as producers (our choice; the seed does not say what they share)."""
    journal = frozenset({"vardkontakt", "diagnos", "journalanteckning", "uppmarksamhet", "provsvar",
                         "bilddiagnostik"})
    return {
        HALLAND_SYSTEM: SystemRule(HALLAND_SYSTEM, HALLAND, journal | {"vaccination"}, from_date=SHARED_START,
                                   undated=frozenset({"uppmarksamhet"}),
                                   excluded_document_kinds=frozenset({"scannat"})),
        BLEKINGE_SYSTEM: SystemRule(BLEKINGE_SYSTEM, BLEKINGE, journal, from_date=dt.date(2013, 1, 1),
                                    undated=frozenset({"uppmarksamhet"}),
                                    excluded_document_kinds=frozenset({"scannat", "brev"})),
    }


def demo_rules(providers: Iterable[CareProvider] | None = None,
               units: Iterable[CareUnit] | None = None) -> PublicationRules:
    """The publication rules for the demo organisation (deterministic; ``demo.organisation.organisation()`` by
    default): a system of a vårdgivare not marked producer is left out, a unit named for psychiatry or
    Habilitering & Hjälpmedel is excluded."""
    if providers is None or units is None:
        providers, units = organisation()
    units = list(units)
    producing = {p.hsa_id for p in providers if p.producer}
    systems = {key: rule for key, rule in (skane_rules(units) | other_region_rules()).items()
               if rule.provider_hsa_id is None or rule.provider_hsa_id in producing}
    excluded = frozenset(u.hsa_id.upper() for u in units
                         if any(word in u.name.casefold() for word in NOT_PRODUCED_WORDS))
    return PublicationRules(systems, excluded)


def published_rules() -> PublicationRules:
    """The rules of the demo's file: the demo organisation and the units that only produce (psychiatry, 1177),
    with the names the overview shows for producers that are not in Skånekatalogen."""
    providers, units = organisation()
    names = {EHM_PROVIDER.upper(): "eHälsomyndigheten", **{u.hsa_id.upper(): u.name for u in PRODUCER_ONLY_UNITS}}
    return replace(demo_rules(providers, [*units, *PRODUCER_ONLY_UNITS]), names=names)


def yaml_text() -> str:
    """What demo/data/publication_rules.yaml holds."""
    return publication.dump(published_rules(), header=HEADER)


def load(session: Session, *, now: dt.datetime, loaded_by: str = "npo demo load") -> PublicationRuleSet:
    """Make the demo's file the rules in force (flushes; the caller commits; loading it again adds nothing)."""
    return publication.store(session, DATA_FILE.read_text(encoding="utf-8"), loaded_by=loaded_by, source=SOURCE,
                             now=now)


if __name__ == "__main__":
    DATA_FILE.write_text(yaml_text(), encoding="utf-8")
    print(f"wrote {DATA_FILE}")
