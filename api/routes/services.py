"""The service interfaces under /tjanster/ (issue 13): JSON over HTTPS with mutual TLS, in the shape of Inera's
blocking TKB v4 (/tjanster/sparr/) and consent TKB v2 (/tjanster/samtycke/), for the systems of the region (a journal
system, a national copy of the blocks). Each operation is a POST named by its contract operation (also its OpenAPI
operationId) and calls the same service functions as the pages (overview/blocks.py, overview/service.py), with the
same authorisation: the gate's checks for the accessing actor.

Who calls: a system with a SITHS function certificate (funktionscertifikat) whose HSA-ID is allowed in
``NPO_SERVICE_FUNCTIONS`` (outside production, the demo's journal system when none is named); a person's card is not
a system. Who acts: the ``accessingActor`` of the request, an employee at the vårdenhet and vårdgivare of their
medarbetaruppdrag; an actor manages blocks and consents only for the vårdgivare of that uppdrag.

The answer is the contract's: HTTP 200 with ``result.resultCode`` (OK, INFO, VALIDATIONERROR, ACCESSDENIED,
NOTFOUND, ALREADYEXISTS, INVALIDSTATE, ERROR) and a Swedish ``resultText`` for every outcome of the request itself;
HTTP 401/403 when the calling system is not accepted, 503 with ERROR while Skånekatalogen is down (retry later).
docs/services.md maps each operation and field to the national contract.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.jsonbody import documented_body, json_object
from api.routes.overview_base import gatekeeper
from api.schemas_services import (
    PERSONNUMMER_ROOT,
    SAMORDNINGSNUMMER_ROOT,
    AccessingActor,
    ActionActor,
    ActionInfo,
    AssertionOut,
    AssertionType,
    BlockChangeRequest,
    BlockOut,
    BlocksResponse,
    BlockType,
    CancelTemporaryRevokeRequest,
    CheckBlocksRequest,
    CheckBlocksResponse,
    CheckConsentResponse,
    CheckResult,
    ConsentChangeRequest,
    ConsentPurposeName,
    ConsentsResponse,
    GetBlocksRequest,
    GetBlocksResponse,
    PatientId,
    PatientRequest,
    RegisterBlockRequest,
    RegisterConsentRequest,
    RegisteredResponse,
    RegisterTemporaryRevokeRequest,
    Result,
    ResultCode,
    ResultResponse,
    RevocationReason,
    TemporaryRevokeOut,
)
from api.siths import SithsIdentity, identify
from catalog.ldapconn import DirectoryUnavailable
from kernel import clock, runtime
from kernel.clock import STOCKHOLM
from kernel.errors import DomainError
from overview import blocks, inputs, service
from overview.access import require
from overview.errors import AlreadyExists, Conflict, InvalidInput, InvalidInputs, NotAllowed, NotFound
from overview.gate import (
    Basis,
    BlockKind,
    Check,
    ConsentPurpose,
    ConsentScope,
    RevokeReason,
    commission_problem,
)
from overview.gate_types import hsa_key
from overview.models import Block, BlockRevoke, Consent

router = APIRouter(prefix="/tjanster", tags=["tjanster"])


# ---------------------------------------------------------------------- the calling system
def calling_system(request: Request) -> SithsIdentity:
    """Dependency: the verified function certificate of an allowed system (CertificateRejected → 401, else 403)."""
    identity = identify(request)
    if identity.hsa_id.upper() not in runtime.settings().allowed_service_functions:
        raise HTTPException(403, f"Certifikatet {identity.hsa_id} hör inte till ett system som får anropa tjänsterna. "
                                 "Ett system anropar med sitt funktionscertifikat och läggs till i "
                                 "NPO_SERVICE_FUNCTIONS av NPÖ-förvaltningen.")
    return identity


CallingSystem = Annotated[SithsIdentity, Depends(calling_system)]


# ---------------------------------------------------------------------- reading and answering
_CODES: tuple[tuple[type[DomainError], ResultCode], ...] = (
    (AlreadyExists, ResultCode.ALREADYEXISTS), (InvalidInput, ResultCode.VALIDATIONERROR),
    (InvalidInputs, ResultCode.VALIDATIONERROR), (NotAllowed, ResultCode.ACCESSDENIED),
    (NotFound, ResultCode.NOTFOUND), (Conflict, ResultCode.INVALIDSTATE), (DomainError, ResultCode.VALIDATIONERROR))


def _failure(code: ResultCode, text: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"result": {"resultCode": code.value, "resultText": text}}, status_code=status)


def _text_of(exc: DomainError) -> str:
    if isinstance(exc, InvalidInput):
        return f"{exc.field}: {exc.message}"
    return exc.message


def _validation_text(exc: ValidationError) -> str:
    said = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "innehållet"
        kind = error.get("type", "")
        what = ("saknas" if kind == "missing" else "är inte ett känt element" if kind == "extra_forbidden"
                else "är för långt" if "too_long" in kind else "har fel format")
        said.append(f"{where} {what}")
    return "Förfrågan följer inte kontraktet: " + "; ".join(dict.fromkeys(said)) + "."


async def _serve(request: Request, model: type[BaseModel], work: Callable[[Any, Session], BaseModel]) -> Any:
    """Read the body as ``model``, run ``work(request, session)`` in one transaction (nothing is kept when it
    fails), and answer its model, or the result code of what went wrong."""
    try:
        parsed = model.model_validate(json_object(await request.body()))
    except InvalidInput as exc:
        return _failure(ResultCode.VALIDATIONERROR, exc.message)
    except ValidationError as exc:
        return _failure(ResultCode.VALIDATIONERROR, _validation_text(exc))

    def run() -> Any:
        with runtime.session_scope() as session:
            return work(parsed, session)

    try:
        return await run_in_threadpool(run)
    except DirectoryUnavailable:
        return _failure(ResultCode.ERROR, "Skånekatalogen svarar inte just nu; inget har ändrats. Försök igen om en "
                                          "stund.", status=503)
    except DomainError as exc:
        code = next(code for cls, code in _CODES if isinstance(exc, cls))
        return _failure(code, _text_of(exc))


def _ok(text: str = "") -> Result:
    return Result(resultCode=ResultCode.OK, resultText=text)


# ---------------------------------------------------------------------- the actor and the patient
def _hsa(value: str, field: str) -> str:
    return inputs.hsa_id(value.strip(), field)


def _acting(session: Session, actor: AccessingActor) -> tuple[str, str]:
    """The employee and the medarbetaruppdrag they act under: ``assignmentId``, or their usable VoB SJF commission
    on ``careUnitId``; either must belong to ``careUnitId`` and ``careProviderId`` (ACCESSDENIED otherwise)."""
    employee = _hsa(actor.employeeId, "accessingActor.employeeId")
    unit = _hsa(actor.careUnitId, "accessingActor.careUnitId")
    provider = _hsa(actor.careProviderId, "accessingActor.careProviderId")
    chosen = _hsa(actor.assignmentId, "accessingActor.assignmentId") if actor.assignmentId else None
    now = clock.now()
    facts, decision = gatekeeper().evaluate(session=session, user_hsa_id=employee, commission_hsa_id=chosen, now=now)
    if chosen is not None:
        commission = require(decision, through=Check.COMMISSION)
    else:
        usable = [c for c in facts.commissions if hsa_key(c.unit_hsa_id) == hsa_key(unit)
                  and commission_problem(c, now) is None]
        if not usable:
            require(decision, through=Check.USER)  # an unknown or inactive employee is told so first
            raise NotAllowed(f"Medarbetaren {employee} har inget giltigt medarbetaruppdrag för vård och behandling "
                             f"(VoB SJF) på vårdenheten {unit}.")
        commission = usable[0]
    if hsa_key(commission.unit_hsa_id) != hsa_key(unit) or hsa_key(commission.provider_hsa_id) != hsa_key(provider):
        raise NotAllowed("Medarbetaruppdraget hör till en annan vårdenhet eller vårdgivare än accessingActor anger: "
                         "en aktör hanterar spärrar och samtycken bara för vårdgivaren i sitt medarbetaruppdrag.")
    return employee, commission.hsa_id


def _patient(patient: PatientId | None, field: str = "patientId") -> str | None:
    if patient is None:
        return None
    if patient.root not in (PERSONNUMMER_ROOT, SAMORDNINGSNUMMER_ROOT):
        raise InvalidInput(f"{field}.root", f"Okänd identifierartyp {patient.root}; ange personnummer ("
                                            f"{PERSONNUMMER_ROOT}) eller samordningsnummer ({SAMORDNINGSNUMMER_ROOT}).")
    return inputs.personnummer(patient.extension.strip(), f"{field}.extension")


def _required_patient(request: PatientRequest) -> str:
    pnr = _patient(request.patientId)
    assert pnr is not None  # the model requires it
    return pnr


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    """A time of the request: with its offset, or Swedish local time when it has none (as the TKBs' local times)."""
    if value is None:
        return None
    return inputs.aware(value if value.tzinfo is not None else value.replace(tzinfo=STOCKHOLM), field)


# ---------------------------------------------------------------------- blocks as the contracts show them
def _info(at: dt.datetime | None, by: str | None, *, requested: dt.datetime | None = None, text: str | None = None,
          assignment: str | None = None) -> ActionInfo:
    return ActionInfo(requestDate=requested, registrationDate=at,
                      registeredBy=ActionActor(employeeId=by or "", assignmentId=assignment), reasonText=text or None)


def _revoke_out(revoke: BlockRevoke) -> TemporaryRevokeOut:
    cancelled = _info(revoke.cancelled_at, revoke.cancelled_by) if revoke.cancelled_at else None
    return TemporaryRevokeOut(
        temporaryRevokeId=revoke.id, startDate=revoke.start, endDate=revoke.end,
        revokedForCareUnitId=revoke.care_unit_hsa_id, revokedForEmployeeId=revoke.employee_hsa_id,
        revocationReason=RevocationReason(revoke.reason), revocationReasonText=revoke.reason_text,
        registrationInfo=_info(revoke.registered_at, revoke.registered_by,
                               assignment=revoke.registered_commission_hsa_id), cancellationInfo=cancelled)


def _block_out(block: Block, revokes: tuple[BlockRevoke, ...]) -> BlockOut:
    registered = _info(block.registered_at, block.registered_by, requested=block.requested_at, text=block.reason,
                       assignment=block.registered_commission_hsa_id)
    registered.requestedBy = ActionActor(employeeId="patient" if block.requested_by == "patient" else "")
    return BlockOut(
        blockId=block.id, blockType=BlockType.OUTER if block.kind == BlockKind.OUTER else BlockType.INNER,
        patientId=_pnr_out(block.personnummer),
        informationStartDate=block.info_start, informationEndDate=block.info_end,
        informationCareUnitId=block.care_unit_hsa_id, informationCareProviderId=block.care_provider_hsa_id,
        excludedInformationTypes=[t for t in block.excluded_types.split(",") if t],
        temporaryRevokes=[_revoke_out(r) for r in revokes], registrationInfo=registered,
        permanentRevokedInfo=_info(block.revoked_at, block.revoked_by, requested=block.revoke_requested_at,
                                   text=block.revoke_reason) if block.revoked_at else None,
        deletionInfo=_info(block.deleted_at, block.deleted_by, text=block.deletion_reason) if block.deleted_at
        else None)


# ---------------------------------------------------------------------- the operations
def _operation(name: str, model: type[BaseModel], answer: type[BaseModel], summary: str, *,
               contract: str = "sparr") -> Callable[..., Any]:
    return router.post(f"/{contract}/{name}", operation_id=name, response_model=answer, summary=summary,
                       openapi_extra=documented_body(model))


@_operation("GetBlocksForPatient", PatientRequest, BlocksResponse, "The patient's active blocks")
async def get_blocks_for_patient(request: Request, _system: CallingSystem) -> Any:
    def work(body: PatientRequest, session: Session) -> BlocksResponse:
        employee, commission = _acting(session, body.accessingActor)
        found = blocks.blocks_for_patient(session=session, directory=gatekeeper(), user_hsa_id=employee,
                                          commission_hsa_id=commission, personnummer=_required_patient(body))
        return BlocksResponse(blocks=[_block_out(b, r) for b, r in found], result=_ok())
    return await _serve(request, PatientRequest, work)


@_operation("CheckBlocks", CheckBlocksRequest, CheckBlocksResponse, "Whether each information row is blocked")
async def check_blocks(request: Request, _system: CallingSystem) -> Any:
    def work(body: CheckBlocksRequest, session: Session) -> CheckBlocksResponse:
        employee, commission = _acting(session, body.accessingActor)
        rows = [blocks.InformationRow(e.rowNumber, e.informationCareProviderId, e.informationCareUnitId,
                                      _aware(e.informationStartDate, "informationStartDate"),
                                      _aware(e.informationEndDate, "informationEndDate"), e.informationType)
                for e in body.informationEntities]
        answers = blocks.check_blocks(session=session, directory=gatekeeper(), user_hsa_id=employee,
                                      commission_hsa_id=commission, personnummer=_required_patient(body), rows=rows)
        return CheckBlocksResponse(checkResults=[CheckResult(rowNumber=n, status=s.value) for n, s in answers],
                                   result=_ok())
    return await _serve(request, CheckBlocksRequest, work)


@_operation("RegisterBlock", RegisterBlockRequest, RegisteredResponse, "Register a block on the patient's request")
async def register_block(request: Request, _system: CallingSystem) -> Any:
    def work(body: RegisterBlockRequest, session: Session) -> RegisteredResponse:
        employee, commission = _acting(session, body.accessingActor)
        new = body.block
        if new.informationCareProviderId and \
                hsa_key(new.informationCareProviderId) != hsa_key(body.accessingActor.careProviderId):
            raise NotAllowed("En spärr registreras hos vårdgivaren vars uppgifter den gäller: "
                             "informationCareProviderId ska vara accessingActor.careProviderId.")
        block = blocks.register_block(
            session=session, directory=gatekeeper(), user_hsa_id=employee, commission_hsa_id=commission,
            personnummer=_required_patient(body), kind=new.blockType.value.lower(),
            care_unit_hsa_id=new.informationCareUnitId, info_start=new.informationStartDate,
            info_end=new.informationEndDate, excluded_types=new.excludedInformationTypes,
            requested_at=_aware(new.requestDate, "requestDate"), reason=new.reasonText or "", block_id=new.blockId)
        return RegisteredResponse(id=block.id, result=_ok())
    return await _serve(request, RegisterBlockRequest, work)


def _change(act: Callable[..., Block], text: str) -> Callable[[BlockChangeRequest, Session], ResultResponse]:
    def work(body: BlockChangeRequest, session: Session) -> ResultResponse:
        employee, commission = _acting(session, body.accessingActor)
        more: dict[str, Any] = {"requested_at": _aware(body.requestDate, "requestDate")} \
            if act is blocks.revoke_block else {}
        act(session=session, directory=gatekeeper(), user_hsa_id=employee, commission_hsa_id=commission,
            block_id=body.blockId, personnummer=_patient(body.patientId), reason=body.reasonText or "", **more)
        return ResultResponse(result=_ok(text))
    return work


@_operation("UnregisterBlock", BlockChangeRequest, ResultResponse, "Revoke a block permanently (hävd)")
async def unregister_block(request: Request, _system: CallingSystem) -> Any:
    return await _serve(request, BlockChangeRequest, _change(blocks.revoke_block, "Spärren är hävd."))


@_operation("DeleteBlock", BlockChangeRequest, ResultResponse, "Void a block registered by mistake (makulerad)")
async def delete_block(request: Request, _system: CallingSystem) -> Any:
    return await _serve(request, BlockChangeRequest, _change(blocks.void_block, "Spärren är makulerad."))


@_operation("RegisterTemporaryRevoke", RegisterTemporaryRevokeRequest, RegisteredResponse,
            "Lift a block temporarily for the actor's unit or the actor")
async def register_temporary_revoke(request: Request, _system: CallingSystem) -> Any:
    def work(body: RegisterTemporaryRevokeRequest, session: Session) -> RegisteredResponse:
        employee, commission = _acting(session, body.accessingActor)
        revoke = body.temporaryRevoke
        if hsa_key(revoke.revokedForCareUnitId) != hsa_key(body.accessingActor.careUnitId):
            raise NotAllowed("En tillfällig hävning registreras för vårdenheten där patienten vårdas: "
                             "revokedForCareUnitId ska vara accessingActor.careUnitId.")
        if revoke.revokedForEmployeeId and hsa_key(revoke.revokedForEmployeeId) != hsa_key(employee):
            raise NotAllowed("En personlig tillfällig hävning gäller den som registrerar den: "
                             "revokedForEmployeeId ska vara accessingActor.employeeId.")
        end = _aware(revoke.endDate, "temporaryRevoke.endDate")
        assert end is not None  # required by the model
        rows = blocks.register_temporary_revoke(
            session=session, directory=gatekeeper(), user_hsa_id=employee, commission_hsa_id=commission,
            personnummer=_required_patient(body), end=end, reason=RevokeReason(revoke.revocationReason.value),
            employee_only=bool(revoke.revokedForEmployeeId), reason_text=revoke.revocationReasonText or "",
            block_ids=[body.blockId])
        return RegisteredResponse(ids=[r.id for r in rows], result=_ok(
            "" if rows else "Spärren var redan tillfälligt hävd för vårdenheten till det datumet eller senare."))
    return await _serve(request, RegisterTemporaryRevokeRequest, work)


@_operation("CancelTemporaryRevoke", CancelTemporaryRevokeRequest, ResultResponse, "Cancel a temporary revoke")
async def cancel_temporary_revoke(request: Request, _system: CallingSystem) -> Any:
    def work(body: CancelTemporaryRevokeRequest, session: Session) -> ResultResponse:
        employee, commission = _acting(session, body.accessingActor)
        blocks.cancel_temporary_revoke(session=session, directory=gatekeeper(), user_hsa_id=employee,
                                       commission_hsa_id=commission, revoke_id=body.temporaryRevokeId,
                                       personnummer=_patient(body.patientId))
        return ResultResponse(result=_ok("Den tillfälliga hävningen är avbruten."))
    return await _serve(request, CancelTemporaryRevokeRequest, work)


@_operation("GetBlocks", GetBlocksRequest, GetBlocksResponse, "Active blocks by change date, for a national copy")
async def get_blocks(request: Request, system: CallingSystem) -> Any:
    def work(body: GetBlocksRequest, session: Session) -> GetBlocksResponse:
        page = blocks.blocks_changed_since(session=session, caller_hsa_id=system.hsa_id,
                                           changed_on_or_after=_aware(body.nextCreatedOnOrAfter,
                                                                      "nextCreatedOnOrAfter"), limit=body.limit)
        return GetBlocksResponse(blocks=[_block_out(b, r) for b, r in page.blocks],
                                 nextCreatedOnOrAfter=page.next_changed_on_or_after,
                                 latestCancellation=page.latest_cancellation, result=_ok())
    return await _serve(request, GetBlocksRequest, work)


# ---------------------------------------------------------------------- consents (Samtycke v2)
def _pnr_out(personnummer: str) -> PatientId:
    return PatientId(extension=personnummer,
                     root=SAMORDNINGSNUMMER_ROOT if int(personnummer[6:8]) > 60 else PERSONNUMMER_ROOT)


def _assertion_out(consent: Consent) -> AssertionOut:
    return AssertionOut(
        assertionId=consent.id, purpose=ConsentPurposeName(consent.purpose),
        careProviderId=consent.care_provider_hsa_id, careUnitId=consent.care_unit_hsa_id,
        employeeId=consent.employee_hsa_id, startDate=consent.start, endDate=consent.end,
        patientId=_pnr_out(consent.personnummer),
        representedBy=_pnr_out(consent.represented_by) if consent.represented_by else None,
        registrationInfo=_info(consent.registered_at, consent.registered_by,
                               assignment=consent.registered_commission_hsa_id),
        cancellationInfo=_info(consent.ended_at, consent.ended_by) if consent.ended_at else None,
        deletionInfo=_info(consent.voided_at, consent.voided_by) if consent.voided_at else None)


@_operation("GetConsentsForPatient", PatientRequest, ConsentsResponse,
            "The patient's consents at the actor's vårdgivare", contract="samtycke")
async def get_consents_for_patient(request: Request, _system: CallingSystem) -> Any:
    def work(body: PatientRequest, session: Session) -> ConsentsResponse:
        employee, commission = _acting(session, body.accessingActor)
        found = service.consents_for_patient(session=session, directory=gatekeeper(), user_hsa_id=employee,
                                             commission_hsa_id=commission, personnummer=_required_patient(body))
        return ConsentsResponse(assertions=[_assertion_out(c) for c in found], result=_ok())
    return await _serve(request, PatientRequest, work)


@_operation("CheckConsent", PatientRequest, CheckConsentResponse,
            "Whether a consent or an emergency access lets the actor see other vårdgivare's data", contract="samtycke")
async def check_consent(request: Request, _system: CallingSystem) -> Any:
    def work(body: PatientRequest, session: Session) -> CheckConsentResponse:
        employee, commission = _acting(session, body.accessingActor)
        found = service.check_consent(session=session, directory=gatekeeper(), user_hsa_id=employee,
                                      commission_hsa_id=commission, personnummer=_required_patient(body))
        kind = None if found.basis is None else \
            AssertionType.EMERGENCY if found.basis is Basis.EMERGENCY else AssertionType.CONSENT
        return CheckConsentResponse(hasConsent=found.has_consent, assertionType=kind, assertionId=found.assertion_id,
                                    result=_ok())
    return await _serve(request, PatientRequest, work)


@_operation("RegisterConsent", RegisterConsentRequest, RegisteredResponse,
            "Register the patient's consent, or an emergency access", contract="samtycke")
async def register_consent(request: Request, _system: CallingSystem) -> Any:
    def work(body: RegisterConsentRequest, session: Session) -> RegisteredResponse:
        employee, commission = _acting(session, body.accessingActor)
        new, pnr = body.assertion, _required_patient(body)
        if new.employeeId and hsa_key(new.employeeId) != hsa_key(employee):
            raise NotAllowed("Ett personligt samtycke gäller den som registrerar det: employeeId ska vara "
                             "accessingActor.employeeId.")
        start, end = _aware(new.startDate, "assertion.startDate"), _aware(new.endDate, "assertion.endDate")
        if new.assertionType is AssertionType.EMERGENCY:
            began = clock.now()
            opening = service.open_emergency(
                session=session, directory=gatekeeper(), user_hsa_id=employee, commission_hsa_id=commission,
                personnummer=pnr, reason=new.reasonText or "",
                duration=(end - began) if end is not None else None, now=began)
            return RegisteredResponse(id=opening.id, result=_ok())
        consent = service.register_consent(
            session=session, directory=gatekeeper(), user_hsa_id=employee, commission_hsa_id=commission,
            personnummer=pnr, scope=ConsentScope.EMPLOYEE if new.employeeId else ConsentScope.UNIT,
            purpose=ConsentPurpose(new.purpose.value), start=start, end=end,
            represented_by=_patient(new.representedBy, "assertion.representedBy"), consent_id=new.assertionId)
        return RegisteredResponse(id=consent.id, result=_ok())
    return await _serve(request, RegisterConsentRequest, work)


def _consent_change(act: Callable[..., Consent], text: str) -> Callable[[ConsentChangeRequest, Session],
                                                                         ResultResponse]:
    def work(body: ConsentChangeRequest, session: Session) -> ResultResponse:
        employee, commission = _acting(session, body.accessingActor)
        act(session=session, directory=gatekeeper(), user_hsa_id=employee, commission_hsa_id=commission,
            consent_id=body.assertionId, personnummer=_patient(body.patientId))
        return ResultResponse(result=_ok(text))
    return work


@_operation("EndConsentByPatient", ConsentChangeRequest, ResultResponse,
            "End a consent the patient withdrew (avsluta)", contract="samtycke")
async def end_consent_by_patient(request: Request, _system: CallingSystem) -> Any:
    return await _serve(request, ConsentChangeRequest, _consent_change(service.end_consent, "Samtycket är avslutat."))


@_operation("DeleteConsent", ConsentChangeRequest, ResultResponse,
            "Void a consent registered by mistake (makulera)", contract="samtycke")
async def delete_consent(request: Request, _system: CallingSystem) -> Any:
    return await _serve(request, ConsentChangeRequest,
                        _consent_change(service.void_consent, "Samtycket är makulerat."))
