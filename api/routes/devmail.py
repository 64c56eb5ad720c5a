"""The development mail view: what the embedded SMTP sink received (var/mail, a Maildir). Dev login only."""

from __future__ import annotations

import datetime as dt
import mailbox
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.auth import OptionalActor
from api.errors import error_response
from api.pages import render
from kernel import runtime

router = APIRouter()
MAX_MESSAGES = 300


def _sent_at(message: EmailMessage) -> dt.datetime | None:
    """The Date header as an aware datetime (shown in Swedish time by the page), None when missing or unreadable."""
    header = message["Date"]
    when = getattr(header, "datetime", None)
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def read_mail() -> list[dict[str, object]]:
    """The sink's messages, newest first."""
    folder = runtime.settings().var_dir / "mail"
    if not (folder / "cur").exists() and not (folder / "new").exists():
        return []
    box = mailbox.Maildir(folder, factory=None, create=False)
    parser = BytesParser(policy=policy.default)
    out = []
    for key in box.iterkeys():
        with box.get_file(key) as handle:
            message = parser.parsebytes(handle.read())
        text = message.get_body(("plain",))
        out.append({"key": key, "subject": str(message["Subject"] or ""), "to": str(message["To"] or ""),
                    "from": str(message["From"] or ""), "date": _sent_at(message),
                    "text": text.get_content() if text else ""})
    out.sort(key=lambda m: str(m["key"]), reverse=True)
    return out[:MAX_MESSAGES]


@router.get("/dev/mail", name="dev_mail")
def dev_mail(request: Request, actor: OptionalActor) -> Response:
    """E-post som SMTP-sänkan tagit emot (endast utvecklingsläge)."""
    if not runtime.settings().dev_login:
        return error_response(request, 404, "Sidan finns inte.")
    return render(request, "devmail.html", actor=actor, messages=read_mail())
