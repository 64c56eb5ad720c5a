"""Behörighetskontroll: the unit manager's recertification pages (confirm or remove each member by the deadline)."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import CurrentActor, check_csrf, flash
from api.errors import keep_form
from api.pages import render
from api.params import RowId
from catalog import runtime as catalog_runtime
from flows.trigger import bulk_later, deliver_later
from kernel import runtime
from kernel.clock import now
from kernel.errors import DomainError
from kernel.sqltypes import stored_id
from overview.usage import last_reads
from provisioning import bulk
from provisioning.authz import Actor
from provisioning.errors import InvalidInputs
from provisioning.recertification import decisions, usage
from provisioning.recertification.common import ReviewConfig
from provisioning.recertification.models import RoundState
from provisioning.recertification.rounds import DECISION_LABELS

router = APIRouter()
CONFIRM, REMOVE = "bekrafta", "ta-bort"
MAX_FIELD = 600


def _config() -> ReviewConfig:
    current = runtime.settings()
    return ReviewConfig(public_base_url=current.public_base_url, idle_days=current.recert_idle_days)


def _round_page(request: Request, actor: Actor, round_id: int, *, values: dict[str, str], errors: dict[str, str],
                marked: set[int] | None = None, status: int = 200) -> Response:
    """The round's page; ``marked`` is the "Ta bort alla markerade" selection as posted (default: the idle members).
    Each member's last read comes from the overview's access log, by the round's commission (issue 14 item 3)."""
    at, idle_days = now(), _config().idle_days
    with runtime.session_scope() as session:
        view = decisions.view(session, decisions.get_round(session, actor, round_id), now=at)
        reads = last_reads(session, commission_hsa_id=view.round.commission_hsa_id,
                           person_hsa_ids=[i.person_hsa_id for i in view.items])
    members = usage.member_usage(view.items, reads, now=at, idle_days=idle_days)
    can_decide = view.round.state is RoundState.OPEN and not view.past_deadline
    return render(request, "review/round.html", actor=actor, status_code=status, view=view, values=values,
                  errors=errors, labels=DECISION_LABELS, can_decide=can_decide,
                  confirm=CONFIRM, remove=REMOVE, usage=members, idle_period=usage.idle_period(idle_days),
                  idle_count=sum(1 for u in members.values() if u.idle),
                  marked=usage.marked_by_default(view.items, members) if marked is None else marked,
                  marked_field=decisions.MARKED, marked_reason=decisions.MARKED_REASON)


@router.get("/behorighetskontroll", name="review_index")
def review_index(request: Request, actor: CurrentActor) -> Response:
    """The actor's units: open and recent rounds, and the units where a round can start now."""
    decisions.require_reviewer(actor)
    at = now()
    with runtime.session_scope() as session:
        rounds = decisions.rounds_for(session, actor, now=at)
        startable = decisions.startable_units(session, catalog_runtime.directory(), actor, now=at)
    return render(request, "review/index.html", actor=actor, rounds=rounds, startable=startable)


@router.post("/behorighetskontroll/starta", name="review_start")
async def review_start(request: Request, actor: CurrentActor, background: BackgroundTasks) -> Response:
    """Start a round for one unit now (or open the unit's current round); its request mail goes out at once."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    with runtime.session_scope() as session:
        started = decisions.start_round(session=session, directory=catalog_runtime.directory(), config=_config(),
                                        actor=actor, unit_hsa_id=str(form.get("unit_hsa_id", ""))[:64], now=now())
        round_id = started.id
    background.add_task(deliver_later)  # after the commit; SMTP down leaves the mail in the outbox for the sweep
    return RedirectResponse(f"/behorighetskontroll/{round_id}", status_code=303)


@router.get("/behorighetskontroll/{round_id}", name="review_round")
def review_round(request: Request, round_id: RowId, actor: CurrentActor) -> Response:
    """One round: each member with confirm/remove, the deadline and the progress."""
    return _round_page(request, actor, round_id, values={}, errors={})


def _choices(form_values: dict[str, str], rows: list[str], confirm_rest: bool) -> list[decisions.Choice]:
    """The decisions on the form: an explicit choice per row, or confirm for the rest when asked to."""
    choices = []
    for row in rows:
        if not (row.isascii() and row.isdigit()):  # int() refuses ² although str.isdigit accepts it
            continue
        choice = form_values.get(f"beslut-{row}", "")
        if choice == REMOVE:
            choices.append(decisions.Choice(int(row), False, form_values.get(f"motivering-{row}")))
        elif choice == CONFIRM or (confirm_rest and not choice):
            choices.append(decisions.Choice(int(row), True, form_values.get(f"motivering-{row}")))
    return choices


@router.post("/behorighetskontroll/{round_id}", name="review_decide")
async def review_decide(request: Request, round_id: RowId, actor: CurrentActor,
                       background: BackgroundTasks) -> Response:
    """Save decisions; on a bad field the page comes back with every choice kept and the message beside it.
    The mail a decision causes (to a removed member, the closing receipt) goes out after the commit. Decisions that
    remove many members are checked here and then carried out in the background, followed on a progress page."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    values = {key: str(value)[:MAX_FIELD] for key, value in form.multi_items()
              if key.startswith(("beslut-", "motivering-"))}
    rows = [str(r)[:12] for r in form.getlist("rad")][:1000]
    choices = _choices(values, rows, confirm_rest=str(form.get("alla", "")) == CONFIRM)

    def again(exc: DomainError, _status: int) -> Response | None:
        if isinstance(exc, InvalidInputs):
            return _round_page(request, actor, round_id, values=values, errors=exc.errors, status=422)
        return None

    keep_form(request, again)
    return _carry_out(request, actor, round_id, choices, background)


def _ids(values: list[str]) -> list[int]:
    """Row ids as posted (int() refuses ² although str.isdigit accepts it; anything else is not a row)."""
    return [int(v) for v in values if v.isascii() and v.isdigit()]


@router.post("/behorighetskontroll/{round_id}/ta-bort-markerade", name="review_remove_marked")
async def review_remove_marked(request: Request, round_id: RowId, actor: CurrentActor,
                               background: BackgroundTasks) -> Response:
    """"Ta bort alla markerade": remove every marked member with one shared reason, carried out by the same
    decisions as the form above (checked as a whole first: nothing marked, no reason or a member not on the
    round changes nothing)."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    marked = _ids([str(r)[:12] for r in form.getlist("markerad")][:1000])
    reason = str(form.get(decisions.MARKED_REASON, ""))[:MAX_FIELD]

    def again(exc: DomainError, _status: int) -> Response | None:
        if isinstance(exc, InvalidInputs):
            return _round_page(request, actor, round_id, values={decisions.MARKED_REASON: reason}, errors=exc.errors,
                               marked=set(marked), status=422)
        return None

    keep_form(request, again)
    return _carry_out(request, actor, round_id, decisions.removal_of_marked(marked, reason), background)


def _carry_out(request: Request, actor: Actor, round_id: int, choices: list[decisions.Choice],
               background: BackgroundTasks) -> Response:
    """Decide ``choices`` now, or as a massbeslut when they remove many members; the redirect that follows."""
    if bulk.runs_in_background(choices):  # many removals (each an LDAP write): a massbeslut with a progress page
        with runtime.session_scope() as session:
            job_id = stored_id(bulk.start_review_decisions(session=session, actor=actor, round_id=round_id,
                                                           choices=choices, now=now()))
        background.add_task(bulk_later, job_id)
        return RedirectResponse(f"/massbeslut/{job_id}", status_code=303)
    with runtime.session_scope() as session:
        report = decisions.decide(session=session, directory=catalog_runtime.directory(), config=_config(),
                                  actor=actor,
                                  round_id=round_id, choices=choices, now=now())
    background.add_task(deliver_later)
    text = f"{report.decided} beslut sparade."
    if report.already:
        text += " Redan beslutade av någon annan: " + "; ".join(report.already)
    if report.closed:
        text += " Kontrollen är klar och avslutad."
    flash(request, text)
    return RedirectResponse(f"/behorighetskontroll/{round_id}", status_code=303)
