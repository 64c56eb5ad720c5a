"""SQL tables of the overview: patients, producer items, relations, consents, emergency openings, blocks, log,
the publication rules.

Swedish words: samtycke = consent, spärr = block, tillfällig hävning = temporary revoke, nödåtkomst = emergency
access, vårdkontakt = care contact, patientrelation = relation. Every timestamp is an aware UTC ``UTCDateTime``;
enumerated values are stored as their string values (no database enum types, so both SQLite and PostgreSQL migrate
the same way). Identifiers of consents, blocks and revokes are UUID strings, as in Inera's TKBs.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Index, Integer, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from kernel.sqltypes import UTCDateTime, hsa_id_field

HSA = 64  # column width of HSA-IDs (at most 31 characters are valid; room for foreign ids)
PNR = 12  # personnummer / samordningsnummer, 12 digits


def _at(*, nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Patient(SQLModel, table=True):
    """A patient as the population register (and Pasis) knows them."""

    __tablename__ = "patient"

    personnummer: str = Field(primary_key=True, max_length=PNR)
    given_name: str = Field(max_length=100)
    surname: str = Field(max_length=100)
    street: str = Field(default="", max_length=200)
    postal_code: str = Field(default="", max_length=10)
    city: str = Field(default="", max_length=100)
    birth_date: dt.date
    protected_identity: bool = False  # skyddad identitet: name and address are never shown
    deceased_on: dt.date | None = None


class Guardianship(SQLModel, table=True):
    """A vårdnadshavare of a child, as the population register (Navet) tells it: who may see the child's log of
    accesses in "Vem har läst min journal?" within the age rules (D-76)."""

    __tablename__ = "guardianship"
    __table_args__ = (UniqueConstraint("guardian_personnummer", "child_personnummer", name="uq_guardianship"),)

    id: int | None = Field(default=None, primary_key=True)
    guardian_personnummer: str = Field(max_length=PNR, index=True)  # need not be a patient of the register here
    child_personnummer: str = Field(foreign_key="patient.personnummer", max_length=PNR, index=True)
    valid_from: dt.date
    valid_to: dt.date | None = None  # exclusive; None: until the register says otherwise (the age rules still apply)


class ProducerItem(SQLModel, table=True):
    """One piece of overview data as a producer system delivered it (the fields of gate.ItemFacts)."""

    __tablename__ = "producer_item"

    id: str = Field(primary_key=True, max_length=36)
    personnummer: str = Field(foreign_key="patient.personnummer", index=True, max_length=PNR)
    system: str = Field(max_length=32)
    category: str = Field(max_length=64)
    care_provider_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    care_unit_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    date: dt.datetime = Field(sa_column=_at())
    date_end: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))  # end of a period (admission)
    document_kind: str | None = Field(default=None, max_length=64)
    profession: str | None = Field(default=None, max_length=64)
    setting: str | None = Field(default=None, max_length=32)
    info_type: str | None = Field(default=None, max_length=8)
    title: str = Field(default="", max_length=300)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))


class CareContact(SQLModel, table=True):
    """A vårdkontakt or booking at a unit: verified patient relation (TGP) for that unit."""

    __tablename__ = "care_contact"
    __table_args__ = (Index("ix_care_contact_patient_unit", "personnummer", "care_unit_hsa_id"),)

    id: str = Field(primary_key=True, max_length=36)
    personnummer: str = Field(foreign_key="patient.personnummer", max_length=PNR)
    care_unit_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    kind: str = Field(max_length=16)  # gate.RelationKind.CARE_CONTACT or BOOKING
    start: dt.datetime = Field(sa_column=_at())
    end: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))


class AssertedRelation(SQLModel, table=True):
    """A patient relation asserted by one employee at the unit of their commission, with a reason."""

    __tablename__ = "asserted_relation"

    id: str = Field(primary_key=True, max_length=36)
    personnummer: str = Field(foreign_key="patient.personnummer", index=True, max_length=PNR)
    care_unit_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    employee_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    commission_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    start: dt.datetime = Field(sa_column=_at())
    end: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))  # None: the gate's default length


class Consent(SQLModel, table=True):
    """Samtycke (PDLAssertion of type Consent), registered under the unit and vårdgivare of a commission."""

    __tablename__ = "consent"

    id: str = Field(primary_key=True, max_length=36)
    personnummer: str = Field(foreign_key="patient.personnummer", index=True, max_length=PNR)
    purpose: str = Field(max_length=16)  # gate.ConsentPurpose
    scope: str = Field(max_length=16)  # gate.ConsentScope
    care_provider_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    care_unit_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    employee_hsa_id: str | None = hsa_id_field(nullable=True, length=HSA)
    start: dt.datetime = Field(sa_column=_at())
    end: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))
    registered_at: dt.datetime = Field(sa_column=_at())
    registered_by: str = hsa_id_field(nullable=False, length=HSA)
    registered_commission_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    represented_by: str | None = Field(default=None, max_length=PNR)  # guardian's personnummer
    ended_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))
    ended_by: str | None = Field(default=None, max_length=HSA)
    voided_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))
    voided_by: str | None = Field(default=None, max_length=HSA)


class IncapacityAssessment(SQLModel, table=True):
    """A patient who lacks the capacity to consent, and not only temporarily (old PDL 6 kap. 2 a och 3 a §§,
    continued under SVOD): registered by staff under the unit and vårdgivare of their commission, with how the
    patient's attitude was clarified and why there is no reason to believe they would object; time-boxed."""

    __tablename__ = "incapacity_assessment"

    id: str = Field(primary_key=True, max_length=36)
    personnummer: str = Field(foreign_key="patient.personnummer", index=True, max_length=PNR)
    care_provider_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    care_unit_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    attitude_clarified: str = Field(sa_column=Column(Text, nullable=False))  # how the attitude was clarified
    no_objection: str = Field(sa_column=Column(Text, nullable=False))  # why no reason to believe they would object
    start: dt.datetime = Field(sa_column=_at())
    end: dt.datetime = Field(sa_column=_at())
    registered_at: dt.datetime = Field(sa_column=_at())
    registered_by: str = hsa_id_field(nullable=False, length=HSA)
    registered_commission_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    ended_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))
    ended_by: str | None = Field(default=None, max_length=HSA)


class EmergencyOpening(SQLModel, table=True):
    """Nödåtkomst: opened by one employee at the unit of their commission, with a reason, until ``expires_at``."""

    __tablename__ = "emergency_opening"

    id: str = Field(primary_key=True, max_length=36)
    personnummer: str = Field(foreign_key="patient.personnummer", index=True, max_length=PNR)
    employee_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    commission_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    care_provider_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    care_unit_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    opened_at: dt.datetime = Field(sa_column=_at())
    expires_at: dt.datetime = Field(sa_column=_at())
    providers_revealed_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))  # step 1


class EmergencyProviderOpening(SQLModel, table=True):
    """Step 2 of a nödöppning of blocked data: the data of one vårdgivare opened."""

    __tablename__ = "emergency_provider_opening"

    emergency_id: str = Field(foreign_key="emergency_opening.id", primary_key=True, max_length=36)
    care_provider_hsa_id: str = hsa_id_field(nullable=False, primary_key=True, length=HSA)
    opened_at: dt.datetime = Field(sa_column=_at())


class Block(SQLModel, table=True):
    """Spärr (blocking TKB v4): inner (one unit's data within its vårdgivare) or outer (a vårdgivare's data)."""

    __tablename__ = "block"

    id: str = Field(primary_key=True, max_length=36)
    personnummer: str = Field(foreign_key="patient.personnummer", index=True, max_length=PNR)
    kind: str = Field(max_length=16)  # gate.BlockKind
    care_provider_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    care_unit_hsa_id: str | None = hsa_id_field(nullable=True, length=HSA)  # required for inner blocks
    info_start: dt.date | None = None
    info_end: dt.date | None = None
    excluded_types: str = Field(default="", max_length=16)  # comma-separated subset of lak,upp
    state: str = Field(default="active", max_length=16)  # gate.BlockState
    registered_at: dt.datetime = Field(sa_column=_at())
    registered_by: str = hsa_id_field(nullable=False, length=HSA)
    registered_by_guardian: bool = False  # the demo's rows only: the service refuses a guardian's request
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))  # the patient's reason (reasonText)
    # registrationInfo: who asked (overview.blocks.RequestedBy) and when; under which commission and unit
    requested_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))
    requested_by: str | None = Field(default=None, max_length=32)
    registered_commission_hsa_id: str | None = Field(default=None, max_length=HSA)
    registered_unit_hsa_id: str | None = Field(default=None, max_length=HSA)
    # permanentRevokedInfo (hävd on the patient's request) and deletionInfo (makulerad, registered by mistake)
    revoked_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))
    revoked_by: str | None = Field(default=None, max_length=HSA)
    revoke_requested_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))
    revoke_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    deleted_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))
    deleted_by: str | None = Field(default=None, max_length=HSA)
    deletion_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    changed_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True, index=True))  # GetBlocks sync


class BlockRevoke(SQLModel, table=True):
    """Tillfällig hävning of a block for a unit, or one employee at it, until ``end``."""

    __tablename__ = "block_revoke"

    id: str = Field(primary_key=True, max_length=36)
    block_id: str = Field(foreign_key="block.id", index=True, max_length=36)
    care_unit_hsa_id: str = hsa_id_field(nullable=False, length=HSA)
    employee_hsa_id: str | None = hsa_id_field(nullable=True, length=HSA)
    start: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))
    end: dt.datetime = Field(sa_column=_at())
    reason: str = Field(max_length=32)  # gate.RevokeReason
    registered_at: dt.datetime = Field(sa_column=_at())
    registered_by: str | None = Field(default=None, max_length=HSA)
    registered_commission_hsa_id: str | None = Field(default=None, max_length=HSA)
    reason_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    cancelled_at: dt.datetime | None = Field(default=None, sa_column=_at(nullable=True))  # no effect from then on
    cancelled_by: str | None = Field(default=None, max_length=HSA)


class InfoAcknowledgement(SQLModel, table=True):
    """An employee confirmed having read a version of "Information innan start"."""

    __tablename__ = "info_acknowledgement"
    __table_args__ = (UniqueConstraint("employee_hsa_id", "version", name="uq_info_ack_employee_version"),)

    id: int | None = Field(default=None, primary_key=True)
    employee_hsa_id: str = hsa_id_field(nullable=False, index=True, length=HSA)
    version: int
    acknowledged_at: dt.datetime = Field(sa_column=_at())


class PublicationRuleSet(SQLModel, table=True):
    """One version of the producers' publication rules (gate step 9) as imported; the newest row is in force.

    Append-only by use: an import adds a row, nothing is changed in place, so the rows are the rules' history (D-54).
    ``document`` is the YAML text as imported (overview.publication validates it first); ``digest`` its SHA-256.
    """

    __tablename__ = "publication_rules"

    id: int | None = Field(default=None, primary_key=True)
    loaded_at: dt.datetime = Field(sa_column=_at())
    loaded_by: str = Field(max_length=200)  # an HSA-ID, or the command that loaded it ("npo demo load")
    source: str = Field(default="", max_length=300)  # the file it came from
    digest: str = Field(max_length=64)
    document: str = Field(sa_column=Column(Text, nullable=False))


class AccessLog(SQLModel, table=True):
    """One row of the append-only access log (D6, D-62; HSLF-FS 2016:40 4 kap. 9 §; DOMAIN §6.9); the sealer
    chains it (AccessLogSeal). ``prev_hash`` is the previous row's hash for rows chained at append before D-62,
    empty since."""

    __tablename__ = "access_log"
    # each person's last granted overview read through a commission (overview.usage; migration o0007)
    __table_args__ = (Index("ix_access_log_usage", "commission_hsa_id", "resource_type", "outcome", "user_hsa_id",
                            "at"),)

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: dt.datetime = Field(sa_column=_at(index=True))
    user_hsa_id: str = Field(max_length=HSA, index=True)
    commission_hsa_id: str | None = Field(default=None, max_length=HSA)
    care_unit_hsa_id: str | None = Field(default=None, max_length=HSA)
    care_unit_name: str = Field(default="", max_length=200)
    care_provider_hsa_id: str | None = Field(default=None, max_length=HSA)
    care_provider_name: str = Field(default="", max_length=200)
    patient_personnummer: str | None = Field(default=None, max_length=PNR, index=True)
    action: str = Field(max_length=32)  # accesslog.Action: Läsa, Skriva, Nödöppning
    purpose: str = Field(max_length=64)  # Vård och behandling
    resource_type: str = Field(max_length=64)  # accesslog.Resource: översikt, samtycke, patientrelation, …
    outcome: str = Field(max_length=16)  # accesslog.Outcome: beviljad / nekad
    reason_code: str | None = Field(default=None, max_length=64)  # the gate's code when refused
    basis: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list: own_provider, consent:<id>…
    source_providers: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list of HSA-IDs
    source_units: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list of HSA-IDs
    item_count: int = 0
    relation: str | None = Field(default=None, max_length=16)  # gate.RelationKind the access rested on
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))  # reason typed by the user, or a note
    prev_hash: str = Field(max_length=64)
    row_hash: str = Field(max_length=64, unique=True)


class AccessLogSeal(SQLModel, table=True):
    """A log row's place in the hash chain, appended by the sealer (D-62): ``chain_hash`` covers the previous
    place's hash, the row's number and its hash."""

    __tablename__ = "access_log_seal"

    position: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    chain_hash: str = Field(max_length=64)
    sealed_at: dt.datetime = Field(sa_column=_at())


class AccessLogHead(SQLModel, table=True):
    """The chain head: the last sealed place and its chain hash (``last_seq`` names the place; before D-62 places
    and row numbers were the same), and ``low_seq``, below which no row waits to be sealed. Only sealers lock it."""

    __tablename__ = "access_log_head"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    last_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_hash: str = Field(max_length=64)
    low_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))


class HelpText(SQLModel, table=True):
    """One stored version of a Felsökning text the förvaltning administers (issue 14: the Net iD advice); the newest
    row of a key is in force, older rows are its history. Nothing is changed in place."""

    __tablename__ = "help_texts"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=32, index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    comment: str = Field(max_length=200)
    changed_at: dt.datetime = Field(sa_column=_at())
    changed_by: str = Field(max_length=64)
    changed_by_name: str = Field(max_length=200)


# The Core tables behind the access log, for the chain's statements that bypass the ORM (overview.accesslog).
# SQLModel's metaclass sets __table__ on every table model but does not declare it, so it is named here once.
ACCESS_LOG_TABLE: Table = AccessLog.__table__  # type: ignore[attr-defined]  # set by SQLModel's metaclass, undeclared
ACCESS_LOG_HEAD_TABLE: Table = AccessLogHead.__table__  # type: ignore[attr-defined]  # as above
ACCESS_LOG_SEAL_TABLE: Table = AccessLogSeal.__table__  # type: ignore[attr-defined]  # as above
