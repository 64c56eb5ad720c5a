"""Rendering a page: every template gets the signed-in actor, the CSRF token and what the navigation shows."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.auth import LazyCsrf, pop_flash
from api.templating import templates
from kernel import runtime
from kernel.clock import now
from overview.logreview import delegations as logreview_delegation
from provisioning.authz import Actor


class SeeOther(Exception):  # noqa: N818 - named for the answer it gives (303 See Other)
    """Not an error: the request belongs on another page (a POST about a patient when none is chosen goes to the
    start); api/errors.py answers it with a 303 to ``location``."""

    def __init__(self, location: str):
        super().__init__(location)
        self.location = location


def nav(actor: Actor | None) -> dict[str, bool]:
    """Which menu entries the actor sees."""
    if actor is None:
        return {}
    return {
        "order": bool(actor.orderable_units()),
        "delegate": bool(actor.managed_units),
        "recertify": bool(actor.orderable_units()),
        "logreview": bool(actor.managed_units) or _log_delegate(actor.hsa_id),
        "approve": actor.is_approver,
        "dev": runtime.settings().dev_login,
    }


def _log_delegate(hsa_id: str) -> bool:
    """True when the person holds a documented delegation of log review (one indexed query)."""
    with runtime.session_scope() as session:
        return logreview_delegation.is_delegate(session, hsa_id, now())


def render(request: Request, template: str, *, actor: Actor | None, status_code: int = 200,
           **context: object) -> HTMLResponse:
    """Render ``template`` with the common context."""
    return templates.TemplateResponse(request, template, {"actor": actor, "nav": nav(actor),
                                                          "csrf": LazyCsrf(request),
                                                          "flash_message": pop_flash(request), **context},
                                      status_code=status_code)
