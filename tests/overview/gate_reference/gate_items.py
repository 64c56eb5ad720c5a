"""REFERENCE COPY, not production: overview/gate_items.py as of commit bf6d255 (see gate.py here).

Steps 7–9 of the gate, per item: consent or emergency or own vårdgivare, blocks, publication rules."""

from __future__ import annotations

import datetime as dt

from kernel.clock import end_of_day, local_date, local_midnight
from overview.gate_types import (
    Basis,
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
    ItemDecision,
    ItemFacts,
    Reason,
    TemporaryRevoke,
)
from overview.gate_types import hsa_key as _key
from overview.producers import DRUG_LIST_CATEGORY, EHM
from tests.overview.gate_reference.producers import refusal as _refusal

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
    return local_date(now) < majority


def emergency_holds(emergency: EmergencyFacts, *, user_hsa_id: str | None, commission: CommissionFacts,
                    now: dt.datetime) -> bool:
    """True while a nödåtkomst counts for this user under this commission: opened by them at its unit and vårdgivare,
    with a reason, and within its time box."""
    return (_key(emergency.employee_hsa_id) == _key(user_hsa_id)
            and _key(emergency.care_unit_hsa_id) == _key(commission.unit_hsa_id)
            and _key(emergency.care_provider_hsa_id) == _key(commission.provider_hsa_id)
            and bool(emergency.reason.strip()) and emergency.opened_at <= now < emergency.expires_at)


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
        return (max(overview)[1] if overview else None), (max(drug_list)[1] if drug_list else None)

    def _revoke_applies(self, revoke: TemporaryRevoke) -> bool:
        return (_key(revoke.care_unit_hsa_id) == self.unit
                and (revoke.employee_hsa_id is None or _key(revoke.employee_hsa_id) == self.user)
                and (revoke.start is None or revoke.start <= self.now) and self.now < revoke.end)

    def _block_rules(self) -> dict[str, list[_BlockRule]]:
        """The blocks that hold against this user, by the blocked vårdgivare."""
        rules: dict[str, list[_BlockRule]] = {}
        for block in self.facts.blocks:
            if block.state is not BlockState.ACTIVE or block.registered_by_guardian:
                continue
            provider = _key(block.care_provider_hsa_id)
            if block.kind is BlockKind.OUTER:
                if provider == self.provider:
                    continue  # an outer block holds against other vårdgivare only
                unit = None
            else:
                # An inner block without its unit is malformed: it hides all the vårdgivare's data (fail closed).
                unit = _key(block.care_unit_hsa_id) or None
                if unit == self.unit:
                    continue  # staff at the blocked unit itself still see its data
            if any(self._revoke_applies(revoke) for revoke in block.revokes):
                continue
            start = local_midnight(block.info_start) if block.info_start else None
            end = end_of_day(block.info_end) if block.info_end else None
            rules.setdefault(provider, []).append((unit, start, end, _EXCEPTIONS.intersection(block.excluded_types)))
        return rules

    @staticmethod
    def _blocked(item: ItemFacts, rules: list[_BlockRule]) -> bool:
        unit = item.care_unit_hsa_id.upper()
        first = item.date
        last = item.date_end if item.date_end is not None and item.date_end > first else first
        for block_unit, start, end, kept in rules:
            if (block_unit is None or block_unit == unit) and item.info_type not in kept \
                    and (start is None or last >= start) and (end is None or first < end):
                return True  # any overlap with the block's period, partial included
        return False

    def item(self, item: ItemFacts) -> tuple[ItemDecision, bool]:
        """The verdict on one item, and whether it is blocked data (published, under a block that holds)."""
        item_id, provider = item.item_id, item.care_provider_hsa_id.upper()
        refusal = _refusal(self.publication, item, self.now) if self.publication is not None else None
        rules = self.blocks.get(provider)  # usually None: most patients have no block
        blocked = refusal is None and rules is not None and self._blocked(item, rules)
        if self.protected and item.category == _DEMOGRAPHICS:
            return ItemDecision(item_id, False, Check.PATIENT, "patient.protected_identity", blocked=blocked), blocked
        if item.system == EHM or item.category == DRUG_LIST_CATEGORY:
            basis, missing = self.drug_list, "consent.drug_list_missing"
        elif provider == self.provider:
            basis, missing = _OWN, ""  # PDL ch. 4: the own vårdgivare's data needs no consent
        else:
            basis, missing = self.overview, "consent.missing"
        if basis is None:
            return ItemDecision(item_id, False, Check.CONSENT, missing, blocked=blocked), blocked
        if blocked:
            opening = self.opened.get(provider)
            if opening is None:
                return ItemDecision(item_id, False, Check.BLOCK, "block.blocked", blocked=True), True
            basis = (Basis.EMERGENCY_BLOCK_OPENED, basis[1], opening)
        if refusal is not None:
            return ItemDecision(item_id, False, Check.PUBLICATION, refusal), False
        kind, consent_id, emergency_id = basis
        return ItemDecision(item_id, True, None, _SHOWN[kind], kind, consent_id, emergency_id), blocked

    def decision(self, reasons: tuple[Reason, ...]) -> Decision:
        """The allowed decision with every item's verdict; blocked vårdgivare named only after emergency step 1."""
        items = []
        holders: dict[str, str] = {}
        for entry in self.facts.items:
            verdict, blocked = self.item(entry)
            items.append(verdict)
            if blocked:
                holders.setdefault(entry.care_provider_hsa_id.upper(), entry.care_provider_hsa_id)
        named = tuple(sorted(holders.values())) if self.revealed else ()
        return Decision(True, None, reasons, self.commission, tuple(items), bool(holders), named)
