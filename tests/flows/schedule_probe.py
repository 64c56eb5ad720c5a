"""A flow that does nothing, for the test that a schedule fires: deployed by tests/flows/test_schedules.py."""

from __future__ import annotations

from prefect import flow


@flow(name="schedule-probe")
def schedule_probe() -> str:
    """Finish at once; the test only needs the run to reach COMPLETED."""
    return "ok"
