"""The risk signals of log follow-up (pure; the facts are loaded by signals.py): accesses reviewers always look at.

Each signal is a rule with a reason code (rules.Why) that can be switched off (ReviewConfig.risk_rules):

* egen_journal: the reader's personnummer in Skånekatalogen is the patient's;
* samma_efternamn_och_adress: the reader and the patient share surname and address, both as the population register
  (the patient table) holds them; a reader who is not in it, or an empty address, never matches;
* kollega: the patient is a person in Skånekatalogen at the round's unit or at the reader's own unit;
* skyddad_identitet: the patient has skyddad identitet;
* ovanlig_volym: the reader's accesses at the unit that day exceed max(factor × median, median + margin), the median
  taken over the days of the preceding window on which they made any access at the unit (days off do not drag the
  baseline to zero; a reader without history has median 0, so only more than ``margin`` accesses count). Of such a
  day, ``volume_tasks`` accesses are picked, hash-ranked like the sample, rather than every one.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from overview.logreview.rules import Access, ReviewConfig, Why, rank


@dataclass(frozen=True, slots=True)
class Reader:
    """What the signals know of one reader (from Skånekatalogen and the population register)."""

    personnummer: str | None = None  # 12 digits; None when the directory has none (or not a valid one)
    household: str | None = None  # household_key of the reader's own register entry
    colleagues: frozenset[str] = frozenset()  # personnummer of the people at the round's unit and the reader's unit


@dataclass(frozen=True)
class RiskFacts:
    """Everything the signals need of one round, loaded once per distinct reader, patient and unit."""

    readers: Mapping[str, Reader] = field(default_factory=dict)  # upper-case HSA-ID → reader
    households: Mapping[str, str] = field(default_factory=dict)  # patient personnummer → household_key
    protected: frozenset[str] = frozenset()  # patients with skyddad identitet
    baselines: Mapping[str, float] = field(default_factory=dict)  # reader → median accesses on their active days


def household_key(surname: str, street: str, postal_code: str) -> str | None:
    """Surname and address compared case- and spacing-insensitively; None when the address is missing."""
    street_ = " ".join(street.casefold().split())
    postal = "".join(ch for ch in postal_code if ch.isdigit())
    name = " ".join(surname.casefold().split())
    if not (street_ and postal and name):
        return None
    return f"{name}|{street_}|{postal}"


def median_of(counts: Iterable[int]) -> float:
    """The median of the reader's active days (0 without any)."""
    active = [c for c in counts if c > 0]
    return float(statistics.median(active)) if active else 0.0


def volume_threshold(median: float, config: ReviewConfig) -> float:
    """More accesses than this on one day is unusual for a reader with this median."""
    return max(config.volume_factor * median, median + config.volume_margin)


def reasons_for(access: Access, facts: RiskFacts, enabled: frozenset[str]) -> tuple[Why, ...]:
    """The per-access signals (all but volume) that hold for one access."""
    reader = facts.readers.get(access.user_hsa_id, Reader())
    patient = access.patient
    own = bool(patient and reader.personnummer == patient)
    found = []
    if Why.OWN_RECORD in enabled and own:
        found.append(Why.OWN_RECORD)
    if Why.HOUSEHOLD in enabled and not own and reader.household and patient \
            and facts.households.get(patient) == reader.household:
        found.append(Why.HOUSEHOLD)
    if Why.COLLEAGUE in enabled and not own and patient in reader.colleagues:
        found.append(Why.COLLEAGUE)
    if Why.PROTECTED in enabled and patient in facts.protected:
        found.append(Why.PROTECTED)
    return tuple(found)


def unusual_readers(rows: list[Access], facts: RiskFacts, config: ReviewConfig) -> set[str]:
    """The readers whose accesses that day exceed their own threshold."""
    counts = Counter(a.user_hsa_id for a in rows)
    return {user for user, n in counts.items() if n > volume_threshold(facts.baselines.get(user, 0.0), config)}


def flag(accesses: Iterable[Access], facts: RiskFacts, *, unit_hsa_id: str, day: dt.date,
         config: ReviewConfig) -> dict[int, tuple[Why, ...]]:
    """The accesses the enabled risk signals pick (seq → reasons), for rules.pick."""
    rows = list(accesses)
    flagged = {a.seq: why for a in rows if (why := reasons_for(a, facts, config.risk_rules))}
    if Why.VOLUME in config.risk_rules:
        for user in unusual_readers(rows, facts, config):
            theirs = sorted((a.seq for a in rows if a.user_hsa_id == user),
                            key=lambda seq: rank(config.sample_key, unit_hsa_id, day, seq))
            for seq in theirs[:config.volume_tasks]:
                flagged[seq] = flagged.get(seq, ()) + (Why.VOLUME,)
    return flagged
