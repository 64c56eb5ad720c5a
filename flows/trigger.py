"""How the web starts automation after its commit: a Prefect background task when a Prefect server is configured
(NPO_PREFECT_API_URL), in-process otherwise (tests, `npo run --no-prefect`). Either way a failure here loses
nothing: the order and its mail are committed, and the sweep picks them up (D-58).

The web calls these after its response (a Starlette background task), so they must not wait on a Prefect server that
is down or hangs: Prefect's client retries a failed request five times with back-off and waits 60 s for an answer.
A submission first asks the server's health with a short timeout and then submits with a bounded client (D-60)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx

from kernel import runtime

log = logging.getLogger(__name__)

T = TypeVar("T")
PROBE_SECONDS = 1.0  # the health check's answer on loopback or a LAN takes milliseconds
SUBMIT_TIMEOUT_SECONDS = 5.0  # each request of the submission (Prefect's default: 60)
SUBMIT_RETRIES = 5  # Prefect's default: a burst (a bulk approval) gets 503s from a busy server, retried with back-off


class PrefectUnavailable(Exception):
    """The Prefect server did not answer its health check."""


_bounded: dict[int, tuple[Any, Any]] = {}  # id(base settings) -> (base, bounded): both kept, so an id is not reused
_probe: httpx.Client | None = None
_lock = threading.Lock()


@contextmanager
def _bounded_client() -> Iterator[None]:
    """Prefect client settings for one submission, in this context only (other threads keep theirs).

    Like Prefect's ``temporary_settings``, but the bounded copy of the current settings is made once per settings
    object: building one reads Prefect's profile and pyproject files and the environment, which was a fifth of the
    web's CPU in a burst of submissions (bench/orders.py --profile)."""
    import prefect.context
    from prefect.settings import PREFECT_API_REQUEST_TIMEOUT, PREFECT_CLIENT_MAX_RETRIES

    context = prefect.context.get_settings_context()
    with _lock:
        cached = _bounded.get(id(context.settings))
        if cached is None or cached[0] is not context.settings:
            if len(_bounded) > 8:  # settings change only in tests; keep the cache small
                _bounded.clear()
            cached = (context.settings, context.settings.copy_with_update(updates={
                PREFECT_API_REQUEST_TIMEOUT: SUBMIT_TIMEOUT_SECONDS, PREFECT_CLIENT_MAX_RETRIES: SUBMIT_RETRIES}))
            _bounded[id(context.settings)] = cached
    with prefect.context.SettingsContext(profile=context.profile, settings=cached[1]):
        yield


def _probe_client() -> httpx.Client:
    """One client for the health checks (a new one per check built an SSL context each time)."""
    global _probe
    with _lock:
        if _probe is None:
            _probe = httpx.Client(timeout=PROBE_SECONDS)
        return _probe


def _submit(api_url: str, submit: Callable[[], T]) -> T:
    """``submit()`` once the server answers its health check within PROBE_SECONDS, with a bounded client."""
    try:
        _probe_client().get(f"{api_url.rstrip('/')}/health").raise_for_status()
    except httpx.HTTPError as exc:
        raise PrefectUnavailable(f"{api_url} did not answer: {exc!r}") from exc
    with _bounded_client():
        return submit()


def advance_later(order_id: int) -> str:
    """Start advancing an order; returns how ("task <id>", "in-process" or "left for the sweep")."""
    api_url = runtime.settings().prefect_api_url
    if api_url:
        from flows.background import advance_order

        try:
            return f"task {_submit(api_url, lambda: advance_order.delay(order_id)).task_run_id}"
        except Exception as exc:  # noqa: BLE001 - Prefect down: the sweep advances the order later
            log.warning("could not submit advance-order for order %s (%s); the sweep will pick it up", order_id, exc)
            return "left for the sweep"
    from flows.steps import advance_in_process

    try:
        advance_in_process(order_id)
    except Exception as exc:  # noqa: BLE001 - e.g. LDAP down: the order waits for the sweep
        log.warning("in-process advance of order %s failed (%s); the sweep will pick it up", order_id, exc)
        return "left for the sweep"
    return "in-process"


def deliver_later() -> str:
    """Send due mail soon; returns how ("task <id>", "in-process" or "left for the sweep")."""
    api_url = runtime.settings().prefect_api_url
    if api_url:
        from flows.background import deliver_mail

        try:
            return f"task {_submit(api_url, deliver_mail.delay).task_run_id}"
        except Exception as exc:  # noqa: BLE001 - Prefect down: the sweep delivers the outbox
            log.warning("could not submit deliver-mail (%s); the sweep will send the mail", exc)
            return "left for the sweep"
    from flows.steps import deliver

    try:
        deliver()
    except Exception as exc:  # noqa: BLE001 - SMTP down: the mail stays in the outbox
        log.warning("in-process delivery failed (%s); the sweep will send the mail", exc)
        return "left for the sweep"
    return "in-process"


def bulk_later(job_id: int) -> str:
    """Start carrying out a massbeslut; returns how ("task <id>", "in-process" or "left for the sweep")."""
    api_url = runtime.settings().prefect_api_url
    if api_url:
        from flows.background import bulk_decide

        try:
            return f"task {_submit(api_url, lambda: bulk_decide.delay(job_id)).task_run_id}"
        except Exception as exc:  # noqa: BLE001 - Prefect down: the sweep resumes the job
            log.warning("could not submit bulk-decide for job %s (%s); the sweep will resume it", job_id, exc)
            return "left for the sweep"
    from flows.steps import run_bulk

    try:
        run_bulk(job_id, advance_later)
    except Exception as exc:  # noqa: BLE001 - e.g. LDAP down: the job waits for the sweep
        log.warning("in-process bulk job %s stopped (%s); the sweep will resume it", job_id, exc)
        return "left for the sweep"
    return "in-process"
