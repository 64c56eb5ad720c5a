""""Vem har läst min journal?": the patient's own view of the accesses to their NPÖ data (issue 15, D-76).

PDL 8 kap. 5 § gives the patient the right to know of the electronic accesses to their data; HSLF-FS 2016:40 4 kap.
10 § asks that an extract shows from which vårdenhet and when, designed so the patient can judge whether the access
was justified (DOMAIN §1.3). So each line says when, which vårdgivare and vårdenhet, the reader's title (their name
only where the region allows it: a public vårdgivare's log is an allmän handling), and the basis in plain Swedish.
Only granted care accesses are listed: a refused attempt showed nothing of the record, and log follow-up's own reads
(a reviewer, an extract) are the log about the log.

A guardian sees a child's view until the child reaches ``guardian_until_age`` (the population register's
vårdnadshavare, ``Guardianship``); a patient sees their own from ``own_from_age`` (Journalen's rules, D-76). Every
view is logged (resource loggutdrag, the patient or guardian as actor, no vårdenhet: never sampled into review).
A flag ("jag känner inte igen detta") becomes a prioritised log-review task at the unit (rounds.flag_task); the
patient sees its state and, once judged, the outcome (not the reviewer's comment: that is about an employee).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from catalog import Directory
from kernel.clock import local_date
from overview import accesslog, inputs
from overview.accesslog import NOT_CARE_ACCESS, Action, LogEntry, Outcome, Resource
from overview.errors import InvalidInput, NotAllowed, NotFound
from overview.gate import BlockKind, BlockState, ConsentPurpose, ConsentScope, RelationKind
from overview.logreview import rounds
from overview.logreview.models import LogReviewDecision, LogReviewTask, PatientFlag
from overview.logreview.rules import Outcome as ReviewOutcome
from overview.logreview.rules import ReviewConfig
from overview.models import AccessLog, Block, Consent, Guardianship, Patient

LIMIT = 1000  # accesses a page lists (newest first); the staff extract has them all
COMMENT_MAX = 1000
VIEW_PURPOSE = "Patientens direktåtkomst"  # the log row's purpose of a patient's own view

BASIS_TEXTS = {
    "own_provider": "Vårdgivarens egen personal (inget samtycke behövs inom samma vårdgivare)",
    "consent": "Ditt samtycke",
    "emergency": "Nödåtkomst (du kunde inte ge samtycke och uppgifterna behövdes för vården)",
    "emergency_block_opened": "Nödöppning av spärrade uppgifter",
    "incapacity": "Du bedömdes inte kunna ta ställning till samtycke",
}
RELATION_TEXTS = {RelationKind.CARE_CONTACT.value: "Vårdkontakt vid enheten",
                  RelationKind.BOOKING.value: "Bokad tid vid enheten",
                  RelationKind.ASSERTED.value: "Personalen angav själv att du var patient hos dem, med ett skäl"}
FLAG_STATES = {ReviewOutcome.OPEN.value: "Granskas av verksamhetschefen",
               ReviewOutcome.JUSTIFIED.value: "Granskad: åtkomsten bedömdes som befogad",
               ReviewOutcome.NOT_JUSTIFIED.value: "Granskad: åtkomsten bedömdes som inte befogad; vårdgivaren "
                                                  "utreder vidare och kan kontakta dig",
               ReviewOutcome.FOLLOW_UP.value: "Utreds vidare av vårdgivaren"}


@dataclass(frozen=True)
class Subject:
    """Whose view is shown, and to whom: the patient themself or their guardian."""

    personnummer: str
    name: str  # '' for a patient with skyddad identitet (the page names them as "du" / "barnet")
    viewer: str  # the signed-in personnummer
    by_guardian: bool


@dataclass(frozen=True)
class FlagState:
    """A patient's flag on an access and where its review stands."""

    created_at: dt.datetime
    comment: str
    state: str  # the review task's outcome
    decided_at: dt.datetime | None

    @property
    def text(self) -> str:
        """The state in Swedish."""
        return FLAG_STATES.get(self.state, FLAG_STATES[ReviewOutcome.OPEN.value])


@dataclass(frozen=True)
class AccessLine:
    """One access as the patient sees it."""

    seq: int
    at: dt.datetime
    provider_hsa_id: str
    provider_name: str
    unit_hsa_id: str
    unit_name: str
    reader: str  # title or profession; with the name where the region shows names
    emergency: bool
    basis: tuple[str, ...]
    relation: str
    flag: FlagState | None


@dataclass(frozen=True)
class ConsentLine:
    unit: str
    provider: str
    scope: str
    purpose: str
    start: dt.datetime
    end: dt.datetime | None
    state: str
    by_guardian: bool


@dataclass(frozen=True)
class BlockLine:
    kind: str
    provider: str
    unit: str
    period: str
    state: str
    registered_at: dt.datetime


@dataclass(frozen=True)
class PatientLog:
    """What the page shows."""

    subject: Subject
    accesses: tuple[AccessLine, ...]
    total: int
    consents: tuple[ConsentLine, ...]
    blocks: tuple[BlockLine, ...]


@dataclass(frozen=True)
class AgeRules:
    """Journalen's age rules for the view (settings; D-76)."""

    own_from_age: int = 16
    guardian_until_age: int = 13


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def children(session: Session, guardian: str, *, rules: AgeRules, now: dt.datetime) -> list[Patient]:
    """The children whose view the guardian may see now (register guardianship in force, under the age limit)."""
    today = local_date(now)
    rows = session.exec(select(Patient).join(Guardianship, col(Guardianship.child_personnummer) ==
                                             Patient.personnummer).where(
        Guardianship.guardian_personnummer == guardian, Guardianship.valid_from <= today,
        or_(col(Guardianship.valid_to).is_(None), col(Guardianship.valid_to) > today))
        .order_by(col(Patient.birth_date))).all()
    return [child for child in rows if age_on(child.birth_date, today) < rules.guardian_until_age
            and child.deceased_on is None]


def unknown(session: Session, personnummer: str) -> bool:
    """True when the register holds no record of this person (a guardian need not have one)."""
    return session.get(Patient, personnummer) is None


def subject(session: Session, *, viewer: str, wanted: str | None, rules: AgeRules, now: dt.datetime) -> Subject:
    """Whose view ``viewer`` sees: their own (``wanted`` None or their own number), or a child's within the rules.

    NotAllowed says why not (too young for one's own view; not the child's guardian; the child past the limit)."""
    today = local_date(now)
    if wanted is None or wanted == viewer:
        own = session.get(Patient, viewer)
        if own is not None and age_on(own.birth_date, today) < rules.own_from_age:
            raise NotAllowed(f"Du kan se vem som har läst din journal från det att du fyller {rules.own_from_age} "
                             "år. Fram till dess kan din vårdnadshavare se det, till dess du fyller "
                             f"{rules.guardian_until_age} år; du kan också fråga din vårdenhet om ett loggutdrag.")
        return Subject(viewer, _name(own), viewer, False)
    guardianship = session.exec(select(Guardianship).where(
        Guardianship.guardian_personnummer == viewer, Guardianship.child_personnummer == wanted,
        Guardianship.valid_from <= today,
        or_(col(Guardianship.valid_to).is_(None), col(Guardianship.valid_to) > today))).first()
    child = session.get(Patient, wanted) if guardianship else None
    if child is None:
        raise NotAllowed("Du är inte registrerad som vårdnadshavare för det barnet i folkbokföringen, så du kan "
                         "inte se barnets logg.")
    if age_on(child.birth_date, today) >= rules.guardian_until_age:
        raise NotAllowed(f"Barnet har fyllt {rules.guardian_until_age} år. Från den åldern kan vårdnadshavare inte "
                         "längre se vem som har läst barnets journal, för att skydda barnets integritet. Barnet "
                         f"kan själv se det från {rules.own_from_age} år, eller be vårdenheten om ett loggutdrag.")
    return Subject(wanted, _name(child), viewer, True)


def _name(patient: Patient | None) -> str:
    if patient is None or patient.protected_identity:
        return ""
    return f"{patient.given_name} {patient.surname}"


def _care_accesses(pnr: str):
    return (AccessLog.patient_personnummer == pnr, col(AccessLog.care_unit_hsa_id).is_not(None),
            col(AccessLog.resource_type).not_in(NOT_CARE_ACCESS), AccessLog.outcome == Outcome.GRANTED.value,
            col(AccessLog.action).in_([Action.READ.value, Action.EMERGENCY.value]))


class _Readers:
    """A reader's title (and name where shown), looked up once each."""

    def __init__(self, directory: Directory, show_names: bool):
        self.directory, self.show_names = directory, show_names
        self.cache: dict[str, str] = {}

    def __call__(self, hsa_id: str) -> str:
        if hsa_id not in self.cache:
            person = self.directory.find_person(hsa_id)
            title = (person.hsa_titles[0] if person and person.hsa_titles else person.title if person else None)
            title = title or "Personal vid vårdenheten"
            self.cache[hsa_id] = f"{person.name}, {title}" if person and self.show_names else title
        return self.cache[hsa_id]


def basis_texts(raw: str) -> tuple[str, ...]:
    """A log row's basis (JSON list) in the patient's words, each kind once."""
    kinds = dict.fromkeys(ref.partition(":")[0] for ref in json.loads(raw or "[]"))
    return tuple(BASIS_TEXTS.get(kind, kind) for kind in kinds)


def _flags(session: Session, seqs: list[int]) -> dict[int, FlagState]:
    if not seqs:
        return {}
    rows = session.exec(select(PatientFlag, LogReviewTask).join(
        LogReviewTask, col(LogReviewTask.id) == PatientFlag.task_id).where(col(PatientFlag.log_seq).in_(seqs))).all()
    found = {}
    for flag, task in rows:
        # a judgement made before the flag does not answer it (the flag opened the task again)
        decided = task.decided_at if task.decided_at and task.decided_at >= flag.created_at else None
        found[flag.log_seq] = FlagState(flag.created_at, flag.comment,
                                        task.outcome if decided else ReviewOutcome.OPEN.value, decided)
    return found


def log_of(*, session: Session, directory: Directory, subject: Subject, show_names: bool,
           now: dt.datetime) -> PatientLog:
    """The subject's accesses (newest first), consents and blocks; the view is logged in the caller's transaction
    before the caller shows anything (D6)."""
    pnr = subject.personnummer
    accesslog.append(session, LogEntry(
        at=now, user_hsa_id=f"patient:{subject.viewer}", action=Action.READ, resource_type=Resource.LOG_EXTRACT,
        purpose=VIEW_PURPOSE, patient_personnummer=pnr,
        detail="Vem har läst min journal? (vårdnadshavare)" if subject.by_guardian
        else "Vem har läst min journal? (patienten själv)"))
    total = session.exec(select(func.count()).select_from(AccessLog).where(*_care_accesses(pnr))).one()
    rows = session.exec(select(AccessLog).where(*_care_accesses(pnr)).order_by(col(AccessLog.seq).desc())
                        .limit(LIMIT)).all()
    readers, flags = _Readers(directory, show_names), _flags(session, [r.seq for r in rows])
    lines = tuple(_line(r, readers, flags) for r in rows)
    return PatientLog(subject, lines, int(total), _consents(session, directory, pnr, now),
                      _blocks(session, directory, pnr))


def access_line(*, session: Session, directory: Directory, subject: Subject, seq: int,
                show_names: bool) -> AccessLine:
    """One of the subject's accesses (the flag page); NotFound for any other number, another patient's included."""
    row = session.exec(select(AccessLog).where(AccessLog.seq == seq, *_care_accesses(subject.personnummer))).first()
    if row is None:
        raise NotFound("Åtkomsten finns inte i din logg. Välj en rad i listan över vem som har läst journalen.")
    return _line(row, _Readers(directory, show_names), _flags(session, [seq]))


def _line(r: AccessLog, readers: _Readers, flags: dict[int, FlagState]) -> AccessLine:
    return AccessLine(
        r.seq, r.at, r.care_provider_hsa_id or "", r.care_provider_name or (r.care_provider_hsa_id or ""),
        r.care_unit_hsa_id or "", r.care_unit_name or (r.care_unit_hsa_id or ""), readers(r.user_hsa_id),
        r.action == Action.EMERGENCY.value, basis_texts(r.basis), RELATION_TEXTS.get(r.relation or "", ""),
        flags.get(r.seq))


def _unit_name(directory: Directory, hsa_id: str | None) -> str:
    if not hsa_id:
        return ""
    unit = directory.unit(hsa_id)
    return unit.name if unit else hsa_id


def _provider_name(directory: Directory, hsa_id: str) -> str:
    provider = directory.provider(hsa_id)
    return provider.name if provider else hsa_id


def _consents(session: Session, directory: Directory, pnr: str, now: dt.datetime) -> tuple[ConsentLine, ...]:
    rows = session.exec(select(Consent).where(Consent.personnummer == pnr, col(Consent.voided_at).is_(None))
                        .order_by(col(Consent.start).desc())).all()
    lines = []
    for c in rows:
        ended = c.ended_at is not None or (c.end is not None and c.end <= now)
        state = "Avslutat" if ended else "Gäller" if c.start <= now else "Börjar gälla senare"
        scope = ("Bara en namngiven person vid enheten" if c.scope == ConsentScope.EMPLOYEE.value
                 else "All behörig personal vid enheten")
        purpose = ("Läkemedelsförteckningen (uthämtade läkemedel)" if c.purpose == ConsentPurpose.DRUG_LIST.value
                   else "Uppgifter från andra vårdgivare i NPÖ")
        lines.append(ConsentLine(_unit_name(directory, c.care_unit_hsa_id),
                                 _provider_name(directory, c.care_provider_hsa_id), scope, purpose, c.start,
                                 c.end, state, c.represented_by is not None))
    return tuple(lines)


def _blocks(session: Session, directory: Directory, pnr: str) -> tuple[BlockLine, ...]:
    rows = session.exec(select(Block).where(Block.personnummer == pnr, Block.state != BlockState.DELETED.value,
                                            col(Block.registered_by_guardian).is_(False))
                        .order_by(col(Block.registered_at).desc())).all()
    lines = []
    for b in rows:
        kind = ("Spärr inom vårdgivaren (inre spärr)" if b.kind == BlockKind.INNER.value
                else "Spärr mot andra vårdgivare (yttre spärr)")
        period = (f"{b.info_start or '…'}–{b.info_end or '…'}" if b.info_start or b.info_end
                  else "Alla uppgifter")
        state = "Gäller" if b.state == BlockState.ACTIVE.value else "Hävd"
        lines.append(BlockLine(kind, _provider_name(directory, b.care_provider_hsa_id),
                               _unit_name(directory, b.care_unit_hsa_id), period, state, b.registered_at))
    return tuple(lines)


def flag(*, session: Session, directory: Directory, subject: Subject, seq: int, comment: str,
         config: ReviewConfig, now: dt.datetime) -> PatientFlag:
    """The subject's "jag känner inte igen detta" on their access ``seq``, with a comment: a prioritised review
    task for the unit (caller's transaction). NotFound for an access that is not the subject's (another patient's
    number says nothing more); InvalidInput for a bad comment; a second flag on one access is the first one."""
    log = session.exec(select(AccessLog).where(AccessLog.seq == seq, *_care_accesses(subject.personnummer))).first()
    if log is None:
        raise NotFound("Åtkomsten finns inte i din logg. Välj en rad i listan över vem som har läst journalen.")
    text = inputs.reason(comment, "comment", max_length=COMMENT_MAX) if (comment or "").strip() else ""
    if not text:
        raise InvalidInput("comment", "Skriv kort vad du inte känner igen, till exempel att du inte har haft "
                                      "kontakt med den vårdenheten den dagen.")
    existing = session.exec(select(PatientFlag).where(PatientFlag.log_seq == seq)).first()
    if existing is not None:
        return existing
    task = rounds.flag_task(session=session, directory=directory, log=log, config=config, now=now)
    assert task.id is not None
    row = PatientFlag(log_seq=seq, patient_personnummer=subject.personnummer, flagged_by_personnummer=subject.viewer,
                      by_guardian=subject.by_guardian, comment=text, created_at=now, task_id=task.id)
    session.add(row)
    session.flush()
    return row


def flag_of_task(session: Session, task_id: int) -> PatientFlag | None:
    """The patient's flag behind a review task (what the reviewer reads), if any."""
    return session.exec(select(PatientFlag).where(PatientFlag.task_id == task_id)).first()


def earlier_decisions(session: Session, flag_row: PatientFlag) -> list[LogReviewDecision]:
    """Judgements of the access made before the patient flagged it."""
    return list(session.exec(select(LogReviewDecision).where(
        LogReviewDecision.task_id == flag_row.task_id, col(LogReviewDecision.decided_at) < flag_row.created_at)
        .order_by(col(LogReviewDecision.id))).all())
