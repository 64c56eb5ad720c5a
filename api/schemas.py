"""The JSON API's bodies as typed models, so that /api/openapi.json shows every request and response.

Layered as in full-stack-fastapi-template: ``…Base`` holds the fields a caller sends and reads back, ``…Create`` is
a request body, ``…Public`` is what the API answers. Times are ISO 8601 strings with their UTC offset, as the API
has always sent them. A request body is read by api/jsonbody.py (bounded in size and depth) and checked by the same
readers as the web forms (provisioning.inputs), so every refusal keeps its Swedish sentence beside its field; the
Create model is the contract that the schema shows and a client can build on.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from catalog.model import RoleName
from provisioning.bulk import BulkKind
from provisioning.models import LineAction, OrderKind, OrderState, Route


class ErrorPublic(BaseModel):
    """Every refusal under /api/: the Swedish sentence, and for bad values the field(s) and a message per field."""

    error: str
    field: str | None = None
    errors: dict[str, str] | None = None
    code: str | None = Field(default=None, description="Why a SITHS certificate was refused (/api/siths/whoami).")


# ---------------------------------------------------------------------- orders: requests
class CommissionOrderBase(BaseModel):
    """Beställ medarbetaruppdrag VoB SJF."""

    unit_hsa_id: str = Field(description="Vårdenhetens HSA-id", max_length=64)
    justification: str = Field(description="Motivering", max_length=2000)
    contact_name: str = Field(description="Kontaktperson", max_length=120)
    contact_phone: str = Field(description="Telefon", max_length=24)
    contact_email: str = Field(description="E-post", max_length=254)
    requested_start: str = Field(description="Önskat startdatum, ÅÅÅÅ-MM-DD", max_length=10)
    care_agreement_reference: str | None = Field(default=None, description="Vårdavtal (referens)", max_length=120)


class CommissionOrderCreate(CommissionOrderBase):
    """The body of POST /api/orders/commission."""


class MembershipOrderBase(BaseModel):
    """Beställning av behörigheter: staff to add to, remove from or change on the unit's commission."""

    unit_hsa_id: str = Field(description="Vårdenhetens HSA-id", max_length=64)
    action: LineAction = LineAction.ADD
    person_hsa_ids: list[str] = Field(default_factory=list, description="Medarbetarnas HSA-id", max_length=100)
    extra_hsa_ids: str | None = Field(default=None, description="Fler HSA-id, åtskilda av blanksteg, komma eller "
                                                                "semikolon", max_length=2000)
    valid_from: str = Field(description="Giltig från, ÅÅÅÅ-MM-DD", max_length=10)
    valid_to: str | None = Field(default=None, description="Giltig till och med, ÅÅÅÅ-MM-DD", max_length=10)
    comment: str | None = Field(default=None, description="Kommentar", max_length=1000)


class MembershipOrderCreate(MembershipOrderBase):
    """The body of POST /api/orders/membership."""


class DecisionCreate(BaseModel):
    """Approve (``approve: true``) or reject with a reason; ``stage`` is the step the decider saw (a stale page is
    refused instead of deciding a later step)."""

    approve: bool
    reason: str | None = Field(default=None, max_length=2000)
    stage: OrderState | None = None


class ReasonCreate(BaseModel):
    """Why NPÖ-förvaltningen closes a failed provisioning without carrying it out."""

    reason: str | None = Field(default=None, max_length=2000)


class EmptyCreate(BaseModel):
    """A write that needs nothing but the CSRF header (an empty object)."""

    model_config = ConfigDict(extra="allow")


# ---------------------------------------------------------------------- orders: answers
class OrderPublic(BaseModel):
    """An order as the signed-in person may see it; ``last_error`` in words for them."""

    reference: str
    id: int
    kind: OrderKind
    state: OrderState
    unit_hsa_id: str
    unit_name: str
    route: Route
    queue: str | None
    queue_scope: str | None
    requested_by: str
    submitted_at: str
    state_since: str
    due_at: str | None
    commission_hsa_id: str | None
    attempts: int
    last_error: str | None


class OrderLinePublic(BaseModel):
    """One staff member on an order."""

    person_hsa_id: str
    action: LineAction
    valid_from: str
    valid_to: str | None


class TimelineEntryPublic(BaseModel):
    """One step of an order's history."""

    at: str
    event: str
    to: OrderState
    actor: str
    reason: str | None
    task_run_id: str | None = Field(default=None, description="the Prefect task run of an automated step "
                                                              "(for system administrators)")


class OrderDetailPublic(OrderPublic):
    """One order with its lines, timeline, the directory writes planned and what the viewer may do with it."""

    planned: list[str]
    lines: list[OrderLinePublic]
    timeline: list[TimelineEntryPublic]
    can_decide: bool
    can_withdraw: bool
    can_retry: bool


class BulkJobPublic(BaseModel):
    """A massbeslut's progress; poll until ``finished`` (every item decided, every approved order settled)."""

    id: int
    kind: BulkKind
    total: int
    decided: int = Field(description="Items handled so far, decided or refused.")
    failed: int = Field(description="Items refused; one sentence each in ``problems``.")
    provisioned: int = Field(description="Approved orders in Skånekatalogen.")
    provisioning_failed: int
    onward: int = Field(description="Approved orders now in the next approver's queue.")
    waiting: int = Field(description="Approved orders whose automated steps still run.")
    removed: int = Field(description="Members a behörighetskontroll's decisions removed.")
    problems: list[str]
    finished: bool
    created_at: str
    finished_at: str | None = Field(description="When the last item was decided.")


# ---------------------------------------------------------------------- the session, queues, units
class QueuePublic(BaseModel):
    """A queue the person works in: the role and its scope (a unit or provider HSA-ID, or none)."""

    role: RoleName
    scope: str | None


class SessionPublic(BaseModel):
    """Who is signed in, with the CSRF token for writes."""

    hsa_id: str
    name: str
    csrf: str
    orderable_units: list[str]
    queues: list[QueuePublic]


class QueueSummaryPublic(QueuePublic):
    """A queue with its count, overdue count and the oldest order's age in business days."""

    label: str
    count: int
    overdue: int
    oldest_business_days: int


class PersonPublic(BaseModel):
    """A staff member of a unit."""

    hsa_id: str
    name: str
    title: str | None


# ---------------------------------------------------------------------- SITHS and health
class SithsIdentityPublic(BaseModel):
    """The verified SITHS identity of this request."""

    hsa_id: str
    name: str
    given_name: str
    surname: str
    serial: str
    issuer: str
    not_after: str
    fingerprint: str
    transport: str


class PartPublic(BaseModel):
    """One part of the stack, for NPÖ-förvaltningen."""

    healthy: bool
    detail: str
    where: str
    ms: float


class DeploymentPublic(BaseModel):
    """One scheduled flow, for NPÖ-förvaltningen."""

    name: str
    schedule: str
    next_run: str | None
    last_completed: str | None
    healthy: bool
    verdict: str


class HealthPublic(BaseModel):
    """Up or down for everyone; the parts and deployments only for NPÖ-förvaltningen."""

    ok: bool
    parts: dict[str, PartPublic] | None = None
    deployments: list[DeploymentPublic] | None = None


class AlivePublic(BaseModel):
    """This web process answers, and which process it is (a restarted one has a new pid)."""

    ok: bool
    pid: int
