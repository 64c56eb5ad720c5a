"""The PDL gate (ARCHITECTURE §5, DOMAIN §1 and §4.3): a pure decision over plain values.

``decide(facts, now)`` reads nothing and writes nothing: the caller loads the facts (overview/facts.py) and logs the
read (overview/accesslog.py). Checks run in the order of ARCHITECTURE §5; the first failing access check (1–6) is
the reason shown, and each item of the overview then gets its own verdict (7–9) with the reason.

Swedish words: samtycke = consent, nödåtkomst/nödöppning = emergency access/opening, spärr = block,
medarbetaruppdrag = commission, vårdgivare = care provider, vårdenhet = care unit, patientrelation = relation.

THIS FILE IS THE CONTRACT between the gate and the fact loaders: the types first (settled; additions only with
defaults), then the rules' parameters and Swedish texts, checks 1–6, ``decide``, and the per-item checks 7–9.
The publication rules of step 9 are data in overview/producers.py. Each rule, its source, the choices made where
the sources are silent and the test that proves it: docs/gate-rules.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from catalog.clock import end_of_day, local_date, local_midnight
from catalog.model import SJF_READ_RIGHT, VOB_PURPOSE
from overview.producers import DRUG_LIST_CATEGORY, EHM, PublicationRules


class Check(StrEnum):
    """The checks, in the order they run. 1–6 decide access to the patient; 7–9 decide each item."""

    CERTIFICATE = "certificate"  # 1 SITHS certificate valid and chained → HSA-ID
    USER = "user"  # 2 HSA-ID in the directory, active, not archived/feigned (in production)
    COMMISSION = "commission"  # 3 one chosen commission, valid now, purpose Vård och behandling, right Läsa;Alla;SJF
    CONSUMER = "consumer"  # 4 the commission's vårdgivare is connected to NPÖ as consumer
    ACKNOWLEDGEMENT = "acknowledgement"  # 5 current "Information innan start" acknowledged
    PATIENT = "patient"  # the patient exists (checked once a patient is asked for)
    RELATION = "relation"  # 6 patient relation at the commission's unit
    CONSENT = "consent"  # 7 per item: consent / emergency / own vårdgivare
    BLOCK = "block"  # 8 per item: spärr
    PUBLICATION = "publication"  # 9 per item: the producer's publication rules


class RelationKind(StrEnum):
    CARE_CONTACT = "care_contact"  # verified: a care contact at the unit (TGP)
    BOOKING = "booking"  # verified: a booking at the unit
    ASSERTED = "asserted"  # asserted by the user with a reason (logged, always sampled in log follow-up)


class ConsentScope(StrEnum):
    UNIT = "unit"  # all authorised staff at the unit (employee_hsa_id is None)
    EMPLOYEE = "employee"  # only this employee


class ConsentPurpose(StrEnum):
    OVERVIEW = "overview"  # the overview's data from other vårdgivare
    DRUG_LIST = "drug_list"  # läkemedelsförteckningen (eHälsomyndigheten): personal consent only


class BlockKind(StrEnum):
    INNER = "inner"  # inre spärr: within the vårdgivare, data of one unit against its other units
    OUTER = "outer"  # yttre spärr: a vårdgivare's data against other vårdgivare


class BlockState(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"  # permanent hävd
    DELETED = "deleted"  # makulerad


class RevokeReason(StrEnum):
    PATIENTS_CONSENT = "PatientsConsent"
    EMERGENCY = "Emergency"


class Basis(StrEnum):
    """Why an item may be shown (logged with every read)."""

    OWN_PROVIDER = "own_provider"  # PDL ch. 4: the user's own vårdgivare, no consent needed
    CONSENT = "consent"
    EMERGENCY = "emergency"
    EMERGENCY_BLOCK_OPENED = "emergency_block_opened"  # Nödöppning of blocked data (two steps done)


# ---------------------------------------------------------------------- facts (input)
@dataclass(frozen=True, slots=True)
class UserFacts:
    """Who is asking (steps 1–2). ``hsa_id`` is None when there was no acceptable certificate."""

    hsa_id: str | None
    certificate_error: str | None = None  # Swedish text of why the certificate was refused; None = accepted
    in_directory: bool = True
    active: bool = True
    archived: bool = False  # hsaArchivedObject
    feigned: bool = False  # hsaFeignedDataObject (test object): refused in production


@dataclass(frozen=True, slots=True)
class CommissionFacts:
    """A commission the user holds (step 3). Validity is the intersection of the link and the commission."""

    hsa_id: str
    name: str
    purpose: str
    rights: tuple[str, ...]
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None  # exclusive; None = open-ended
    unit_hsa_id: str | None  # None: the commission sits directly under the vårdgivare (refused for SJF)
    unit_name: str
    provider_hsa_id: str
    provider_name: str
    provider_consumer: bool  # step 4


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """The patient asked for."""

    personnummer: str
    found: bool = True
    protected_identity: bool = False  # skyddad identitet: name and address are never shown
    birth_date: dt.date | None = None  # for guardian consent (a guardian decides for a child under 18)


@dataclass(frozen=True, slots=True)
class RelationEvidence:
    """Something that establishes (or asserts) a patient relation at a unit (step 6)."""

    unit_hsa_id: str
    kind: RelationKind
    start: dt.datetime
    end: dt.datetime | None = None  # a care contact still open / an asserted relation without end
    reason: str | None = None  # required for ASSERTED
    employee_hsa_id: str | None = None  # ASSERTED: who asserted it (it holds only for them)


@dataclass(frozen=True, slots=True)
class ConsentFacts:
    """A registered consent (PDLAssertion of type Consent), registered under the commission then used."""

    consent_id: str
    purpose: ConsentPurpose
    scope: ConsentScope
    care_provider_hsa_id: str
    care_unit_hsa_id: str
    employee_hsa_id: str | None  # set for EMPLOYEE scope (and always for DRUG_LIST)
    start: dt.datetime
    end: dt.datetime | None  # None = until ended or voided
    registered_at: dt.datetime
    ended_at: dt.datetime | None = None  # avslutat (patient withdrew): invalid from then on
    voided_at: dt.datetime | None = None  # makulerat (registered in error): never valid
    represented_by: str | None = None  # personnummer of a guardian who gave it for a child


@dataclass(frozen=True, slots=True)
class EmergencyFacts:
    """A nödåtkomst opened by one user at one unit, time-boxed. Blocked data needs both steps."""

    opening_id: str
    employee_hsa_id: str
    care_provider_hsa_id: str
    care_unit_hsa_id: str
    reason: str
    opened_at: dt.datetime
    expires_at: dt.datetime
    blocked_providers_revealed: bool = False  # step 1 done: the user may learn which vårdgivare hold blocked data
    blocked_providers_opened: frozenset[str] = frozenset()  # step 2 done for these vårdgivare


@dataclass(frozen=True, slots=True)
class TemporaryRevoke:
    """Tillfällig hävning of a block for a unit, or for one employee at it."""

    revoke_id: str
    care_unit_hsa_id: str
    employee_hsa_id: str | None
    end: dt.datetime
    reason: RevokeReason
    start: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class BlockFacts:
    """A spärr (blocking TKB v4 shape)."""

    block_id: str
    kind: BlockKind
    care_provider_hsa_id: str  # whose data is blocked
    care_unit_hsa_id: str | None  # required for INNER: the unit whose data is blocked
    info_start: dt.date | None = None  # only data registered in [info_start, info_end] is blocked
    info_end: dt.date | None = None
    excluded_types: frozenset[str] = frozenset()  # ⊆ {"lak", "upp"}: these information types stay visible
    state: BlockState = BlockState.ACTIVE
    revokes: tuple[TemporaryRevoke, ...] = ()
    registered_by_guardian: bool = False  # a guardian cannot block a child's data: such a block has no effect


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """One piece of overview data, as its producer delivered it."""

    item_id: str
    system: str  # producer system key of overview.producers (pasis, melior, pmo, ris, 1177, ehm, or another region's)
    category: str  # e.g. vardkontakt, diagnos, journalanteckning, bilddiagnostik, lakemedelsuttag (overview.producers)
    care_provider_hsa_id: str
    care_unit_hsa_id: str
    date: dt.datetime  # when it was registered / took place
    document_kind: str | None = None  # e.g. slutanteckning, mottagningsanteckning, scannat, brev, remiss
    profession: str | None = None  # e.g. lakare, sjukskoterska (outpatient contacts are produced for doctors only)
    setting: str | None = None  # oppenvard / slutenvard
    info_type: str | None = None  # blocking information type: "lak" (drug orders) or "upp" (alert information)
    title: str = ""
    body: str = ""
    date_end: dt.datetime | None = None  # end of a period item (an admission); None = the item is a point in time


@dataclass(frozen=True, slots=True)
class GateFacts:
    """Everything ``decide`` looks at. ``patient`` None = only the access checks 1–5 (Felsökning)."""

    user: UserFacts
    commissions: tuple[CommissionFacts, ...]  # every commission the user holds (valid or not)
    chosen_commission: str | None  # HSA-ID of the commission the user picked (None: not yet chosen)
    production: bool
    info_version_current: int
    info_version_acknowledged: int | None
    patient: PatientFacts | None = None
    relations: tuple[RelationEvidence, ...] = ()
    consents: tuple[ConsentFacts, ...] = ()
    emergencies: tuple[EmergencyFacts, ...] = ()
    blocks: tuple[BlockFacts, ...] = ()
    items: tuple[ItemFacts, ...] = ()
    publication: PublicationRules | None = None  # step 9 (overview.producers); None = everything is published


# ---------------------------------------------------------------------- decision (output)
@dataclass(frozen=True, slots=True)
class Reason:
    """The outcome of one access check, with a Swedish message and what to do (Felsökning)."""

    check: Check
    passed: bool
    code: str  # stable machine code, e.g. "commission.expired", "relation.missing"
    message: str  # Swedish, for the user
    remedy: str = ""  # Swedish: what to do and whom to contact


@dataclass(frozen=True, slots=True)
class ItemDecision:
    """Whether one item is shown, and why (7–9)."""

    item_id: str
    shown: bool
    check: Check | None  # the failing check when not shown
    code: str
    basis: Basis | None = None  # set when shown
    consent_id: str | None = None
    emergency_id: str | None = None
    blocked: bool = False  # hidden by a block (the user learns only that blocked data exists)


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer. ``allowed``: checks 1–6 passed (with a patient) or 1–5 (without)."""

    allowed: bool
    failed: Check | None
    reasons: tuple[Reason, ...]
    commission: CommissionFacts | None = None  # the commission the decision was taken under
    items: tuple[ItemDecision, ...] = ()
    blocked_exists: bool = False  # blocked data exists for this patient (always told, DOMAIN §1.2)
    blocked_providers: tuple[str, ...] = ()  # only after emergency step 1
    needs_choice: tuple[str, ...] = field(default=())  # commission HSA-IDs to choose from when none was chosen

    @property
    def shown(self) -> tuple[ItemDecision, ...]:
        return tuple(item for item in self.items if item.shown)


# ---------------------------------------------------------------------- the rules' parameters
# Where the sources are silent (docs/gate-rules.md says why).
BOOKING_LEAD = dt.timedelta(days=7)  # a booked visit makes the patient available this long before it starts
BOOKING_TAIL = dt.timedelta(hours=24)  # … and until this long after its end (its start when no end is given)
ASSERTED_WITHOUT_END = dt.timedelta(hours=24)  # an asserted relation without an end holds this long
ADULT_AGE = 18  # a guardian's consent counts until the patient's 18th birthday
_PURPOSE = VOB_PURPOSE.casefold()
_SJF_RIGHT = tuple(part.casefold() for part in SJF_READ_RIGHT.split(";"))
_DEMOGRAPHICS = "demografi"  # never shown for a patient with skyddad identitet

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
    "commission.expired": ("Medarbetaruppdraget {name} ({unit}) gällde till {date}.",
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


def _key(hsa_id: str | None) -> str:
    # HSA-IDs are compared case-insensitively, like the directory compares hsaIdentity.
    return hsa_id.upper() if hsa_id else ""


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
                   date=local_date(limit).isoformat() if limit else "", hsa_id=commission.hsa_id)


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
        return (_key(emergency.employee_hsa_id) == self.user and _key(emergency.care_unit_hsa_id) == self.unit
                and _key(emergency.care_provider_hsa_id) == self.provider and bool(emergency.reason.strip())
                and emergency.opened_at <= self.now < emergency.expires_at)

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
        refusal = self.publication.refusal(item, self.now) if self.publication is not None else None
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
