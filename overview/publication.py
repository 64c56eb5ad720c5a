"""The publication rules in force (gate step 9) as data: a YAML document, validated, stored as a version in the table
``publication_rules``, read back per request (D-54).

The YAML document is the import and export format: ``parse`` validates a text into :class:`PublicationRules` (every
error is a Swedish sentence naming the place), ``dump`` writes rules back as YAML, ``store`` adds a validated text
as the newest version, and ``current`` returns the newest version's rules. The demo loads
demo/data/publication_rules.yaml through ``store``; an administered import uses the same function.

The document::

    version: 1
    systems:                      # one entry per producer system (ItemFacts.system)
      pasis:
        provider_hsa_id: SE2321000255-E00001   # whose data it carries; left out = any vårdgivare
        categories: [demografi, vardkontakt]   # what it shares
        from_date: 2012-01-01                  # earliest information date shown
        unit_from: {SE2321000255-V1001: 2013-02-01}   # per-unit start; given = only these units
        early: [{document_kind: slutanteckning, profession: lakare}]   # from from_date even before unit_from
        document_kinds: {journalanteckning: [lakarjournal]}   # per category: only these kinds
        excluded_document_kinds: [scannat]     # never shown
        undated: [demografi]                   # current-state categories: no from-date
        future_only: [bokning]                 # shown only when dated now or later
        doctor_only_outpatient: [vardkontakt]  # non-inpatient items need a doctor
    excluded_units: [SE2321000255-V3001]   # units whose data is never produced (psychiatry, Habilitering)
    names: {SE2321000255-V1177: 1177 Vårdguiden på telefon}   # not in Skånekatalogen: the overview's name

Reading costs one query per request (the newest version's digest); the parsed rules are kept per digest in this
process, so a new version is in force from the next request and nothing stale survives.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from sqlmodel import Session, col, select

from catalog.identifiers import InvalidIdentifier, validate_hsa_id
from overview.errors import InvalidInput
from overview.models import PublicationRuleSet
from overview.producers import PublicationRules, SystemRule

VERSION = 1
FIELD = "document"  # the form field an import's errors are shown beside
NO_RULES = PublicationRules({})  # before any import: nothing is published (fail closed, D-54)
_TOP = ("version", "systems", "excluded_units", "names")
_SETS = ("categories", "excluded_document_kinds", "undated", "future_only", "doctor_only_outpatient")
_RULE = ("provider_hsa_id", "categories", "from_date", "unit_from", "early", "document_kinds", *_SETS[1:])


class InvalidPublicationRules(InvalidInput):
    """A publication-rule document that cannot be used (→ 422 beside the document)."""

    def __init__(self, message: str):
        super().__init__(FIELD, f"Publiceringsreglerna kan inte läsas in: {message}")


# ---------------------------------------------------------------------- YAML → rules
class _Loader(yaml.SafeLoader):
    """Safe YAML with dates left as text: :func:`parse` reads them itself, so a wrong date is refused with its place."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def parse(text: str) -> PublicationRules:
    """The rules of a YAML document, or :class:`InvalidPublicationRules` saying what is wrong and where."""
    try:
        document = yaml.load(text, Loader=_Loader)  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (rad {mark.line + 1})" if mark is not None else ""
        raise InvalidPublicationRules(f"texten är inte giltig YAML{where}.") from None
    top = _mapping(document, "dokumentet", _TOP)
    if top.get("version") != VERSION:
        raise InvalidPublicationRules(f"version ska vara {VERSION}.")
    systems = _mapping(top.get("systems"), "systems")
    if not systems:
        raise InvalidPublicationRules("systems saknar producerande system.")
    # an unquoted system key of digits (1177) is a YAML integer: the key is its text
    rules = {_text(str(key) if isinstance(key, int) else key, "ett systemnamn under systems"): _system(str(key), value)
             for key, value in systems.items()}
    excluded = frozenset(_hsa(u, "excluded_units") for u in _list(top.get("excluded_units", []),
                                                                          "excluded_units"))
    names = {_hsa(k, "names"): _text(v, f"names.{k}")
             for k, v in _mapping(top.get("names", {}), "names").items()}
    return PublicationRules(rules, excluded, names)


def _system(key: str, value: object) -> SystemRule:
    where = f"systems.{key}"
    rule = _mapping(value, where, _RULE)
    if "categories" not in rule:
        raise InvalidPublicationRules(f"{where} saknar categories.")
    sets = {name: _strings(rule.get(name, []), f"{where}.{name}") for name in _SETS}
    if not sets["categories"]:
        raise InvalidPublicationRules(f"{where}.categories är tom.")
    provider = rule.get("provider_hsa_id")
    early = []
    for index, entry in enumerate(_list(rule.get("early", []), f"{where}.early")):
        pair = _mapping(entry, f"{where}.early[{index}]", ("document_kind", "profession"))
        profession = pair.get("profession")
        early.append((_text(pair.get("document_kind"), f"{where}.early[{index}].document_kind"),
                      None if profession is None else _text(profession, f"{where}.early[{index}].profession")))
    return SystemRule(
        system=key,
        provider_hsa_id=None if provider is None else _hsa(provider, f"{where}.provider_hsa_id"),
        categories=sets["categories"],
        from_date=None if rule.get("from_date") is None else _date(rule["from_date"], f"{where}.from_date"),
        unit_from={_hsa(unit, f"{where}.unit_from"): _date(day, f"{where}.unit_from.{unit}")
                   for unit, day in _mapping(rule.get("unit_from", {}), f"{where}.unit_from").items()},
        early=frozenset(early),
        document_kinds={_text(category, f"{where}.document_kinds"):
                        _strings(kinds, f"{where}.document_kinds.{category}")
                        for category, kinds in _mapping(rule.get("document_kinds", {}),
                                                        f"{where}.document_kinds").items()},
        excluded_document_kinds=sets["excluded_document_kinds"], undated=sets["undated"],
        future_only=sets["future_only"], doctor_only_outpatient=sets["doctor_only_outpatient"])


def _mapping(value: object, where: str, allowed: tuple[str, ...] | None = None) -> Mapping[Any, Any]:
    if not isinstance(value, dict):
        raise InvalidPublicationRules(f"{where} ska vara en samling nycklar med värden.")
    if allowed is not None:
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise InvalidPublicationRules(f"{where} har okända nycklar: {', '.join(unknown)} "
                                          f"(tillåtna är {', '.join(allowed)}).")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidPublicationRules(f"{where} ska vara en lista.")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidPublicationRules(f"{where} ska vara en text.")
    return value


def _strings(value: object, where: str) -> frozenset[str]:
    return frozenset(_text(v, where) for v in _list(value, where))


def _hsa(value: object, where: str) -> str:
    """A validated HSA-ID (an `HsaId`: upper-cased, D-57)."""
    try:
        return validate_hsa_id(_text(value, where))
    except InvalidIdentifier as exc:
        raise InvalidPublicationRules(f"{where}: {exc.message}") from None


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(_text(value, where))
    except ValueError:
        raise InvalidPublicationRules(f"{where} ska vara ett datum ÅÅÅÅ-MM-DD.") from None


# ---------------------------------------------------------------------- rules → YAML
def document(rules: PublicationRules) -> dict[str, Any]:
    """The rules as the YAML document's data (the inverse of :func:`parse`; empty parts left out)."""
    systems: dict[str, Any] = {}
    for key, rule in rules.systems.items():
        entry: dict[str, Any] = {}
        if rule.provider_hsa_id is not None:
            entry["provider_hsa_id"] = rule.provider_hsa_id
        entry["categories"] = sorted(rule.categories)
        if rule.from_date is not None:
            entry["from_date"] = rule.from_date
        if rule.unit_from:
            entry["unit_from"] = dict(sorted(rule.unit_from.items()))
        if rule.early:
            entry["early"] = [{"document_kind": kind} | ({"profession": who} if who else {})
                              for kind, who in sorted(rule.early, key=lambda e: (e[0], e[1] or ""))]
        if rule.document_kinds:
            entry["document_kinds"] = {c: sorted(k) for c, k in sorted(rule.document_kinds.items())}
        for name in _SETS[1:]:
            values: frozenset[str] = getattr(rule, name)
            if values:
                entry[name] = sorted(values)
        systems[key] = entry
    result: dict[str, Any] = {"version": VERSION, "systems": systems}
    if rules.excluded_units:
        result["excluded_units"] = sorted(rules.excluded_units)
    if rules.names:
        result["names"] = dict(sorted(rules.names.items()))
    return result


class _Dumper(yaml.SafeDumper):
    """Plain YAML for people: no anchors for repeated dates, lists of plain values on one line."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _list_representer(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(value, dict | list) for value in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _list_representer)


def dump(rules: PublicationRules, *, header: str = "") -> str:
    """The rules as a YAML text that :func:`parse` reads back to equal rules; ``header`` lines become comments."""
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + yaml.dump(document(rules), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


# ---------------------------------------------------------------------- the table
_parsed: dict[str, PublicationRules] = {}
_lock = threading.Lock()


def digest_of(text: str) -> str:
    """The SHA-256 of a document's text (what identifies a version)."""
    return hashlib.sha256(text.encode()).hexdigest()


def store(session: Session, text: str, *, loaded_by: str, source: str = "", now: dt.datetime
          ) -> PublicationRuleSet:
    """Validate ``text`` and make it the newest version (flushes; the caller commits). The same text as the newest
    version adds nothing, so loading a file twice is harmless."""
    parse(text)
    digest = digest_of(text)
    newest = session.exec(select(PublicationRuleSet).order_by(col(PublicationRuleSet.id).desc()).limit(1)).first()
    if newest is not None and newest.digest == digest:
        return newest
    row = PublicationRuleSet(loaded_at=now, loaded_by=loaded_by, source=source, digest=digest, document=text)
    session.add(row)
    session.flush()
    forget_current()  # before the commit: a read that caches the old version in between is at most 5 s stale
    return row


CURRENT_SECONDS = 5.0  # how long a process reads the rules in force without asking the database again (D-64)
_current: dict[str, tuple[float, PublicationRules]] = {}  # database URL -> (when asked, the rules in force)


def current(session: Session) -> PublicationRules:
    """The rules of the newest version (:data:`NO_RULES` before the first import).

    Asked of the database at most every :data:`CURRENT_SECONDS` per process and database: a new version takes
    effect in every process within that time, and at once in the process that stored it."""
    database = str(session.get_bind().engine.url)
    with _lock:
        hit = _current.get(database)
    if hit is not None and time.monotonic() - hit[0] < CURRENT_SECONDS:
        return hit[1]
    asked = time.monotonic()
    digest = session.exec(select(PublicationRuleSet.digest).order_by(col(PublicationRuleSet.id).desc())
                          .limit(1)).first()
    rules = NO_RULES if digest is None else _cached(digest, lambda: session.exec(select(
        PublicationRuleSet.document).where(PublicationRuleSet.digest == digest).limit(1)).one())
    with _lock:
        _current[database] = (asked, rules)
    return rules


def forget_current() -> None:
    """Ask the database on the next read (after this process stored a new version, and in tests)."""
    with _lock:
        _current.clear()


def _cached(digest: str, text: Callable[[], str]) -> PublicationRules:
    with _lock:
        hit = _parsed.get(digest)
    if hit is not None:
        return hit
    rules = parse(text())
    with _lock:
        if len(_parsed) >= 8:  # a handful of versions per process at most; drop the oldest
            _parsed.pop(next(iter(_parsed)))
        return _parsed.setdefault(digest, rules)


# ---------------------------------------------------------------------- administration: history, import, export
@dataclass(frozen=True, slots=True)
class Version:
    """One stored version and what it changed against the one before (a unified diff of the YAML texts)."""

    row: PublicationRuleSet
    added: int
    removed: int
    diff: str
    in_force: bool


def history(session: Session, *, limit: int = 50) -> list[Version]:
    """The newest ``limit`` versions, newest first, each with its changes against the previous version (the rows
    detached: they are read-only history and outlive the session)."""
    rows = list(session.exec(select(PublicationRuleSet).order_by(col(PublicationRuleSet.id).desc())
                             .limit(limit + 1)).all())
    for row in rows:
        session.expunge(row)
    versions = []
    for index, row in enumerate(rows[:limit]):
        before = rows[index + 1].document if index + 1 < len(rows) else ""
        lines = list(difflib.unified_diff(before.splitlines(), row.document.splitlines(), "föregående",
                                          f"version {row.id}", lineterm="", n=1))
        added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
        removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
        versions.append(Version(row, added, removed, "\n".join(lines), index == 0))
    return versions


def newest(session: Session) -> PublicationRuleSet | None:
    """The version in force (None before the first import), detached."""
    return _detached(session, session.exec(select(PublicationRuleSet).order_by(col(PublicationRuleSet.id).desc())
                                           .limit(1)).first())


def version(session: Session, version_id: int) -> PublicationRuleSet | None:
    """One stored version by its number, detached."""
    return _detached(session, session.get(PublicationRuleSet, version_id))


def _detached(session: Session, row: PublicationRuleSet | None) -> PublicationRuleSet | None:
    if row is not None:
        session.expunge(row)
    return row


MAX_DOCUMENT = 1_000_000  # characters: the demo's rules are about 3,000


def import_text(session: Session, text: str, *, loaded_by: str, source: str, now: dt.datetime) -> PublicationRuleSet:
    """An administered import (the page, the CLI): bounded, validated, stored as the newest version."""
    if not text.strip():
        raise InvalidPublicationRules("Klistra in eller välj ett YAML-dokument med publiceringsreglerna.")
    if len(text) > MAX_DOCUMENT:
        raise InvalidPublicationRules(f"Dokumentet är {len(text)} tecken långt; högst {MAX_DOCUMENT} tecken.")
    if "\x00" in text:
        raise InvalidPublicationRules("Dokumentet innehåller NUL-tecken och kan inte vara YAML-text.")
    return store(session, text, loaded_by=loaded_by, source=source[:300], now=now)
