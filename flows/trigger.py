"""How the web starts advance-order after its commit: a deployment run when a Prefect server is configured
(NPO_PREFECT_API_URL), in-process otherwise. Either way a failure here loses nothing: the order is committed and
the sweep picks it up."""

from __future__ import annotations

import logging
import threading

from kernel import runtime

log = logging.getLogger(__name__)
DEPLOYMENT = "advance-order/advance-order"
_starting = threading.Lock()


def advance_later(order_id: int) -> str:
    """Start advancing an order; returns how ("deployment", "joined", "in-process" or "left for the sweep").

    The order is committed before this is called, and every advance-order run advances all waiting orders
    (D-28), so while this process is already starting a run, another start would add nothing: it joins that one.
    """
    if runtime.settings().prefect_api_url:
        if not _starting.acquire(blocking=False):
            return "joined"
        try:
            from prefect.deployments import run_deployment

            run_deployment(DEPLOYMENT, parameters={"order_id": order_id}, timeout=0)
            return "deployment"
        except Exception as exc:  # noqa: BLE001 - Prefect down: the sweep advances the order later
            log.warning("could not start %s for order %s (%s); the sweep will pick it up", DEPLOYMENT, order_id, exc)
            return "left for the sweep"
        finally:
            _starting.release()
    from flows.steps import advance_in_process

    try:
        advance_in_process(order_id)
    except Exception as exc:  # noqa: BLE001 - e.g. LDAP down: the order waits for the sweep
        log.warning("in-process advance of order %s failed (%s); the sweep will pick it up", order_id, exc)
        return "left for the sweep"
    return "in-process"
