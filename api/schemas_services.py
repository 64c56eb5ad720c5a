"""The JSON bodies of the service interfaces under /tjanster/ (api/routes/services.py), in the shape of Inera's
blocking TKB v4 and consent TKB v2: the contracts' element names in camelCase, their result codes, their actor.
docs/services.md maps each to the national contract's names and fields.

Requests are read with ``model_validate`` (extra fields are refused: a misspelt element must not be ignored), so a
malformed one gets VALIDATIONERROR naming the element rather than an HTTP error.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

HSA = Field(min_length=1, max_length=64)
TEXT = Field(default=None, max_length=1024)  # reasonText: at most 1024 characters in the TKBs
PERSONNUMMER_ROOT = "1.2.752.129.2.1.3.1"
SAMORDNINGSNUMMER_ROOT = "1.2.752.129.2.1.3.3"


class ResultCode(StrEnum):
    """ResultCodeType of the TKBs: only OK and INFO mean success."""

    OK = "OK"
    INFO = "INFO"
    ERROR = "ERROR"
    VALIDATIONERROR = "VALIDATIONERROR"
    ACCESSDENIED = "ACCESSDENIED"
    NOTFOUND = "NOTFOUND"
    ALREADYEXISTS = "ALREADYEXISTS"
    INVALIDSTATE = "INVALIDSTATE"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Result(Strict):
    resultCode: ResultCode
    resultText: str = ""


class AccessingActor(Strict):
    """Who acts (ActorType): the employee, the vårdgivare and vårdenhet of their medarbetaruppdrag, optionally the
    uppdrag itself (assignmentId); without it, the employee's VoB SJF commission on the unit is used."""

    employeeId: str = HSA
    careProviderId: str = HSA
    careUnitId: str = HSA
    assignmentId: str | None = Field(default=None, max_length=64)


class PatientId(Strict):
    """IIType: root = the identifier's OID (personnummer or samordningsnummer), extension = the 12 digits."""

    root: str = Field(default=PERSONNUMMER_ROOT, max_length=64)
    extension: str = Field(min_length=1, max_length=20)


class ActorRequest(Strict):
    accessingActor: AccessingActor


class PatientRequest(ActorRequest):
    patientId: PatientId


# ---------------------------------------------------------------------- blocks (Spärr v4)
class BlockType(StrEnum):
    INNER = "Inner"
    OUTER = "Outer"


class RevocationReason(StrEnum):
    PATIENTS_CONSENT = "PatientsConsent"
    EMERGENCY = "Emergency"


class ActionActor(Strict):
    employeeId: str = ""
    assignmentId: str | None = None


class ActionInfo(Strict):
    """ActionType: requestDate, requestedBy, registrationDate, registeredBy, reasonText."""

    requestDate: dt.datetime | None = None
    requestedBy: ActionActor | None = None
    registrationDate: dt.datetime | None = None
    registeredBy: ActionActor | None = None
    reasonText: str | None = None


class TemporaryRevokeOut(Strict):
    temporaryRevokeId: str
    startDate: dt.datetime | None = None
    endDate: dt.datetime
    revokedForCareUnitId: str
    revokedForEmployeeId: str | None = None
    revocationReason: RevocationReason
    revocationReasonText: str | None = None
    registrationInfo: ActionInfo
    cancellationInfo: ActionInfo | None = None


class BlockOut(Strict):
    """A block as the contracts return it (the extended format's registration, revoke and deletion info)."""

    blockId: str
    blockType: BlockType
    patientId: PatientId
    informationStartDate: dt.date | None = None
    informationEndDate: dt.date | None = None
    informationCareUnitId: str | None = None
    informationCareProviderId: str
    excludedInformationTypes: list[str] = []
    temporaryRevokes: list[TemporaryRevokeOut] = []
    ownerId: str = "npo-access"
    registrationInfo: ActionInfo
    permanentRevokedInfo: ActionInfo | None = None
    deletionInfo: ActionInfo | None = None


class BlocksResponse(Strict):
    blocks: list[BlockOut] = []
    result: Result


class GetBlocksRequest(Strict):
    """GetBlocks: a system's sync by change date (no employee acts)."""

    nextCreatedOnOrAfter: dt.datetime | None = None
    limit: int = Field(default=1000, ge=1, le=1000)


class GetBlocksResponse(Strict):
    blocks: list[BlockOut] = []
    nextCreatedOnOrAfter: dt.datetime | None = None  # set when there is more: ask again from here
    latestCancellation: dt.datetime | None = None
    result: Result


class InformationEntity(Strict):
    rowNumber: int = Field(ge=0, le=1_000_000)
    informationStartDate: dt.datetime | None = None
    informationEndDate: dt.datetime | None = None
    informationCareUnitId: str = Field(default="", max_length=64)
    informationCareProviderId: str = Field(default="", max_length=64)
    informationType: str | None = Field(default=None, max_length=8)


class CheckBlocksRequest(PatientRequest):
    informationEntities: list[InformationEntity] = Field(max_length=1000)


class CheckResult(Strict):
    rowNumber: int
    status: str  # OK, BLOCKED, VALIDATIONERROR


class CheckBlocksResponse(Strict):
    checkResults: list[CheckResult] = []
    result: Result


class NewBlock(Strict):
    blockId: str | None = Field(default=None, max_length=64)
    blockType: BlockType
    informationStartDate: dt.date | None = None
    informationEndDate: dt.date | None = None
    informationCareUnitId: str | None = Field(default=None, max_length=64)
    informationCareProviderId: str | None = Field(default=None, max_length=64)
    excludedInformationTypes: list[str] = Field(default=[], max_length=2)
    requestDate: dt.datetime | None = None
    reasonText: str | None = TEXT


class RegisterBlockRequest(PatientRequest):
    block: NewBlock


class BlockChangeRequest(ActorRequest):
    """UnregisterBlock (permanent revoke) and DeleteBlock (void): the block, why, and (UnregisterBlock) when the
    patient asked."""

    blockId: str = Field(min_length=1, max_length=64)
    patientId: PatientId | None = None
    requestDate: dt.datetime | None = None
    reasonText: str | None = TEXT


class NewTemporaryRevoke(Strict):
    endDate: dt.datetime
    revokedForCareUnitId: str = HSA
    revokedForEmployeeId: str | None = Field(default=None, max_length=64)
    revocationReason: RevocationReason
    revocationReasonText: str | None = TEXT


class RegisterTemporaryRevokeRequest(PatientRequest):
    blockId: str = Field(min_length=1, max_length=64)
    temporaryRevoke: NewTemporaryRevoke


class CancelTemporaryRevokeRequest(ActorRequest):
    temporaryRevokeId: str = Field(min_length=1, max_length=64)
    patientId: PatientId | None = None


class RegisteredResponse(Strict):
    """The answer to a registration: the result, and the id of what was registered (or found registered)."""

    id: str | None = None
    ids: list[str] = []
    result: Result


class ResultResponse(Strict):
    result: Result


# ---------------------------------------------------------------------- consents (Samtycke v2)
class AssertionType(StrEnum):
    CONSENT = "Consent"
    EMERGENCY = "Emergency"


class ConsentPurposeName(StrEnum):
    """Which data the consent opens: the overview's data from other vårdgivare, or the drug list (personal only).
    Not a TKB element: NPÖ keeps the drug list's consent apart (DOMAIN §4.4)."""

    OVERVIEW = "overview"
    DRUG_LIST = "drug_list"


class NewAssertion(Strict):
    """A PDLAssertion to register: a consent (the whole unit, or personal with ``employeeId`` = the actor), or an
    emergency access (``assertionType`` Emergency: ``reasonText`` required, at most 12 hours)."""

    assertionId: str | None = Field(default=None, max_length=64)
    assertionType: AssertionType = AssertionType.CONSENT
    scope: str = Field(default="NationalLevel", pattern="^NationalLevel$")
    purpose: ConsentPurposeName = ConsentPurposeName.OVERVIEW
    employeeId: str | None = Field(default=None, max_length=64)
    startDate: dt.datetime | None = None
    endDate: dt.datetime | None = None
    representedBy: PatientId | None = None
    reasonText: str | None = TEXT


class RegisterConsentRequest(PatientRequest):
    assertion: NewAssertion


class AssertionOut(Strict):
    assertionId: str
    assertionType: AssertionType = AssertionType.CONSENT
    scope: str = "NationalLevel"
    purpose: ConsentPurposeName
    careProviderId: str
    careUnitId: str
    employeeId: str | None = None
    startDate: dt.datetime
    endDate: dt.datetime | None = None
    patientId: PatientId
    representedBy: PatientId | None = None
    ownerId: str = "npo-access"
    registrationInfo: ActionInfo
    cancellationInfo: ActionInfo | None = None  # avslutat (the patient withdrew it)
    deletionInfo: ActionInfo | None = None  # makulerat (registered by mistake)


class ConsentsResponse(Strict):
    assertions: list[AssertionOut] = []
    result: Result


class CheckConsentResponse(Strict):
    hasConsent: bool = False
    assertionType: AssertionType | None = None
    assertionId: str | None = None
    result: Result


class ConsentChangeRequest(ActorRequest):
    """EndConsentByPatient (avsluta) and DeleteConsent (makulera)."""

    assertionId: str = Field(min_length=1, max_length=64)
    patientId: PatientId | None = None
