"""The block dialog of the gated overview (Swedish): the patient's blocks at the user's own vårdgivare, registered
on the patient's request, revoked (hävd) or voided (makulerad); the temporary revokes in force for the user's unit
with the patient's consent, registered and cancelled. Every action goes through overview.blocks, which asks the gate
and logs it in the same transaction (D6)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.routes.overview_base import PatientPosted, format_pnr, gatekeeper, page, pop_flash, remember, state
from api.siths import CurrentIdentity, SithsIdentity
from catalog import runtime as catalog_runtime
from forms import overview as F
from kernel import runtime
from kernel.clock import now, until_text
from overview import blocks
from overview.errors import InvalidInput

router = APIRouter()
DIALOG = "/oversikt/patient/sparr"


def blocks_page(request: Request, identity: SithsIdentity, personnummer: str, *,
                values: dict[str, object] | None = None, errors: dict[str, str] | None = None,
                revoke_values: dict[str, object] | None = None, revoke_errors: dict[str, str] | None = None,
                status_code: int = 200) -> Response:
    """The dialog: checks 1–5 and the patient, logged as a read of the patient's blocks, committed before it shows."""
    with runtime.session_scope() as session:
        view = blocks.blocks_in_view(session=session, directory=gatekeeper(), user_hsa_id=identity.hsa_id,
                                     commission_hsa_id=state(request, identity).get("commission"),
                                     personnummer=personnummer)
    units = catalog_runtime.directory().units(view.commission.provider_hsa_id)
    return page(request, "overview/blocks.html", identity=identity, status_code=status_code,
                pnr=format_pnr(personnummer), patient=view.header, commission=view.commission, view=view,
                units=units, unit_names={u.hsa_id: u.name for u in units}, kinds=F.BLOCK_KINDS,
                requesters=F.REQUESTERS, exceptions=F.EXCEPTION_CHOICES,
                reason_field=F.BLOCK_REASON_FIELD, void_field=F.VOID_REASON_FIELD, scopes=F.SCOPES,
                durations=F.REVOKE_DURATIONS, values=values or F.block_defaults(view.commission.unit_hsa_id),
                errors=errors or {}, revoke_values=revoke_values or {"scope": "unit", "duration": "dag"},
                revoke_errors=revoke_errors or {}, flash=pop_flash(request, identity))


@router.get(DIALOG, name="overview_blocks")
def overview_blocks(request: Request, who: CurrentIdentity) -> Response:
    """Spärrar: the dialog."""
    personnummer = state(request, who).get("patient")
    return blocks_page(request, who, personnummer) if personnummer else RedirectResponse("/oversikt", 303)


@router.post(DIALOG, name="overview_block_register")
def overview_block_register(request: Request, who: CurrentIdentity, post: PatientPosted) -> Response:
    """Register a block on the patient's request (logged); then the dialog again, listing it."""
    raw = F.raw_values(post.form)
    try:
        wanted = F.parse_block(raw)
        with runtime.session_scope() as session:
            block = blocks.register_block(
                session=session, directory=gatekeeper(), user_hsa_id=who.hsa_id,
                commission_hsa_id=post.chosen.get("commission"), personnummer=post.personnummer, kind=wanted.kind,
                care_unit_hsa_id=wanted.care_unit_hsa_id, info_start=wanted.info_start, info_end=wanted.info_end,
                excluded_types=wanted.excluded_types, requested_by=wanted.requested_by, reason=wanted.reason)
            outer = block.kind == blocks.BlockKind.OUTER
    except F.FormInvalid as exc:
        return blocks_page(request, who, post.personnummer, values=raw, errors=exc.errors, status_code=422)
    except InvalidInput as exc:
        return blocks_page(request, who, post.personnummer, values=raw, errors={exc.field: exc.message},
                           status_code=422)
    who_else = "Personal hos andra vårdgivare" if outer else "Personal utanför vårdenheten"
    remember(request, who, flash=f"Spärren är registrerad ({'yttre' if outer else 'inre'} spärr). {who_else} ser nu "
                                 "bara att det finns spärrade uppgifter.")
    return RedirectResponse(DIALOG, status_code=303)


CHANGES = {"hav": "Spärren är hävd från och med nu.", "makulera": "Spärren är makulerad och räknas inte längre."}


@router.post(f"{DIALOG}/andra", name="overview_block_change")
def overview_block_change(request: Request, who: CurrentIdentity, post: PatientPosted) -> Response:
    """Revoke a block permanently on the patient's request, or void one registered by mistake (logged)."""
    raw = F.raw_values(post.form)
    action = str(raw.get("action", ""))
    if action not in CHANGES:
        raise InvalidInput("action", "Välj om spärren ska hävas eller makuleras.")
    act = blocks.revoke_block if action == "hav" else blocks.void_block
    try:
        with runtime.session_scope() as session:
            act(session=session, directory=gatekeeper(), user_hsa_id=who.hsa_id,
                commission_hsa_id=post.chosen.get("commission"), block_id=str(raw.get("block_id", "")),
                personnummer=post.personnummer, reason=str(raw.get("reason", "")))
    except InvalidInput as exc:
        return blocks_page(request, who, post.personnummer, status_code=422,
                           errors={"change": exc.message, "change_block": str(raw.get("block_id", ""))[:36]})
    remember(request, who, flash=CHANGES[action])
    return RedirectResponse(DIALOG, status_code=303)


@router.post(f"{DIALOG}/tillfallig", name="overview_block_revoke")
def overview_block_revoke(request: Request, who: CurrentIdentity, post: PatientPosted) -> Response:
    """With the patient present and consenting: lift the blocks that hide data from the unit (or only me) for a
    while (logged); then the overview, now showing what the blocks hid (where a consent lets it)."""
    raw = F.raw_values(post.form)
    at = now()
    try:
        wanted = F.parse_temporary_revoke(raw, now=at)
        with runtime.session_scope() as session:
            rows = blocks.register_temporary_revoke(
                session=session, directory=gatekeeper(), user_hsa_id=who.hsa_id,
                commission_hsa_id=post.chosen.get("commission"), personnummer=post.personnummer, end=wanted.end,
                employee_only=wanted.employee_only, reason_text=wanted.reason_text, now=at)
    except F.FormInvalid as exc:
        return blocks_page(request, who, post.personnummer, revoke_values=raw, revoke_errors=exc.errors,
                           status_code=422)
    except InvalidInput as exc:
        return blocks_page(request, who, post.personnummer, revoke_values=raw,
                           revoke_errors={exc.field: exc.message}, status_code=422)
    whom = "dig" if wanted.employee_only else "vårdenheten"
    note = (f"Spärren är tillfälligt hävd för {whom} med patientens samtycke och gäller {until_text(wanted.end)}."
            if rows else "Spärren var redan tillfälligt hävd för dig under den tiden.")
    remember(request, who, flash=f"{note} Uppgifter från andra vårdgivare visas bara med samtycke.")
    return RedirectResponse("/oversikt/patient", status_code=303)


@router.post(f"{DIALOG}/tillfallig/avbryt", name="overview_block_revoke_cancel")
def overview_block_revoke_cancel(request: Request, who: CurrentIdentity, post: PatientPosted) -> Response:
    """Cancel a temporary revoke: the blocks hold again from now (logged)."""
    with runtime.session_scope() as session:
        blocks.cancel_temporary_revoke(session=session, directory=gatekeeper(), user_hsa_id=who.hsa_id,
                                       commission_hsa_id=post.chosen.get("commission"),
                                       revoke_id=str(post.form.get("revoke_id", "")), personnummer=post.personnummer)
    remember(request, who, flash="Den tillfälliga hävningen är avbruten; spärren gäller igen från och med nu.")
    return RedirectResponse(DIALOG, status_code=303)
