"""Fact loaders against the real slapd and database: directory grants → CommissionFacts, SQL rows → GateFacts."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import event
from sqlmodel import Session

from catalog import Directory
from catalog.model import Validity
from demo import publication as demo_publication
from demo.items import PSYCHIATRY_UNIT
from demo.organisation import SKANE
from overview import facts as F
from overview import info, publication
from overview import producers as P
from overview.gate import (
    BlockKind,
    BlockState,
    ConsentPurpose,
    ConsentScope,
    ItemFacts,
    RelationKind,
    RevokeReason,
)
from overview.models import (
    AssertedRelation,
    Block,
    BlockRevoke,
    Consent,
    EmergencyOpening,
    EmergencyProviderOpening,
    InfoAcknowledgement,
)
from tests.overview.conftest import DAY, NOW, Clinic, add_contact, add_item, add_patient


def test_a_grant_becomes_commission_facts(clinic: Clinic) -> None:
    [facts] = F.load_commissions(clinic.directory, clinic.user.hsa_id)
    assert (facts.hsa_id, facts.name, facts.purpose, facts.rights) == (
        clinic.commission.hsa_id, "VoB SJF", "Vård och behandling", ("Läsa;Alla;SJF",))
    assert (facts.unit_hsa_id, facts.unit_name) == (clinic.unit, "Vårdcentralen Testa")
    assert (facts.provider_hsa_id, facts.provider_name, facts.provider_consumer) == (
        clinic.provider, clinic.org.provider.name, True)
    assert facts.valid_from == NOW - 365 * DAY and facts.valid_to is None


def test_validity_is_the_intersection_of_link_and_commission(clinic: Clinic, directory: Directory) -> None:
    later, _ = directory.ensure_commission(clinic.org.unit_b.hsa_id, valid_from=NOW - 10 * DAY)
    person = clinic.org.person(clinic.org.unit_b)
    directory.ensure_membership(later.hsa_id, person.hsa_id, Validity(NOW - 100 * DAY, NOW + 5 * DAY))
    [facts] = F.load_commissions(directory, person.hsa_id)
    assert (facts.valid_from, facts.valid_to) == (NOW - 10 * DAY, NOW + 5 * DAY)


def test_ended_and_future_links_are_loaded_so_the_gate_can_explain_them(clinic: Clinic) -> None:
    person = clinic.org.person()
    clinic.member(person, start=NOW - 100 * DAY, end=NOW - DAY)
    [facts] = F.load_commissions(clinic.directory, person.hsa_id)
    assert facts.valid_to == NOW - DAY


def test_users_missing_from_or_disabled_in_the_directory(clinic: Clinic, directory: Directory) -> None:
    assert F.load_user(directory, clinic.user.hsa_id) == F.UserFacts(clinic.user.hsa_id)
    assert F.load_user(directory, clinic.org.hsa("NOBODY")).in_directory is False
    directory.disable_person(clinic.colleague.hsa_id, reason="slutat")
    assert F.load_user(directory, clinic.colleague.hsa_id).active is False
    directory.mark_person(clinic.user.hsa_id, archived=True, feigned=True)  # HSA's markers reach the gate
    marked = F.load_user(directory, clinic.user.hsa_id)
    assert (marked.archived, marked.feigned, marked.active) == (True, True, True)
    refused = F.load_user(directory, None, certificate_error="Certifikatet har gått ut.")
    assert refused.hsa_id is None and refused.certificate_error == "Certifikatet har gått ut."


def test_the_grant_cache_is_short_and_per_user(clinic: Clinic) -> None:
    cache = F.GrantCache(60)
    person = clinic.org.person()
    assert F.load_commissions(clinic.directory, person.hsa_id, cache=cache) == ()
    clinic.member(person)
    assert F.load_commissions(clinic.directory, person.hsa_id, cache=cache) == ()  # still cached
    assert len(F.load_commissions(clinic.directory, person.hsa_id, cache=F.GrantCache(0))) == 1
    cache.drop(person.hsa_id)
    assert len(F.load_commissions(clinic.directory, person.hsa_id, cache=cache)) == 1


def test_patient_facts(session: Session) -> None:
    child = add_patient(session, birth=dt.date(2015, 6, 1), protected=True)
    facts = F.load_patient(session, child.personnummer)
    assert (facts.found, facts.protected_identity, facts.birth_date) == (True, True, dt.date(2015, 6, 1))
    assert F.load_patient(session, "191212121212").found is False


def test_relations_consents_emergencies_blocks_and_items(session: Session) -> None:
    patient = add_patient(session)
    pnr, unit, provider, user = patient.personnummer, "SE5591234567-V0001", "SE5591234567-E0001", "SE5591234567-P1"
    add_contact(session, patient, unit, start=NOW - 3 * DAY, end=NOW - DAY)
    add_contact(session, patient, unit, start=NOW + DAY, kind="booking")
    session.add(AssertedRelation(id=str(uuid.uuid4()), personnummer=pnr, care_unit_hsa_id=unit, employee_hsa_id=user,
                                 commission_hsa_id="SE5591234567-V0001-SJF", reason="Akut besök", start=NOW))
    consent = Consent(id=str(uuid.uuid4()), personnummer=pnr, purpose="drug_list", scope="employee",
                      care_provider_hsa_id=provider, care_unit_hsa_id=unit, employee_hsa_id=user, start=NOW,
                      registered_at=NOW, registered_by=user, registered_commission_hsa_id="X", voided_at=NOW + DAY)
    live = EmergencyOpening(id=str(uuid.uuid4()), personnummer=pnr, employee_hsa_id=user, commission_hsa_id="X",
                            care_provider_hsa_id=provider, care_unit_hsa_id=unit, reason="Medvetslös",
                            opened_at=NOW - DAY, expires_at=NOW + DAY, providers_revealed_at=NOW)
    gone = EmergencyOpening(id=str(uuid.uuid4()), personnummer=pnr, employee_hsa_id=user, commission_hsa_id="X",
                            care_provider_hsa_id=provider, care_unit_hsa_id=unit, reason="Tidigare",
                            opened_at=NOW - 3 * DAY, expires_at=NOW - 2 * DAY)
    block = Block(id=str(uuid.uuid4()), personnummer=pnr, kind="inner", care_provider_hsa_id=provider,
                  care_unit_hsa_id=unit, info_start=dt.date(2020, 1, 1), info_end=dt.date(2021, 1, 1),
                  excluded_types="lak,upp", state="revoked", registered_at=NOW, registered_by=user)
    session.add_all([consent, live, gone, block])
    session.flush()
    session.add_all([EmergencyProviderOpening(emergency_id=live.id, care_provider_hsa_id="SE2321000081-E00001",
                                              opened_at=NOW),
                     BlockRevoke(id=str(uuid.uuid4()), block_id=block.id, care_unit_hsa_id=unit, employee_hsa_id=user,
                                 end=NOW + DAY, reason="Emergency", registered_at=NOW)])
    item = add_item(session, patient, provider, unit, when=NOW - 5 * DAY, date_end=NOW - 2 * DAY, setting="slutenvard",
                    info_type="upp", document_kind="slutanteckning", profession="lakare", body="Text")
    session.commit()

    relations = F.load_relations(session, pnr)
    assert sorted(r.kind for r in relations) == sorted([RelationKind.CARE_CONTACT, RelationKind.BOOKING,
                                                        RelationKind.ASSERTED])
    asserted = next(r for r in relations if r.kind is RelationKind.ASSERTED)
    assert (asserted.reason, asserted.employee_hsa_id, asserted.end) == ("Akut besök", user, None)
    [c] = F.load_consents(session, pnr)
    assert (c.purpose, c.scope, c.employee_hsa_id, c.voided_at) == (ConsentPurpose.DRUG_LIST, ConsentScope.EMPLOYEE,
                                                                     user, NOW + DAY)
    [e] = F.load_emergencies(session, pnr, NOW)
    assert (e.opening_id, e.blocked_providers_revealed, e.blocked_providers_opened) == (
        live.id, True, frozenset({"SE2321000081-E00001"}))
    [b] = F.load_blocks(session, pnr)
    assert (b.kind, b.state, b.excluded_types, b.info_start) == (BlockKind.INNER, BlockState.REVOKED,
                                                                  frozenset({"lak", "upp"}), dt.date(2020, 1, 1))
    assert [(r.employee_hsa_id, r.reason) for r in b.revokes] == [(user, RevokeReason.EMERGENCY)]
    assert F.load_items(session, pnr) == (ItemFacts(
        item_id=item.id, system="journal", category="journalanteckning", care_provider_hsa_id=provider,
        care_unit_hsa_id=unit, date=NOW - 5 * DAY, document_kind="slutanteckning", profession="lakare",
        setting="slutenvard", info_type="upp", title="Anteckning", body="Text", date_end=NOW - 2 * DAY),)


def test_the_highest_acknowledged_version_counts(session: Session) -> None:
    assert F.acknowledged_version(session, "SE5591234567-P9") is None
    session.add_all([InfoAcknowledgement(employee_hsa_id="SE5591234567-P9", version=v, acknowledged_at=NOW)
                     for v in (1, 3, 2)])
    session.flush()
    assert F.acknowledged_version(session, "SE5591234567-P9") == 3


def test_a_confirmed_current_version_is_remembered_and_a_lower_one_asked_again(session: Session) -> None:
    person = "SE5591234567-P8"
    session.add(InfoAcknowledgement(employee_hsa_id=person, version=info.VERSION - 1, acknowledged_at=NOW))
    session.flush()
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert F.acknowledged_version(session, person) == info.VERSION - 1
        # confirmed meanwhile (e.g. through another web process): counts on the next read, not after a cache's time
        session.add(InfoAcknowledgement(employee_hsa_id=person, version=info.VERSION, acknowledged_at=NOW))
        session.flush()
        assert F.acknowledged_version(session, person) == info.VERSION
        asked = len([s for s in statements if s.startswith("SELECT") and "info_acknowledgement" in s])
        assert asked == 2
        assert F.acknowledged_version(session, person) == info.VERSION  # the current version: never asked again
        assert len([s for s in statements if s.startswith("SELECT") and "info_acknowledgement" in s]) == asked
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_load_facts_for_the_felsokning_page_and_for_a_patient(session: Session, clinic: Clinic) -> None:
    clinic.ready(session)
    demo_publication.load(session, now=NOW)  # without rules given, the facts carry the rules in force (the table)
    without = F.load_facts(session=session, directory=clinic.directory, user_hsa_id=clinic.user.hsa_id,
                           commission_hsa_id=None, now=NOW, production=True)
    assert without.patient is None and without.items == () and len(without.commissions) == 1
    assert (without.info_version_current, without.info_version_acknowledged) == (info.VERSION, info.VERSION)
    assert without.publication is publication.current(session)
    patient = clinic.patient(session)
    loaded = F.load_facts(session=session, directory=clinic.directory, user_hsa_id=clinic.user.hsa_id,
                          commission_hsa_id=clinic.commission.hsa_id, now=NOW, production=False,
                          personnummer=patient.personnummer)
    assert loaded.patient is not None and loaded.patient.found and loaded.production is False
    assert len(loaded.items) == 2 and len(loaded.relations) == 1
    unknown = F.load_facts(session=session, directory=clinic.directory, user_hsa_id=clinic.user.hsa_id,
                           commission_hsa_id=None, now=NOW, production=True, personnummer="191212121212")
    assert unknown.patient is not None and not unknown.patient.found and unknown.items == ()


def test_default_publication_rules_know_the_demo_psychiatry_unit(session: Session) -> None:
    demo_publication.load(session, now=NOW)
    rules = publication.current(session)
    note = ItemFacts(item_id="x", system=P.MELIOR, category="journalanteckning", care_provider_hsa_id=SKANE,
                     care_unit_hsa_id=PSYCHIATRY_UNIT, date=NOW, document_kind="mottagningsanteckning")
    assert rules.refusal(note, NOW) == "publication.unit_not_produced"
