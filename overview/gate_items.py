"""Steps 7–9 of the gate, per item: consent or emergency or own vårdgivare, blocks, publication rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields

from kernel.clock import end_of_day, local_date, local_midnight
from overview.gate_types import (
    Basis,
    BlockFacts,
    BlockKind,
    BlockState,
    Check,
    CommissionFacts,
    ConsentFacts,
    ConsentPurpose,
    ConsentScope,
    Decision,
    EmergencyFacts,
    GateFacts,
    IncapacityFacts,
    ItemDecision,
    ItemFacts,
    ItemVerdict,
    Reason,
    TemporaryRevoke,
)
from overview.gate_types import hsa_key as _key
from overview.producers import DRUG_LIST_CATEGORY, EHM, dated_refusal

ADULT_AGE = 18  # a guardian's consent counts until the patient's 18th birthday
_DEMOGRAPHICS = "demografi"  # never shown for a patient with skyddad identitet

# ---------------------------------------------------------------------- per-item checks 7–9
_Basis = tuple[Basis, str | None, str | None]  # (basis, consent_id, emergency_id)
_OWN: _Basis = (Basis.OWN_PROVIDER, None, None)
_SHOWN = {basis: f"shown.{basis.value}" for basis in Basis}
_BlockRule = tuple[str | None, dt.datetime | None, dt.datetime | None, frozenset[str]]  # unit, [start, end), kept
_EXCEPTIONS = frozenset({"lak", "upp"})  # the only information types a block may leave visible


def is_child(birth_date: dt.date | None, now: dt.datetime) -> bool:
    """True before the patient's 18th birthday (Swedish date; born 29 February: 28 February); unknown = False."""
    if birth_date is None:
        return False
    try:
        majority = birth_date.replace(year=birth_date.year + ADULT_AGE)
    except ValueError:
        majority = dt.date(birth_date.year + ADULT_AGE, 2, 28)
    return _local_date(now) < majority


# Memos of the Swedish calendar (zoneinfo conversions are the slow part of the per-call set-up): pure functions of a
# date or an instant, the same few values call after call; bounded all the same.
_DATES: dict[dt.datetime, dt.date] = {}
_MIDNIGHTS: dict[dt.date, dt.datetime] = {}
_DAY_ENDS: dict[dt.date, dt.datetime] = {}


def _local_date(instant: dt.datetime) -> dt.date:
    day = _DATES.get(instant)
    if day is None:
        if len(_DATES) >= 4096:
            _DATES.clear()
        day = _DATES[instant] = local_date(instant)
    return day


def _local_midnight(day: dt.date) -> dt.datetime:
    instant = _MIDNIGHTS.get(day)
    if instant is None:
        if len(_MIDNIGHTS) >= 65536:
            _MIDNIGHTS.clear()
        instant = _MIDNIGHTS[day] = local_midnight(day)
    return instant


def _end_of_day(day: dt.date) -> dt.datetime:
    instant = _DAY_ENDS.get(day)
    if instant is None:
        if len(_DAY_ENDS) >= 65536:
            _DAY_ENDS.clear()
        instant = _DAY_ENDS[day] = end_of_day(day)
    return instant


def emergency_holds(emergency: EmergencyFacts, *, user_hsa_id: str | None, commission: CommissionFacts,
                    now: dt.datetime) -> bool:
    """True while a nödåtkomst counts for this user under this commission: opened by them at its unit and vårdgivare,
    with a reason, and within its time box."""
    return (_key(emergency.employee_hsa_id) == _key(user_hsa_id)
            and _key(emergency.care_unit_hsa_id) == _key(commission.unit_hsa_id)
            and _key(emergency.care_provider_hsa_id) == _key(commission.provider_hsa_id)
            and bool(emergency.reason.strip()) and emergency.opened_at <= now < emergency.expires_at)


def revoke_applies(revoke: TemporaryRevoke, *, unit: str, user: str, now: dt.datetime) -> bool:
    """True when the temporary revoke lifts its block for an actor at ``unit`` (upper-cased keys) at ``now``: for the
    whole unit, or for this employee at it, between its start and its end (a cancelled one ended when cancelled)."""
    return (_key(revoke.care_unit_hsa_id) == unit
            and (revoke.employee_hsa_id is None or _key(revoke.employee_hsa_id) == user)
            and (revoke.start is None or revoke.start <= now) and now < revoke.end)


def holds_against(block: BlockFacts, *, provider: str, unit: str, user: str, now: dt.datetime) -> bool:
    """True when ``block`` hides data from an actor at ``unit`` of ``provider`` (upper-cased keys) at ``now``."""
    if block.state is not BlockState.ACTIVE or block.registered_by_guardian:
        return False
    if block.kind is BlockKind.OUTER:
        if _key(block.care_provider_hsa_id) == provider:
            return False  # an outer block holds against other vårdgivare only
    elif (_key(block.care_unit_hsa_id) or None) == unit:
        return False  # staff at the blocked unit itself still see its data
    return not any(revoke_applies(revoke, unit=unit, user=user, now=now) for revoke in block.revokes)


def block_rules(blocks: tuple[BlockFacts, ...], *, provider: str, unit: str, user: str, now: dt.datetime
                ) -> dict[str, list[_BlockRule]]:
    """The blocks that hold against an actor (upper-cased keys), by the blocked vårdgivare, as rules to match items."""
    rules: dict[str, list[_BlockRule]] = {}
    for block in blocks:
        if not holds_against(block, provider=provider, unit=unit, user=user, now=now):
            continue
        # An inner block without its unit is malformed: it hides all the vårdgivare's data (fail closed).
        blocked_unit = None if block.kind is BlockKind.OUTER else (_key(block.care_unit_hsa_id) or None)
        start = _local_midnight(block.info_start) if block.info_start else None
        end = _end_of_day(block.info_end) if block.info_end else None
        rules.setdefault(_key(block.care_provider_hsa_id), []).append(
            (blocked_unit, start, end, _EXCEPTIONS.intersection(block.excluded_types)))
    return rules


def blocked_by(item: ItemFacts, rules: list[_BlockRule]) -> bool:
    """True when one of ``rules`` (of the item's vårdgivare) covers the item: its unit (or the whole vårdgivare), an
    information type it does not keep visible, and any overlap of the item's time with the block's period."""
    unit = item.care_unit_hsa_id.upper()
    first = item.date
    last = item.date_end if item.date_end is not None and item.date_end > first else first
    for block_unit, start, end, kept in rules:
        if (block_unit is None or block_unit == unit) and item.info_type not in kept \
                and (start is None or last >= start) and (end is None or first < end):
            return True  # any overlap with the block's period, partial included
    return False


class _ItemGate:
    """Steps 7–9 for one call: everything item-independent is worked out once, so an item costs a few lookups."""

    def __init__(self, facts: GateFacts, commission: CommissionFacts, now: dt.datetime):
        self.facts, self.commission, self.now = facts, commission, now
        self.user, self.unit = _key(facts.user.hsa_id), _key(commission.unit_hsa_id)
        self.provider = _key(commission.provider_hsa_id)
        patient = facts.patient
        self.protected = patient is not None and patient.protected_identity
        self.emergencies = sorted((e for e in facts.emergencies if self._emergency_valid(e)),
                                  key=lambda e: (e.opened_at, e.opening_id))
        self.overview, self.drug_list = self._consent_bases(patient is not None and is_child(patient.birth_date, now))
        # Blocked data: step 1 reveals which vårdgivare hold it, step 2 (per vårdgivare, after step 1) opens it.
        self.revealed = any(e.blocked_providers_revealed for e in self.emergencies)
        self.opened = {_key(p): e.opening_id for e in self.emergencies if e.blocked_providers_revealed
                       for p in e.blocked_providers_opened}
        self.blocks = self._block_rules()
        self.publication = facts.publication

    def _emergency_valid(self, emergency: EmergencyFacts) -> bool:
        return emergency_holds(emergency, user_hsa_id=self.facts.user.hsa_id, commission=self.commission,
                               now=self.now)

    def _consent_valid(self, consent: ConsentFacts, child: bool) -> bool:
        now = self.now
        if consent.voided_at is not None or (consent.ended_at is not None and consent.ended_at <= now):
            return False
        if now < consent.start or (consent.end is not None and now >= consent.end):
            return False
        if _key(consent.care_unit_hsa_id) != self.unit or _key(consent.care_provider_hsa_id) != self.provider:
            return False  # a consent belongs to the unit and vårdgivare of the commission it was registered under
        if consent.represented_by is not None and not child:
            return False  # a guardian decides for a child only
        personal = consent.scope is ConsentScope.EMPLOYEE or consent.purpose is ConsentPurpose.DRUG_LIST
        if personal:
            return consent.scope is ConsentScope.EMPLOYEE and _key(consent.employee_hsa_id) == self.user
        return True

    def _consent_bases(self, child: bool) -> tuple[_Basis | None, _Basis | None]:
        # CheckConsent: of several valid assertions the latest registered wins (a consent over an emergency on a tie).
        overview: list[tuple[tuple[dt.datetime, int, str], _Basis]] = [
            ((e.opened_at, 0, e.opening_id), (Basis.EMERGENCY, None, e.opening_id)) for e in self.emergencies]
        drug_list: list[tuple[tuple[dt.datetime, int, str], _Basis]] = []
        for consent in self.facts.consents:
            if self._consent_valid(consent, child):
                target = drug_list if consent.purpose is ConsentPurpose.DRUG_LIST else overview
                target.append(((consent.registered_at, 1, consent.consent_id),
                               (Basis.CONSENT, consent.consent_id, None)))
        for assessment in self.facts.incapacities:
            if self._incapacity_valid(assessment):
                overview.append(((assessment.registered_at, 1, assessment.assessment_id),
                                 (Basis.INCAPACITY, assessment.assessment_id, None)))
        return (max(overview)[1] if overview else None), (max(drug_list)[1] if drug_list else None)

    def _incapacity_valid(self, assessment: IncapacityFacts) -> bool:
        """Like a unit consent: at the unit and vårdgivare it was registered under, between start and end, unless
        ended; never for the drug list (which needs the patient's personal consent)."""
        now = self.now
        return ((assessment.ended_at is None or assessment.ended_at > now) and assessment.start <= now < assessment.end
                and _key(assessment.care_unit_hsa_id) == self.unit
                and _key(assessment.care_provider_hsa_id) == self.provider)

    def _block_rules(self) -> dict[str, list[_BlockRule]]:
        """The blocks that hold against this user, by the blocked vårdgivare."""
        return block_rules(self.facts.blocks, provider=self.provider, unit=self.unit, user=self.user, now=self.now)

    def _place(self, provider_id: str) -> _Place:
        """What depends on an item's vårdgivare alone: its key, the blocks against it, its emergency opening."""
        provider = provider_id.upper()
        return provider, self.blocks.get(provider), self.opened.get(provider)

    def _verdict(self, refusal: str | None, blocked: bool, drug_list: bool, provider: str, demographics: bool,
                 opening: str | None) -> _Verdict:
        """The verdict and whether the item is blocked data (published,
        under a block that holds): the same for every item with these values, so worked out once per call."""
        if self.protected and demographics:
            return ItemVerdict(False, Check.PATIENT, "patient.protected_identity", blocked=blocked), blocked
        if drug_list:
            basis, missing = self.drug_list, "consent.drug_list_missing"
        elif provider == self.provider:
            basis, missing = _OWN, ""  # PDL ch. 4: the own vårdgivare's data needs no consent
        else:
            basis, missing = self.overview, "consent.missing"
        if basis is None:
            return ItemVerdict(False, Check.CONSENT, missing, blocked=blocked), blocked
        if blocked:
            if opening is None:
                return ItemVerdict(False, Check.BLOCK, "block.blocked", blocked=True), True
            basis = (Basis.EMERGENCY_BLOCK_OPENED, basis[1], opening)
        if refusal is not None:
            return ItemVerdict(False, Check.PUBLICATION, refusal), False
        kind, consent_id, emergency_id = basis
        return ItemVerdict(True, None, _SHOWN[kind], kind, consent_id, emergency_id), blocked

    def decision(self, reasons: tuple[Reason, ...]) -> Decision:
        """The allowed decision with every item's verdict; blocked vårdgivare named only after emergency step 1.

        An item's verdict depends on its publication screening (its fields but the date, memoised on the rules),
        its date against that screening's thresholds, whether a block holds (only for vårdgivare with blocks), its
        consent group and its vårdgivare; items alike in those get the one verdict, built once per call (D-61).
        """
        now, publication = self.now, self.publication
        screened = publication.screened if publication is not None else None
        places: dict[str, _Place] = {}
        verdicts: dict[tuple[str | None, bool, bool, str, bool], _Verdict] = {}
        items = []
        holders: dict[str, str] = {}
        make = _item_decision
        for item in self.facts.items:
            provider_id, category = item.care_provider_hsa_id, item.category
            place = places.get(provider_id)
            if place is None:
                place = places[provider_id] = self._place(provider_id)
            provider, rules, opening = place
            if screened is not None:
                key = (item.system, category, provider_id, item.care_unit_hsa_id, item.document_kind,
                       item.profession, item.setting)
                screening = screened.get(key) or publication.screen(key)  # type: ignore[union-attr]
                refusal = screening[0]
                if refusal is None and (screening[1] or screening[2] is not None or screening[3] is not None):
                    refusal = dated_refusal(screening, item.date, now)
            else:
                refusal = None
            blocked = refusal is None and rules is not None and blocked_by(item, rules)
            drug_list = item.system == EHM or category == DRUG_LIST_CATEGORY
            demographics = category == _DEMOGRAPHICS
            verdict_key = (refusal, blocked, drug_list, provider, demographics)
            verdict = verdicts.get(verdict_key)
            if verdict is None:
                verdict = verdicts[verdict_key] = self._verdict(refusal, blocked, drug_list, provider, demographics,
                                                                opening)
            items.append(make(item.item_id, verdict[0]))
            if verdict[1]:
                holders.setdefault(provider, provider_id)
        named = tuple(sorted(holders.values())) if self.revealed else ()
        return Decision(True, None, reasons, self.commission, tuple(items), bool(holders), named)


def consent_in_force(facts: GateFacts, commission: CommissionFacts, now: dt.datetime
                     ) -> tuple[Basis, str | None, str | None] | None:
    """What lets the user under ``commission`` see other vårdgivare's overview data at ``now`` (CheckConsent): a
    consent or the user's open nödåtkomst, the latest registered winning, as step 7 decides it; None when nothing."""
    return _ItemGate(facts, commission, now).overview


_Place = tuple[str, list[_BlockRule] | None, str | None]  # upper-cased vårdgivare, its blocks, its opening
_Verdict = tuple[ItemVerdict, bool]  # … and whether the item is blocked data
assert tuple(f.name for f in fields(ItemDecision)) == ("item_id", "verdict") == ItemDecision.__slots__ \
    and not hasattr(ItemDecision, "__post_init__"), "_item_decision sets ItemDecision's two slots"
_SET_ID, _SET_VERDICT = (vars(ItemDecision)[name].__set__ for name in ("item_id", "verdict"))  # slot descriptors
_NEW = object.__new__


def _item_decision(item_id: str, verdict: ItemVerdict) -> ItemDecision:
    """What ``ItemDecision`` makes of ``item_id`` and the verdict's fields, without its __init__ (which makes a new
    verdict): the two slots are set directly."""
    decision = _NEW(ItemDecision)
    _SET_ID(decision, item_id)
    _SET_VERDICT(decision, verdict)
    return decision
