"""Demo patients: deterministic, valid, covering what the gate decides; the named ones behave as documented."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlmodel import Session, func, select

from catalog import Directory
from catalog.identifiers import is_samordningsnummer, validate_personnummer
from catalog.slapd import ManagedSlapd
from demo import organisation as catalog_demo
from demo import patients as demo
from demo import publication as demo_publication
from demo.items import PSYCHIATRY_UNIT
from kernel import clock
from overview import producers as P
from overview import publication, service
from overview.gate import Basis, Check, ItemFacts
from overview.models import Block, BlockRevoke, CareContact, Consent, Patient, ProducerItem
from tests.conftest import free_port

TODAY = dt.date(2026, 11, 25)
NAMES = {"astrid": "194803123423", "bengt": "195609302152", "protected": "199007214688", "elsa": "201705041281",
         "omar": "199202743911", "gunnar": "194012010379", "cecilia": "197906182444", "dagny": "193501270627"}
SARA, ERIK, SOFIA = "SE2321000255-VCH2", "SE2321000255-VCH3", "SE2321000255-VCH1"
FATIMA, ANDERS, MIKAEL = "SE2321000255-SUS2", "SE2321000255-SUS1", "SE5567340004-CHEF1"


def rows_of(bundles: list[demo.Bundle], model: type) -> list:  # type: ignore[type-arg]
    return [r for b in bundles for r in b.rows if isinstance(r, model)]


@pytest.fixture(scope="module")
def bundles() -> list[demo.Bundle]:
    return demo.generate(patients=300, seed=1, today=TODAY)


def test_the_same_seed_gives_the_same_patients_and_the_named_ones_never_change(bundles: list[demo.Bundle]) -> None:
    again = demo.generate(patients=300, seed=1, today=TODAY)
    other = demo.generate(patients=300, seed=2, today=TODAY)
    assert [b.patient for b in again] == [b.patient for b in bundles]
    assert [r.id for r in rows_of(again, ProducerItem)] == [r.id for r in rows_of(bundles, ProducerItem)]
    assert [b.patient.personnummer for b in other[:8]] == list(NAMES.values())
    assert {b.patient.personnummer for b in other[8:]} != {b.patient.personnummer for b in bundles[8:]}
    assert set(demo.NAMED) == set(NAMES.values()) and all(demo.NAMED.values())


def test_personnummer_are_valid_unique_and_include_samordningsnummer(bundles: list[demo.Bundle]) -> None:
    pnrs = [b.patient.personnummer for b in bundles]
    assert len(set(pnrs)) == len(pnrs) == 300
    assert all(validate_personnummer(p) == p for p in pnrs)
    assert sum(is_samordningsnummer(p) for p in pnrs) >= 3
    assert sum(b.patient.protected_identity for b in bundles) >= 3
    assert any(b.patient.deceased_on for b in bundles)
    children = [b for b in bundles if (TODAY - b.patient.birth_date).days < 18 * 365]
    assert len(children) >= 10
    guardian_consents = [c for c in rows_of(bundles, Consent) if c.represented_by]
    assert len(guardian_consents) >= 3
    assert all(validate_personnummer(c.represented_by) for c in guardian_consents)


def test_every_document_kind_has_a_swedish_name_and_no_text_drops_its_dots(bundles: list[demo.Bundle]) -> None:
    items = rows_of(bundles, ProducerItem)
    assert {i.document_kind for i in items if i.document_kind} <= set(P.DOCUMENT_KIND_NAMES)
    assert "Omvårdnadsanteckning" in {i.title for i in items if i.system == P.MELIOR}
    words = {w for name in (*P.DOCUMENT_KIND_NAMES.values(), *P.CATEGORY_NAMES.values(), *P.SYSTEM_NAMES.values())
             for w in re.findall(r"\w+", name)}
    ascii_only = {w.translate(str.maketrans("åäöÅÄÖ", "aaoAAO")) for w in words} - words  # e.g. "Omvardnads…"
    spelled = Counter(w for i in items for w in re.findall(r"\w+", f"{i.title} {i.body}"))
    assert sorted(set(spelled) & ascii_only) == []


def test_items_come_from_every_producer_across_the_years(bundles: list[demo.Bundle]) -> None:
    items = rows_of(bundles, ProducerItem)
    assert {i.system for i in items} == {P.PASIS, P.MELIOR, P.PMO, P.RIS, P.TELEFON_1177, P.EHM,
                                         P.HALLAND_SYSTEM, P.BLEKINGE_SYSTEM}
    years = {clock.local_date(i.date).year for i in items}
    assert min(years) == 2010 and TODAY.year in years  # bookings lie ahead
    assert {"scannat", "brev", "remiss"} <= {i.document_kind for i in items if i.system == P.MELIOR}
    assert any(i.care_unit_hsa_id == PSYCHIATRY_UNIT for i in items)
    rules = publication.parse(demo_publication.DATA_FILE.read_text())  # the rules `npo demo load` puts in force
    now = clock.local_midnight(TODAY)
    refusals = Counter(rules.refusal(_facts(i), now) for i in items)
    assert refusals[None] > len(items) / 2  # most is published
    for code in ("publication.before_start", "publication.document_kind_excluded", "publication.unit_not_produced",
                 "publication.past_booking", "publication.outpatient_not_doctor"):
        assert refusals[code] > 0, code


def _facts(item: ProducerItem) -> ItemFacts:
    return ItemFacts(item.id, item.system, item.category, item.care_provider_hsa_id, item.care_unit_hsa_id,
                     item.date, item.document_kind, item.profession, item.setting, item.info_type, item.title,
                     item.body, item.date_end)


def test_relations_consents_and_blocks_cover_the_cases(bundles: list[demo.Bundle]) -> None:
    contacts = rows_of(bundles, CareContact)
    related = {c.personnummer for c in contacts if c.care_unit_hsa_id in {catalog_demo.VC_HORBY,
                                                                          catalog_demo.SUS_AKUT}}
    assert 30 <= len(related) < 300  # some patients have relations at the cast's units, and some not
    assert any(c.kind == "booking" for c in contacts) and any(c.end is None for c in contacts)
    consents = rows_of(bundles, Consent)
    assert {c.scope for c in consents} == {"unit", "employee"} and any(c.purpose == "drug_list" for c in consents)
    assert any(c.ended_at for c in consents) and any(c.voided_at for c in consents)
    blocks = rows_of(bundles, Block)
    assert {b.kind for b in blocks} == {"inner", "outer"}
    assert any(b.info_start for b in blocks) and any(b.excluded_types for b in blocks)
    assert any(b.registered_by_guardian for b in blocks)
    revokes = rows_of(bundles, BlockRevoke)
    assert any(r.employee_hsa_id for r in revokes) and any(r.employee_hsa_id is None for r in revokes)


def test_load_is_idempotent_and_grows_only_by_new_patients(session: Session) -> None:
    first = demo.load(session, patients=30, seed=3, today=TODAY)
    session.commit()
    items = session.exec(select(func.count()).select_from(ProducerItem)).one()
    again = demo.load(session, patients=30, seed=3, today=TODAY)
    assert (first.created, first.existing, again.created, again.existing, again.rows) == (30, 0, 0, 30, 0)
    assert session.exec(select(func.count()).select_from(ProducerItem)).one() == items
    more = demo.load(session, patients=40, seed=3, today=TODAY)
    session.commit()
    assert (more.created, more.existing) == (10, 30)
    assert session.exec(select(func.count()).select_from(Patient)).one() == 40


# ---------------------------------------------------------------------- the named patients, through the real gate
@pytest.fixture(scope="module")
def demo_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    """A slapd of its own with demo.organisation loaded (the cast included)."""
    instance = ManagedSlapd(tmp_path_factory.mktemp("demo-ldap"), port=free_port())
    instance.start()
    try:
        report = catalog_demo.load(instance.app_config(), catalog_demo.generate(persons=20, seed=1))
        assert report.failed == []
        directory = Directory(instance.app_config(), cache_seconds=0)
        yield directory
        directory.close()
    finally:
        instance.destroy()


@pytest.fixture
def named(session: Session, demo_directory: Directory) -> Session:
    demo_publication.load(session, now=clock.now())
    demo.load(session, patients=8)
    for user in (SARA, ERIK, SOFIA, FATIMA, ANDERS, MIKAEL):
        service.acknowledge_information(session=session, user_hsa_id=user)
    return session


def read(session: Session, directory: Directory, user: str, who: str) -> service.OverviewResult:
    return service.read_overview(session=session, directory=directory, user_hsa_id=user, commission_hsa_id=None,
                                 personnummer=NAMES[who])


def providers_shown(result: service.OverviewResult) -> set[str]:
    return {s.item.care_provider_hsa_id for s in result.items}


def test_astrid_sara_sees_skane_and_halland_erik_also_the_drug_list(named: Session,
                                                                    demo_directory: Directory) -> None:
    sara = read(named, demo_directory, SARA, "astrid")
    assert sara.allowed and providers_shown(sara) == {catalog_demo.SKANE, catalog_demo.HALLAND}
    assert any(d.code == "consent.drug_list_missing" for d in sara.decision.items)
    assert any(d.code.startswith("publication.") for d in sara.decision.items)  # scanned, referral, early PMO
    erik = read(named, demo_directory, ERIK, "astrid")
    assert P.EHM_PROVIDER in providers_shown(erik)
    mikael = read(named, demo_directory, MIKAEL, "astrid")
    assert mikael.allowed and catalog_demo.SKANE in providers_shown(mikael)
    assert all(s.decision.basis is Basis.CONSENT for s in mikael.items if s.item.system != P.EHM)


def test_bengt_blocked_at_blekinge_opened_by_fatima_in_two_steps(named: Session, demo_directory: Directory) -> None:
    before = read(named, demo_directory, FATIMA, "bengt")
    assert before.allowed and before.blocked_notice and catalog_demo.BLEKINGE not in providers_shown(before)
    args = dict(session=named, directory=demo_directory, user_hsa_id=FATIMA,
                commission_hsa_id=catalog_demo.derived_commission_id(catalog_demo.SUS_AKUT),
                personnummer=NAMES["bengt"])
    service.open_emergency(**args, reason="Medvetslös efter trafikolycka")  # type: ignore[arg-type]
    [where] = service.reveal_blocked_providers(**args)  # type: ignore[arg-type]
    assert (where.hsa_id, where.name) == (catalog_demo.BLEKINGE, "Region Blekinge")
    service.open_blocked_data(**args, providers=[catalog_demo.BLEKINGE])  # type: ignore[arg-type]
    after = read(named, demo_directory, FATIMA, "bengt")
    assert catalog_demo.BLEKINGE in providers_shown(after)


def test_the_other_named_patients(named: Session, demo_directory: Directory) -> None:
    hidden = read(named, demo_directory, SARA, "protected")
    assert hidden.allowed and hidden.patient is not None and hidden.patient.name is None
    elsa = read(named, demo_directory, SARA, "elsa")
    assert catalog_demo.HALLAND in providers_shown(elsa) and not elsa.blocked_notice
    omar_fatima, omar_anders = read(named, demo_directory, FATIMA, "omar"), read(named, demo_directory, ANDERS,
                                                                                 "omar")
    assert is_samordningsnummer(NAMES["omar"])
    assert {catalog_demo.HALLAND, P.EHM_PROVIDER} <= providers_shown(omar_fatima)
    assert not providers_shown(omar_anders) & {catalog_demo.HALLAND, P.EHM_PROVIDER}
    gunnar = read(named, demo_directory, SARA, "gunnar")
    assert gunnar.decision.failed is Check.RELATION and gunnar.items == ()
    cecilia_sara, cecilia_fatima = (read(named, demo_directory, SARA, "cecilia"),
                                    read(named, demo_directory, FATIMA, "cecilia"))
    kvinno = "SE2321000255-V1010"
    assert cecilia_sara.blocked_notice
    assert [s.item.title for s in cecilia_sara.items if s.item.care_unit_hsa_id == kvinno] == ["Smitta: MRSA"]
    assert len([s for s in cecilia_fatima.items if s.item.care_unit_hsa_id == kvinno]) == 4
    dagny = read(named, demo_directory, SARA, "dagny")
    assert dagny.allowed and catalog_demo.HALLAND not in providers_shown(dagny)
    assert any(d.code == "consent.missing" for d in dagny.decision.items)
