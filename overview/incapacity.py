"""A patient who lacks the capacity to consent, and not only temporarily (DOMAIN §1.2: old PDL 6 kap. 2 a § and
3 a §, continued under SVOD; Socialstyrelsen, "Sammanhållen journalföring – om patienten är beslutsoförmögen").

Staff register, under the unit and vårdgivare of their commission and with the patient relation, how the patient's
attitude was clarified as far as possible and why there is no reason to believe the patient would have objected.
Other vårdgivare's overview data may then be shown at that unit, for a limited time, like a unit consent (the gate's
basis ``incapacity``, its own reason code per item; never the drug list, which needs the patient's own consent). Each
read on that basis is always sampled in log follow-up. A patient who is only temporarily unable (unconscious,
anaesthetised, acutely confused) is refused this path and pointed to emergency access. Registering and ending are
access-log rows (resource ``beslutsoförmåga``) in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlmodel import Session, col, select

from catalog import Directory
from kernel import clock
from kernel.hsaid import HsaId
from overview import accesslog, inputs
from overview.access import Gatekeeper, entry, gatekeeper, relation_kind, require
from overview.accesslog import Action, Resource
from overview.errors import InvalidInput, NotAllowed, NotFound
from overview.gate import Check
from overview.models import IncapacityAssessment

MAX_PERIOD = dt.timedelta(days=366)  # at most a year, then assessed again
TEMPORARY = ("En patient som bara tillfälligt inte kan ta ställning (till exempel medvetslös, sövd eller akut "
             "förvirrad) registreras inte som beslutsoförmögen. Öppna nödåtkomst med ett skäl så länge vården inte kan "
             "vänta, och fråga patienten om samtycke när hen kan svara.")


def register_incapacity(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                        commission_hsa_id: str | None, personnummer: str, lasting: bool, attitude_clarified: str,
                        no_objection: str, end: dt.datetime, now: dt.datetime | None = None) -> IncapacityAssessment:
    """Register that the patient cannot consent, not only temporarily, until ``end`` (at most a year); logged."""
    pnr = inputs.personnummer(personnummer)
    now = now or clock.now()
    if not lasting:
        raise InvalidInput("lasting", TEMPORARY)
    attitude = inputs.reason(attitude_clarified, "attitude_clarified",
                             what="hur patientens inställning har klarlagts")
    reason = inputs.reason(no_objection, "no_objection",
                           what="varför det saknas anledning att anta att patienten skulle motsätta sig")
    until = inputs.aware(end, "end")
    if until <= now:
        raise InvalidInput("end", "Slutdatum måste vara i framtiden.")
    if until > now + MAX_PERIOD:
        raise InvalidInput("end", "Bedömningen gäller högst ett år; gör en ny bedömning då.")
    _facts, decision = gatekeeper(directory).evaluate(session=session, user_hsa_id=user_hsa_id,
                                                      commission_hsa_id=commission_hsa_id, now=now, personnummer=pnr)
    commission = require(decision, through=Check.RELATION)
    assert commission.unit_hsa_id is not None  # the gate refuses a commission without a unit
    row = IncapacityAssessment(id=str(uuid.uuid4()), personnummer=pnr, care_provider_hsa_id=commission.provider_hsa_id,
                               care_unit_hsa_id=commission.unit_hsa_id, attitude_clarified=attitude,
                               no_objection=reason, start=now, end=until, registered_at=now,
                               registered_by=HsaId(user_hsa_id), registered_commission_hsa_id=commission.hsa_id)
    session.add(row)
    accesslog.append(session, entry(user_hsa_id=user_hsa_id, commission=commission, now=now, personnummer=pnr,
                                    action=Action.WRITE, resource=Resource.INCAPACITY,
                                    basis=[f"incapacity:{row.id}"], relation=relation_kind(decision),
                                    detail=f"beslutsoförmögen till {until.isoformat()}: {attitude} / {reason}"))
    return row


def assessments_at_unit(*, session: Session, unit_hsa_id: str, personnummer: str,
                        now: dt.datetime) -> list[IncapacityAssessment]:
    """The patient's assessments in force at a unit (for the dialog; the caller has asked the gate)."""
    rows = session.exec(select(IncapacityAssessment).where(
        IncapacityAssessment.personnummer == personnummer, col(IncapacityAssessment.end) > now,
        col(IncapacityAssessment.ended_at).is_(None)).order_by(col(IncapacityAssessment.registered_at))).all()
    return [r for r in rows if HsaId(r.care_unit_hsa_id) == HsaId(unit_hsa_id)]


def end_incapacity(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                   commission_hsa_id: str | None, assessment_id: str, personnummer: str | None = None,
                   now: dt.datetime | None = None) -> IncapacityAssessment:
    """End an assessment early (the patient can decide again, or it was registered by mistake): staff of the unit it
    was registered under; idempotent; logged."""
    row = session.get(IncapacityAssessment, assessment_id[:36]) if assessment_id else None
    if row is None or (personnummer is not None and row.personnummer != inputs.personnummer(personnummer)):
        raise NotFound("Bedömningen finns inte för den här patienten.")
    now = now or clock.now()
    _facts, decision = gatekeeper(directory).evaluate(session=session, user_hsa_id=user_hsa_id,
                                                      commission_hsa_id=commission_hsa_id, now=now,
                                                      personnummer=row.personnummer)
    commission = require(decision, through=Check.PATIENT)
    if HsaId(commission.unit_hsa_id or "") != HsaId(row.care_unit_hsa_id):
        raise NotAllowed("Bedömningen är registrerad på en annan vårdenhet; den vårdenhetens personal avslutar den.")
    if row.ended_at is not None or row.end <= now:
        return row
    row.ended_at, row.ended_by = now, HsaId(user_hsa_id)
    session.add(row)
    accesslog.append(session, entry(user_hsa_id=user_hsa_id, commission=commission, now=now,
                                    personnummer=row.personnummer, action=Action.WRITE, resource=Resource.INCAPACITY,
                                    basis=[f"incapacity:{row.id}"], detail="bedömningen avslutad"))
    return row
