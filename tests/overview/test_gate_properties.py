"""Properties of the gate over generated facts (hypothesis): what must hold whatever the combination.

The generated world is small on purpose (two employees, four units of three vårdgivare and one unknown, times a few
hours or days from NOW) so that matching and non-matching facts meet often.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from hypothesis import event, given, settings
from hypothesis import strategies as st

from demo.publication import demo_rules
from overview.gate import (
    Basis,
    BlockFacts,
    BlockKind,
    BlockState,
    CommissionFacts,
    ConsentFacts,
    ConsentPurpose,
    ConsentScope,
    EmergencyFacts,
    GateFacts,
    ItemFacts,
    PatientFacts,
    RelationEvidence,
    RelationKind,
    RevokeReason,
    TemporaryRevoke,
    UserFacts,
    decide,
)
from overview.producers import DRUG_LIST_CATEGORY, EHM
from tests.overview.test_gate_builders import (
    BLEKINGE,
    BLEKINGE_UNIT,
    COLLEAGUE,
    HALLAND,
    HALLAND_UNIT,
    NOW,
    OTHER_UNIT,
    SKANE,
    UNIT,
    USER,
    commission,
    facts,
)

UNKNOWN = "SE5591230007-E00001"  # a vårdgivare the rules and the user know nothing about
UNKNOWN_UNIT = "SE5591230007-VC01"
PLACES = [(SKANE, UNIT), (SKANE, OTHER_UNIT), (HALLAND, HALLAND_UNIT), (BLEKINGE, BLEKINGE_UNIT),
          (UNKNOWN, UNKNOWN_UNIT)]
RULES = demo_rules()
SETTINGS = settings(max_examples=200, deadline=None)

users = st.sampled_from([USER, COLLEAGUE])
places = st.sampled_from(PLACES)
home = st.just((SKANE, UNIT)) | places  # the commission's own unit half of the time, so facts match often
units = st.sampled_from([unit for _provider, unit in PLACES])
home_units = st.just(UNIT) | units
likely = st.sampled_from([True, True, True, False])
mostly = st.sampled_from([True] * 7 + [False])
hours = st.integers(-72, 72).map(lambda h: NOW + dt.timedelta(hours=h))
began = st.integers(-72, 2).map(lambda h: NOW + dt.timedelta(hours=h))  # mostly already begun
ends = st.integers(-2, 72).map(lambda h: NOW + dt.timedelta(hours=h))  # mostly not yet over
maybe_hours = st.none() | hours
rarely = st.none() | st.none() | st.none() | hours  # ended_at / voided_at: usually unset
days = st.integers(-400, 30).map(lambda d: NOW + dt.timedelta(days=d))
dates = st.integers(-400, 30).map(lambda d: (NOW + dt.timedelta(days=d)).date())


@st.composite
def commissions(draw: st.DrawFn) -> CommissionFacts:
    provider, unit = draw(home)
    return commission(hsa_id=draw(st.sampled_from(["C1", "C2", "C3"])), unit_hsa_id=draw(st.none() | st.just(unit)),
                      provider_hsa_id=provider, purpose=draw(st.sampled_from(["Vård och behandling", "Statistik"])),
                      rights=draw(st.lists(st.sampled_from(["Läsa;Alla;SJF", "läsa;alla;sjf", "Läsa;Alla",
                                                            "Skriva;Alla;SJF"]), max_size=2).map(tuple)),
                      valid_from=draw(st.none() | began), valid_to=draw(st.none() | ends),
                      provider_consumer=draw(likely))


relations = st.builds(RelationEvidence, unit_hsa_id=home_units, kind=st.sampled_from(list(RelationKind)),
                      start=began, end=st.none() | ends, reason=st.sampled_from([None, "", "Akut"]),
                      employee_hsa_id=st.none() | users)


@st.composite
def consents(draw: st.DrawFn) -> ConsentFacts:
    provider, unit = draw(home)
    return ConsentFacts(consent_id=draw(st.sampled_from(["c1", "c2", "c3"])),
                        purpose=draw(st.sampled_from(list(ConsentPurpose))), scope=draw(st.sampled_from(
                            list(ConsentScope))), care_provider_hsa_id=provider, care_unit_hsa_id=unit,
                        employee_hsa_id=draw(st.none() | users), start=draw(began), end=draw(st.none() | ends),
                        registered_at=draw(began), ended_at=draw(rarely), voided_at=draw(rarely),
                        represented_by=draw(st.none() | st.none() | st.just("197001011234")))


@st.composite
def emergencies(draw: st.DrawFn) -> EmergencyFacts:
    provider, unit = draw(home)
    return EmergencyFacts(opening_id=draw(st.sampled_from(["e1", "e2"])), employee_hsa_id=draw(users),
                          care_provider_hsa_id=provider, care_unit_hsa_id=unit,
                          reason=draw(st.sampled_from(["Medvetslös", "Medvetslös", " "])), opened_at=draw(began),
                          expires_at=draw(ends), blocked_providers_revealed=draw(likely),
                          blocked_providers_opened=draw(st.frozensets(st.sampled_from([p for p, _u in PLACES]))))


revokes = st.builds(TemporaryRevoke, revoke_id=st.just("r"), care_unit_hsa_id=home_units,
                    employee_hsa_id=st.none() | users, end=ends, reason=st.sampled_from(list(RevokeReason)),
                    start=maybe_hours)


@st.composite
def blocks(draw: st.DrawFn) -> BlockFacts:
    provider, unit = draw(places)
    return BlockFacts(block_id=draw(st.sampled_from(["b1", "b2"])), kind=draw(st.sampled_from(list(BlockKind))),
                      care_provider_hsa_id=provider, care_unit_hsa_id=draw(st.none() | st.just(unit)),
                      info_start=draw(st.none() | dates), info_end=draw(st.none() | dates),
                      excluded_types=draw(st.frozensets(st.sampled_from(["lak", "upp", "dia"]))),
                      state=draw(st.sampled_from([BlockState.ACTIVE, BlockState.ACTIVE, *BlockState])),
                      revokes=tuple(draw(st.lists(revokes, max_size=2))),
                      registered_by_guardian=draw(st.sampled_from([False, False, False, True])))


@st.composite
def items(draw: st.DrawFn) -> ItemFacts:
    provider, unit = draw(places)
    system, category = draw(st.sampled_from([("pasis", "diagnos"), ("pasis", "demografi"), ("halland", "diagnos"),
                                             (EHM, DRUG_LIST_CATEGORY), ("melior", "journalanteckning")]))
    start = draw(days)
    return ItemFacts(item_id=f"i{draw(st.integers(0, 999))}", system=system, category=category,
                     care_provider_hsa_id=provider, care_unit_hsa_id=unit, date=start,
                     date_end=draw(st.none() | st.integers(0, 20).map(lambda d: start + dt.timedelta(days=d))),
                     info_type=draw(st.sampled_from([None, "lak", "upp"])),
                     document_kind=draw(st.sampled_from([None, "slutanteckning", "scannat"])),
                     profession=draw(st.sampled_from([None, "lakare"])))


def tuples(strategy: st.SearchStrategy, size: int = 3) -> st.SearchStrategy:
    return st.lists(strategy, max_size=size).map(tuple)


patients = st.builds(PatientFacts, personnummer=st.just("191212121212"), found=st.booleans(),
                     protected_identity=st.booleans(), birth_date=st.none() | st.dates(dt.date(1940, 1, 1),
                                                                                       dt.date(2024, 1, 1)))
any_facts = st.builds(
    GateFacts,
    user=st.builds(UserFacts, hsa_id=st.sampled_from([USER, USER, COLLEAGUE, None]),
                   certificate_error=st.sampled_from([None] * 7 + ["Spärrat certifikat"]),
                   in_directory=mostly, active=mostly, archived=mostly.map(lambda b: not b),
                   feigned=mostly.map(lambda b: not b)),
    commissions=tuples(commissions()), chosen_commission=st.none() | st.sampled_from(["C1", "C2", "c3"]),
    production=st.booleans(), info_version_current=st.just(2),
    info_version_acknowledged=st.sampled_from([2, 2, 1, None]),
    patient=patients | st.none(), relations=tuples(relations), consents=tuples(consents()),
    emergencies=tuples(emergencies(), 2), blocks=tuples(blocks(), 2), items=tuples(items(), 6),
    publication=st.sampled_from([None, RULES]))


@st.composite
def allowed_facts(draw: st.DrawFn) -> GateFacts:
    """The all-in-order baseline with generated consents, emergencies, blocks, items and patient details."""
    return facts(user=UserFacts(draw(users)), consents=draw(tuples(consents())),
                 emergencies=draw(tuples(emergencies(), 2)), blocks=draw(tuples(blocks(), 2)),
                 items=draw(tuples(items(), 8)), publication=draw(st.sampled_from([None, RULES])),
                 patient=PatientFacts("191212121212", protected_identity=draw(st.booleans()),
                                      birth_date=draw(st.none() | st.dates(dt.date(2000, 1, 1), dt.date(2020, 1, 1)))))


def shown_ids(value: GateFacts) -> set[str]:
    return {v.item_id for v in decide(value, NOW).shown}


@SETTINGS
@given(any_facts)
def test_no_item_is_ever_shown_when_an_access_check_failed(value: GateFacts) -> None:
    decision = decide(value, NOW)
    if not decision.allowed:
        assert decision.shown == () and decision.failed is not None and not decision.blocked_exists
        assert [r.check for r in decision.reasons if not r.passed][0] is decision.failed


@SETTINGS
@given(any_facts | allowed_facts())
def test_decide_is_deterministic_and_ignores_the_order_of_facts(value: GateFacts) -> None:
    # any_facts alone was refused in 994 of 1,000 draws, so the item rules (where the order of consents,
    # emergencies and blocks matters) almost never ran. Half the draws now come from the allowed baseline:
    # measured with --hypothesis-show-statistics (three runs of 200 examples), 34-39 % of draws are allowed
    # decisions and 18-28 % are allowed with two or more facts of a kind to reorder.
    first = decide(value, NOW)
    several = max(len(value.relations), len(value.consents), len(value.emergencies), len(value.blocks)) >= 2
    event("allowed" if first.allowed else "refused")
    event("allowed, something to reorder" if first.allowed and several else "nothing to reorder or refused")
    assert decide(value, NOW) == first
    reordered = replace(value, relations=value.relations[::-1], consents=value.consents[::-1],
                        emergencies=value.emergencies[::-1], blocks=value.blocks[::-1])
    assert decide(reordered, NOW) == first


@SETTINGS
@given(allowed_facts())
def test_every_item_gets_one_verdict_in_order(value: GateFacts) -> None:
    decision = decide(value, NOW)
    assert decision.allowed and [v.item_id for v in decision.items] == [i.item_id for i in value.items]


@SETTINGS
@given(allowed_facts())
def test_a_shown_item_always_has_a_basis_and_a_hidden_one_a_failing_check(value: GateFacts) -> None:
    for item, verdict in zip(value.items, decide(value, NOW).items, strict=True):
        if not verdict.shown:
            assert verdict.basis is None and verdict.check is not None
            continue
        assert verdict.basis is not None and verdict.check is None
        if verdict.basis is Basis.CONSENT:
            assert verdict.consent_id in {c.consent_id for c in value.consents}
        if verdict.basis in {Basis.EMERGENCY, Basis.EMERGENCY_BLOCK_OPENED}:
            assert verdict.emergency_id in {e.opening_id for e in value.emergencies}
        if verdict.basis is Basis.OWN_PROVIDER:
            assert item.care_provider_hsa_id.upper() == SKANE.upper() and item.category != DRUG_LIST_CATEGORY


@SETTINGS
@given(allowed_facts())
def test_an_other_providers_item_without_consent_or_emergency_is_never_shown(value: GateFacts) -> None:
    bare = replace(value, consents=(), emergencies=())
    for item, verdict in zip(bare.items, decide(bare, NOW).items, strict=True):
        if verdict.shown:
            assert item.care_provider_hsa_id == SKANE and item.system != EHM
            assert item.category != DRUG_LIST_CATEGORY


@SETTINGS
@given(allowed_facts(), blocks())
def test_adding_a_block_never_shows_more(value: GateFacts, extra: BlockFacts) -> None:
    assert shown_ids(replace(value, blocks=(*value.blocks, extra))) <= shown_ids(value)


@SETTINGS
@given(allowed_facts(), consents())
def test_adding_a_consent_never_hides_anything(value: GateFacts, extra: ConsentFacts) -> None:
    assert shown_ids(value) <= shown_ids(replace(value, consents=(*value.consents, extra)))


@SETTINGS
@given(allowed_facts())
def test_voided_consents_count_as_none(value: GateFacts) -> None:
    voided = tuple(replace(c, voided_at=NOW) for c in value.consents)
    assert shown_ids(replace(value, consents=voided)) == shown_ids(replace(value, consents=()))


@st.composite
def blocked_emergency_facts(draw: st.DrawFn) -> GateFacts:
    """The allowed baseline plus what random draws seldom combine: an emergency opening that is valid for this
    user at the commission's unit (emergency step one taken or not) and an active block that holds against the
    commission, on the vårdgivare of a listed item."""
    value = draw(allowed_facts())
    provider, unit = draw(st.sampled_from(PLACES[1:]))  # another Skåne unit (inner block) or another vårdgivare
    user = value.user.hsa_id
    assert user is not None
    opening = EmergencyFacts(opening_id="e-built", employee_hsa_id=user, care_provider_hsa_id=SKANE,
                             care_unit_hsa_id=UNIT, reason="Medvetslös", opened_at=draw(began),
                             expires_at=NOW + dt.timedelta(hours=draw(st.integers(1, 72))),
                             blocked_providers_revealed=draw(st.booleans()),
                             blocked_providers_opened=draw(st.frozensets(st.sampled_from([p for p, _u in PLACES]))))
    block = BlockFacts(block_id="b-built", kind=BlockKind.INNER if provider == SKANE else BlockKind.OUTER,
                       care_provider_hsa_id=provider, care_unit_hsa_id=unit, info_start=None, info_end=None,
                       excluded_types=frozenset(), state=BlockState.ACTIVE, revokes=(), registered_by_guardian=False)
    held = replace(draw(items()), item_id="i-blocked", care_provider_hsa_id=provider, care_unit_hsa_id=unit)
    return replace(value, emergencies=(*value.emergencies, opening), blocks=(*value.blocks, block),
                   items=(*value.items, held))


@SETTINGS
@given(allowed_facts() | blocked_emergency_facts())
def test_blocked_providers_are_named_only_after_emergency_step_one(value: GateFacts) -> None:
    # allowed_facts alone named blocked providers in about 6 of 1,000 draws. With the built cases, measured with
    # --hypothesis-show-statistics (three runs of 200 examples): 14-19 % of draws name blocked providers, 10-30 %
    # have blocked data whose holders stay unnamed (step one not taken), the rest have no blocked data.
    decision = decide(value, NOW)
    event("blocked providers named" if decision.blocked_providers else
          "blocked data, providers not named" if decision.blocked_exists else "no blocked data")
    if decision.blocked_providers:
        assert decision.blocked_exists
        assert any(e.blocked_providers_revealed and e.employee_hsa_id == value.user.hsa_id
                   for e in value.emergencies)
    if any(v.blocked for v in decision.items):
        assert decision.blocked_exists


@SETTINGS
@given(allowed_facts())
def test_protected_identity_never_shows_name_and_address(value: GateFacts) -> None:
    protected = replace(value, patient=replace(value.patient, protected_identity=True))
    for item, verdict in zip(protected.items, decide(protected, NOW).items, strict=True):
        assert not (verdict.shown and item.category == "demografi")
