"""The `npo` command line (Typer). Every expected failure ends with a clear message and a non-zero exit code."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from catalog import DirectoryError, DirectoryUnavailable, InvalidIdentifier
from catalog.hrexport import HrExportError
from catalog.reconcile import Arrival
from catalog.runtime import directory_config, embedded_slapd
from catalog.slapd import SlapdError
from npo.certs import certs_app
from npo.cli_text import SwedishTyper
from npo.overview_cli import (
    LOG_EXTRACT_HELP,
    audit_app,
    ensure_demo_rules,
    load_demo_history,
    load_demo_patients,
    log_extract,
    rules_app,
)
from npo.schedules_cli import HELP as SCHEDULES_HELP
from npo.schedules_cli import schedules

app = SwedishTyper(help="npo-access: NPÖ-behörigheter för Region Skåne", no_args_is_help=True,
                   pretty_exceptions_enable=False)
catalog_app = SwedishTyper(help="Den inbyggda Skånekatalogen (OpenLDAP slapd)", no_args_is_help=True)
demo_app = SwedishTyper(help="Demodata för katalogen och patientöversikten", no_args_is_help=True)
db_app = SwedishTyper(help="SQL-databasen och dess schema", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(demo_app, name="demo")
app.add_typer(db_app, name="db")
app.add_typer(certs_app, name="certs")
app.add_typer(audit_app, name="audit")
app.add_typer(rules_app, name="rules")
app.command("log-extract", help=LOG_EXTRACT_HELP)(log_extract)
app.command("schedules", help=SCHEDULES_HELP)(schedules)

EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_BAD_INPUT = 3


def _settings():
    from kernel import runtime

    try:
        return runtime.settings()
    except ValueError as exc:  # pydantic validation of NPO_* variables
        _fail(f"Ogiltig konfiguration: {exc}", EXIT_BAD_INPUT)


def _fail(message: str, code: int = EXIT_FAILED) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the domain's expected failures into a message and an exit code (no traceback)."""
    try:
        yield
    except DirectoryUnavailable as exc:
        _fail(f"Skånekatalogen svarar inte: {exc.message}", EXIT_FAILED)
    except InvalidIdentifier as exc:
        _fail(exc.message, EXIT_BAD_INPUT)
    except (DirectoryError, SlapdError, HrExportError) as exc:
        _fail(str(exc), EXIT_FAILED if not isinstance(exc, HrExportError) else EXIT_BAD_INPUT)


# ---------------------------------------------------------------------- catalog
@catalog_app.command("start", help="Starta den inbyggda slapd (var/ldap) om den inte redan kör.")
def catalog_start() -> None:
    """Start the embedded slapd (var/ldap) unless it runs."""
    settings = _settings()
    if not settings.embedded_ldap:
        _fail(f"NPO_LDAP_URL är satt ({settings.ldap_url}); den katalogen används och ingen slapd startas.", 0)
    with _errors():
        started = embedded_slapd(settings).start()
    slapd = embedded_slapd(settings)
    typer.echo(f"slapd {'startad' if started else 'körde redan'} på {slapd.url} ({slapd.root})")


@catalog_app.command("stop", help="Stoppa den inbyggda slapd.")
def catalog_stop() -> None:
    """Stop the embedded slapd."""
    settings = _settings()
    with _errors():
        stopped = embedded_slapd(settings).stop()
    typer.echo("slapd stoppad" if stopped else "slapd körde inte")


@catalog_app.command("status", help="Visa om katalogen kör och svarar; slutkod 1 om den inte gör det.")
def catalog_status() -> None:
    """Show whether the directory runs and answers; exit 1 when it does not."""
    settings = _settings()
    if not settings.embedded_ldap:
        from catalog import runtime as catalog_runtime

        with _errors():
            catalog_runtime.directory().ping()
        typer.echo(f"extern katalog {settings.ldap_url} svarar")
        return
    status = embedded_slapd(settings).status()
    if not status.running:
        typer.echo(f"slapd kör inte ({status.root}); starta med `npo catalog start`")
        raise typer.Exit(EXIT_FAILED)
    typer.echo(f"slapd kör (pid {status.pid}) på {status.url}, data i {status.root}")


@catalog_app.command("env", help="Skriv ut NPO_LDAP_URL, _BASE, _BIND_DN och _PASSWORD som rader för `eval`.")
def catalog_env() -> None:
    """Print NPO_LDAP_URL / _BASE / _BIND_DN / _PASSWORD lines for `eval`."""
    settings = _settings()
    with _errors():
        config = directory_config(settings)
    for name, value in (("NPO_LDAP_URL", config.url), ("NPO_LDAP_BASE", config.base),
                        ("NPO_LDAP_BIND_DN", config.bind_dn), ("NPO_LDAP_PASSWORD", config.password)):
        typer.echo(f"export {name}={shlex.quote(value)}")


# ---------------------------------------------------------------------- demo
@demo_app.command("rules", help="Läs in demons publiceringsregler om databasen saknar regler; regler som redan "
                                 "gäller lämnas orörda.")
def demo_rules() -> None:
    """Store the demo's publication rules unless rules are in force (make run calls it at every start)."""
    ensure_demo_rules(_settings())


@demo_app.command("load", help="Fyll katalogen med demodata och läs in demopatienterna; samma frö ger samma demo, "
                                "och en ny körning ändrar inget som redan finns.")
def demo_load(
    persons: Annotated[int, typer.Option(min=20, max=500_000, help="antal personer i katalogen")] = 2000,
    seed: Annotated[int, typer.Option(help="slumpfrö; samma frö ger samma demo")] = 1,
    hr_export: Annotated[Path | None, typer.Option(help="skriv en HR-fil som matchar demon hit")] = None,
    patients: Annotated[int, typer.Option(min=0, help="antal demopatienter i SQL-databasen (0 = inga)")] = 200,
    history: Annotated[bool, typer.Option("--history/--no-history",
                                          help="90 dagars demohistorik (beställningar, granskningar)")] = True,
) -> None:
    """Fill the directory with deterministic demo data (idempotent)."""
    from catalog import runtime as catalog_runtime
    from catalog.hrexport import write_export
    from demo import organisation as demo

    settings = _settings()
    with _errors():
        if settings.embedded_ldap:
            embedded_slapd(settings).start()
        catalog = demo.generate(persons=persons, seed=seed)
        with _progress("Läser in demodata") as progress:
            report = demo.load(catalog_runtime.directory().config, catalog, progress=progress)
    if report.failed:
        typer.secho(f"{len(report.failed)} poster kunde inte skrivas:", fg=typer.colors.RED, err=True)
        for line in report.failed[:20]:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(EXIT_FAILED)
    target = hr_export or settings.var_dir / "hr" / "hr-export.csv"
    rows = write_export(target, demo.hr_export_rows(catalog, seed=seed))
    typer.echo(f"Demo inläst: {len(catalog.persons)} personer, {len(catalog.units)} enheter, "
               f"{len(catalog.commissions)} medarbetaruppdrag, {len(catalog.memberships)} kopplingar.")
    typer.echo(f"HR-fil för synk: {target} ({rows} rader)")
    load_demo_patients(settings, patients=patients, seed=seed)
    if patients > 0 and history:  # the history's log follow-up reads the demo patients' records
        load_demo_history(settings, catalog, seed=seed)


@contextmanager
def _progress(label: str) -> Iterator[Callable[..., None]]:
    """A progress callback printing to stderr (one line, updated in place on a terminal)."""
    tty = sys.stderr.isatty()

    def report(*args: object) -> None:
        *phase, done, total = args
        text = f"{label}{' – ' + str(phase[0]) if phase else ''}: {done}/{total}"
        typer.echo(("\r" + text) if tty else text, err=True, nl=not tty)

    yield report
    if tty:
        typer.echo("", err=True)


# ---------------------------------------------------------------------- sync
@app.command("sync", help="Stäm av en HR-export mot Skånekatalogen: skapa, ändra och inaktivera personer, "
                          "aldrig ta bort. Förhandsgranskningen visar antal per slag och de avvisade raderna; "
                          "--list visar varje planerad ändring.")
def sync(
    source: Annotated[Path, typer.Option(help="HR-export (CSV, se docs/hr-export.md)")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="visa planen, ändra ingenting")] = False,
    force: Annotated[bool, typer.Option("--force", help="genomför även om fler än tillåtet inaktiveras")] = False,
    list_changes: Annotated[bool, typer.Option("--list", help="lista varje planerad ändring")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="skriv rapporten som JSON")] = False,
) -> None:
    """Reconcile an HR export into Skånekatalogen (create / update / disable; never delete)."""
    from catalog import runtime as catalog_runtime
    from catalog.hrexport import read_export
    from catalog.reconcile import run_sync

    settings = _settings()
    with _errors():
        export = read_export(source)
        with _progress("Synkroniserar") as progress:
            report = run_sync(catalog_runtime.directory(), export, provider_hsa_id=settings.hr_provider_hsa_id,
                              max_disable_share=settings.sync_max_disable_share, dry_run=dry_run, force=force,
                              progress=progress, mover_grace_days=settings.sync_mover_grace_days)
        made = _propose(report.arrivals()) if not (dry_run or report.refused) and report.arrivals() else 0
    if as_json:
        typer.echo(json.dumps({**report.to_dict(), "proposals": made}, ensure_ascii=False, indent=2))
    else:
        for line in report.lines(list_changes=list_changes):
            typer.echo(line)
        if report.plan.changes and not list_changes:
            typer.echo(f"Varje planerad ändring ({len(report.plan.changes)} st) visas med --list.")
        if made:
            typer.echo(f"Förslag på behörighet till verksamhetscheferna: {made} (e-post skickas av den körande "
                       "miljöns utskick).")
    if report.refused:
        raise typer.Exit(EXIT_REFUSED)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def _propose(arrivals: list[Arrival]) -> int:
    """The sync's movers and joiners as proposals for their new unit's manager (mail through the outbox)."""
    from catalog import runtime as catalog_runtime
    from flows.steps import provisioning_config
    from kernel import runtime
    from kernel.clock import now
    from provisioning import proposals

    with runtime.session_scope() as session:
        return len(proposals.from_sync(session=session, directory=catalog_runtime.directory(),
                                       config=provisioning_config(), arrivals=arrivals, now=now()))


# ---------------------------------------------------------------------- db
@db_app.command("upgrade", help="Migrera SQL-databasen till den senaste versionen av schemat.")
def db_upgrade() -> None:
    """Migrate the SQL schema to the latest revision."""
    from npo.db import upgrade

    settings = _settings()
    try:
        upgrade(settings.sql_url)
    except Exception as exc:  # noqa: BLE001 - report any database failure as a message, not a traceback
        _fail(f"Databasen kunde inte migreras ({settings.sql_url}): {exc}")
    typer.echo(f"Databasen är migrerad: {settings.sql_url}")


# ---------------------------------------------------------------------- run
@app.command("run", help="Starta hela den inbyggda miljön med demodata; Ctrl-C stoppar den.")
def run(
    demo_persons: Annotated[int, typer.Option(min=20, help="personer i demon vid första start")] = 2000,
    prefect: Annotated[bool, typer.Option("--prefect/--no-prefect",
                                          help="starta Prefect-servern och dess arbetsprocesser")] = True,
    task_workers: Annotated[int, typer.Option(min=1, max=16, help="uppgiftsarbetare (processer) med Prefect")] = 2,
    web_processes: Annotated[int, typer.Option(min=1, max=16, help="webbprocesser per lyssnare (vanlig HTTP och "
                                                                   "SITHS-mTLS)")] = 2,
    cluster: Annotated[bool, typer.Option("--cluster", help="klusterprofilen: två replikerande slapd, PostgreSQL för "
                                                            "appen och Prefect, webbprocesser bakom nginx med "
                                                            "SITHS-mTLS, spärrlista och OCSP (docs/deployment.md)")
                       ] = False,
) -> None:
    """Start the whole embedded stack with demo data (or, with ``--cluster``, the cluster profile); Ctrl-C stops it."""
    from npo.stack import Stack

    settings = _settings()
    with _errors():
        if cluster:
            from npo.cluster import ClusterError, ClusterStack

            if not prefect:
                _fail("Klusterprofilen kör alltid Prefect (servern på PostgreSQL och dess arbetare).", EXIT_BAD_INPUT)
            stack: Stack = ClusterStack(settings, demo_persons=demo_persons, task_workers=task_workers,
                                        web_instance_ports=tuple(settings.web_port + n
                                                                 for n in range(1, web_processes + 1)))
            try:
                stack.run_forever()
            except ClusterError as exc:
                _fail(str(exc), EXIT_FAILED)
            return
        Stack(settings, demo_persons=demo_persons, with_prefect=prefect, task_workers=task_workers,
              web_processes=web_processes).run_forever()


@app.command("web", help="Kör webbappen med vanlig HTTP på NPO_WEB_PORT (administrationssidorna och, i "
                        "utvecklingsmiljön, provinloggningen); `npo run` startar den.")
def web(
    workers: Annotated[int, typer.Option("--workers", min=1, max=32,
                                         help="webbprocesser som delar porten (D-63)")] = 1,
) -> None:
    """The plain listener: ``workers`` processes, each on a socket of its own on one port (api/mtls.Supervisor)."""
    from api.mtls import serve_plain
    from kernel import runtime
    from npo.certs import APP_FACTORY
    from npo.web import create_app

    settings = _settings()
    runtime.configure(settings)
    typer.echo(f"Webbappen: http://{settings.web_host}:{settings.web_port}/")
    serve_plain(create_app() if workers == 1 else APP_FACTORY, settings, workers=workers)


# ---------------------------------------------------------------------- tasks
tasks_app = SwedishTyper(help="Prefect-uppgifter som webben startar (bakgrundsuppgifter)", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")


@tasks_app.command("serve", help="Kör en uppgiftsarbetare: tar emot beställningssteg och e-post från Prefect-servern "
                                 "(NPO_PREFECT_API_URL) och kör dem tills processen stoppas.")
def tasks_serve(
    limit: Annotated[int, typer.Option(min=1, max=64, help="uppgifter samtidigt i den här processen")] = 4,
) -> None:
    """A task worker for flows.background (the stack starts two)."""
    settings = _settings()
    if not settings.prefect_api_url:
        _fail("NPO_PREFECT_API_URL är inte satt: uppgiftsarbetaren behöver en Prefect-server.", EXIT_BAD_INPUT)
    from prefect.task_worker import serve

    from flows.background import TASKS

    serve(*TASKS, limit=limit)


def main() -> None:
    """Entry point (`npo`)."""
    app()


if __name__ == "__main__":
    main()
