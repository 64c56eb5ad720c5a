"""Felsökning: "Why can't I get in?" is the gate's own decision explained for the signed-in user, check by check,
with what to do and whom to contact (the seed's Felsökning list), and a fault report that mails the diagnosis to the
service desk through the outbox (D3). The diagnosis never carries patient data."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response

from api.routes.overview_base import CHECK_NAMES, CertifiedForm, access, flash, gatekeeper, is_admin, page, pop_flash
from api.siths import CertificateRejected, CurrentIdentity, IdentityOrRefusal, SithsIdentity
from flows.steps import provisioning_config
from flows.trigger import deliver_later
from forms import overview as F
from kernel import runtime
from kernel.clock import now
from kernel.errors import DomainError, InvalidInput, NotAllowed, NotFound
from overview import fault_report, help_texts
from overview.facts import load_facts
from overview.gate import Decision, GateFacts, decide
from provisioning import proposals

router = APIRouter()

SENT_KEY = "fault_report_sent"
ASKED_KEY = "access_requested"


def diagnose(request: Request, who: SithsIdentity | CertificateRejected) -> fault_report.Diagnosis:
    """The gate's checks 1–5 for this request's certificate (refused too: check 1 then explains why)."""
    at = now()
    if isinstance(who, CertificateRejected):
        keeper = gatekeeper()
        with runtime.session_scope() as session:
            facts: GateFacts = load_facts(session=session, directory=keeper.directory, user_hsa_id=None,
                                          commission_hsa_id=None, now=at, production=keeper.production,
                                          certificate_error=None if who.code == "missing" else who.message)
        decision: Decision = decide(facts, at)
    else:
        keeper = gatekeeper()
        if keeper.cache is not None:  # the diagnosis reads the directory as it is now: someone granted access a
            keeper.cache.drop(who.hsa_id)  # moment ago must not be told "no commission" from the grant cache
        facts, decision = access(request, who)
    return fault_report.diagnose(facts, decision, names=CHECK_NAMES, at=at)


def _help_page(request: Request, who: SithsIdentity | CertificateRejected, *, values: dict[str, object] | None = None,
               errors: dict[str, str] | None = None, sent: str = "", status_code: int | None = None,
               asked: str = "", ask_error: str = "", ask_comment: str = "",
               text_values: dict[str, str] | None = None, text_errors: dict[str, str] | None = None) -> Response:
    identity = None if isinstance(who, CertificateRejected) else who
    diagnosis = diagnose(request, who)
    status = status_code or (who.status if isinstance(who, CertificateRejected) else 200)
    pending, mine, versions = [], [], []
    admin = identity is not None and is_admin(identity)
    with runtime.read_scope() as session:
        netid = help_texts.current(session, "netid", runtime.settings().netid_advice)
        if admin:
            versions = help_texts.history(session, "netid")
        if identity is not None:
            pending = proposals.pending_orders(session, identity.hsa_id)
            mine = proposals.of_person(session, identity.hsa_id, limit=5)
        for row in [*mine, *versions]:
            session.expunge(row)
    return page(request, "overview/help.html", identity=identity, status_code=status, diagnosis=diagnosis,
                refusal=who if identity is None else None, fields=F.FAULT_FIELDS, values=values or {},
                errors=errors or {}, sent=sent, pending=pending, requests=mine, asked=asked, ask_error=ask_error,
                ask_comment=ask_comment, origins=proposals.ORIGIN_LABELS, request_states=proposals.STATE_TEXT,
                now=now(), netid_advice=netid.text, text_admin=admin, text_versions=versions,
                text_values=text_values or {"text": netid.text}, text_errors=text_errors or {},
                flash=pop_flash(request, identity) if identity else None)


@router.get("/oversikt/felsokning", name="overview_help")
def overview_help(request: Request, who: IdentityOrRefusal) -> Response:
    """Felsökning: check by check, what to do, whom to contact; the fault-report form (and, once, the reference of
    the report just sent: kept in the session, so nobody can put a reference of their own in the green box)."""
    return _help_page(request, who, sent=str(request.session.pop(SENT_KEY, "")),
                      asked=str(request.session.pop(ASKED_KEY, "")))


@router.post("/oversikt/felsokning/texter", name="overview_help_text")
def overview_help_text(request: Request, who: CurrentIdentity, form: CertifiedForm) -> Response:
    """NPÖ-förvaltningen stores a new version of the Net iD advice, with the reason (the history is kept)."""
    if not is_admin(who):
        raise NotAllowed("Felsökningens texter förvaltas av NPÖ:s systemförvaltning (rollen npo-forvaltning i "
                         "Skånekatalogen).")
    text, comment = str(form.get("text", ""))[:5000], str(form.get("comment", ""))[:1000]
    try:
        with runtime.session_scope() as session:
            row = help_texts.save(session, key="netid", text=text, comment=comment,
                                  default=runtime.settings().netid_advice, by=who.hsa_id, by_name=who.name, now=now())
            stored = row.id if row else None
    except InvalidInput as exc:
        return _help_page(request, who, status_code=422, text_values={"text": text, "comment": comment},
                          text_errors={exc.field: exc.message})
    flash(request, who, f"Version {stored} av texten om Net iD visas nu i Felsökning." if stored else
          "Texten är densamma som den som visas; ingen ny version sparades.")
    return RedirectResponse("/oversikt/felsokning#netid", status_code=303)


@router.post("/oversikt/felsokning/begar", name="overview_request_access")
def overview_request_access(request: Request, who: CurrentIdentity, form: CertifiedForm,
                            background: BackgroundTasks) -> Response:
    """Begär behörighet: a request, with the user's own comment, to the manager(s) and delegates of their unit (or
    NPÖ-förvaltningen when it has none); refused with the reason when an order or a request is already on its
    way, the user already has the access, or is archived."""
    comment = str(form.get("comment", ""))
    try:
        with runtime.session_scope() as session:
            made = proposals.request_access(session=session, directory=gatekeeper().directory,
                                            config=provisioning_config(), person_hsa_id=who.hsa_id, comment=comment,
                                            now=now())
            to = "NPÖ-förvaltningen" if made.no_manager else f"verksamhetschefen för {made.unit_name}"
    except DomainError as exc:
        status = (422 if isinstance(exc, InvalidInput) else 403 if isinstance(exc, NotAllowed)
                  else 404 if isinstance(exc, NotFound) else 409)
        return _help_page(request, who, status_code=status, ask_error=exc.message, ask_comment=comment[:1000])
    background.add_task(deliver_later)
    request.session[ASKED_KEY] = to
    return RedirectResponse("/oversikt/felsokning#begar", status_code=303)


@router.post("/oversikt/felsokning", name="overview_fault_report")
def overview_fault_report(request: Request, who: CurrentIdentity, form: CertifiedForm,
                          background: BackgroundTasks) -> Response:
    """Felanmälan: the diagnosis and the user's description, mailed to the service desk (needs a SITHS identity)."""
    raw = F.raw_values(form)
    try:
        report = F.parse_fault_report(raw)
    except F.FormInvalid as exc:
        return _help_page(request, who, values=raw, errors=exc.errors, status_code=422)
    diagnosis = diagnose(request, who)
    with runtime.session_scope() as session:
        reference = fault_report.report_fault(
            session=session, reporter=who, diagnosis=diagnosis, report=report,
            service_desk=runtime.settings().service_desk_mail, user_agent=request.headers.get("user-agent", ""),
            listener=request.url.netloc, now=now())
    background.add_task(deliver_later)
    request.session[SENT_KEY] = reference
    return RedirectResponse("/oversikt/felsokning", status_code=303)
