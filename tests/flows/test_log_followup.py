"""log-followup, run as a flow against a real Prefect server, the real slapd, a migrated database and an SMTP sink,
with the clock frozen across midnight, the DST changes, Easter week and a turn of the year."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from freezegun import freeze_time
from sqlalchemy import func
from sqlmodel import select

from catalog import Directory
from catalog import runtime as catalog_runtime
from catalog.model import Commission, Person
from flows.log_followup import log_followup, open_rounds, review_config
from kernel import runtime
from kernel.clock import STOCKHOLM, now
from kernel.outbox import OutboxMail
from kernel.review import last_day
from kernel.settings import Settings
from overview import accesslog
from overview.accesslog import Action, LogEntry, Resource
from overview.logreview import rounds
from overview.logreview.models import LogReviewRound, LogReviewSummary, LogReviewTask
from tests.conftest import MailSink, Org

pytestmark = pytest.mark.prefect
RULES = {"sample_share": 0.5, "sample_min": 1, "sample_max": 3, "deadline_business_days": 5}


@dataclass
class Clinic:
    """A unit with a verksamhetschef (with mail), VoB SJF and two clinicians; and a second unit of the same provider."""

    org: Org
    manager: Person
    user: Person
    colleague: Person
    commission: Commission

    @property
    def unit(self) -> str:
        return self.org.unit_a.hsa_id


@pytest.fixture
def clinic(app_settings: Settings, directory: Directory, smtp_sink: MailSink) -> Iterator[Clinic]:
    """The clinic, with the runtime on the test database, the session's slapd and the SMTP sink."""
    runtime.configure(app_settings.model_copy(update={"smtp_port": smtp_sink.port,
                                                      "public_base_url": "http://npo.test"}))
    org = Org(directory)
    manager = directory.create_person(Person(org.hsa("CHEF"), "", "Maria", "Chef", title="Verksamhetschef",
                                             mail=f"chef.{org.org_no}@vard.example", unit_hsa_id=org.unit_a.hsa_id))
    directory.set_unit_manager(org.unit_a.hsa_id, manager.hsa_id)
    commission, _ = directory.ensure_commission(org.unit_a.hsa_id)
    yield Clinic(org, manager, org.person(given="Sara"), org.person(given="Erik"), commission)


def at(text: str) -> dt.datetime:
    """A Swedish wall-clock time 'YYYY-MM-DD HH:MM' as an aware UTC instant."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=STOCKHOLM).astimezone(dt.UTC)


def access(clinic: Clinic, when: str, *, user: Person | None = None, action: Action = Action.READ,
           relation: str = "care_contact", unit: str | None = None) -> int:
    """Log one access the way the overview does, at a frozen Swedish time, and seal it as the web process's sealer
    does a second later; its sequence number."""
    with freeze_time(at(when)):
        with runtime.session_scope() as session:
            row = accesslog.append(session, LogEntry(
                at=now(), user_hsa_id=(user or clinic.user).hsa_id, action=action, resource_type=Resource.OVERVIEW,
                commission_hsa_id=clinic.commission.hsa_id, care_unit_hsa_id=unit or clinic.unit,
                care_unit_name="Vårdcentralen Testa", care_provider_hsa_id=clinic.org.provider.hsa_id,
                patient_personnummer="196004011232", basis=["own_provider"], relation=relation))
        with runtime.session_scope() as session:
            accesslog.seal_all(session)
        return row.seq


def run(when: str, **rules: object) -> dict[str, object]:
    """The flow, run against the Prefect server at a frozen Swedish time."""
    with freeze_time(at(when)):
        state = log_followup(**{**RULES, **rules}, return_state=True)  # type: ignore[arg-type]
    assert state.is_completed(), state
    return state.result()  # type: ignore[return-value]


def rounds_of(unit: str) -> list[LogReviewRound]:
    with runtime.session_scope() as session:
        return list(session.exec(select(LogReviewRound).where(LogReviewRound.unit_hsa_id == unit)
                                 .order_by(LogReviewRound.day)).all())


def task_count() -> int:
    with runtime.session_scope() as session:
        return session.exec(select(func.count()).select_from(LogReviewTask)).one()


def test_across_midnight_the_day_is_reviewed_once_it_is_over_and_a_rerun_changes_nothing(
        prefect_server: None, clinic: Clinic, smtp_sink: MailSink) -> None:
    late = access(clinic, "2026-11-24 23:50", user=clinic.colleague)
    access(clinic, "2026-11-24 10:00")
    after_midnight = access(clinic, "2026-11-25 00:05")
    assert run("2026-11-25 00:20")["opened"] == 0  # Tuesday has not settled yet
    result = run("2026-11-25 01:30")
    assert result["opened"] == 1 and result["mail"] == {"sent": 1, "failed": 0}
    [tuesday] = rounds_of(clinic.unit)
    assert (tuesday.day, tuesday.population, tuesday.out_of_hours_count) == (dt.date(2026, 11, 24), 2, 1)
    with runtime.session_scope() as session:
        picked = set(session.exec(select(LogReviewTask.log_seq)).all())
    assert late in picked and after_midnight not in picked
    [(to, message)] = smtp_sink.messages
    assert to == [clinic.manager.mail] and "Logguppföljning LG-" in str(message["Subject"])
    assert "2026-11-24" in str(message["Subject"]) and "senast 2026-12-02" in str(message["Subject"])
    again = run("2026-11-25 06:00")
    assert again["opened"] == 0 and again["mail"] == {"sent": 0, "failed": 0} and len(rounds_of(clinic.unit)) == 1


def test_a_run_killed_halfway_converges_on_the_next_run(prefect_server: None, clinic: Clinic,
                                                         smtp_sink: MailSink) -> None:
    unit_b = clinic.org.unit_b.hsa_id
    for when in ("2026-11-24 09:00", "2026-11-24 11:00", "2026-11-24 14:00"):
        access(clinic, when)
        access(clinic, when, unit=unit_b)
    with freeze_time(at("2026-11-25 01:30")):
        config = review_config(**RULES)
        with runtime.session_scope() as session:
            pending = [(u, d.isoformat()) for u, d in rounds.pending(session, now=now(), config=config)]
        assert [u for u, _d in pending] == [clinic.unit, unit_b]
        open_rounds.fn(pending[:1], config)  # the first round committed, with its mail …
        with pytest.raises(RuntimeError), runtime.session_scope() as session:  # … the second died before commit
            rounds.open_round(session=session, directory=catalog_runtime.directory(), unit_hsa_id=unit_b,
                              day=dt.date(2026, 11, 24), config=config, now=now())
            raise RuntimeError("killed")
    tasks_before = task_count()
    result = run("2026-11-25 02:30")
    assert result["opened"] == 1 and len(rounds_of(clinic.unit)) == 1 and len(rounds_of(unit_b)) == 1
    assert task_count() == 2 * tasks_before
    assert run("2026-11-25 03:30")["opened"] == 0 and task_count() == 2 * tasks_before
    with runtime.session_scope() as session:
        keys = sorted(session.exec(select(OutboxMail.dedupe_key)).all())
    assert keys == sorted(f"logreview-new:{r.id}" for r in rounds_of(clinic.unit) + rounds_of(unit_b))
    assert len(smtp_sink.messages) == 2


def test_easter_week_deadlines_and_reminders_follow_swedish_business_days(prefect_server: None, clinic: Clinic,
                                                                          smtp_sink: MailSink) -> None:
    access(clinic, "2026-04-01 10:00")  # Wednesday before Easter
    good_friday = access(clinic, "2026-04-03 10:00")  # långfredagen: a public holiday, so outside office hours
    emergency = access(clinic, "2026-04-05 13:00", action=Action.EMERGENCY, relation="asserted")  # påskdagen
    assert run("2026-04-02 01:30")["opened"] == 1
    assert run("2026-04-06 01:30")["opened"] == 2  # Friday and Sunday caught up on Easter Monday
    wednesday, friday, sunday = rounds_of(clinic.unit)
    assert last_day(wednesday.deadline) == dt.date(2026, 4, 13)  # 3 and 6 April do not count
    assert (friday.out_of_hours_count, sunday.emergency_count, sunday.asserted_count) == (1, 1, 1)
    with runtime.session_scope() as session:
        reasons = dict(session.exec(select(LogReviewTask.log_seq, LogReviewTask.reasons)).all())
    assert reasons[good_friday] == "utanfor_kontorstid"
    assert reasons[emergency] == "nodoppning,pastadd_relation,utanfor_kontorstid"
    assert run("2026-04-13 12:00")["reminded"] == 0  # the last day: not late yet
    assert run("2026-04-14 06:00")["reminded"] == 1
    assert run("2026-04-14 15:00")["reminded"] == 0  # once a day
    reminders = [m for _to, m in smtp_sink.messages if str(m["Subject"]).startswith("Påminnelse")]
    assert len(reminders) == 1 and "3 åtkomster väntar" in str(reminders[0]["Subject"])


def test_a_dst_day_is_one_round_with_its_own_hours(prefect_server: None, clinic: Clinic) -> None:
    before = access(clinic, "2026-03-29 01:30")  # CET
    after = access(clinic, "2026-03-29 03:30")  # CEST: one hour later in real time
    access(clinic, "2026-03-30 00:10")
    assert run("2026-03-30 01:30")["opened"] == 1
    [sunday] = rounds_of(clinic.unit)
    assert (sunday.day, sunday.population, sunday.out_of_hours_count) == (dt.date(2026, 3, 29), 2, 2)
    with runtime.session_scope() as session:
        assert set(session.exec(select(LogReviewTask.log_seq)).all()) == {before, after}


def test_the_monthly_summary_is_mailed_on_the_first_business_day_of_the_next_month(
        prefect_server: None, clinic: Clinic, smtp_sink: MailSink) -> None:
    access(clinic, "2026-12-30 22:00")
    access(clinic, "2026-12-31 10:00")
    assert run("2027-01-01 01:30")["summaries"] == 0  # nyårsdagen
    assert run("2027-01-04 01:30")["summaries"] == 1  # Monday 4 January
    assert run("2027-01-05 01:30")["summaries"] == 0
    with runtime.session_scope() as session:
        [summary] = session.exec(select(LogReviewSummary)).all()
    assert (summary.month, summary.rounds, summary.population, summary.open_tasks) == (
        dt.date(2026, 12, 1), 2, 2, 2)
    [mail] = [m for _to, m in smtp_sink.messages if "sammanställning" in str(m["Subject"])]
    assert "december 2026" in str(mail["Subject"])
    assert re.search(r"Uttagna för granskning:\s+2\n", mail.get_body(("plain",)).get_content())


def test_the_daily_run_mails_the_access_logs_anchor_once_and_it_proves_the_log(
        prefect_server: None, clinic: Clinic, smtp_sink: MailSink) -> None:
    runtime.configure(runtime.settings().model_copy(update={"audit_anchor_mail": "loggarkiv@skane.example"}))
    access(clinic, "2026-11-24 10:00")
    last = access(clinic, "2026-11-24 11:00")
    result = run("2026-11-25 01:30")
    with runtime.session_scope() as session:
        head = accesslog.head(session)
    assert head is not None and head.seq == last and result["anchor"] == str(head)
    [archived] = [m for to, m in smtp_sink.messages if to == ["loggarkiv@skane.example"]]
    assert str(archived["Subject"]) == f"Åtkomstloggens ankare 2026-11-25: rad {last}"
    assert f"npo audit verify --anchor {head}" in archived.get_body(("plain",)).get_content()
    assert run("2026-11-25 06:00")["mail"] == {"sent": 0, "failed": 0}  # once a day
    access(clinic, "2026-11-25 09:00")
    with runtime.session_scope() as session:  # the published anchor holds for the grown log
        assert accesslog.verify(session, anchors=[accesslog.Anchor.parse(str(result["anchor"]))]).ok


def test_a_broken_chain_is_not_anchored_but_raised_by_mail_and_fails_the_run(
        prefect_server: None, clinic: Clinic, smtp_sink: MailSink) -> None:
    from tests.overview.test_accesslog import tamper

    runtime.configure(runtime.settings().model_copy(update={"audit_anchor_mail": "loggarkiv@skane.example"}))
    first = access(clinic, "2026-11-24 10:00")
    access(clinic, "2026-11-24 11:00")
    with runtime.session_scope() as session:  # app_settings runs on SQLite
        tamper(session, "sqlite", f"UPDATE access_log SET user_hsa_id = 'SE2321000255-XXX1' WHERE seq = {first}")
    with freeze_time(at("2026-11-25 01:30")):
        state = log_followup(**RULES, return_state=True)  # type: ignore[arg-type]
    assert state.is_failed() and "kedja är bruten" in str(state.message)
    [(to, alarm)] = [(to, m) for to, m in smtp_sink.messages if str(m["Subject"]).startswith("LARM")]
    assert set(to) == {"loggarkiv@skane.example", runtime.settings().service_desk_mail}
    assert str(alarm["Subject"]) == f"LARM: åtkomstloggens kedja är bruten vid rad {first}"
    assert "säkerhetsincident" in alarm.get_body(("plain",)).get_content()
    assert len(rounds_of(clinic.unit)) == 1  # the day's review round was still opened
