"""The mails each change of an order writes to the outbox (in the same transaction as the change)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from catalog import Directory, DirectoryError
from catalog.model import RoleName
from kernel import outbox
from kernel.clock import business_days_between, local_date
from provisioning.config import ProvisioningConfig
from provisioning.models import Order, OrderKind, OrderLine, OrderState
from provisioning.periods import Period
from provisioning.routing import ESCALATE_AFTER_BUSINESS_DAYS, QUEUE_LABELS

KIND_LABELS = {OrderKind.COMMISSION: "medarbetaruppdrag VoB SJF", OrderKind.MEMBERSHIP: "behörigheter till NPÖ"}
STAGE_LABELS = {
    OrderState.AWAITING_CONTRACT_MANAGER: "avtalsförvaltaren, Koncernkontoret",
    OrderState.AWAITING_CATALOG_ADMIN: "katalogförvaltningen",
    OrderState.AWAITING_USER_ADMIN: "behörighetsadministratören",
}


def _sv(instant: dt.datetime | None) -> str:
    from kernel.clock import STOCKHOLM

    return instant.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") if instant else "–"


def queue_addresses(directory: Directory, role: RoleName, scope: str | None, *, fallback: str | None = None
                    ) -> list[str]:
    """The queue's shared mailbox and its members' addresses (``fallback`` when the directory cannot answer)."""
    try:
        return _queue_addresses(directory, role, scope)
    except DirectoryError:
        return [fallback] if fallback else []


def _queue_addresses(directory: Directory, role: RoleName, scope: str | None) -> list[str]:
    found = directory.role(role, scope)
    if found is None:
        return []
    addresses = [found.mail] if found.mail else []
    for member in found.members:
        person = directory.find_person(member)
        if person and person.active and person.mail:
            addresses.append(person.mail)
    return addresses


def orderer_addresses(directory: Directory, order: Order) -> list[str | None]:
    """The contact address given on the order and the orderer's directory address."""
    person = directory.find_person(order.requested_by)
    return [order.contact_email, person.mail if person else None]  # outbox.enqueue skips the missing


def _base(order: Order, config: ProvisioningConfig) -> dict[str, object]:
    return {"order": order, "kind_label": KIND_LABELS[order.kind], "link": config.order_link(order.reference)}


def to_queue(session: Session, directory: Directory, config: ProvisioningConfig, order: Order, *,
             now: dt.datetime) -> None:
    """Tell the queue that must act now."""
    role = RoleName(order.queue) if order.queue else None
    if role is None:
        return
    outbox.enqueue(session, template="order_to_queue", to=queue_addresses(directory, role, order.queue_scope),
                   context={**_base(order, config), "queue_label": QUEUE_LABELS[role], "due": _sv(order.due_at)},
                   dedupe_key=f"queue:{order.id}:{order.state.value}:{order.version}", now=now, order_id=order.id)


def decision(session: Session, directory: Directory, config: ProvisioningConfig, order: Order, *, stage: OrderState,
             approved: bool, decided_by: str, reason: str | None, now: dt.datetime) -> None:
    """Tell the orderer about a decision at one stage."""
    next_step = ("Beställningen går nu vidare till nästa steg." if order.state in STAGE_LABELS
                 else "Beställningen läggs nu upp i Skånekatalogen; du får ett nytt meddelande när den är klar.")
    outbox.enqueue(session, template="decision_to_orderer", to=orderer_addresses(directory, order),
                   context={**_base(order, config), "approved": approved, "stage_label": STAGE_LABELS[stage],
                            "decided_by": decided_by, "reason": reason, "next_step": next_step},
                   dedupe_key=f"decision:{order.id}:{stage.value}", now=now, order_id=order.id)


def _commission_period(directory: Directory, order: Order) -> Period:
    """The days the order's commission is in force (the gate lets a member in only within them)."""
    commission = directory.find_commission(order.commission_hsa_id) if order.commission_hsa_id else None
    return Period.of_commission(commission) if commission else Period()


def provisioned(session: Session, directory: Directory, config: ProvisioningConfig, order: Order,
                lines: list[OrderLine], *, information: str, now: dt.datetime) -> None:
    """Tell the orderer it is done, and each added staff member from which day (the real first day: within the
    commission's validity) they can use NPÖ."""
    commission = _commission_period(directory, order)
    summary = [f"{line.person_name} ({line.person_hsa_id}): {_line_text(line, commission)}" for line in lines]
    outbox.enqueue(session, template="provisioned_to_orderer", to=orderer_addresses(directory, order),
                   context={**_base(order, config), "commission_hsa_id": order.commission_hsa_id, "lines": summary},
                   dedupe_key=f"provisioned:{order.id}", now=now, order_id=order.id)
    for line in lines:
        if line.action.value == "remove":
            continue
        days = commission.within(line.valid_from, line.valid_to)
        assert days.first is not None
        outbox.enqueue(session, template="access_ready", to=[line.person_mail],
                       context={**_base(order, config), "person_name": line.person_name,
                                "valid_from": days.first.isoformat(), "starts_later": days.first > local_date(now),
                                "valid_to": days.last.isoformat() if days.last else None,
                                "npo_url": config.npo_url, "information": information},
                       dedupe_key=f"access:{order.id}:{line.id}", now=now, order_id=order.id)


def _line_text(line: OrderLine, commission: Period) -> str:
    if line.action.value == "remove":
        return f"borttagen från {line.valid_from}"
    return f"behörig {commission.within(line.valid_from, line.valid_to).text()}"


def reminder(session: Session, directory: Directory, config: ProvisioningConfig, order: Order, *, escalation: bool,
             now: dt.datetime) -> None:
    """Remind the queue (after 2 business days) or escalate to it and the system administrators (after 5)."""
    role = RoleName(order.queue) if order.queue else None
    if role is None:
        return
    to = queue_addresses(directory, role, order.queue_scope)
    if escalation:
        to += queue_addresses(directory, RoleName.SYSTEM_ADMIN, None)
    outbox.enqueue(session, template="reminder_to_queue", to=to,
                   context={**_base(order, config), "queue_label": QUEUE_LABELS[role], "escalation": escalation,
                            "since": local_date(order.state_since).isoformat(),
                            "business_days": business_days_between(order.state_since, now),
                            "limit": ESCALATE_AFTER_BUSINESS_DAYS},
                   dedupe_key=f"{'escalate' if escalation else 'remind'}:{order.id}:{order.state.value}:"
                              f"{order.state_since.isoformat()}", now=now, order_id=order.id)


def cancelled(session: Session, directory: Directory, config: ProvisioningConfig, order: Order, *,
              cancelled_by: str, reason: str, now: dt.datetime) -> None:
    """Tell the orderer that NPÖ-förvaltningen closed their failed order without carrying it out, and why."""
    outbox.enqueue(session, template="order_cancelled", to=orderer_addresses(directory, order),
                   context={**_base(order, config), "cancelled_by": cancelled_by, "reason": reason},
                   dedupe_key=f"cancelled:{order.id}", now=now, order_id=order.id)


def provisioning_failed(session: Session, directory: Directory, config: ProvisioningConfig, order: Order, *,
                        error: str, now: dt.datetime) -> None:
    """Tell the system administrators that an order needs remediation."""
    to = queue_addresses(directory, RoleName.SYSTEM_ADMIN, None, fallback=config.admin_mail)
    outbox.enqueue(session, template="provisioning_failed", to=to,
                   context={**_base(order, config), "error": error},
                   dedupe_key=f"failed:{order.id}:{order.version}", now=now, order_id=order.id)
