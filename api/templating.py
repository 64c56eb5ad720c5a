"""The one Jinja2 environment: autoescape on, templates from api/templates and beside the forms (forms/templates)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

ROOT = Path(__file__).resolve().parent.parent
SEARCH_PATH = [ROOT / "api" / "templates", ROOT / "forms" / "templates"]


def _sv_datetime(value) -> str:  # type: ignore[no-untyped-def]
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
)
environment.filters["sv_datetime"] = _sv_datetime
templates = Jinja2Templates(env=environment)
