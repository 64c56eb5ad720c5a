"""`npo schedules`: each Prefect deployment with its schedule, next run and last completed run.

Exit codes: 0 every scheduled deployment has a next run; 1 no Prefect server configured or it does not answer, or a
scheduled deployment has no run planned (its schedule does not fire).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, NoReturn

import typer

from flows.engine import Deployment, EngineUnavailable, PrefectEngine
from kernel.clock import local_minute, now

EXIT_FAILED = 1
HELP = ("Visa varje driftsättning i Prefect: schema, nästa körning och senast slutförda körning "
        "(svensk tid). Avslutas med kod 1 när ingen Prefect-server svarar eller ett schema inte har någon "
        "planerad körning.")


def _fail(message: str) -> NoReturn:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(EXIT_FAILED)


def _local(instant: dt.datetime | None, never: str) -> str:
    return local_minute(instant) if instant else never


def _schedule_text(deployment: Deployment) -> str:
    text = "; ".join(s.describe() for s in deployment.schedules) or "inget schema (startas vid behov)"
    return f"{text} – pausad" if deployment.paused else text


def _as_dict(deployment: Deployment) -> dict[str, object]:
    completed = deployment.last_completed.ended if deployment.last_completed else None
    return {"name": deployment.name, "schedule": _schedule_text(deployment), "paused": deployment.paused,
            "schedules": [{"cron": s.cron, "timezone": s.timezone} if s.cron else
                          {"interval_seconds": s.interval.total_seconds() if s.interval else None}
                          for s in deployment.schedules],
            "next_run": deployment.next_run.isoformat() if deployment.next_run else None,
            "next_run_local": _local(deployment.next_run, "") or None,
            "last_completed": completed.isoformat() if completed else None,
            "last_completed_local": _local(completed, "") or None}


def _table(deployments: list[Deployment]) -> list[str]:
    rows = [("Driftsättning", "Schema", "Nästa körning", "Senast klar")]
    for d in deployments:
        planned = _local(d.next_run, "ingen planerad" if d.schedules and not d.paused else "–")
        rows.append((d.name, _schedule_text(d), planned,
                     _local(d.last_completed.ended if d.last_completed else None, "aldrig")))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
            for row in rows]


def schedules(as_json: Annotated[bool, typer.Option("--json", help="skriv ut som JSON")] = False) -> None:
    """Print each deployment of the configured Prefect server with its schedule, next and last completed run."""
    from kernel import runtime

    api_url = runtime.settings().prefect_api_url
    if not api_url:
        _fail("Ingen Prefect-server är konfigurerad (NPO_PREFECT_API_URL). `npo run` sätter den för den inbyggda "
              "stacken; med `npo run --no-prefect` körs flödena i webbprocessen och har inga scheman.")
    engine = PrefectEngine(api_url)
    try:
        deployments = engine.deployments(now())
    except EngineUnavailable as exc:
        _fail(exc.message)
    finally:
        engine.close()
    if as_json:
        typer.echo(json.dumps([_as_dict(d) for d in deployments], ensure_ascii=False, indent=2))
    else:
        typer.echo("\n".join(_table(deployments)) if deployments else f"Inga driftsättningar på {api_url}.")
    silent = [d.name for d in deployments if d.schedules and not d.paused and d.next_run is None]
    if silent:
        _fail(f"Ingen planerad körning för {', '.join(silent)}: schemat ger inga körningar (se Prefect-serverns logg).")
