"""The PDL gate (ARCHITECTURE §5, DOMAIN §1 and §4.3): a pure decision over plain values.

``decide(facts, now)`` reads nothing and writes nothing: the caller loads the facts (overview/facts.py) and logs the
read (overview/accesslog.py). Checks run in the order of ARCHITECTURE §5; the first failing access check (1–6) is
the reason shown, and each item of the overview then gets its own verdict (7–9) with the reason.

Swedish words: samtycke = consent, nödåtkomst/nödöppning = emergency access/opening, spärr = block,
medarbetaruppdrag = commission, vårdgivare = care provider, vårdenhet = care unit, patientrelation = relation.

The contract (facts and decision types) is in overview/gate_types.py and re-exported here; this module holds the
rules' parameters and Swedish texts, checks 1–6 and ``decide``; the per-item checks 7–9 are in gate_items.py.
The publication rules of step 9 are data in overview/producers.py. Each rule, its source, the choices made where
the sources are silent and the test that proves it: docs/gate-rules.md.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from catalog.model import SJF_READ_RIGHT, VOB_PURPOSE
from kernel.clock import local_date, until_text
from overview.gate_items import ADULT_AGE, _ItemGate, consent_in_force, emergency_holds, is_child
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
    PatientFacts,
    Reason,
    RelationEvidence,
    RelationKind,
    RevokeReason,
    TemporaryRevoke,
    UserFacts,
)
from overview.gate_types import hsa_key as _key
from overview.producers import PublicationRules

__all__ = [
    "ADULT_AGE", "Basis", "BlockFacts", "BlockKind", "BlockState", "Check", "CommissionFacts", "ConsentFacts",
    "ConsentPurpose", "ConsentScope", "Decision", "EmergencyFacts", "GateFacts", "IncapacityFacts", "ItemDecision",
    "ItemFacts",
    "ItemVerdict", "PatientFacts", "PublicationRules", "Reason", "RelationEvidence", "RelationKind", "RevokeReason",
    "TemporaryRevoke", "UserFacts", "commission_problem", "consent_in_force", "decide", "emergency_holds",
    "has_sjf_read_right", "is_child", "relation_holds",
]


# ---------------------------------------------------------------------- the rules' parameters
# Where the sources are silent (docs/gate-rules.md says why).
BOOKING_LEAD = dt.timedelta(days=7)  # a booked visit makes the patient available this long before it starts
BOOKING_TAIL = dt.timedelta(hours=24)  # … and until this long after its end (its start when no end is given)
ASSERTED_WITHOUT_END = dt.timedelta(hours=24)  # an asserted relation without an end holds this long
_PURPOSE = VOB_PURPOSE.casefold()
_SJF_RIGHT = tuple(part.casefold() for part in SJF_READ_RIGHT.split(";"))

SERVICE_DESK = "Region Skånes servicedesk, telefon 30000 (internt) eller 0776-73 00 00 (externt)"
_CARD = ("Kontrollera att RS-kortet (SITHS) sitter i läsaren och att du anger rätt pinkod; testa kortet på "
         "http://test.siths.se. Kontrollera att Net iD 5.6 eller senare och dess drivrutiner finns, starta om "
         f"datorn eller prova en annan dator. Hjälper inget: ring {SERVICE_DESK}.")
_DIRECTORY = ("Vårdenhetens katalogadministratör lägger upp och aktiverar dig i Skånekatalogen (privata vårdgivare: "
              f"beställ via IT Kundtjänst Privata). Brådskar det: ring {SERVICE_DESK}.")
_ORDER = ("Sök på dig själv i Skånekatalogen och kontrollera kopplingen till medarbetaruppdraget VoB SJF på din "
          "vårdenhet. Verksamhetschefen avgör vem som ska ha uppdraget och katalogansvarig för Skånekatalogen "
          "tilldelar det: be din chef beställa det i formuläret Beställning av behörigheter. Saknar vårdenheten "
          "uppdraget beställer vårdenhetschefen det (offentlig vård: Skåneförvaltningen; privat hälsoval: "
          f"Koncernkontorets avtalsförvaltare). Brådskar det: ring {SERVICE_DESK}.")
_CHOOSE_VOB = "Välj uppdraget VoB SJF för vårdenheten där patienten vårdas. " + _ORDER

# code → (Swedish message with {placeholders}, Swedish remedy shown when the check failed)
TEXTS: dict[str, tuple[str, str]] = {
    "certificate.ok": ("SITHS-certifikatet godkändes.", ""),
    "certificate.missing": ("Inget giltigt SITHS-certifikat lästes från ditt kort.", _CARD),
    "certificate.invalid": ("SITHS-certifikatet godtogs inte: {error}", _CARD),
    "user.ok": ("Ditt HSA-id {hsa_id} finns i Skånekatalogen.", ""),
    "user.not_in_directory": ("Ditt HSA-id {hsa_id} finns inte i Skånekatalogen.", _DIRECTORY),
    "user.inactive": ("Ditt HSA-id {hsa_id} är inaktiverat i Skånekatalogen.", _DIRECTORY),
    "user.archived": ("Ditt HSA-id {hsa_id} är arkiverat i Skånekatalogen och kan inte användas.",
                      "Logga in med kortet för din nuvarande anställning. Är det fel: kontakta vårdenhetens "
                      f"katalogadministratör eller ring {SERVICE_DESK}."),
    "user.feigned": ("HSA-id {hsa_id} är ett testobjekt och kan inte användas i produktion.",
                     "Logga in med ditt eget RS-kort (SITHS); testidentiteter fungerar bara i testmiljön."),
    "commission.ok": ("Medarbetaruppdraget {name} ({unit}) gäller.", ""),
    "commission.automatic": ("Ditt enda giltiga NPÖ-uppdrag, {name} ({unit}), används.", ""),
    "commission.none": ("Du har inget medarbetaruppdrag i Skånekatalogen.", _ORDER),
    "commission.choose": ("Du har flera medarbetaruppdrag för NPÖ.",
                          "Välj uppdraget för vårdenheten där patienten vårdas nu: samtycken och patientrelationer "
                          "gäller den vårdenhet uppdraget hör till."),
    "commission.not_held": ("Du har inte medarbetaruppdraget {hsa_id}.", _CHOOSE_VOB),
    "commission.not_yet_valid": ("Medarbetaruppdraget {name} ({unit}) gäller först från {date}.",
                                 "Välj ett annat uppdrag eller vänta till startdatumet. Är datumet fel: be din chef "
                                 "beställa en ändring i formuläret Beställning av behörigheter."),
    "commission.expired": ("Medarbetaruppdraget {name} ({unit}) gällde {until}.",
                           "Be din chef förlänga uppdraget i formuläret Beställning av behörigheter "
                           "(verksamhetschefen avgör, katalogansvarig för Skånekatalogen tilldelar). "
                           f"Brådskar det: ring {SERVICE_DESK}."),
    "commission.purpose": ("Medarbetaruppdraget {name} har ändamålet ”{purpose}”; NPÖ kräver ”Vård och behandling”.",
                           _CHOOSE_VOB),
    "commission.right_missing": ("Medarbetaruppdraget {name} saknar rättigheten Läsa;Alla;SJF "
                                 "(sammanhållen journalföring).", _CHOOSE_VOB),
    "commission.no_unit": ("Medarbetaruppdraget {name} hör inte till någon vårdenhet och kan inte användas för "
                           "sammanhållen journalföring.", _CHOOSE_VOB),
    "consumer.ok": ("{provider} är ansluten till NPÖ som konsument.", ""),
    "consumer.not_connected": ("{provider} är inte ansluten till NPÖ som konsument.",
                               "Vårdgivaren måste anslutas till NPÖ innan personalen kan använda tjänsten. Privata "
                               f"vårdgivare: kontakta Vårdgivarservice. Region Skånes enheter: ring {SERVICE_DESK}."),
    "acknowledgement.ok": ("Du har tagit del av Information innan start (version {version}).", ""),
    "acknowledgement.missing": ("Du har inte tagit del av Information innan start, version {version}.",
                                "Läs informationen om hur NPÖ fungerar, vad som visas och PDL (samtycke, spärr, "
                                "logg) och bekräfta den. Det behövs en gång per version."),
    "patient.ok": ("Patienten finns.", ""),
    "patient.not_found": ("Patienten hittades inte.", "Kontrollera person- eller samordningsnumret och sök igen."),
    "relation.care_contact": ("Patienten har en pågående vårdkontakt på {unit}.", ""),
    "relation.booking": ("Patienten har ett bokat besök på {unit}.", ""),
    "relation.asserted": ("Du har intygat patientrelationen på {unit}; intygandet loggas och granskas.", ""),
    "relation.missing": ("Det finns ingen patientrelation med patienten på {unit}.",
                         "Kontrollera att du valt medarbetaruppdraget för vårdenheten där patienten vårdas nu. "
                         "Deltar du i vården utan registrerad vårdkontakt eller bokning kan du intyga "
                         "patientrelationen med ett skäl; det loggas och granskas alltid vid loggkontroll."),
}


@lru_cache(maxsize=8192)
def _reason(check: Check, code: str, passed: bool = False, **values: object) -> Reason:
    # Memoised: the same user asks again and again, and building the Swedish texts is most of checks 1–6's cost.
    message, remedy = TEXTS[code]
    return Reason(check, passed, code, message.format(**values), "" if passed else remedy)


# ---------------------------------------------------------------------- access checks 1–6
def _check_certificate(user: UserFacts) -> Reason:
    if user.certificate_error is not None:
        return _reason(Check.CERTIFICATE, "certificate.invalid", error=user.certificate_error)
    if not user.hsa_id:
        return _reason(Check.CERTIFICATE, "certificate.missing")
    return _reason(Check.CERTIFICATE, "certificate.ok", True)


def _check_user(user: UserFacts, production: bool) -> Reason:
    code = ("user.not_in_directory" if not user.in_directory else "user.archived" if user.archived
            else "user.inactive" if not user.active else "user.feigned" if user.feigned and production else "user.ok")
    return _reason(Check.USER, code, code == "user.ok", hsa_id=user.hsa_id)


@lru_cache(maxsize=1024)
def has_sjf_read_right(rights: tuple[str, ...]) -> bool:
    """True when one of ``rights`` is Läsa;Alla;SJF (any case, parts trimmed); malformed rights are ignored."""
    for right in rights:
        parts = tuple(part.strip().casefold() for part in right.split(";"))
        if len(parts) == 3 and all(parts) and parts == _SJF_RIGHT:
            return True
    return False


_PROBLEM_RANK = {"commission.not_yet_valid": 0, "commission.expired": 0, "commission.purpose": 1,
                 "commission.right_missing": 2, "commission.no_unit": 3}


def commission_problem(commission: CommissionFacts, now: dt.datetime) -> str | None:
    """Why ``commission`` cannot be used for NPÖ at ``now`` (a reason code), or None when it can."""
    if commission.valid_from is not None and now < commission.valid_from:
        return "commission.not_yet_valid"
    if commission.valid_to is not None and now >= commission.valid_to:
        return "commission.expired"
    if commission.purpose.strip().casefold() != _PURPOSE:
        return "commission.purpose"
    if not has_sjf_read_right(tuple(commission.rights)):  # a tuple, so the memo can hash it
        return "commission.right_missing"
    if not commission.unit_hsa_id:
        return "commission.no_unit"
    return None


def _commission_reason(code: str, commission: CommissionFacts) -> Reason:
    limit = {"commission.not_yet_valid": commission.valid_from, "commission.expired": commission.valid_to}.get(code)
    return _reason(Check.COMMISSION, code, code in {"commission.ok", "commission.automatic"}, name=commission.name,
                   unit=commission.unit_name, purpose=commission.purpose,
                   date=local_date(limit).isoformat() if limit else "", hsa_id=commission.hsa_id,
                   until=until_text(limit) if limit else "")


def _check_commission(facts: GateFacts, now: dt.datetime
                      ) -> tuple[Reason, CommissionFacts | None, tuple[str, ...]]:
    if facts.chosen_commission is not None:
        chosen = _key(facts.chosen_commission)
        held = [c for c in facts.commissions if _key(c.hsa_id) == chosen]
        if not held:
            return _reason(Check.COMMISSION, "commission.not_held", hsa_id=facts.chosen_commission), None, ()
        # The same commission may be held through several links (periods): any usable one will do.
        problems = [(c, commission_problem(c, now)) for c in held]
        commission, problem = next(((c, p) for c, p in problems if p is None), problems[0])
        return _commission_reason(problem or "commission.ok", commission), commission, ()
    usable: dict[str, CommissionFacts] = {}
    for commission in facts.commissions:
        if commission_problem(commission, now) is None:
            usable.setdefault(_key(commission.hsa_id), commission)
    if len(usable) == 1:
        (commission,) = usable.values()
        return _commission_reason("commission.automatic", commission), commission, ()
    if usable:
        choices = tuple(c.hsa_id for c in usable.values())
        return _reason(Check.COMMISSION, "commission.choose"), None, choices
    if not facts.commissions:
        return _reason(Check.COMMISSION, "commission.none"), None, ()
    # None usable: explain the commission that came closest (the latest check it failed).
    ranked = [(_PROBLEM_RANK[commission_problem(c, now) or ""], -i, c) for i, c in enumerate(facts.commissions)]
    _rank, _index, closest = max(ranked, key=lambda entry: entry[:2])
    return _commission_reason(commission_problem(closest, now) or "", closest), closest, ()


def _check_consumer(commission: CommissionFacts) -> Reason:
    code = "consumer.ok" if commission.provider_consumer else "consumer.not_connected"
    return _reason(Check.CONSUMER, code, commission.provider_consumer, provider=commission.provider_name)


def _check_acknowledgement(facts: GateFacts) -> Reason:
    done = facts.info_version_acknowledged is not None and facts.info_version_acknowledged >= facts.info_version_current
    code = "acknowledgement.ok" if done else "acknowledgement.missing"
    return _reason(Check.ACKNOWLEDGEMENT, code, done, version=facts.info_version_current)


_RELATION_RANK = {RelationKind.CARE_CONTACT: 0, RelationKind.BOOKING: 1, RelationKind.ASSERTED: 2}


def relation_holds(evidence: RelationEvidence, user_hsa_id: str, now: dt.datetime) -> bool:
    """True when ``evidence`` gives ``user_hsa_id`` a patient relation at ``now`` (its unit is checked apart)."""
    if evidence.kind is RelationKind.CARE_CONTACT:
        return evidence.start <= now and (evidence.end is None or now < evidence.end)
    if evidence.kind is RelationKind.BOOKING:
        return evidence.start - BOOKING_LEAD <= now < (evidence.end or evidence.start) + BOOKING_TAIL
    # Asserted: with a reason, by this employee only, for a bounded time.
    end = evidence.end or evidence.start + ASSERTED_WITHOUT_END
    return (bool(evidence.reason and evidence.reason.strip()) and _key(evidence.employee_hsa_id) == _key(user_hsa_id)
            and evidence.start <= now < end)


def _check_relation(facts: GateFacts, commission: CommissionFacts, now: dt.datetime) -> Reason:
    unit, user = _key(commission.unit_hsa_id), facts.user.hsa_id or ""
    holding = [e.kind for e in facts.relations if _key(e.unit_hsa_id) == unit and relation_holds(e, user, now)]
    if not holding:
        return _reason(Check.RELATION, "relation.missing", unit=commission.unit_name)
    kind = min(holding, key=_RELATION_RANK.__getitem__)  # a verified relation is reported before an asserted one
    return _reason(Check.RELATION, f"relation.{kind.value}", True, unit=commission.unit_name)


def _access(facts: GateFacts, now: dt.datetime) -> tuple[list[Reason], CommissionFacts | None, tuple[str, ...]]:
    """Checks 1–6; after 1–2 pass, 3–5 are all run so the Felsökning page lists every problem at once."""
    reasons = [_check_certificate(facts.user)]
    if reasons[0].passed:
        reasons.append(_check_user(facts.user, facts.production))
    if not reasons[-1].passed:
        return reasons, None, ()
    commission_reason, commission, choices = _check_commission(facts, now)
    reasons.append(commission_reason)
    if commission_reason.passed and commission is not None:
        reasons.append(_check_consumer(commission))
    reasons.append(_check_acknowledgement(facts))
    if facts.patient is None or not all(r.passed for r in reasons) or commission is None:
        return reasons, commission, choices
    found = facts.patient.found
    reasons.append(_reason(Check.PATIENT, "patient.ok" if found else "patient.not_found", found))
    if found:
        reasons.append(_check_relation(facts, commission, now))
    return reasons, commission, choices


# ---------------------------------------------------------------------- the decision
def decide(facts: GateFacts, now: dt.datetime) -> Decision:
    """Decide what ``facts.user`` may see of ``facts.patient`` at ``now`` (aware datetime).

    Implements ARCHITECTURE §5 steps 1–9 and DOMAIN §4.3. See docs/gate-rules.md for each rule and its test.
    """
    reasons, commission, choices = _access(facts, now)
    failed = next((r.check for r in reasons if not r.passed), None)
    if failed is not None or facts.patient is None or commission is None:
        return Decision(failed is None, failed, tuple(reasons), commission, needs_choice=choices)
    return _ItemGate(facts, commission, now).decision(tuple(reasons))
