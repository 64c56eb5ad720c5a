""""Vem har läst min journal?" (/patient/, issue 15): the patient's log of accesses to their NPÖ data, their
consents and blocks (read-only), and "jag känner inte igen detta" on an access. A guardian sees a child's within the
age rules. Patients sign in through the configured authenticator (api/patient_auth.py); the service decides
(overview/patient_view.py) and logs every view before the page leaves.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError

from api.auth import check_csrf, sign_out
from api.charts import Lane, Point, timeline_chart
from api.params import RowId
from api.patient_auth import (
    SUBJECT_KEY,
    AuthenticatorUnavailable,
    PatientAuthenticator,
    safe_next,
    sign_in_patient,
    signed_in_patient,
)
from api.patient_dev import DevAuthenticator
from api.patient_oidc import CALLBACK_PATH, OidcAuthenticator
from api.templating import templates
from catalog import runtime as catalog_runtime
from flows.steps import log_review_config
from flows.trigger import deliver_later
from kernel import runtime
from kernel.clock import local_date, now
from kernel.errors import InvalidInput, NotAllowed
from kernel.settings import Settings
from overview import patient_view
from overview.logreview import mail as review_mail
from overview.logreview.models import LogReviewRound, LogReviewTask
from overview.logreview.rules import ReviewConfig as LogReviewConfig
from overview.patient_view import AgeRules, PatientLog, Subject

router = APIRouter()
HOME = "/patient/"
FLASH = {"markerad": "Tack. Åtkomsten är markerad och granskas av verksamhetschefen vid vårdenheten. Du ser "
                     "bedömningen här när den är klar.",
         "utloggad": "Du är utloggad."}
_oidc: dict[tuple[str | None, str | None], OidcAuthenticator] = {}


def authenticator(request: Request) -> PatientAuthenticator:
    """The authenticator in force (settings), or AuthenticatorUnavailable when patient sign-in is off."""
    settings = runtime.settings()
    method = settings.patient_authenticator
    if method == "dev":
        return DevAuthenticator(getattr(request.app.state, "patient_sign_in_list", None))
    if method == "oidc":
        key = (settings.patient_oidc_issuer, settings.patient_oidc_client_id)
        if key not in _oidc:  # one per configuration: it caches the provider's discovery document and keys
            _oidc[key] = OidcAuthenticator.from_settings(settings)
        return _oidc[key]
    raise AuthenticatorUnavailable("Inloggningen till Vem har läst min journal? är inte öppen här. Du kan se vem "
                                   "som har läst din journal i Journalen på 1177.se, eller be din vårdenhet om ett "
                                   "loggutdrag.")


def _rules(settings: Settings) -> AgeRules:
    return AgeRules(own_from_age=settings.patient_own_access_from_age,
                    guardian_until_age=settings.patient_guardian_until_age)


def _page(request: Request, template: str, *, status: int = 200, **context: object) -> HTMLResponse:
    from api.auth import LazyCsrf  # noqa: PLC0415 - the CSRF token of this browser's session, as staff pages
    return templates.TemplateResponse(request, template, {"csrf": LazyCsrf(request), "patient": signed_in_patient(
        request), "patient_name": request.session.get("patient_name", ""), **context}, status_code=status)


def _subject(request: Request, viewer: str) -> tuple[Subject, list]:
    """Whose view this browser shows now, and the children the viewer may switch to."""
    settings, at = runtime.settings(), now()
    wanted = request.session.get(SUBJECT_KEY)
    with runtime.read_scope() as session:
        kids = patient_view.children(session, viewer, rules=_rules(settings), now=at)
        for child in kids:
            session.expunge(child)
        if wanted is None and kids and patient_view.unknown(session, viewer):
            wanted = kids[0].personnummer  # a guardian with no record of their own here: the child's view first
        try:
            who = patient_view.subject(session, viewer=viewer, wanted=wanted, rules=_rules(settings), now=at)
        except NotAllowed:
            if wanted in (None, viewer) and kids:  # too young for one's own view, but a guardian: a child's view
                who = patient_view.subject(session, viewer=viewer, wanted=kids[0].personnummer,
                                           rules=_rules(settings), now=at)
            elif wanted not in (None, viewer):
                request.session.pop(SUBJECT_KEY, None)  # the child passed the age limit since: back to one's own
                raise
            else:
                raise
    return who, kids


def access_chart(log: PatientLog) -> object:
    """Accesses over time, a lane per vårdenhet (the newest 1000), as the overview's timeline chart."""
    lanes: dict[str, list[Point]] = {}
    names: dict[str, str] = {}
    for line in log.accesses:
        names[line.unit_hsa_id] = f"{line.unit_name} ({line.provider_name})"
        lanes.setdefault(line.unit_hsa_id, []).append(Point(
            local_date(line.at), 1 if line.emergency else 0,
            f"{line.at.astimezone(dt.UTC):%Y-%m-%d} {line.reader}", f"access-{line.seq}"))
    return timeline_chart("patient-accesses", "Åtkomster över tid",
                          "Varje markering är en åtkomst, en rad per vårdenhet. Tabellen nedan har samma uppgifter.",
                          [Lane(names[unit], points) for unit, points in lanes.items()], ["Läsning", "Nödåtkomst"])


@router.get(HOME, name="patient_home")
def home(request: Request, klart: str = "") -> Response:
    """Start page (not signed in), or the log of the signed-in patient (or their child)."""
    viewer = signed_in_patient(request)
    flash = FLASH.get(klart[:20], "")
    if viewer is None:
        method = runtime.settings().patient_authenticator
        return _page(request, "patient/start.html", open=method != "off", flash=flash,
                     rules=_rules(runtime.settings()))
    who, kids = _subject(request, viewer)
    settings = runtime.settings()
    with runtime.session_scope() as session:  # the view's log row commits before the page leaves (D6)
        log = patient_view.log_of(session=session, directory=catalog_runtime.directory(), subject=who,
                                  show_names=settings.patient_show_reader_names, now=now())
    return _page(request, "patient/log.html", log=log, kids=kids, flash=flash, chart=access_chart(log),
                 rules=_rules(settings), show_names=settings.patient_show_reader_names)


@router.get(HOME + "logga-in", name="patient_login")
def login(request: Request, next: str | None = None) -> Response:  # noqa: A002
    """Start the sign-in with the configured authenticator (503 when it is down or off)."""
    return authenticator(request).begin(request, safe_next(next))


async def _complete(request: Request) -> Response:
    identity, target = await authenticator(request).complete(request)
    sign_in_patient(request, identity)
    return RedirectResponse(safe_next(target), status_code=303)


@router.get(CALLBACK_PATH, name="patient_callback")
async def callback(request: Request) -> Response:
    """The provider's answer (OpenID Connect): sign the patient in."""
    return await _complete(request)


@router.post(CALLBACK_PATH, name="patient_dev_callback")
async def dev_callback(request: Request) -> Response:
    """The dev chooser's answer (development only)."""
    return await _complete(request)


@router.post(HOME + "logga-ut", name="patient_logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Sign out: the session ends for good."""
    check_csrf(request, csrf)
    sign_out(request)
    return RedirectResponse(HOME + "?klart=utloggad", status_code=303)


@router.post(HOME + "vem", name="patient_choose")
def choose(request: Request, subject: Annotated[str, Form(max_length=12)] = "",
           csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Switch between one's own view and a child's (a guardian; the age rules apply)."""
    check_csrf(request, csrf)
    viewer = signed_in_patient(request)
    if viewer is None:
        return RedirectResponse(HOME, status_code=303)
    with runtime.read_scope() as session:
        who = patient_view.subject(session, viewer=viewer, wanted=subject.strip() or None,
                                   rules=_rules(runtime.settings()), now=now())
    request.session[SUBJECT_KEY] = who.personnummer
    return RedirectResponse(HOME, status_code=303)


def _line(request: Request, viewer: str, seq: int) -> tuple[Subject, patient_view.AccessLine]:
    who, _kids = _subject(request, viewer)
    with runtime.read_scope() as session:
        line = patient_view.access_line(session=session, directory=catalog_runtime.directory(), subject=who,
                                        seq=seq, show_names=runtime.settings().patient_show_reader_names)
    return who, line


@router.get(HOME + "atkomst/{access_id}", name="patient_flag_form")
def flag_form(request: Request, access_id: RowId) -> Response:
    """"Jag känner inte igen detta": the access (its log row's number) and a comment field."""
    viewer = signed_in_patient(request)
    if viewer is None:
        return RedirectResponse(f"{HOME}logga-in?next={HOME}atkomst/{access_id}", status_code=303)
    who, line = _line(request, viewer, access_id)
    return _page(request, "patient/flag.html", who=who, line=line, values={}, errors={})


def _flag(who: Subject, seq: int, comment: str, config: LogReviewConfig) -> None:
    """The flag, its review task and the mail to the unit's reviewers, in one transaction."""
    with runtime.session_scope() as session:
        directory, at = catalog_runtime.directory(), now()
        row = patient_view.flag(session=session, directory=directory, subject=who, seq=seq, comment=comment,
                                config=config, now=at)
        task = session.get(LogReviewTask, row.task_id)
        round_ = session.get(LogReviewRound, task.round_id) if task else None
        if task is not None and round_ is not None:
            review_mail.mail_patient_flag(session, directory, row, task, round_, config,
                                          service_desk=runtime.settings().service_desk_mail, now=at)


@router.post(HOME + "atkomst/{access_id}", name="patient_flag")
def flag(request: Request, access_id: RowId, background: BackgroundTasks,
         comment: Annotated[str, Form(max_length=4000)] = "",
         csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Record the flag: a prioritised review task at the unit, and a mail to its reviewers."""
    check_csrf(request, csrf)
    viewer = signed_in_patient(request)
    if viewer is None:
        return RedirectResponse(HOME, status_code=303)
    who, line = _line(request, viewer, access_id)
    config = log_review_config()
    for attempt in (1, 2):  # a concurrent flag or the daily run may open the unit's round first: once more
        try:
            _flag(who, access_id, comment, config)
            break
        except IntegrityError:
            if attempt == 2:
                raise
        except InvalidInput as exc:
            return _page(request, "patient/flag.html", status=422, who=who, line=line,
                         values={"comment": comment}, errors={exc.field: exc.message})
    background.add_task(deliver_later)
    return RedirectResponse(HOME + "?klart=markerad", status_code=303)
