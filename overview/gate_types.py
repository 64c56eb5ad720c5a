"""The gate's contract: the facts ``decide`` reads and the decision it returns (plain, frozen values).

The fact loaders (overview/facts.py) build these; the pages and the access log read the decision. Additions only
with defaults. Swedish words: samtycke = consent, nödåtkomst/nödöppning = emergency access/opening, spärr = block,
medarbetaruppdrag = commission, vårdgivare = care provider, vårdenhet = care unit, patientrelation = relation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from overview.producers import PublicationRules


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
    INCAPACITY = "incapacity"  # the patient lacks the capacity to consent, not only temporarily (6 kap. 2 a, 3 a §§)


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
    registered_by: str | None = None  # who registered it: shown to the reader (who may void their own); not a rule


@dataclass(frozen=True, slots=True)
class IncapacityFacts:
    """A registered assessment that the patient lacks the capacity to consent, and not only temporarily: like a
    consent for the whole unit it was registered under, for the overview's data (not the drug list), until ``end``."""

    assessment_id: str
    care_provider_hsa_id: str
    care_unit_hsa_id: str
    start: dt.datetime
    end: dt.datetime
    registered_at: dt.datetime
    ended_at: dt.datetime | None = None  # ended early (the patient regained capacity, or registered by mistake)


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
    incapacities: tuple[IncapacityFacts, ...] = ()  # step 7: assessments that the patient cannot consent


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
class ItemVerdict:
    """What the gate decided on an item, without the item: alike items of one call share one (D-61)."""

    shown: bool
    check: Check | None  # the failing check when not shown
    code: str
    basis: Basis | None = None  # set when shown
    consent_id: str | None = None  # the consent, or (basis INCAPACITY) the incapacity assessment, it rests on
    emergency_id: str | None = None
    blocked: bool = False  # hidden by a block (the user learns only that blocked data exists)


@dataclass(frozen=True, slots=True, init=False)
class ItemDecision:
    """Whether one item is shown, and why (7–9): the item's id and its verdict, whose fields it shows as its own.

    Made as before, ``ItemDecision(item_id, shown, check, code, basis, consent_id, emergency_id, blocked)``; equal
    when the ids and every verdict field are equal. The gate builds it from a shared verdict (two slots to set
    instead of eight: the per-item cost of a decision, D-61).
    """

    item_id: str
    verdict: ItemVerdict

    def __init__(self, item_id: str, shown: bool, check: Check | None, code: str, basis: Basis | None = None,
                 consent_id: str | None = None, emergency_id: str | None = None, blocked: bool = False):
        object.__setattr__(self, "item_id", item_id)
        object.__setattr__(self, "verdict", ItemVerdict(shown, check, code, basis, consent_id, emergency_id, blocked))

    @property
    def shown(self) -> bool:
        return self.verdict.shown

    @property
    def check(self) -> Check | None:
        return self.verdict.check

    @property
    def code(self) -> str:
        return self.verdict.code

    @property
    def basis(self) -> Basis | None:
        return self.verdict.basis

    @property
    def consent_id(self) -> str | None:
        return self.verdict.consent_id

    @property
    def emergency_id(self) -> str | None:
        return self.verdict.emergency_id

    @property
    def blocked(self) -> bool:
        return self.verdict.blocked


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


def hsa_key(hsa_id: str | None) -> str:
    """HSA-IDs compare case-insensitively, like the directory compares hsaIdentity."""
    return hsa_id.upper() if hsa_id else ""
