"""Log follow-up (systematisk logguppföljning): the vocabulary, the rules and the sample (pure; no database here).

HSLF-FS 2016:40 4 kap. 9 § asks for systematic and recurring random checks of the access log, documented; Region
Skåne puts them on the verksamhetschef, who may delegate them if the delegation is documented (DOMAIN §1.4–1.5).
Per unit and Swedish calendar day a round picks every access that always needs a look (a nödöppning, an asserted
patient relation, an access outside office hours, and the risk signals of risk.py) plus a random sample of the
rest. The sample is *hash-ranked*: each log row gets the HMAC of (unit, day, seq) under a secret key and the lowest
ranks are taken, so a re-run picks the same rows, a row's chance does not depend on the others, and staff who know
the code still cannot predict it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from kernel.clock import end_of_day, is_office_hours, local_date
from overview import errors
from overview.accesslog import Action
from overview.gate import RelationKind

SETTLE = dt.timedelta(minutes=30)  # a day is reviewed once it has been over this long (late commits land first)


class Why(StrEnum):
    """Why an access was picked for review."""

    EMERGENCY = "nodoppning"
    ASSERTED = "pastadd_relation"
    OUT_OF_HOURS = "utanfor_kontorstid"
    INCAPACITY = "beslutsoformogen"  # read on the basis that the patient cannot consent (issue 13 item 6)
    # the risk signals (issue 15 item 3; loaded by signals.py, decided by risk.py), each one switchable
    OWN_RECORD = "egen_journal"  # the reader's own record
    HOUSEHOLD = "samma_efternamn_och_adress"  # a record of someone sharing the reader's surname and address
    COLLEAGUE = "kollega"  # a record of a person in Skånekatalogen at the reader's unit
    PROTECTED = "skyddad_identitet"  # a patient with skyddad identitet
    VOLUME = "ovanlig_volym"  # the reader read far more that day than on their usual day
    PATIENT_FLAG = "patientmarkering"  # the patient marked the access "jag känner inte igen detta" (always first)
    RANDOM = "slumpvis"


RISK_RULES = (Why.OWN_RECORD, Why.HOUSEHOLD, Why.COLLEAGUE, Why.PROTECTED, Why.VOLUME)
WHY_LABELS = {Why.EMERGENCY: "Nödöppning", Why.ASSERTED: "Påstådd patientrelation",
              Why.OUT_OF_HOURS: "Utanför kontorstid", Why.INCAPACITY: "Beslutsoförmögen patient",
              Why.OWN_RECORD: "Egen journal", Why.HOUSEHOLD: "Samma efternamn och adress",
              Why.COLLEAGUE: "Kollegas journal", Why.PROTECTED: "Skyddad identitet",
              Why.VOLUME: "Ovanligt många åtkomster", Why.PATIENT_FLAG: "Patienten känner inte igen åtkomsten",
              Why.RANDOM: "Slumpvis urval"}
# What the reviewer reads about each reason (the task page, the round's list of active rules).
WHY_TEXTS = {
    Why.EMERGENCY: "Användaren gjorde en nödöppning.",
    Why.ASSERTED: "Åtkomsten vilade på en patientrelation som användaren själv angav, med skäl.",
    Why.OUT_OF_HOURS: "Åtkomsten skedde utanför kontorstid (07–18 svenska arbetsdagar).",
    Why.INCAPACITY: "Åtkomsten gällde en patient som inte kan ta ställning till samtycke.",
    Why.OWN_RECORD: "Användaren läste sin egen journal (samma personnummer i Skånekatalogen som patienten).",
    Why.HOUSEHOLD: "Patienten har samma efternamn och folkbokföringsadress som användaren.",
    Why.COLLEAGUE: "Patienten finns i Skånekatalogen på samma vårdenhet som användaren (en kollega).",
    Why.PROTECTED: "Patienten har skyddad identitet.",
    Why.VOLUME: "Användaren gjorde ovanligt många åtkomster den dagen jämfört med sina egna senaste 90 dagar.",
    Why.PATIENT_FLAG: ("Patienten har markerat åtkomsten som \"jag känner inte igen detta\" i Vem har läst min "
                       "journal? och får se bedömningen. Granskas före allt annat."),
    Why.RANDOM: "Åtkomsten kom med i det slumpvisa urvalet.",
}


class Outcome(StrEnum):
    """The reviewer's judgement of one access."""

    OPEN = "open"
    JUSTIFIED = "justified"
    NOT_JUSTIFIED = "not_justified"
    FOLLOW_UP = "needs_follow_up"


OUTCOME_LABELS = {Outcome.OPEN: "Ej granskad", Outcome.JUSTIFIED: "Befogad",
                  Outcome.NOT_JUSTIFIED: "Ej befogad", Outcome.FOLLOW_UP: "Behöver utredas vidare"}
DECISIONS = (Outcome.JUSTIFIED, Outcome.NOT_JUSTIFIED, Outcome.FOLLOW_UP)

# A judgement is final, except "needs follow-up": the investigation ends in justified or not (or adds a note).
TRANSITIONS: dict[Outcome, frozenset[Outcome]] = {
    Outcome.OPEN: frozenset(DECISIONS),
    Outcome.FOLLOW_UP: frozenset(DECISIONS),
    Outcome.JUSTIFIED: frozenset(),
    Outcome.NOT_JUSTIFIED: frozenset(),
}


class ReviewerRole(StrEnum):
    """In which capacity a person reviews a unit's log."""

    MANAGER = "verksamhetschef"
    DELEGATE = "delegat"


class InvalidTransition(errors.Conflict):
    """The task's outcome cannot move that way (it is final)."""


class Conflict(errors.Conflict):
    """Someone else decided the task first (→ 409)."""


class InvalidInputs(errors.InvalidInputs):
    """Several fields are wrong at once; each message goes beside its field (→ 422)."""


def next_outcome(current: Outcome, wanted: Outcome) -> Outcome:
    """``wanted`` when the move is allowed, else InvalidTransition."""
    if wanted not in DECISIONS:
        raise InvalidTransition("Välj en bedömning: befogad, ej befogad eller behöver utredas vidare.")
    if wanted not in TRANSITIONS[current]:
        raise InvalidTransition(f"Åtkomsten är redan bedömd som {OUTCOME_LABELS[current].lower()}; en slutlig "
                                "bedömning kan inte ändras.")
    return wanted


@dataclass(frozen=True)
class ReviewConfig:
    """The follow-up's rules (defaults here; the log-followup deployment's parameters override them)."""

    sample_share: float = 0.05  # of the day's accesses at the unit …
    sample_min: int = 5  # … but at least this many …
    sample_max: int = 50  # … and at most this many (on top of those always picked)
    include_out_of_hours: bool = True
    deadline_business_days: int = 5  # the reviewer judges within this many Swedish business days
    lookback_days: int = 7  # days the daily run catches up on (a missed run loses nothing within this window)
    sample_key: str = ""  # the secret of the hash-ranked sample (from the settings' secret key)
    public_base_url: str = "http://127.0.0.1:8000"
    risk_rules: frozenset[str] = frozenset(RISK_RULES)  # the risk signals in force (settings: log_review_rules)
    volume_factor: float = 3.0  # a reader's day is unusual above max(factor × median, median + margin) …
    volume_margin: int = 20
    volume_days: int = 90  # … the median of their active days at the unit over this many days before
    volume_tasks: int = 10  # … and this many of that day's accesses (hash-ranked) are picked

    def __post_init__(self) -> None:
        if not (0 <= self.sample_share <= 1 and 0 <= self.sample_min <= self.sample_max):
            raise ValueError("sample_share must lie in [0, 1] and 0 <= sample_min <= sample_max")
        if self.deadline_business_days < 1 or self.lookback_days < 1:
            raise ValueError("deadline_business_days and lookback_days must be at least 1")
        unknown = sorted(set(self.risk_rules) - set(RISK_RULES))
        if unknown:
            raise ValueError(f"unknown log review rule(s) {', '.join(map(repr, unknown))} (NPO_LOG_REVIEW_RULES); "
                             f"known: {', '.join(RISK_RULES)}")
        object.__setattr__(self, "risk_rules", frozenset(Why(r) for r in self.risk_rules))
        if self.volume_factor < 1 or self.volume_margin < 0 or self.volume_days < 7 or self.volume_tasks < 1:
            raise ValueError("volume_factor must be at least 1, volume_margin at least 0, volume_days at least 7 "
                             "and volume_tasks at least 1")

    def active_rules(self) -> tuple[Why, ...]:
        """The rules that always pick an access, in the order the documentation lists them."""
        fixed = (Why.EMERGENCY, Why.ASSERTED, Why.INCAPACITY) + ((Why.OUT_OF_HOURS,) if self.include_out_of_hours
                                                                 else ())
        return fixed + tuple(r for r in RISK_RULES if r in self.risk_rules) + (Why.PATIENT_FLAG,)

    def rule_text(self) -> str:
        """How the sample is drawn, in Swedish, as the round records it."""
        always = "nödöppningar, påstådda patientrelationer, läsningar hos beslutsoförmögna patienter" + (
            " och åtkomster utanför kontorstid" if self.include_out_of_hours else "")
        share = f"{self.sample_share * 100:.4g}".replace(".", ",")
        return (f"Alla {always}; slumpvis {share} % av övriga "
                f"(minst {self.sample_min}, högst {self.sample_max})")

    def link(self, path: str = "") -> str:
        """A page of the log follow-up."""
        return f"{self.public_base_url.rstrip('/')}/loggranskning{path}"


@dataclass(frozen=True, slots=True)
class Access:
    """What the selection needs to know of one log row."""

    seq: int
    at: dt.datetime
    action: str
    relation: str | None
    basis: str = "[]"  # the log row's basis (JSON list: own_provider, consent:<id>, incapacity:<id>, …)
    user_hsa_id: str = ""  # who read (upper case)
    patient: str | None = None  # whose record (personnummer, 12 digits)


def always_reasons(access: Access, config: ReviewConfig) -> tuple[Why, ...]:
    """The reasons an access is always reviewed (empty: only the random sample can pick it)."""
    reasons = []
    if access.action == Action.EMERGENCY:
        reasons.append(Why.EMERGENCY)
    if access.relation == RelationKind.ASSERTED:
        reasons.append(Why.ASSERTED)
    if '"incapacity:' in access.basis:
        reasons.append(Why.INCAPACITY)
    if config.include_out_of_hours and not is_office_hours(access.at):
        reasons.append(Why.OUT_OF_HOURS)
    return tuple(reasons)


def sample_size(population: int, config: ReviewConfig) -> int:
    """How many accesses the random sample takes from a day with ``population`` accesses (before the cap by rest)."""
    return min(config.sample_max, max(config.sample_min, math.ceil(config.sample_share * population)))


def rank(key: str, unit_hsa_id: str, day: dt.date, seq: int) -> str:
    """A log row's place in the random order of its unit and day (lowest first)."""
    message = f"{unit_hsa_id.upper()}|{day.isoformat()}|{seq}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def pick(accesses: Iterable[Access], *, unit_hsa_id: str, day: dt.date, config: ReviewConfig,
         flagged: Mapping[int, tuple[Why, ...]] | None = None) -> dict[int, tuple[Why, ...]]:
    """The accesses to review (seq → reasons): all that must be (``flagged``: the risk signals' picks, risk.flag),
    plus the random sample of the rest."""
    rows, signals = list(accesses), flagged or {}
    picked = {a.seq: why for a in rows if (why := always_reasons(a, config) + signals.get(a.seq, ()))}
    rest = sorted((a.seq for a in rows if a.seq not in picked),
                  key=lambda seq: rank(config.sample_key, unit_hsa_id, day, seq))
    for seq in rest[:sample_size(len(rows), config)]:
        picked[seq] = (Why.RANDOM,)
    return dict(sorted(picked.items()))


def day_is_over(day: dt.date, now: dt.datetime) -> bool:
    """True once the Swedish day has ended (and settled), so that its log is complete."""
    return end_of_day(day) + SETTLE <= now


def days_to_review(now: dt.datetime, lookback_days: int) -> list[dt.date]:
    """The ended days within the look-back window, oldest first."""
    today = local_date(now)
    days = (today - dt.timedelta(days=n) for n in range(lookback_days, 0, -1))
    return [day for day in days if day_is_over(day, now)]
