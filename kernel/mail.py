"""Rendering of the Swedish mail templates (kernel/mail_templates): ``<name>.txt`` starts with a
``Ämne: …`` line (the subject) and holds the text part; ``<name>.html`` is the HTML part (autoescaped)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "mail_templates"

_text = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, undefined=StrictUndefined,
                    keep_trailing_newline=True)
_html = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                    undefined=StrictUndefined)


def render(template: str, context: dict[str, object]) -> tuple[str, str, str]:
    """(subject, text, html) of one mail."""
    text = _text.get_template(f"{template}.txt").render(**context)
    first, _, body = text.partition("\n")
    if not first.startswith("Ämne: "):
        raise ValueError(f"mail template {template}.txt must start with 'Ämne: '")
    html = _html.get_template(f"{template}.html").render(**context)
    return first.removeprefix("Ämne: ").strip(), body.lstrip("\n"), html
