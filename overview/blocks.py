"""Spärr and tillfällig hävning as a patient asks for them at a care unit (blocking TKB v4; DOMAIN §1.2, §4.3): the
services the overview's pages and the service interfaces (api/routes/services.py) both call.

A block is registered on the patient's request by staff whose commission belongs to the vårdgivare whose data it
blocks: an outer block (yttre spärr) hides that vårdgivare's data from every other vårdgivare, an inner block (inre
spärr) one of its units' data from everyone outside that unit. It may be limited to data registered in a period and
may keep drug orders (``lak``) and alert information (``upp``) visible. A vårdnadshavare cannot block a child's data
(Socialstyrelsen): the request is refused with that reason (the gate would ignore such a block anyway). A block is
then permanently revoked (hävd, on the patient's request, by staff of its vårdgivare) or voided (makulerad,
registered by mistake, only by whoever registered it or NPÖ's system administration).

A temporary revoke (tillfällig hävning) lifts, until its end date, the blocks that hold against the staff of one
unit (or one employee there): on the patient's consent with the patient present (PatientsConsent), or during
nödåtkomst (Emergency). The user does not learn which vårdgivare the blocks belong to: a revoke covers every block
that hides data from them. A cancelled or expired revoke has no effect (the facts loader ends it at its
cancellation).

Every action is an access-log row (resource ``spärr``, action ``Skriva``) in the caller's transaction: the functions
flush and never commit (D6). Keyword-only, the session passed in, like overview/service.py.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlmodel import Session, col, func, select

from catalog import Directory
from catalog.model import RoleName
from kernel import clock
from kernel.hsaid import HsaId
from overview import accesslog, inputs
from overview.access import Gatekeeper, entry, gatekeeper, relation_kind, require
from overview.accesslog import Action, Resource
from overview.errors import AlreadyExists, Conflict, InvalidInput, NotAllowed, NotFound
from overview.gate import (
    BlockKind,
    BlockState,
    Check,
    CommissionFacts,
    Decision,
    GateFacts,
    ItemFacts,
    RevokeReason,
    emergency_holds,
)
from overview.gate_items import block_rules, blocked_by, holds_against
from overview.gate_types import hsa_key
from overview.in_view import PatientHeader, patient_header
from overview.models import Block, BlockRevoke

EXCEPTIONS = ("lak", "upp")  # the information types a block may keep visible: drug orders, alert information
EXCEPTION_NAMES = {"lak": "läkemedelsordinationer", "upp": "uppmärksamhetsinformation"}
KIND_NAMES = {BlockKind.OUTER: "yttre spärr", BlockKind.INNER: "inre spärr"}
REVOKE_REASON_NAMES = {RevokeReason.PATIENTS_CONSENT: "patientens samtycke", RevokeReason.EMERGENCY: "nödåtkomst"}
MAX_REVOKE = dt.timedelta(days=366)  # a temporary revoke lasts at most a year (a consent's longest usual period)


class RequestedBy(StrEnum):
    """Who asked for the block (registrationInfo.requestedBy, as the registering staff records it)."""

    PATIENT = "patient"  # the patient, in person or in writing
    GUARDIAN = "guardian"  # a vårdnadshavare for a child: refused (a guardian cannot block a child's data)


@dataclass(frozen=True, slots=True)
class BlockLine:
    """A block of the user's own vårdgivare about the patient, as the block dialog lists it."""

    block: Block
    revokes: tuple[BlockRevoke, ...]
    mine: bool  # the user registered it (and may void it)
    unit_shown: bool = True  # an inner block names its unit only to staff there and to whoever registered it

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[BlockKind(self.block.kind)]

    @property
    def kept(self) -> tuple[str, ...]:
        return tuple(EXCEPTION_NAMES[t] for t in self.block.excluded_types.split(",") if t in EXCEPTION_NAMES)


@dataclass(frozen=True, slots=True)
class BlocksInView:
    """What the block dialog shows: the blocks of the user's vårdgivare, the temporary revokes in force for the
    user's unit (or the user), and how many blocks hide data from the user now."""

    header: PatientHeader
    commission: CommissionFacts
    own: tuple[BlockLine, ...]
    revokes_for_me: tuple[BlockRevoke, ...]
    holding: int


# ---------------------------------------------------------------------- checks of what is asked
def _optional_text(value: str | None, field: str, *, what: str) -> str:
    text = (value or "").strip()
    if not text:
        return ""
    return inputs.reason(text, field, what=what)


def _uuid(value: str | None, field: str, *, what: str) -> str | None:
    if value is None or not str(value).strip():
        return None
    try:
        return str(uuid.UUID(str(value).strip()))
    except ValueError:
        raise InvalidInput(field, f"{what} ska vara ett UUID, t.ex. 3f2b9c1e-8d4a-4e1b-9a53-2c1d0e6f7a88.") from None


def _kind(value: BlockKind | str) -> BlockKind:
    try:
        return BlockKind(value)
    except ValueError:
        raise InvalidInput("kind", "Välj yttre spärr (hela vårdgivaren) eller inre spärr (en vårdenhet).") from None


def _exceptions(values: Iterable[str]) -> frozenset[str]:
    wanted = frozenset(str(v).strip().lower() for v in values if str(v).strip())
    unknown = wanted - set(EXCEPTIONS)
    if unknown:
        raise InvalidInput("excluded_types", "Bara läkemedelsordinationer (lak) och uppmärksamhetsinformation (upp) "
                                             f"kan undantas från en spärr, inte {', '.join(sorted(unknown))}.")
    return wanted


def _period(start: dt.date | None, end: dt.date | None) -> None:
    if start is not None and end is not None and end < start:
        raise InvalidInput("info_end", "Periodens sista dag måste vara samma dag som den första eller senare.")


def _request_time(value: dt.datetime | None, now: dt.datetime, field: str) -> dt.datetime:
    if value is None:
        return now
    at = inputs.aware(value, field)
    if at > now + dt.timedelta(minutes=5):
        raise InvalidInput(field, "Patienten kan inte ha begärt det i framtiden; ange dagens datum eller tidigare.")
    return at


def _is_admin(directory: Directory | Gatekeeper, user_hsa_id: str) -> bool:
    roles = gatekeeper(directory).directory.roles_of(user_hsa_id)
    return any(role.name is RoleName.SYSTEM_ADMIN and role.scope is None for role in roles)


def _evaluate(session: Session, directory: Directory | Gatekeeper, user_hsa_id: str, commission_hsa_id: str | None,
              pnr: str, now: dt.datetime) -> tuple[GateFacts, Decision]:
    return gatekeeper(directory).evaluate(session=session, user_hsa_id=user_hsa_id,
                                          commission_hsa_id=commission_hsa_id, now=now, personnummer=pnr)


def _log(session: Session, user_hsa_id: str, commission: CommissionFacts | None, now: dt.datetime, pnr: str,
         detail: str, *, action: Action = Action.WRITE, relation: str | None = None) -> None:
    accesslog.append(session, entry(user_hsa_id=user_hsa_id, commission=commission, now=now, personnummer=pnr,
                                    action=action, resource=Resource.BLOCK, relation=relation, detail=detail))


def _blocked_unit(directory: Directory | Gatekeeper, kind: BlockKind, unit_hsa_id: str | None,
                  commission: CommissionFacts) -> str | None:
    """The unit an inner block concerns (the commission's unit unless another unit of its vårdgivare is named)."""
    if kind is BlockKind.OUTER:
        if unit_hsa_id and unit_hsa_id.strip():
            raise InvalidInput("care_unit_hsa_id", "En yttre spärr gäller hela vårdgivaren; ange ingen vårdenhet "
                                                   "(välj inre spärr för att spärra en vårdenhets uppgifter).")
        return None
    if not unit_hsa_id or not unit_hsa_id.strip():
        return commission.unit_hsa_id
    unit_id = inputs.hsa_id(unit_hsa_id.strip(), "care_unit_hsa_id")
    unit = gatekeeper(directory).directory.unit(unit_id)
    if unit is None:
        raise InvalidInput("care_unit_hsa_id", f"Vårdenheten {unit_id} finns inte i Skånekatalogen.")
    if hsa_key(unit.provider_hsa_id) != hsa_key(commission.provider_hsa_id):
        raise InvalidInput("care_unit_hsa_id", f"Vårdenheten {unit.name} hör till en annan vårdgivare. En spärr "
                                               f"registreras hos vårdgivaren vars uppgifter den gäller; du kan "
                                               f"spärra vårdenheter hos {commission.provider_name}.")
    return unit.hsa_id


def _describe(block: Block) -> str:
    where = "hela vårdgivaren" if block.kind == BlockKind.OUTER else f"vårdenheten {block.care_unit_hsa_id}"
    period = ""
    if block.info_start or block.info_end:
        period = f", uppgifter {block.info_start or '…'}–{block.info_end or '…'}"
    kept = f", undantag {block.excluded_types}" if block.excluded_types else ""
    return f"{KIND_NAMES[BlockKind(block.kind)]} {block.id} ({where}{period}{kept})"


# ---------------------------------------------------------------------- register
def register_block(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                   commission_hsa_id: str | None, personnummer: str, kind: BlockKind | str,
                   care_unit_hsa_id: str | None = None, info_start: dt.date | None = None,
                   info_end: dt.date | None = None, excluded_types: Iterable[str] = (),
                   requested_by: RequestedBy | str = RequestedBy.PATIENT, requested_at: dt.datetime | None = None,
                   reason: str = "", block_id: str | None = None, now: dt.datetime | None = None) -> Block:
    """Register a block of the commission's vårdgivare's data on the patient's request (logged).

    Idempotent: a block id already registered for this patient, or an active block with the same content, is
    returned as it is (the contracts answer a duplicate registration with OK)."""
    pnr = inputs.personnummer(personnummer)
    now = now or clock.now()
    block_kind = _kind(kind)
    if str(requested_by) == RequestedBy.GUARDIAN:
        raise InvalidInput("requested_by", "En vårdnadshavare kan inte spärra ett barns uppgifter "
                                           "(Socialstyrelsen). Barnet kan själv begära spärren när det är moget nog "
                                           "att bestämma; registrera den då på barnets begäran.")
    if str(requested_by) != RequestedBy.PATIENT:
        raise InvalidInput("requested_by", "Ange att patienten själv begär spärren.")
    kept = _exceptions(excluded_types)
    _period(info_start, info_end)
    text = _optional_text(reason, "reason", what="patientens skäl")
    asked_at = _request_time(requested_at, now, "requested_at")
    wanted_id = _uuid(block_id, "block_id", what="Spärrens id")
    if wanted_id is not None:
        existing = session.get(Block, wanted_id)
        if existing is not None:
            if existing.personnummer != pnr:
                raise AlreadyExists("block_id", "Spärrens id används redan för en annan spärr; ange ett nytt id.")
            return existing
    _facts, decision = _evaluate(session, directory, user_hsa_id, commission_hsa_id, pnr, now)
    commission = require(decision, through=Check.PATIENT)
    unit = _blocked_unit(directory, block_kind, care_unit_hsa_id, commission)
    excluded = ",".join(sorted(kept))
    same = session.exec(select(Block).where(
        Block.personnummer == pnr, Block.kind == block_kind.value, Block.state == BlockState.ACTIVE.value,
        Block.care_provider_hsa_id == commission.provider_hsa_id,
        col(Block.care_unit_hsa_id) == unit if unit else col(Block.care_unit_hsa_id).is_(None))).all()
    duplicate = next((b for b in same if b.info_start == info_start and b.info_end == info_end
                      and b.excluded_types == excluded), None)
    if duplicate is not None:
        _log(session, user_hsa_id, commission, now, pnr, f"{_describe(duplicate)} fanns redan registrerad",
             relation=relation_kind(decision))
        return duplicate
    block = Block(id=wanted_id or str(uuid.uuid4()), personnummer=pnr, kind=block_kind.value,
                  care_provider_hsa_id=commission.provider_hsa_id, care_unit_hsa_id=unit, info_start=info_start,
                  info_end=info_end, excluded_types=excluded, state=BlockState.ACTIVE.value, registered_at=now,
                  registered_by=HsaId(user_hsa_id), reason=text, requested_at=asked_at,
                  requested_by=RequestedBy.PATIENT.value, registered_commission_hsa_id=commission.hsa_id,
                  registered_unit_hsa_id=commission.unit_hsa_id, changed_at=now)
    session.add(block)
    session.flush()
    _log(session, user_hsa_id, commission, now, pnr, f"{_describe(block)} registrerad på patientens begäran",
         relation=relation_kind(decision))
    return block


# ---------------------------------------------------------------------- permanent revoke, void
def _block_to_change(session: Session, block_id: str, personnummer: str | None) -> Block:
    wanted = _uuid(block_id, "block_id", what="Spärrens id")
    block = session.get(Block, wanted) if wanted else None
    if block is None or (personnummer is not None and block.personnummer != inputs.personnummer(personnummer)):
        raise NotFound("Spärren finns inte för den här patienten. Sök fram patienten och försök igen.")
    return block


def revoke_block(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                 commission_hsa_id: str | None, block_id: str, personnummer: str | None = None, reason: str = "",
                 requested_at: dt.datetime | None = None, now: dt.datetime | None = None) -> Block:
    """Revoke a block permanently (häva) on the patient's request: staff of its vårdgivare only (logged). A block
    already revoked stays as it is; a voided one cannot be revoked (Conflict)."""
    block = _block_to_change(session, block_id, personnummer)
    now = now or clock.now()
    text = _optional_text(reason, "reason", what="patientens skäl")
    asked_at = _request_time(requested_at, now, "requested_at")
    _facts, decision = _evaluate(session, directory, user_hsa_id, commission_hsa_id, block.personnummer, now)
    commission = require(decision, through=Check.PATIENT)
    if hsa_key(commission.provider_hsa_id) != hsa_key(block.care_provider_hsa_id):
        raise NotAllowed("Spärren är registrerad hos en annan vårdgivare; patienten hävs den hos den vårdgivaren.")
    if block.state == BlockState.REVOKED:
        return block
    if block.state == BlockState.DELETED:
        raise Conflict("Spärren är makulerad och gäller inte; den kan inte hävas.")
    block.state, block.revoked_at, block.revoked_by = BlockState.REVOKED.value, now, HsaId(user_hsa_id)
    block.revoke_requested_at, block.revoke_reason, block.changed_at = asked_at, text or None, now
    session.add(block)
    _log(session, user_hsa_id, commission, now, block.personnummer,
         f"{_describe(block)} hävd på patientens begäran", relation=relation_kind(decision))
    return block


def void_block(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
               commission_hsa_id: str | None, block_id: str, reason: str, personnummer: str | None = None,
               now: dt.datetime | None = None) -> Block:
    """Void (makulera) a block registered by mistake: only whoever registered it, or NPÖ's system administration
    (npo-forvaltning), with a reason (logged). Idempotent; it never counted from then on."""
    block = _block_to_change(session, block_id, personnummer)
    now = now or clock.now()
    text = inputs.reason(reason, what="varför spärren makuleras")
    commission: CommissionFacts | None = None
    if HsaId(user_hsa_id) == HsaId(block.registered_by):
        _facts, decision = _evaluate(session, directory, user_hsa_id, commission_hsa_id, block.personnummer, now)
        commission = require(decision, through=Check.PATIENT)
    elif not _is_admin(directory, user_hsa_id):
        raise NotAllowed("Bara den som registrerade spärren, eller NPÖ:s systemförvaltning, kan makulera den. Vill "
                         "patienten inte längre ha spärren: välj Häv i stället.")
    if block.state == BlockState.DELETED:
        return block
    block.state, block.deleted_at, block.deleted_by = BlockState.DELETED.value, now, HsaId(user_hsa_id)
    block.deletion_reason, block.changed_at = text, now
    session.add(block)
    _log(session, user_hsa_id, commission, now, block.personnummer,
         f"{_describe(block)} makulerad (registrerad av misstag): {text}")
    return block


# ---------------------------------------------------------------------- temporary revoke
def register_temporary_revoke(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                              commission_hsa_id: str | None, personnummer: str, end: dt.datetime,
                              reason: RevokeReason | str = RevokeReason.PATIENTS_CONSENT, employee_only: bool = False,
                              reason_text: str = "", block_ids: Iterable[str] | None = None,
                              now: dt.datetime | None = None) -> tuple[BlockRevoke, ...]:
    """Lift, until ``end``, the blocks that hide data about the patient from the commission's unit (or from the
    user only): on the patient's consent, or during the user's open nödåtkomst. Needs the patient relation.
    ``block_ids`` limits it to those blocks (the service interface names one); by default every block that holds.
    A block already lifted for the unit (or the user) until ``end`` or later gets no second revoke."""
    pnr = inputs.personnummer(personnummer)
    now = now or clock.now()
    try:
        why = RevokeReason(reason)
    except ValueError:
        raise InvalidInput("reason", "Ange skälet: patientens samtycke (PatientsConsent) eller nödåtkomst "
                                     "(Emergency).") from None
    until = inputs.aware(end, "end")
    if until <= now:
        raise InvalidInput("end", "Slutdatum måste vara i framtiden.")
    if until > now + MAX_REVOKE:
        raise InvalidInput("end", "En tillfällig hävning gäller högst ett år; ange ett tidigare slutdatum.")
    text = _optional_text(reason_text, "reason_text", what="skäl")
    facts, decision = _evaluate(session, directory, user_hsa_id, commission_hsa_id, pnr, now)
    commission = require(decision, through=Check.RELATION)
    if why is RevokeReason.EMERGENCY and not _emergency_open(facts, commission, user_hsa_id, now):
        raise NotAllowed("En tillfällig hävning vid nödåtkomst kräver att du har öppnat nödåtkomst till patienten.")
    provider, unit, user = (hsa_key(commission.provider_hsa_id), hsa_key(commission.unit_hsa_id),
                            hsa_key(user_hsa_id))
    wanted = None if block_ids is None else {_uuid(b, "block_id", what="Spärrens id") for b in block_ids}
    chosen = [b for b in facts.blocks if wanted is None or b.block_id in wanted]
    if wanted is not None and {b.block_id for b in chosen} != wanted:
        raise NotFound("Spärren finns inte för den här patienten.")
    applicable = [b for b in chosen if holds_against(replace(b, revokes=()), provider=provider, unit=unit, user=user,
                                                     now=now)]
    if not applicable:
        raise Conflict("Spärren hindrar inte dig att se uppgifterna; det finns inget att häva." if wanted else
                       "Det finns ingen spärr som hindrar dig att se uppgifter om patienten.")
    # A block already lifted for the unit (or this user) until `until` or later gets no second revoke.
    later = until - dt.timedelta(microseconds=1)
    holding = [b for b in applicable if holds_against(b, provider=provider, unit=unit, user=user, now=later)]
    if not holding:
        return ()  # a duplicate registration is OK
    unit_id = commission.unit_hsa_id or ""
    rows = tuple(BlockRevoke(id=str(uuid.uuid4()), block_id=b.block_id, care_unit_hsa_id=unit_id,
                             employee_hsa_id=HsaId(user_hsa_id) if employee_only else None, start=now, end=until,
                             reason=why.value, registered_at=now, registered_by=HsaId(user_hsa_id),
                             registered_commission_hsa_id=commission.hsa_id, reason_text=text or None)
                 for b in holding)
    session.add_all(rows)
    for block in session.exec(select(Block).where(col(Block.id).in_([b.block_id for b in holding]))):
        block.changed_at = now
        session.add(block)
    session.flush()
    who = "dig" if employee_only else f"vårdenheten {commission.unit_name}"
    _log(session, user_hsa_id, commission, now, pnr,
         f"tillfällig hävning ({REVOKE_REASON_NAMES[why]}) för {who} till {until.isoformat()} av "
         f"{len(rows)} {'spärr' if len(rows) == 1 else 'spärrar'}: {', '.join(r.block_id for r in rows)}",
         relation=relation_kind(decision))
    return rows


def _emergency_open(facts: GateFacts, commission: CommissionFacts, user_hsa_id: str, now: dt.datetime) -> bool:
    return any(emergency_holds(e, user_hsa_id=user_hsa_id, commission=commission, now=now) for e in facts.emergencies)


def cancel_temporary_revoke(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                            commission_hsa_id: str | None, revoke_id: str, personnummer: str | None = None,
                            now: dt.datetime | None = None) -> BlockRevoke:
    """Cancel a temporary revoke (the blocks hold again from now): staff at the unit it was registered for, or
    whoever registered it (logged). Idempotent: a cancelled or expired one stays as it is."""
    wanted = _uuid(revoke_id, "revoke_id", what="Hävningens id")
    revoke = session.get(BlockRevoke, wanted) if wanted else None
    block = session.get(Block, revoke.block_id) if revoke is not None else None
    if revoke is None or block is None or (personnummer is not None
                                           and block.personnummer != inputs.personnummer(personnummer)):
        raise NotFound("Den tillfälliga hävningen finns inte för den här patienten.")
    now = now or clock.now()
    _facts, decision = _evaluate(session, directory, user_hsa_id, commission_hsa_id, block.personnummer, now)
    commission = require(decision, through=Check.PATIENT)
    if hsa_key(commission.unit_hsa_id) != hsa_key(revoke.care_unit_hsa_id) \
            and HsaId(user_hsa_id) != HsaId(revoke.registered_by or ""):
        raise NotAllowed("Den tillfälliga hävningen gäller en annan vårdenhet; den vårdenhetens personal avbryter "
                         "den.")
    if revoke.cancelled_at is not None or revoke.end <= now:
        return revoke
    revoke.cancelled_at, revoke.cancelled_by = now, HsaId(user_hsa_id)
    block.changed_at = now
    session.add_all([revoke, block])
    _log(session, user_hsa_id, commission, now, block.personnummer,
         f"tillfällig hävning {revoke.id} av spärr {block.id} avbruten")
    return revoke


# ---------------------------------------------------------------------- the block dialog
def blocks_in_view(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                   commission_hsa_id: str | None, personnummer: str, now: dt.datetime | None = None) -> BlocksInView:
    """The patient's blocks at the user's own vårdgivare (in every state), the temporary revokes in force for the
    user's unit or the user, and how many blocks hide data from the user (never whose): logged as a read of the
    patient's details, as every dialog about them is (overview/in_view.py)."""
    pnr = inputs.personnummer(personnummer)
    now = now or clock.now()
    facts, decision = _evaluate(session, directory, user_hsa_id, commission_hsa_id, pnr, now)
    commission = require(decision, through=Check.PATIENT)
    provider, unit, user = (hsa_key(commission.provider_hsa_id), hsa_key(commission.unit_hsa_id),
                            hsa_key(user_hsa_id))
    rows = session.exec(select(Block).where(Block.personnummer == pnr)).all()
    revokes: dict[str, list[BlockRevoke]] = {}
    if rows:
        for r in session.exec(select(BlockRevoke).where(col(BlockRevoke.block_id).in_([b.id for b in rows]))):
            revokes.setdefault(r.block_id, []).append(r)
    # An inner block hides a unit's data from the vårdgivare's other units: which unit it is would tell them where
    # the patient was cared for, so only staff at that unit and whoever registered it see it named.
    own = tuple(BlockLine(b, tuple(sorted(revokes.get(b.id, ()), key=lambda r: r.registered_at)),
                          HsaId(b.registered_by) == HsaId(user_hsa_id),
                          b.kind == BlockKind.OUTER or HsaId(b.registered_by) == HsaId(user_hsa_id)
                          or hsa_key(b.care_unit_hsa_id) == unit)
                for b in sorted(rows, key=lambda b: (b.state != BlockState.ACTIVE, b.registered_at))
                if hsa_key(b.care_provider_hsa_id) == provider)
    mine = tuple(sorted((r for rs in revokes.values() for r in rs
                         if r.cancelled_at is None and r.end > now and hsa_key(r.care_unit_hsa_id) == unit
                         and (r.employee_hsa_id is None or hsa_key(r.employee_hsa_id) == user)),
                        key=lambda r: (r.end, r.id)))
    holding = sum(holds_against(b, provider=provider, unit=unit, user=user, now=now) for b in facts.blocks)
    # like every dialog about the patient: a read of the patient's details (their blocks at the own vårdgivare)
    accesslog.append(session, entry(user_hsa_id=user_hsa_id, commission=commission, now=now, personnummer=pnr,
                                    action=Action.READ, resource=Resource.PATIENT, relation=relation_kind(decision),
                                    detail="spärrdialogen"))
    return BlocksInView(patient_header(session, pnr), commission, own, mine, holding)


# ---------------------------------------------------------------------- for the service interfaces
class RowStatus(StrEnum):
    """CheckBlocks' answer per information row."""

    OK = "OK"
    BLOCKED = "BLOCKED"
    VALIDATIONERROR = "VALIDATIONERROR"


@dataclass(frozen=True, slots=True)
class InformationRow:
    """One information entity a consumer asks CheckBlocks about (strings as they arrived; checked here)."""

    row_number: int
    care_provider_hsa_id: str
    care_unit_hsa_id: str
    start: dt.datetime | None
    end: dt.datetime | None = None
    information_type: str | None = None


def _row_item(row: InformationRow) -> ItemFacts | None:
    """The row as the gate's item (None: the row is malformed, VALIDATIONERROR)."""
    try:
        provider = inputs.hsa_id(row.care_provider_hsa_id)
        unit = inputs.hsa_id(row.care_unit_hsa_id)
    except InvalidInput:
        return None
    if row.start is None or row.start.tzinfo is None or (row.end is not None and (row.end.tzinfo is None
                                                                                   or row.end < row.start)):
        return None
    return ItemFacts(item_id=str(row.row_number), system="", category="", care_provider_hsa_id=provider,
                     care_unit_hsa_id=unit, date=row.start, date_end=row.end,
                     info_type=(row.information_type or "").strip().lower() or None)


def check_blocks(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                 commission_hsa_id: str | None, personnummer: str, rows: Iterable[InformationRow],
                 now: dt.datetime | None = None) -> tuple[tuple[int, RowStatus], ...]:
    """CheckBlocks: per information row, whether a block hides it from the user at the commission's unit now
    (the gate's own rules: inner and outer blocks, the period, the lak/upp exceptions, temporary revokes for the unit
    or the user). Needs access checks 1–5 and the patient; logged as a read of the patient's blocks."""
    pnr = inputs.personnummer(personnummer)
    now = now or clock.now()
    facts, decision = _evaluate(session, directory, user_hsa_id, commission_hsa_id, pnr, now)
    commission = require(decision, through=Check.PATIENT)
    rules = block_rules(facts.blocks, provider=hsa_key(commission.provider_hsa_id),
                        unit=hsa_key(commission.unit_hsa_id), user=hsa_key(user_hsa_id), now=now)
    answers = []
    for row in rows:
        item = _row_item(row)
        if item is None:
            answers.append((row.row_number, RowStatus.VALIDATIONERROR))
            continue
        held = rules.get(hsa_key(item.care_provider_hsa_id))
        answers.append((row.row_number, RowStatus.BLOCKED if held and blocked_by(item, held) else RowStatus.OK))
    _log(session, user_hsa_id, commission, now, pnr, f"CheckBlocks: {len(answers)} rader, "
         f"{sum(status is RowStatus.BLOCKED for _n, status in answers)} spärrade", action=Action.READ,
         relation=relation_kind(decision))
    return tuple(answers)


def _with_revokes(session: Session, rows: list[Block]) -> list[tuple[Block, tuple[BlockRevoke, ...]]]:
    revokes: dict[str, list[BlockRevoke]] = {}
    if rows:
        for r in session.exec(select(BlockRevoke).where(col(BlockRevoke.block_id).in_([b.id for b in rows]))):
            revokes.setdefault(r.block_id, []).append(r)
    return [(b, tuple(sorted(revokes.get(b.id, ()), key=lambda r: (r.registered_at, r.id)))) for b in rows]


def blocks_for_patient(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                       commission_hsa_id: str | None, personnummer: str, now: dt.datetime | None = None
                       ) -> list[tuple[Block, tuple[BlockRevoke, ...]]]:
    """GetBlocksForPatient: the patient's active blocks with their temporary revokes, for a consumer system that
    filters what it shows (its user is told only that blocked data exists). Needs access checks 1–5 and the
    patient; logged."""
    pnr = inputs.personnummer(personnummer)
    now = now or clock.now()
    _facts, decision = _evaluate(session, directory, user_hsa_id, commission_hsa_id, pnr, now)
    commission = require(decision, through=Check.PATIENT)
    rows = list(session.exec(select(Block).where(Block.personnummer == pnr, Block.state == BlockState.ACTIVE.value)
                             .order_by(col(Block.registered_at), col(Block.id))).all())
    _log(session, user_hsa_id, commission, now, pnr, f"GetBlocksForPatient: {len(rows)} spärrar",
         action=Action.READ, relation=relation_kind(decision))
    return _with_revokes(session, rows)


@dataclass(frozen=True, slots=True)
class BlockPage:
    """GetBlocks: active blocks changed on or after the asked time, in change order; where the next page starts;
    the latest revoke or void (a national copy drops what is no longer active from then)."""

    blocks: list[tuple[Block, tuple[BlockRevoke, ...]]]
    next_changed_on_or_after: dt.datetime | None
    latest_cancellation: dt.datetime | None


GET_BLOCKS_LIMIT = 1000


def blocks_changed_since(*, session: Session, caller_hsa_id: str, changed_on_or_after: dt.datetime | None,
                         limit: int = GET_BLOCKS_LIMIT, now: dt.datetime | None = None) -> BlockPage:
    """GetBlocks, for a national copy that syncs by change date: every patient's active blocks, so the caller is a
    system (the service interface checks its function certificate); logged as one read by that system."""
    now = now or clock.now()
    if changed_on_or_after is not None:
        changed_on_or_after = inputs.aware(changed_on_or_after, "nextCreatedOnOrAfter")
    if not 1 <= limit <= GET_BLOCKS_LIMIT:
        raise InvalidInput("limit", f"Ange högst {GET_BLOCKS_LIMIT} spärrar per anrop.")
    query = select(Block).where(Block.state == BlockState.ACTIVE.value)
    if changed_on_or_after is not None:
        query = query.where(col(Block.changed_at) >= changed_on_or_after)
    rows = list(session.exec(query.order_by(col(Block.changed_at), col(Block.id)).limit(limit + 1)).all())
    following = rows[limit].changed_at if len(rows) > limit else None
    rows = rows[:limit]
    ends = [session.exec(select(func.max(col(Block.revoked_at)))).one(),
            session.exec(select(func.max(col(Block.deleted_at)))).one(),
            session.exec(select(func.max(col(BlockRevoke.cancelled_at)))).one()]
    latest = max((end for end in ends if end is not None), default=None)
    accesslog.append(session, accesslog.LogEntry(at=now, user_hsa_id=caller_hsa_id, action=Action.READ,
                                                 resource_type=Resource.BLOCK, item_count=len(rows),
                                                 detail=f"GetBlocks: {len(rows)} spärrar"))
    return BlockPage(_with_revokes(session, rows), following, latest)
