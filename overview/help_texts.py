"""Felsökning's administered texts (issue 14): advice that goes out of date with the world outside the system, such
as which Net iD the region's computers use, is kept as versions NPÖ-förvaltningen stores from the Felsökning page
(who, when, why); the newest version of a key is shown, the configured default until one is stored."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, select

from kernel.text import has_control_characters
from overview.errors import InvalidInput
from overview.models import HelpText

KEYS = {"netid": "Kortläsarprogram (Net iD) och drivrutiner"}
TEXT_MIN, TEXT_MAX = 10, 2000
COMMENT_MIN, COMMENT_MAX = 3, 200


@dataclass(frozen=True)
class Shown:
    """The text in force and where it comes from (None: the configured default)."""

    text: str
    version: HelpText | None


def current(session: Session, key: str, default: str) -> Shown:
    """The newest stored version of ``key``, else ``default``."""
    row = session.exec(select(HelpText).where(HelpText.key == key).order_by(col(HelpText.id).desc())).first()
    return Shown(row.text, row) if row else Shown(default, None)


def history(session: Session, key: str, *, limit: int = 20) -> list[HelpText]:
    """The stored versions of ``key``, newest first."""
    return list(session.exec(select(HelpText).where(HelpText.key == key).order_by(col(HelpText.id).desc())
                             .limit(limit)))


def _checked(value: str, field: str, what: str, low: int, high: int) -> str:
    text = " ".join(value.split()) if field == "comment" else value.strip().replace("\r\n", "\n")
    if len(text) < low:
        raise InvalidInput(field, f"Skriv {what} (minst {low} tecken).")
    if len(text) > high:
        raise InvalidInput(field, f"Texten är {len(text)} tecken lång; högst {high} tecken är tillåtet.")
    if has_control_characters(text.replace("\n", " ")):
        raise InvalidInput(field, "Texten innehåller otillåtna styrtecken; skriv om den med vanliga tecken.")
    return text


def save(session: Session, *, key: str, text: str, comment: str, default: str, by: str, by_name: str,
         now: dt.datetime) -> HelpText | None:
    """Store a new version (None when the text is the one in force already: nothing to store)."""
    if key not in KEYS:
        raise InvalidInput("key", "Det finns ingen sådan text i Felsökning.")
    body = _checked(text, "text", "texten", TEXT_MIN, TEXT_MAX)
    why = _checked(comment, "comment", "varför texten ändras", COMMENT_MIN, COMMENT_MAX)
    if body == current(session, key, default).text:
        return None
    row = HelpText(key=key, text=body, comment=why, changed_at=now, changed_by=by, changed_by_name=by_name[:200])
    session.add(row)
    session.flush()
    return row
