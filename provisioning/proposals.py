"""Proposed membership orders (issue 14): what the HR sync suggests for a mover or a joiner, and what a person asks
for from Felsökning ("Begär behörighet"). A proposal waits for the unit's manager or a delegate, who turns it into a
membership order in one click (the validity editable) or declines it with a reason. A unit without a manager puts
it with NPÖ-förvaltningen, with the reason. Every step is a ProposalEvent; mail goes through the outbox.

The proposal never bypasses ordering: "Beställ" submits an ordinary membership order through
`ordering.submit_membership_order`, with every rule of a hand-made one (the person still at the unit and usable, the
validity inside the commission's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, or_, select

from catalog import Directory
from catalog.identifiers import HsaId
from catalog.model import CareUnit, Person, RoleName
from catalog.reconcile import Arrival
from kernel import outbox
from kernel.clock import STOCKHOLM, local_date
from kernel.review import active_delegations, granted_by
from kernel.sqltypes import stored_id
from kernel.text import has_control_characters
from provisioning.authz import Actor
from provisioning.config import ProvisioningConfig
from provisioning.errors import Conflict, InvalidInput, NotAllowed, NotFound
from provisioning.inputs import read_membership_order
from provisioning.models import (
    AccessProposal,
    Delegation,
    LineAction,
    Order,
    OrderKind,
    OrderLine,
    ProposalEvent,
    ProposalOrigin,
    ProposalState,
)
from provisioning.notify import queue_addresses
from provisioning.ordering import submit_membership_order, unit_commission
from provisioning.routing import QUEUE_LABELS
from provisioning.states import FINAL, STATE_LABELS

COMMENT_MAX = 1000
REASON_MAX = 1000
ORIGIN_LABELS = {
    ProposalOrigin.MOVER: "Flyttat till enheten enligt HR",
    ProposalOrigin.JOINER: "Nyanställd på enheten enligt HR",
    ProposalOrigin.REQUEST: "Begäran från medarbetaren",
}
STATE_TEXT = {
    ProposalState.OPEN: "Väntar på verksamhetschefen",
    ProposalState.ORDERED: "Beställd",
    ProposalState.DECLINED: "Avböjd",
    ProposalState.CLOSED: "Avslutad",
}
SYSTEM = ("system", "HR-synkroniseringen")


@dataclass(frozen=True)
class PendingOrder:
    """A membership order on its way that concerns one person (Felsökning shows it)."""

    reference: str
    unit_name: str
    state_label: str
    queue: str | None
    submitted_at: dt.datetime
    state_since: dt.datetime
    due_at: dt.datetime | None


def _text(value: str | None, field: str, *, what: str, required: bool, limit: int) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(field, f"Ange {what}.")
    if len(text) > limit:
        raise InvalidInput(field, f"Texten är {len(text)} tecken lång; högst {limit} tecken är tillåtet.")
    if has_control_characters(text):
        raise InvalidInput(field, "Texten innehåller otillåtna styrtecken; skriv om den med vanliga tecken.")
    return text


def _event(session: Session, proposal: AccessProposal, actor: tuple[str, str], event: str, detail: str | None,
           now: dt.datetime) -> None:
    session.add(ProposalEvent(proposal_id=stored_id(proposal), at=now, actor=actor[0], actor_name=actor[1],
                              event=event, detail=detail))


def _sv_date(day: dt.date | None) -> str:
    return day.isoformat() if day else "tills vidare"


def _sv_time(instant: dt.datetime | None) -> str:
    return instant.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") if instant else "–"


# ---------------------------------------------------------------- who decides
def deciders(session: Session, directory: Directory, unit: CareUnit, *, now: dt.datetime) -> list[Person]:
    """The unit's manager and the persons holding a delegation of the ordering right from that manager now (usable
    only; a delegation lapses with the manager who granted it, kernel.review.granted_by)."""
    ids = [unit.manager_hsa_id] if unit.manager_hsa_id else []
    ids += [d.delegate_hsa_id for d in active_delegations(session, Delegation, now, unit_hsa_id=unit.hsa_id)
            if granted_by(d, unit.manager_hsa_id)]
    found = []
    for hsa_id in dict.fromkeys(HsaId(i) for i in ids):
        person = directory.find_person(hsa_id)
        if person is not None and person.usable:
            found.append(person)
    return found


def _no_manager(unit: CareUnit, people: list[Person]) -> str | None:
    """Why the proposal waits with NPÖ-förvaltningen, or None when the unit has someone to decide (its manager,
    or a delegate)."""
    if people:
        return None
    if unit.manager_hsa_id is None:
        return f"{unit.name} har ingen verksamhetschef i Skånekatalogen."
    return f"Verksamhetschefen för {unit.name} ({unit.manager_hsa_id}) är inte aktiv i Skånekatalogen."


def _mail_deciders(session: Session, directory: Directory, config: ProvisioningConfig, proposal: AccessProposal,
                   people: list[Person], now: dt.datetime) -> None:
    to: Iterable[str | None] = [p.mail for p in people]
    if proposal.no_manager:
        to = queue_addresses(directory, RoleName.SYSTEM_ADMIN, None, fallback=config.admin_mail)
    outbox.enqueue(session, template="proposal_to_manager", to=to, now=now,
                   dedupe_key=f"proposal-{proposal.id}-created",
                   context={"p": proposal, "origin": ORIGIN_LABELS[proposal.origin], "link": link(config),
                            "valid_to": _sv_date(proposal.valid_to)})


def link(config: ProvisioningConfig) -> str:
    """The page where proposals are decided."""
    return f"{config.public_base_url.rstrip('/')}/bestall/forslag"


# ---------------------------------------------------------------- what already covers a person
def pending_orders(session: Session, person_hsa_id: str) -> list[PendingOrder]:
    """Membership orders on their way that add or change this person (newest first)."""
    rows = session.exec(select(Order).join(OrderLine, col(OrderLine.order_id) == col(Order.id)).where(
        OrderLine.person_hsa_id == HsaId(person_hsa_id), OrderLine.action != LineAction.REMOVE,
        Order.kind == OrderKind.MEMBERSHIP,
        col(Order.state).not_in([s.value for s in FINAL])).order_by(col(Order.submitted_at).desc()).limit(20))
    unique = {o.id: o for o in rows}  # an order naming the person twice is one order
    return [PendingOrder(o.reference, o.unit_name, STATE_LABELS[o.state], _queue_label(o.queue), o.submitted_at,
                         o.state_since, o.due_at) for o in unique.values()]


def _queue_label(queue: str | None) -> str | None:
    try:
        return QUEUE_LABELS[RoleName(queue)] if queue else None
    except ValueError:
        return queue


def open_proposal(session: Session, person_hsa_id: str, unit_hsa_id: str | None = None) -> AccessProposal | None:
    """The person's open proposal (for that unit)."""
    query = select(AccessProposal).where(AccessProposal.person_hsa_id == HsaId(person_hsa_id),
                                         AccessProposal.state == ProposalState.OPEN)
    if unit_hsa_id:
        query = query.where(AccessProposal.unit_hsa_id == HsaId(unit_hsa_id))
    return session.exec(query).first()


def _member_now(session: Session, directory: Directory, person_hsa_id: str, unit_hsa_id: str, now: dt.datetime
                ) -> dt.datetime | None | bool:
    """False when the person holds no membership on the unit's VoB SJF in force now or later; else its end (None:
    until further notice)."""
    found = unit_commission(session, directory, unit_hsa_id).commission
    if found is None:
        return False
    for membership in directory.memberships(found.hsa_id):
        if membership.person_hsa_id == HsaId(person_hsa_id) and (
                membership.validity.end is None or membership.validity.end > now):
            return membership.validity.end
    return False


def _covered(session: Session, directory: Directory, person: Person, unit_hsa_id: str, now: dt.datetime) -> bool:
    """The person needs no proposal for the unit: already a member, an order on its way, or an open proposal."""
    return (_member_now(session, directory, person.hsa_id, unit_hsa_id, now) is not False
            or any(True for _ in pending_orders(session, person.hsa_id))
            or open_proposal(session, person.hsa_id, unit_hsa_id) is not None)


def _new(session: Session, directory: Directory, config: ProvisioningConfig, *, origin: ProposalOrigin,
         person: Person, unit: CareUnit, valid_from: dt.date, valid_to: dt.date | None, comment: str,
         by: tuple[str, str], now: dt.datetime, from_unit: CareUnit | None = None) -> AccessProposal:
    people = deciders(session, directory, unit, now=now)
    proposal = AccessProposal(
        origin=origin, state=ProposalState.OPEN, person_hsa_id=person.hsa_id, person_name=person.name,
        person_mail=person.mail, person_title=person.title[:128] if person.title else None,
        unit_hsa_id=unit.hsa_id, unit_name=unit.name,
        from_unit_hsa_id=from_unit.hsa_id if from_unit else None, from_unit_name=from_unit.name if from_unit else None,
        valid_from=valid_from, valid_to=valid_to, comment=comment, no_manager=_no_manager(unit, people),
        created_at=now, created_by=by[0], created_by_name=by[1])
    session.add(proposal)
    session.flush()
    _event(session, proposal, by, "created", proposal.no_manager, now)
    _mail_deciders(session, directory, config, proposal, people, now)
    return proposal


# ---------------------------------------------------------------- from the HR sync
def from_sync(*, session: Session, directory: Directory, config: ProvisioningConfig, arrivals: Iterable[Arrival],
              now: dt.datetime) -> list[AccessProposal]:
    """After an applied HR sync (``SyncReport.arrivals()``): a proposal for each mover (and a note to the old
    unit's manager when their memberships there end) and for each joiner at a unit with VoB SJF (or one on order).
    Idempotent: a person already covered (member, order on its way, open proposal) gets none."""
    today = local_date(now)
    made: list[AccessProposal] = []
    for arrival in arrivals:
        unit = directory.unit(arrival.unit_hsa_id)
        person = directory.find_person(arrival.hsa_id)
        if unit is None or person is None or not person.usable or person.unit_hsa_id != unit.hsa_id:
            continue  # gone again, or moved on since
        old = directory.unit(arrival.from_unit_hsa_id) if arrival.from_unit_hsa_id else None
        ends = arrival.memberships_end
        if old is not None and ends is not None:
            _tell_old_manager(session, directory, old, person, unit, ended_at=max(ends, now), now=now)
        if ends is None and unit_commission(session, directory, unit.hsa_id).period is None:
            continue  # no NPÖ access to carry over and no VoB SJF at the unit: nothing to order yet
        if _covered(session, directory, person, unit.hsa_id, now):
            continue
        start = max(local_date(arrival.employment_start) if arrival.employment_start else today, today)
        end = local_date(arrival.employment_end) if arrival.employment_end else None
        if arrival.from_unit_hsa_id:
            before = old.name if old else arrival.from_unit_hsa_id
            comment = (f"{person.name} har flyttat från {before} till {unit.name} enligt HR; "
                       + (f"behörigheterna på {before} upphör {_sv_time(max(ends, now))}." if ends else
                          f"hade ingen NPÖ-behörighet på {before}."))
        else:
            comment = f"{person.name} är nyanställd på {unit.name} ({arrival.title or 'titel saknas'}) enligt HR."
        made.append(_new(session, directory, config, origin=ProposalOrigin.MOVER if arrival.from_unit_hsa_id else
                         ProposalOrigin.JOINER, person=person, unit=unit, valid_from=start,
                         valid_to=end if end and end >= start else None, comment=comment, by=SYSTEM, now=now,
                         from_unit=old))
    return made


def _tell_old_manager(session: Session, directory: Directory, old: CareUnit, person: Person, new: CareUnit, *,
                      ended_at: dt.datetime, now: dt.datetime) -> None:
    managers = deciders(session, directory, old, now=now)
    outbox.enqueue(session, template="mover_old_unit", to=[m.mail for m in managers], now=now,
                   dedupe_key=f"mover-{person.hsa_id}-{old.hsa_id}-{ended_at:%Y%m%d%H%M}",
                   context={"person": person, "old": old, "new": new, "ends": _sv_time(ended_at)})


# ---------------------------------------------------------------- from Felsökning
def request_access(*, session: Session, directory: Directory, config: ProvisioningConfig, person_hsa_id: str,
                   comment: str, now: dt.datetime) -> AccessProposal:
    """"Begär behörighet": the signed-in person asks for a membership on their own unit's VoB SJF. Refused, with
    the reason, for an archived or disabled person, a person without a unit, one already a member, and one with an
    order or a request already on its way."""
    text = _text(comment, "comment", what="en kommentar", required=False, limit=COMMENT_MAX)
    person = directory.find_person(person_hsa_id)
    if person is None:
        raise NotFound(f"{person_hsa_id} finns inte i Skånekatalogen; kontakta er katalogadministratör.")
    if not person.usable:
        raise NotAllowed(f"Du är {'arkiverad' if person.active else 'inaktiverad'} i Skånekatalogen och kan inte få "
                         "behörighet. Kontakta din chef eller HR om det är fel.")
    unit = directory.unit(person.unit_hsa_id) if person.unit_hsa_id else None
    if unit is None:
        raise InvalidInput("comment", "Du är inte placerad på någon vårdenhet i Skånekatalogen; kontakta HR eller "
                                      "katalogadministratören.")
    for pending in pending_orders(session, person.hsa_id):
        raise Conflict(f"En beställning av behörighet för dig ({pending.reference}) är redan på väg: "
                       f"{pending.state_label.lower()} sedan {_sv_time(pending.state_since)}.")
    waiting = open_proposal(session, person.hsa_id)
    if waiting is not None:
        raise Conflict(f"Du har redan begärt behörighet ({_sv_time(waiting.created_at)}); begäran väntar hos "
                       f"{'NPÖ-förvaltningen' if waiting.no_manager else 'verksamhetschefen'} för "
                       f"{waiting.unit_name}.")
    member = _member_now(session, directory, person.hsa_id, unit.hsa_id, now)
    if member is not False:
        until = f"till {_sv_time(member)}" if isinstance(member, dt.datetime) else "tills vidare"
        raise Conflict(f"Du har redan behörighet på {unit.name}s medarbetaruppdrag ({until}). Välj uppdraget när "
                       "du loggar in i NPÖ.")
    return _new(session, directory, config, origin=ProposalOrigin.REQUEST, person=person, unit=unit,
                valid_from=local_date(now), valid_to=None,
                comment=text or "(ingen kommentar)", by=(person.hsa_id, person.name), now=now)


# ---------------------------------------------------------------- the manager's decisions
def visible(session: Session, actor: Actor, *, include_decided: bool = False, limit: int = 200
            ) -> list[AccessProposal]:
    """The proposals the actor may decide: their units' open ones; NPÖ-förvaltningen also those without a
    manager."""
    units = [HsaId(u) for u in actor.orderable_units()]
    states = [ProposalState.OPEN] if not include_decided else list(ProposalState)
    query = select(AccessProposal).where(col(AccessProposal.state).in_([s.value for s in states]))
    if actor.is_system_admin:
        query = query.where(or_(col(AccessProposal.unit_hsa_id).in_(units),
                                col(AccessProposal.no_manager).is_not(None)))
    else:
        query = query.where(col(AccessProposal.unit_hsa_id).in_(units))
    return list(session.exec(query.order_by(col(AccessProposal.created_at).desc()).limit(limit)))


def get(session: Session, actor: Actor, proposal_id: int) -> AccessProposal:
    """One proposal the actor may see (the unit's manager/delegates, NPÖ-förvaltningen for those without one)."""
    proposal = session.get(AccessProposal, proposal_id)
    if proposal is None or not (actor.may_order_for(proposal.unit_hsa_id)
                                or (actor.is_system_admin and proposal.no_manager)):
        raise NotFound("Förslaget finns inte, eller hör inte till någon av dina enheter.")
    return proposal


def _open(proposal: AccessProposal) -> None:
    if proposal.state is not ProposalState.OPEN:
        raise Conflict(f"Förslaget är redan {STATE_TEXT[proposal.state].lower()} "
                       f"({_sv_time(proposal.decided_at)}, {proposal.decided_by_name or '–'}).")


def _close(session: Session, proposal: AccessProposal, by: tuple[str, str], state: ProposalState, reason: str,
           now: dt.datetime, event: str) -> None:
    proposal.state, proposal.decided_at, proposal.decided_by, proposal.decided_by_name = state, now, *by
    proposal.decision_reason = reason
    session.add(proposal)
    _event(session, proposal, by, event, reason, now)


@dataclass(frozen=True)
class Ordered:
    """What "Beställ" did: the order submitted, or why the proposal was closed instead."""

    order: Order | None
    closed: str | None = None


def order_from(*, session: Session, directory: Directory, config: ProvisioningConfig, actor: Actor,
               proposal_id: int, valid_from: str, valid_to: str, now: dt.datetime) -> Ordered:
    """"Beställ": submit the proposal as a membership order (the validity as given; every rule of a hand-made
    order applies). A person who has since left or moved on closes the proposal with that reason instead."""
    proposal = get(session, actor, proposal_id)
    _open(proposal)
    if not actor.may_order_for(proposal.unit_hsa_id):
        raise NotAllowed(f"Beställningen görs av verksamhetschefen för {proposal.unit_name} eller en delegat. "
                         f"{proposal.no_manager or ''} För in verksamhetschefen i Skånekatalogen; förslaget visas "
                         "då för hen.".replace("  ", " "))
    person = directory.find_person(proposal.person_hsa_id)
    gone = None
    if person is None or not person.usable:
        gone = f"{proposal.person_name} har slutat eller är inaktiverad i Skånekatalogen."
    elif person.unit_hsa_id != HsaId(proposal.unit_hsa_id):
        gone = f"{proposal.person_name} tillhör inte längre {proposal.unit_name} i Skånekatalogen."
    if gone:
        _close(session, proposal, (actor.hsa_id, actor.name), ProposalState.CLOSED, gone, now, "closed")
        return Ordered(None, f"{gone} Förslaget är avslutat; ingen beställning gjordes.")
    data = read_membership_order({
        "unit_hsa_id": proposal.unit_hsa_id, "action": "add", "person_hsa_ids": [proposal.person_hsa_id],
        "valid_from": valid_from, "valid_to": valid_to,
        "comment": f"{ORIGIN_LABELS[proposal.origin]}: {proposal.comment}"[:1000]}, today=local_date(now))
    order = submit_membership_order(session=session, directory=directory, config=config, actor=actor, data=data,
                                    now=now)
    proposal.order_id = stored_id(order)
    _close(session, proposal, (actor.hsa_id, actor.name), ProposalState.ORDERED, order.reference, now, "ordered")
    _tell_requester(session, config, proposal, now, order_reference=order.reference)
    return Ordered(order)


def decline(*, session: Session, actor: Actor, config: ProvisioningConfig, proposal_id: int, reason: str,
            now: dt.datetime) -> AccessProposal:
    """"Avböj": close the proposal with a reason (required); a requester is told why."""
    proposal = get(session, actor, proposal_id)
    _open(proposal)
    text = _text(reason, "reason", what="varför förslaget avböjs", required=True, limit=REASON_MAX)
    _close(session, proposal, (actor.hsa_id, actor.name), ProposalState.DECLINED, text, now, "declined")
    _tell_requester(session, config, proposal, now)
    return proposal


def _tell_requester(session: Session, config: ProvisioningConfig, proposal: AccessProposal, now: dt.datetime, *,
                    order_reference: str | None = None) -> None:
    if proposal.origin is not ProposalOrigin.REQUEST:
        return
    outbox.enqueue(session, template="proposal_decided", to=[proposal.person_mail], now=now,
                   dedupe_key=f"proposal-{proposal.id}-{proposal.state.value}",
                   context={"p": proposal, "reference": order_reference,
                            "order_link": config.order_link(order_reference) if order_reference else None})


def of_person(session: Session, person_hsa_id: str, *, limit: int = 10) -> list[AccessProposal]:
    """The person's own proposals and requests, newest first (Felsökning shows their status)."""
    return list(session.exec(select(AccessProposal).where(AccessProposal.person_hsa_id == HsaId(person_hsa_id))
                             .order_by(col(AccessProposal.created_at).desc()).limit(limit)))


def events(session: Session, proposal_id: int) -> list[ProposalEvent]:
    """The proposal's steps, oldest first."""
    return list(session.exec(select(ProposalEvent).where(ProposalEvent.proposal_id == proposal_id)
                             .order_by(col(ProposalEvent.id))))
