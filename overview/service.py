"""The overview's services: read the overview, confirm the information, assert relations, register consents.

Keyword-only, the session passed in; they flush and never commit (the caller owns the transaction, so the log row
and the change it records commit together, or neither does: D6). ``directory`` is a ``catalog.Directory`` or an
``access.Gatekeeper`` carrying production mode, a grant cache and publication rules. Emergency access is in
overview/emergency.py (what the pages say about its state: emergency_state.py), the patient on the dialogs about
them in in_view.py; both are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from catalog import Directory
from catalog.model import RoleName
from kernel import clock, runtime
from kernel.hsaid import HsaId
from overview import accesslog, info, inputs
from overview.access import Gatekeeper, entry, gatekeeper, reached_patient, relation_kind, require
from overview.accesslog import Action, Outcome, Resource
from overview.emergency import BlockedProvider, open_blocked_data, open_emergency, reveal_blocked_providers
from overview.emergency_state import (
    BlockedNotice,
    EmergencyStatus,
    blocked_notice,
    emergency_status,
    status_in_decision,
)
from overview.errors import AlreadyExists, InvalidInput, NotAllowed, NotFound
from overview.gate import (
    Basis,
    Check,
    CommissionFacts,
    ConsentFacts,
    ConsentPurpose,
    ConsentScope,
    Decision,
    ItemDecision,
    ItemFacts,
    consent_in_force,
    is_child,
)
from overview.in_view import PatientHeader, PatientInView, header_of, patient_in_view
from overview.models import AssertedRelation, Consent, InfoAcknowledgement, Patient

__all__ = ["BlockedNotice", "BlockedProvider", "ConsentCheck", "ConsentLine", "EmergencyStatus", "Gatekeeper",
           "OverviewResult", "PatientHeader", "PatientInView", "ShownItem", "acknowledge_information",
           "assert_relation", "check_consent", "consents_for_patient", "emergency_status", "end_consent",
           "open_blocked_data", "open_emergency", "patient_in_view", "patient_log_extract", "read_overview",
           "register_consent", "reveal_blocked_providers", "void_consent"]

ADMINISTRATION = "Administration"


# ---------------------------------------------------------------------- read
@dataclass(frozen=True, slots=True)
class ShownItem:
    item: ItemFacts
    decision: ItemDecision


@dataclass(frozen=True, slots=True)
class ConsentLine:
    """A consent in force (or starting later) that the reader's own vårdgivare registered and that applies to them:
    the whole unit of their commission, or them personally. ``mine``: they registered it (and may void it)."""

    consent_id: str
    purpose: ConsentPurpose
    scope: ConsentScope
    start: dt.datetime
    end: dt.datetime | None
    registered_at: dt.datetime
    registered_by: str
    represented_by: str | None
    mine: bool


@dataclass(frozen=True, slots=True)
class OverviewResult:
    """What a read returns: the gate's decision, the patient, the items shown, the box about blocked data, the log
    row, the consents the reader may withdraw and the reader's open nödåtkomst (the last two for an allowed read), and
    the names of producers not in Skånekatalogen (the publication rules' ``names``)."""

    decision: Decision
    patient: PatientHeader | None
    items: tuple[ShownItem, ...]
    blocked_notice: BlockedNotice | None
    blocked_providers: tuple[str, ...]
    log_seq: int | None
    consents: tuple[ConsentLine, ...] = ()
    emergency: EmergencyStatus | None = None
    source_names: Mapping[str, str] = field(default_factory=dict)  # upper-cased HSA-ID -> name

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


def read_overview(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                  commission_hsa_id: str | None, personnummer: str, now: dt.datetime | None = None
                  ) -> OverviewResult:
    """Decide, log the read in the caller's transaction, then return the data (nothing when the log write fails).

    When the caller's transaction has not begun, the facts are read in a snapshot of their own that takes no write
    lock (SQLite; D-62) and gives its connection back before the log row is written, and the caller's transaction
    holds only the log row until it commits."""
    pnr = inputs.personnummer(personnummer)
    now = now or clock.now()
    if session.in_transaction():
        result, read = _prepare(session, directory, user_hsa_id, commission_hsa_id, pnr, now)
    else:
        bind = session.get_bind()
        with Session(runtime.reads(bind) if isinstance(bind, Engine) else bind, expire_on_commit=False) as reads:
            result, read = _prepare(reads, directory, user_hsa_id, commission_hsa_id, pnr, now)
    if read is None:
        return result  # refused before any patient data was touched: nothing to log
    # The log row last, in the caller's transaction: the caller commits it before any of this leaves the server.
    return replace(result, log_seq=accesslog.append(session, read).seq)


def _prepare(reads: Session, directory: Directory | Gatekeeper, user_hsa_id: str, commission_hsa_id: str | None,
             pnr: str, now: dt.datetime) -> tuple[OverviewResult, accesslog.LogEntry | None]:
    """The decision and what a read shows, and the log entry it needs (None when no patient data was reached)."""
    # Read once: held here, the row stays in the session's identity map, where the gate's loader finds it.
    patient = reads.get(Patient, pnr)
    facts, decision = gatekeeper(directory).evaluate(session=reads, user_hsa_id=user_hsa_id,
                                                     commission_hsa_id=commission_hsa_id, now=now, personnummer=pnr)
    if not reached_patient(decision):
        return OverviewResult(decision, None, (), None, (), None), None
    by_id = {item.item_id: item for item in facts.items}
    shown = tuple(ShownItem(by_id[d.item_id], d) for d in decision.items if d.shown)
    header = header_of(patient) if decision.allowed and patient is not None else None
    emergency = status_in_decision(facts, decision.commission, now) if decision.allowed else None
    notice = blocked_notice(decision, emergency)
    consents = _consents_in_force(facts.consents, decision, user_hsa_id, now) if decision.allowed else ()
    names = facts.publication.names if facts.publication is not None else {}
    return (OverviewResult(decision, header, shown, notice, decision.blocked_providers, None, consents, emergency,
                           names), _read_entry(decision, shown, user_hsa_id, pnr, now))


def _consents_in_force(consents: tuple[ConsentFacts, ...], decision: Decision, user_hsa_id: str,
                       now: dt.datetime) -> tuple[ConsentLine, ...]:
    """Of the patient's consents (the gate's facts), those at the reader's vårdgivare that apply to the reader and
    have not been ended, voided or run out."""
    commission = decision.commission
    if commission is None:
        return ()
    provider, unit, user = commission.provider_hsa_id, commission.unit_hsa_id, HsaId(user_hsa_id)
    lines = []
    for c in consents:
        if c.ended_at is not None or c.voided_at is not None:
            continue
        applies = (c.scope is ConsentScope.UNIT and c.care_unit_hsa_id == unit) or \
                  (c.scope is ConsentScope.EMPLOYEE and c.employee_hsa_id == user)
        if c.care_provider_hsa_id != provider or not applies or (c.end is not None and c.end <= now):
            continue
        lines.append(ConsentLine(c.consent_id, c.purpose, c.scope, c.start, c.end, c.registered_at,
                                 c.registered_by or "", c.represented_by, c.registered_by == user))
    return tuple(sorted(lines, key=lambda line: (line.registered_at, line.consent_id)))


def _read_entry(decision: Decision, shown: tuple[ShownItem, ...], user_hsa_id: str, pnr: str,
                now: dt.datetime) -> accesslog.LogEntry:
    emergency = {Basis.EMERGENCY, Basis.EMERGENCY_BLOCK_OPENED}
    basis = {ref for s in shown for ref in _bases(s.decision)}
    failed = next((r.code for r in decision.reasons if not r.passed), None)
    return entry(user_hsa_id=user_hsa_id, commission=decision.commission, now=now, personnummer=pnr,
                 action=Action.EMERGENCY if any(s.decision.basis in emergency for s in shown) else Action.READ,
                 resource=Resource.OVERVIEW, outcome=Outcome.GRANTED if decision.allowed else Outcome.REFUSED,
                 reason_code=failed, basis=basis, item_count=len(shown), relation=relation_kind(decision),
                 source_providers={s.item.care_provider_hsa_id for s in shown},
                 source_units={s.item.care_unit_hsa_id for s in shown})


def _bases(item: ItemDecision) -> set[str]:
    """How the log names an item's basis: own_provider, consent:<id>, emergency:<id>, emergency_block_opened:<id>,
    incapacity:<id>."""
    if item.basis is Basis.INCAPACITY:
        return {f"incapacity:{item.consent_id}"}
    refs = {f"consent:{item.consent_id}"} if item.consent_id else set()
    if item.emergency_id:
        refs.add(f"{item.basis}:{item.emergency_id}")
    return refs or {str(item.basis)}


# ---------------------------------------------------------------------- Information innan start
def acknowledge_information(*, session: Session, user_hsa_id: str, version: int | None = None,
                            now: dt.datetime | None = None) -> InfoAcknowledgement:
    """Record that the user has read the current "Information innan start" (idempotent per version)."""
    user = inputs.hsa_id(user_hsa_id, "user_hsa_id")
    version = info.VERSION if version is None else version
    if version != info.VERSION:
        raise InvalidInput("version", f"Informationen har uppdaterats till version {info.VERSION}. Läs den nya "
                                      "versionen och bekräfta igen.")
    now = now or clock.now()
    existing = session.exec(select(InfoAcknowledgement).where(InfoAcknowledgement.employee_hsa_id == user,
                                                              InfoAcknowledgement.version == version)).first()
    if existing is not None:
        return existing
    row = InfoAcknowledgement(employee_hsa_id=user, version=version, acknowledged_at=now)
    session.add(row)
    accesslog.append(session, accesslog.LogEntry(at=now, user_hsa_id=user, action=Action.WRITE,
                                                 resource_type=Resource.INFORMATION, purpose=ADMINISTRATION,
                                                 detail=f"version {version}"))
    return row


# ---------------------------------------------------------------------- patient relation
def assert_relation(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                    commission_hsa_id: str | None, personnummer: str, reason: str,
                    now: dt.datetime | None = None) -> AssertedRelation:
    """Assert a patient relation at the commission's unit, with a reason (logged; always sampled in follow-up)."""
    pnr = inputs.personnummer(personnummer)
    text = inputs.reason(reason, what="skäl till patientrelationen")
    now = now or clock.now()
    _facts, decision = gatekeeper(directory).evaluate(session=session, user_hsa_id=user_hsa_id,
                                                      commission_hsa_id=commission_hsa_id, now=now, personnummer=pnr)
    commission = require(decision, through=Check.PATIENT)
    assert commission.unit_hsa_id is not None  # the gate refuses commissions without a unit
    row = AssertedRelation(id=str(uuid.uuid4()), personnummer=pnr, care_unit_hsa_id=commission.unit_hsa_id,
                           employee_hsa_id=user_hsa_id, commission_hsa_id=commission.hsa_id, reason=text, start=now)
    session.add(row)
    accesslog.append(session, entry(user_hsa_id=user_hsa_id, commission=commission, now=now, personnummer=pnr,
                                    action=Action.WRITE, resource=Resource.RELATION, relation="asserted",
                                    detail=text))
    return row


# ---------------------------------------------------------------------- consent
def register_consent(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                     commission_hsa_id: str | None, personnummer: str, scope: ConsentScope,
                     purpose: ConsentPurpose = ConsentPurpose.OVERVIEW, start: dt.datetime | None = None,
                     end: dt.datetime | None = None, represented_by: str | None = None,
                     consent_id: str | None = None, now: dt.datetime | None = None) -> Consent:
    """Register the patient's samtycke under the commission's unit and vårdgivare; a duplicate returns the first.
    ``consent_id`` (a UUID the caller made, as the TKB's assertionId) already registered for this patient is returned
    as it is; one of another patient's consents is refused (AlreadyExists)."""
    pnr = inputs.personnummer(personnummer)
    now = now or clock.now()
    wanted_id = _consent_uuid(consent_id)
    if wanted_id is not None:
        taken = session.get(Consent, wanted_id)
        if taken is not None:
            if taken.personnummer != pnr:
                raise AlreadyExists("consent_id", "Samtyckets id används redan för ett annat samtycke; ange ett nytt.")
            return taken
    start = inputs.aware(start, "start") if start is not None else now
    end = inputs.aware(end, "end") if end is not None else None
    _check_consent_input(scope, purpose, start, end, now)
    guardian = inputs.personnummer(represented_by, "represented_by") if represented_by else None
    _facts, decision = gatekeeper(directory).evaluate(session=session, user_hsa_id=user_hsa_id,
                                                      commission_hsa_id=commission_hsa_id, now=now, personnummer=pnr)
    commission = require(decision, through=Check.RELATION)
    if guardian is not None:
        _check_guardian(session, pnr, guardian, start)
    employee = user_hsa_id if scope is ConsentScope.EMPLOYEE else None
    consent = _existing_consent(session, pnr, purpose, scope, commission.provider_hsa_id,
                                commission.unit_hsa_id or "", employee, end, now)
    created = consent is None
    if consent is None:
        assert commission.unit_hsa_id is not None  # the gate refuses a commission without a unit (commission.no_unit)
        consent = Consent(id=wanted_id or str(uuid.uuid4()), personnummer=pnr, purpose=purpose.value, scope=scope.value,
                          care_provider_hsa_id=commission.provider_hsa_id, care_unit_hsa_id=commission.unit_hsa_id,
                          employee_hsa_id=employee, start=start, end=end, registered_at=now,
                          registered_by=user_hsa_id, registered_commission_hsa_id=commission.hsa_id,
                          represented_by=guardian)
        session.add(consent)
    accesslog.append(session, entry(user_hsa_id=user_hsa_id, commission=commission, now=now, personnummer=pnr,
                                    action=Action.WRITE, resource=Resource.CONSENT, basis=[f"consent:{consent.id}"],
                                    relation=relation_kind(decision),
                                    detail="" if created else "samtycket fanns redan registrerat"))
    return consent


def _consent_uuid(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise InvalidInput("consent_id", "Samtyckets id ska vara ett UUID.") from None


def consents_for_patient(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                         commission_hsa_id: str | None, personnummer: str, now: dt.datetime | None = None
                         ) -> list[Consent]:
    """GetConsentsForPatient: the patient's consents (every state) registered at the commission's vårdgivare, the
    only ones its staff may manage; access checks 1–5 and the patient; logged as a read."""
    pnr = inputs.personnummer(personnummer)
    now = now or clock.now()
    _facts, decision = gatekeeper(directory).evaluate(session=session, user_hsa_id=user_hsa_id,
                                                      commission_hsa_id=commission_hsa_id, now=now, personnummer=pnr)
    commission = require(decision, through=Check.PATIENT)
    rows = [c for c in session.exec(select(Consent).where(Consent.personnummer == pnr)
                                    .order_by(col(Consent.registered_at), col(Consent.id))).all()
            if HsaId(c.care_provider_hsa_id) == HsaId(commission.provider_hsa_id)]
    accesslog.append(session, entry(user_hsa_id=user_hsa_id, commission=commission, now=now, personnummer=pnr,
                                    action=Action.READ, resource=Resource.CONSENT, relation=relation_kind(decision),
                                    detail=f"GetConsentsForPatient: {len(rows)} samtycken"))
    return rows


@dataclass(frozen=True, slots=True)
class ConsentCheck:
    """CheckConsent's answer: whether something lets the user see other vårdgivare's data, and what."""

    has_consent: bool
    basis: Basis | None = None  # CONSENT or EMERGENCY
    assertion_id: str | None = None


def check_consent(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                  commission_hsa_id: str | None, personnummer: str, now: dt.datetime | None = None) -> ConsentCheck:
    """CheckConsent: a consent for the commission's unit (or the user), or the user's open nödåtkomst, as the gate's
    step 7 finds it (the latest registered wins); access checks 1–5 and the patient; logged as a read."""
    pnr = inputs.personnummer(personnummer)
    now = now or clock.now()
    facts, decision = gatekeeper(directory).evaluate(session=session, user_hsa_id=user_hsa_id,
                                                     commission_hsa_id=commission_hsa_id, now=now, personnummer=pnr)
    commission = require(decision, through=Check.PATIENT)
    found = consent_in_force(facts, commission, now)
    answer = ConsentCheck(False) if found is None else ConsentCheck(True, found[0], found[1] or found[2])
    accesslog.append(session, entry(user_hsa_id=user_hsa_id, commission=commission, now=now, personnummer=pnr,
                                    action=Action.READ, resource=Resource.CONSENT, relation=relation_kind(decision),
                                    detail=f"CheckConsent: {answer.basis.value if answer.basis else 'inget'}"))
    return answer


def _check_consent_input(scope: ConsentScope, purpose: ConsentPurpose, start: dt.datetime,
                         end: dt.datetime | None, now: dt.datetime) -> None:
    if purpose is ConsentPurpose.DRUG_LIST and scope is not ConsentScope.EMPLOYEE:
        raise InvalidInput("scope", "Samtycke till läkemedelsförteckningen kan bara ges till dig personligen.")
    if start < now - dt.timedelta(minutes=5):
        raise InvalidInput("start", "Ett samtycke kan inte gälla bakåt i tiden; ange dagens datum eller senare.")
    inputs.period(start, end)


def _check_guardian(session: Session, pnr: str, guardian: str, start: dt.datetime) -> None:
    patient = session.get(Patient, pnr)
    assert patient is not None
    if guardian == pnr:
        raise InvalidInput("represented_by", "Vårdnadshavarens personnummer är patientens eget.")
    if not is_child(patient.birth_date, start):
        raise InvalidInput("represented_by", "Patienten är myndig och ger sitt samtycke själv; en vårdnadshavare "
                                             "kan bara samtycka för ett barn under 18 år.")


def _existing_consent(session: Session, pnr: str, purpose: ConsentPurpose, scope: ConsentScope, provider: str,
                      unit: str, employee: str | None, end: dt.datetime | None, now: dt.datetime) -> Consent | None:
    candidates = session.exec(select(Consent).where(
        Consent.personnummer == pnr, Consent.purpose == purpose.value, Consent.scope == scope.value,
        Consent.care_provider_hsa_id == provider, Consent.care_unit_hsa_id == unit,
        col(Consent.employee_hsa_id) == employee if employee else col(Consent.employee_hsa_id).is_(None))).all()
    return next((c for c in candidates if c.ended_at is None and c.voided_at is None and c.end == end
                 and (c.end is None or c.end > now)), None)


def end_consent(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                commission_hsa_id: str | None, consent_id: str, personnummer: str | None = None,
                now: dt.datetime | None = None) -> Consent:
    """End (avsluta) a consent the patient withdrew: invalid from now on. Only staff of the consent's vårdgivare
    may; with ``personnummer``, only a consent of that patient. Idempotent: an ended or voided one stays as it is."""
    consent, commission, now = _consent_to_change(session, directory, user_hsa_id, commission_hsa_id, consent_id,
                                                  personnummer, now)
    return _close_consent(session, consent, commission, user_hsa_id, now, voided=False)


def void_consent(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                 commission_hsa_id: str | None, consent_id: str, personnummer: str | None = None,
                 now: dt.datetime | None = None) -> Consent:
    """Void (makulera) a consent registered in error: it never counted. Only the person who registered it may
    (they know it was a mistake; anyone else ends it instead). Idempotent like ``end_consent``; the reads already
    made stay in the access log with the consent as their basis, and the void is logged beside them."""
    consent, commission, now = _consent_to_change(session, directory, user_hsa_id, commission_hsa_id, consent_id,
                                                  personnummer, now)
    if consent.registered_by != HsaId(user_hsa_id):
        raise NotAllowed("Bara den som registrerade samtycket kan makulera det. Om patienten har återkallat "
                         "samtycket: välj Avsluta i stället.")
    return _close_consent(session, consent, commission, user_hsa_id, now, voided=True)


def _close_consent(session: Session, consent: Consent, commission: CommissionFacts, user_hsa_id: str,
                   now: dt.datetime, *, voided: bool) -> Consent:
    """End or void the consent and log it; one that is already ended or voided stays as it is (no log row)."""
    if consent.ended_at is not None or consent.voided_at is not None:
        return consent
    if voided:
        consent.voided_at, consent.voided_by = now, user_hsa_id
    else:
        consent.ended_at, consent.ended_by = now, user_hsa_id
    session.add(consent)
    accesslog.append(session, entry(user_hsa_id=user_hsa_id, commission=commission, now=now,
                                    personnummer=consent.personnummer, action=Action.WRITE,
                                    resource=Resource.CONSENT, basis=[f"consent:{consent.id}"],
                                    detail="samtycket makulerat (registrerat av misstag)" if voided
                                    else "samtycket avslutat"))
    return consent


def _consent_to_change(session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                       commission_hsa_id: str | None, consent_id: str, personnummer: str | None,
                       now: dt.datetime | None) -> tuple[Consent, CommissionFacts, dt.datetime]:
    """The consent, the commission the user acts under (access checks 1–5 passed), and the time."""
    consent = session.get(Consent, consent_id[:36]) if consent_id else None
    if consent is None or (personnummer is not None and consent.personnummer != inputs.personnummer(personnummer)):
        raise NotFound("Samtycket finns inte för den här patienten. Sök fram patienten och försök igen.")
    now = now or clock.now()
    _facts, decision = gatekeeper(directory).evaluate(session=session, user_hsa_id=user_hsa_id,
                                                      commission_hsa_id=commission_hsa_id, now=now)
    commission = require(decision, through=Check.ACKNOWLEDGEMENT)
    if commission.provider_hsa_id != consent.care_provider_hsa_id:
        raise NotAllowed("Samtycket är registrerat hos en annan vårdgivare; bara den vårdgivarens personal kan "
                         "ändra det.")
    return consent, commission, now


# ---------------------------------------------------------------------- the patient's log extract
def patient_log_extract(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                        personnummer: str, now: dt.datetime | None = None) -> list[accesslog.ExtractLine]:
    """The patient's log extract for system administration (role npo-forvaltning); taking it is itself logged."""
    pnr = inputs.personnummer(personnummer)
    roles = gatekeeper(directory).directory.roles_of(user_hsa_id)
    if not any(role.name is RoleName.SYSTEM_ADMIN and role.scope is None for role in roles):
        raise NotAllowed("Loggutdrag tas fram av NPÖ:s systemförvaltning (rollen npo-forvaltning i "
                         "Skånekatalogen). Patienten begär utdraget hos vårdgivaren.")
    now = now or clock.now()
    lines = accesslog.extract(session, pnr)
    accesslog.append(session, accesslog.LogEntry(at=now, user_hsa_id=user_hsa_id, action=Action.READ,
                                                 resource_type=Resource.LOG_EXTRACT, purpose=ADMINISTRATION,
                                                 patient_personnummer=pnr, item_count=len(lines)))
    return lines
