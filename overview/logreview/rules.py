"""Log follow-up (systematisk logguppföljning): the vocabulary, the rules and the sample (pure; no database here).

HSLF-FS 2016:40 4 kap. 9 § asks for systematic and recurring random checks of the access log, documented; Region
Skåne puts them on the verksamhetschef, who may delegate them if the delegation is documented (DOMAIN §1.4–1.5).
Per unit and Swedish calendar day a round picks every access that always needs a look (a nödöppning, an asserted
patient relation, an access outside office hours) plus a random sample of the rest. The sample is *hash-ranked*:
each log row gets the HMAC of (unit, day, seq) under a secret key and the lowest ranks are taken, so a re-run picks
the same rows, a row's chance does not depend on the others, and staff who know the code still cannot predict it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from collections.abc import Iterable
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
    RANDOM = "slumpvis"


WHY_LABELS = {Why.EMERGENCY: "Nödöppning", Why.ASSERTED: "Påstådd patientrelation",
              Why.OUT_OF_HOURS: "Utanför kontorstid", Why.INCAPACITY: "Beslutsoförmögen patient",
              Why.RANDOM: "Slumpvis urval"}


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

    def __post_init__(self) -> None:
        if not (0 <= self.sample_share <= 1 and 0 <= self.sample_min <= self.sample_max):
            raise ValueError("sample_share must lie in [0, 1] and 0 <= sample_min <= sample_max")
        if self.deadline_business_days < 1 or self.lookback_days < 1:
            raise ValueError("deadline_business_days and lookback_days must be at least 1")

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


def pick(accesses: Iterable[Access], *, unit_hsa_id: str, day: dt.date,
         config: ReviewConfig) -> dict[int, tuple[Why, ...]]:
    """The accesses to review (seq → reasons): all that must be, plus the random sample of the rest."""
    rows = list(accesses)
    picked = {a.seq: why for a in rows if (why := always_reasons(a, config))}
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
