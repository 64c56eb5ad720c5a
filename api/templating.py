"""The one Jinja2 environment: autoescape on, templates from api/templates and beside the forms (forms/templates)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from kernel.clock import end_text, last_day, until_text

ROOT = Path(__file__).resolve().parent.parent
SEARCH_PATH = [ROOT / "api" / "templates", ROOT / "forms" / "templates"]


def _sv_datetime(value) -> str:
    """Format an aware datetime in Swedish local time (YYYY-MM-DD HH:MM)."""
    from zoneinfo import ZoneInfo

    if value is None:
        return "–"
    return value.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%d %H:%M")


environment = Environment(
    loader=ChoiceLoader([FileSystemLoader(str(path)) for path in SEARCH_PATH]),
    autoescape=select_autoescape(["html", "xml"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # templates are code: a change means a restart, not a stat() of every template per page
)
environment.filters["sv_datetime"] = _sv_datetime
# Exclusive ends (D-9) as people read them: the last day ("2027-06-30"), or "till och med …" / "till … HH:MM".
environment.filters["sv_last_day"] = lambda end: last_day(end).isoformat() if end else "–"
environment.filters["sv_end"] = lambda end: end_text(end) if end else "tills vidare"
environment.filters["sv_until"] = lambda end: until_text(end) if end else "tills vidare"
templates = Jinja2Templates(env=environment)
