"""The patient in view on the dialogs about them (consent, nödåtkomst, blocked data): who they are, under which
commission, and the user's open nödåtkomst to them.

Showing a patient's name is showing patient data, so a dialog asks the gate as a read does (checks 1–6) and logs
that it showed the patient's details, in the caller's transaction (D6): the log row commits before the page leaves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session

from catalog import Directory
from kernel import clock
from overview import accesslog, inputs
from overview.access import Gatekeeper, entry, gatekeeper, relation_kind, require
from overview.accesslog import Action, Resource
from overview.emergency_state import EmergencyStatus, status_in_decision
from overview.gate import Check, CommissionFacts
from overview.models import Patient


@dataclass(frozen=True, slots=True)
class PatientHeader:
    """Who the overview is about; name and address are left out for a patient with skyddad identitet."""

    personnummer: str
    name: str | None
    address: str | None
    protected_identity: bool
    deceased_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class PatientInView:
    """What a dialog about the patient shows around its form."""

    header: PatientHeader
    commission: CommissionFacts
    emergency: EmergencyStatus | None


def patient_header(session: Session, pnr: str) -> PatientHeader:
    """The header of a patient the gate has found (name and address unless skyddad identitet)."""
    patient = session.get(Patient, pnr)
    assert patient is not None  # the gate found it
    return header_of(patient)


def header_of(patient: Patient) -> PatientHeader:
    """The header of an already read patient row."""
    pnr = patient.personnummer
    if patient.protected_identity:
        return PatientHeader(pnr, None, None, True, patient.deceased_on)
    address = ", ".join(p for p in (patient.street, f"{patient.postal_code} {patient.city}".strip()) if p)
    return PatientHeader(pnr, f"{patient.given_name} {patient.surname}", address or None, False, patient.deceased_on)


def patient_in_view(*, session: Session, directory: Directory | Gatekeeper, user_hsa_id: str,
                    commission_hsa_id: str | None, personnummer: str, dialog: str,
                    now: dt.datetime | None = None) -> PatientInView:
    """The patient for the ``dialog`` (its Swedish name, logged as the detail): checks 1–6 as for reading (else
    NotFound / NotAllowed with the gate's reason), logged as a read of the patient's details."""
    pnr = inputs.personnummer(personnummer)
    now = now or clock.now()
    facts, decision = gatekeeper(directory).evaluate(session=session, user_hsa_id=user_hsa_id,
                                                     commission_hsa_id=commission_hsa_id, now=now, personnummer=pnr)
    commission = require(decision, through=Check.RELATION)
    header = patient_header(session, pnr)
    accesslog.append(session, entry(user_hsa_id=user_hsa_id, commission=commission, now=now, personnummer=pnr,
                                    action=Action.READ, resource=Resource.PATIENT, relation=relation_kind(decision),
                                    detail=dialog))
    return PatientInView(header, commission, status_in_decision(facts, commission, now))
