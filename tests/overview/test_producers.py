"""Producer systems and publication rules (the seed's "Vad visas i NPÖ?"), alone and as gate step 9."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from catalog.model import CareUnit
from demo import organisation as demo
from demo.publication import demo_rules
from kernel.clock import local_midnight
from overview import producers as P
from overview.gate import Check, ItemFacts, decide
from tests.overview.test_gate_builders import HALLAND, HALLAND_UNIT, NOW, SKANE, consent, facts, item, shown, verdict

RULES = demo_rules()
_PROVIDERS, _UNITS = demo.organisation()
SUS_MEDICIN = next(u for u in _UNITS if u.name == "Medicinska kliniken, SUS Lund")
YSTAD = next(u for u in _UNITS if u.name == "Medicinska kliniken, Ystads lasarett")
VC_SJOBO = next(u for u in _UNITS if u.name == "Vårdcentralen Sjöbo")
LAKARHUSET_PROVIDER = next(p.hsa_id for p in _PROVIDERS if p.name.startswith("Läkarhuset"))


def at(day: dt.date) -> dt.datetime:
    """Noon (UTC) on a date."""
    return dt.datetime.combine(day, dt.time(12), dt.UTC)


def news(system: str, category: str, *, unit: str = SUS_MEDICIN.hsa_id, provider: str = SKANE,
         date: dt.datetime | None = None, **changes: object) -> ItemFacts:
    """An item of ``system``/``category`` from last month at SUS Lund unless told."""
    base = item("x", provider=provider, unit=unit, system=system, category=category)
    return replace(base, date=date or base.date, **changes)


def refusal(value: ItemFacts) -> str | None:
    """The demo rules' verdict at NOW."""
    return RULES.refusal(value, NOW)


# ---------------------------------------------------------------------- the demo rules as data
def test_demo_rules_are_deterministic() -> None:
    assert demo_rules() == RULES


def test_demo_rules_cover_the_seeds_systems_and_the_two_other_regions() -> None:
    assert set(RULES.systems) == {P.PASIS, P.MELIOR, P.PMO, P.RIS, P.TELEFON_1177, P.EHM, P.HALLAND_SYSTEM,
                                  P.BLEKINGE_SYSTEM}


def test_every_demo_hospital_joins_melior_during_2013() -> None:
    joined = RULES.systems[P.MELIOR].unit_from
    hospital_units = [u for u in _UNITS if u.kind == "sjukhus" and u.provider_hsa_id == SKANE]
    assert {u.hsa_id.upper() for u in hospital_units} == set(joined)
    assert all(day.year == 2013 for day in joined.values())
    by_hospital = {u.name.rsplit(", ", 1)[1]: joined[u.hsa_id.upper()] for u in hospital_units}
    assert len(set(by_hospital.values())) == len(demo.HOSPITALS)  # successively: each hospital its own date
    assert all(joined[u.hsa_id.upper()] == by_hospital[u.name.rsplit(", ", 1)[1]] for u in hospital_units)


def test_every_skane_vardcentral_starts_pmo_in_2012_or_2013() -> None:
    started = RULES.systems[P.PMO].unit_from
    centres = {u.hsa_id.upper() for u in _UNITS if u.kind == "vårdcentral" and u.provider_hsa_id == SKANE}
    assert set(started) == centres and len(centres) == len(demo.VARDCENTRALER)
    assert all(dt.date(2012, 1, 1) <= day <= dt.date(2013, 12, 31) for day in started.values())


def test_display_names_cover_every_system_and_category() -> None:
    for rule in RULES.systems.values():
        assert rule.system in P.SYSTEM_NAMES
        assert rule.categories <= set(P.CATEGORY_NAMES)


# ---------------------------------------------------------------------- Pasis
@pytest.mark.parametrize("category", ["demografi", "vardkontakt", "diagnos", "uppmarksamhet", "listning"])
def test_pasis_shares_its_categories(category: str) -> None:
    assert refusal(news(P.PASIS, category, profession=P.DOCTOR)) is None


def test_pasis_outpatient_contacts_are_produced_for_doctors_only() -> None:
    nurse_visit = news(P.PASIS, "vardkontakt", setting=P.OUTPATIENT, profession="sjukskoterska")
    assert refusal(nurse_visit) == "publication.outpatient_not_doctor"
    assert refusal(replace(nurse_visit, profession=P.DOCTOR)) is None
    assert refusal(replace(nurse_visit, setting=P.INPATIENT)) is None  # every inpatient contact
    assert refusal(replace(nurse_visit, setting=None)) == "publication.outpatient_not_doctor"


def test_pasis_bookings_are_shown_only_ahead_in_time() -> None:
    assert refusal(news(P.PASIS, "bokning", date=NOW + dt.timedelta(days=3))) is None
    assert refusal(news(P.PASIS, "bokning", date=NOW - dt.timedelta(days=3))) == "publication.past_booking"


def test_pasis_contacts_and_diagnoses_are_shown_from_2012() -> None:
    assert refusal(news(P.PASIS, "diagnos", date=at(dt.date(2011, 12, 31)))) == "publication.before_start"
    assert refusal(news(P.PASIS, "diagnos", date=local_midnight(dt.date(2012, 1, 1)))) is None


def test_pasis_name_listing_and_alert_are_not_date_limited() -> None:
    for category in ("demografi", "listning", "uppmarksamhet"):
        assert refusal(news(P.PASIS, category, date=at(dt.date(2005, 5, 5)))) is None


# ---------------------------------------------------------------------- Melior
@pytest.mark.parametrize(("kind", "profession"), [("slutanteckning", "sjukskoterska"),
                                                  ("mottagningsanteckning", P.DOCTOR)])
def test_melior_final_notes_and_doctors_outpatient_notes_from_2012(kind: str, profession: str) -> None:
    early = news(P.MELIOR, "journalanteckning", document_kind=kind, profession=profession,
                 date=at(dt.date(2012, 3, 1)))
    assert refusal(early) is None
    assert refusal(replace(early, date=at(dt.date(2011, 12, 1)))) == "publication.before_start"


def test_melior_other_notes_from_the_hospitals_join_date() -> None:
    joined = RULES.systems[P.MELIOR].unit_from[YSTAD.hsa_id.upper()]
    note = news(P.MELIOR, "journalanteckning", unit=YSTAD.hsa_id, document_kind="mottagningsanteckning",
                profession="sjukskoterska", date=local_midnight(joined) - dt.timedelta(seconds=1))
    assert refusal(note) == "publication.before_start"
    assert refusal(replace(note, date=local_midnight(joined))) is None
    assert refusal(replace(note, document_kind="daganteckning", profession="fysioterapeut",
                           date=local_midnight(joined))) is None  # all professions


@pytest.mark.parametrize("kind", ["scannat", "brev", "remiss"])
def test_melior_never_shows_scanned_documents_letters_or_referrals(kind: str) -> None:
    assert refusal(news(P.MELIOR, "journalanteckning", document_kind=kind)) == "publication.document_kind_excluded"


def test_melior_shows_only_the_hospitals() -> None:
    assert refusal(news(P.MELIOR, "journalanteckning", unit=VC_SJOBO.hsa_id)) == "publication.unit_not_connected"


# ---------------------------------------------------------------------- PMO, RIS, 1177, eHälsomyndigheten
@pytest.mark.parametrize("kind", ["lakarjournal", "skoterskejournal", "paramedicinsk_journal", "psykosocial_journal",
                                  "ungdomsmottagningsjournal"])
def test_pmo_shows_its_journals_from_the_centres_start_date(kind: str) -> None:
    started = RULES.systems[P.PMO].unit_from[VC_SJOBO.hsa_id.upper()]
    note = news(P.PMO, "journalanteckning", unit=VC_SJOBO.hsa_id, document_kind=kind, date=local_midnight(started))
    assert refusal(note) is None
    assert refusal(replace(note, date=note.date - dt.timedelta(seconds=1))) == "publication.before_start"


def test_pmo_shows_the_summary_module() -> None:
    assert refusal(news(P.PMO, "sammanfattning", unit=VC_SJOBO.hsa_id)) is None


def test_pmo_other_document_kinds_are_not_shown() -> None:
    for kind in ("intyg", None):
        note = news(P.PMO, "journalanteckning", unit=VC_SJOBO.hsa_id, document_kind=kind)
        assert refusal(note) == "publication.document_kind_not_produced"


@pytest.mark.parametrize("category", ["bilddiagnostik", "klinfys", "neurofys"])
def test_ris_shares_examination_results_from_2012(category: str) -> None:
    assert refusal(news(P.RIS, category)) is None
    assert refusal(news(P.RIS, category, date=at(dt.date(2011, 6, 1)))) == "publication.before_start"
    assert refusal(news(P.RIS, "provsvar")) == "publication.category_not_produced"


def test_1177_shares_nurses_call_notes() -> None:
    assert refusal(news(P.TELEFON_1177, "sjukskoterskeanteckning")) is None


def test_ehm_shares_the_drug_dispensing_list_of_any_date() -> None:
    dispensed = news(P.EHM, P.DRUG_LIST_CATEGORY, provider=P.EHM_PROVIDER, unit=P.EHM_PROVIDER,
                     date=at(dt.date(2009, 1, 1)))
    assert refusal(dispensed) is None


# ---------------------------------------------------------------------- who produces
def test_private_providers_do_not_produce() -> None:
    private = news(P.PMO, "journalanteckning", provider=LAKARHUSET_PROVIDER, unit=demo.LAKARHUSET,
                   document_kind="lakarjournal")
    assert refusal(private) == "publication.provider_not_producer"


def test_psychiatry_and_habilitation_units_are_not_produced() -> None:
    extra = [CareUnit("SE2321000255-V5001", "", "Vuxenpsykiatri, SUS Lund", SKANE, kind="sjukhus"),
             CareUnit("SE2321000255-V5002", "", "Habilitering & Hjälpmedel Skåne", SKANE, kind="förvaltning")]
    rules = demo_rules(_PROVIDERS, [*_UNITS, *extra])
    for unit in extra:
        assert rules.refusal(news(P.PASIS, "diagnos", unit=unit.hsa_id), NOW) == "publication.unit_not_produced"
    assert rules.refusal(news(P.PASIS, "diagnos"), NOW) is None


def test_other_regions_produce_their_categories() -> None:
    halland = news(P.HALLAND_SYSTEM, "vaccination", provider=HALLAND, unit=HALLAND_UNIT)
    assert refusal(halland) is None
    blekinge = news(P.BLEKINGE_SYSTEM, "vaccination", provider=demo.BLEKINGE, unit="SE2321000081-V0001")
    assert refusal(blekinge) == "publication.category_not_produced"
    assert refusal(replace(blekinge, category="diagnos")) is None


def test_a_system_carries_only_its_own_providers_data() -> None:
    assert refusal(news(P.HALLAND_SYSTEM, "diagnos", provider=SKANE)) == "publication.provider_not_producer"


def test_unknown_system_is_not_published() -> None:
    assert refusal(news("cosmic", "diagnos")) == "publication.system_not_produced"


def test_a_provider_not_marked_producer_gets_no_rules() -> None:
    providers = [replace(p, producer=False) if p.hsa_id == HALLAND else p for p in _PROVIDERS]
    assert P.HALLAND_SYSTEM not in demo_rules(providers, _UNITS).systems


# ---------------------------------------------------------------------- as gate step 9
def test_publication_rules_apply_within_the_own_provider_too() -> None:
    scanned = item(system=P.MELIOR, category="journalanteckning", document_kind="scannat")
    decision = decide(facts(items=(scanned,), publication=RULES), NOW)
    found = verdict(decision)
    assert found.check is Check.PUBLICATION and found.code == "publication.document_kind_excluded"


def test_without_publication_rules_everything_is_published() -> None:
    assert shown(decide(facts(items=(item(system="cosmic"),)), NOW)) == ["i1"]


def test_consent_is_reported_before_publication() -> None:
    unpublished = item(provider=HALLAND, unit=HALLAND_UNIT, system="cosmic")
    assert verdict(decide(facts(items=(unpublished,), publication=RULES), NOW)).check is Check.CONSENT
    with_consent = decide(facts(items=(unpublished,), consents=(consent(),), publication=RULES), NOW)
    assert verdict(with_consent).code == "publication.system_not_produced"
