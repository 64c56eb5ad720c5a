"""The overview's commands: `npo audit verify`, `npo log-extract PERSONNUMMER`, `npo rules import|export|history`,
demo patients for `npo demo load`.

Exit codes: 0 done; 1 the database failed; 2 the access log's chain is broken; 3 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from catalog import InvalidIdentifier, validate_personnummer
from kernel.settings import Settings
from npo.cli_text import SwedishTyper

if TYPE_CHECKING:
    from demo.organisation import DemoCatalog

audit_app = SwedishTyper(help="Åtkomstloggen (PDL): kontrollera kedjan och ta fram ankare", no_args_is_help=True)
LOG_EXTRACT_HELP = ("Ta fram patientens loggutdrag: vilken vårdenhet och vårdgivare som läst vad, när, på vilken "
                    "grund och med vilken patientrelation (HSLF-FS 2016:40 4 kap. 10 §), som text, CSV eller PDF; "
                    "uttaget loggas.")

EXIT_DATABASE = 1
EXIT_BROKEN = 2
EXIT_BAD_INPUT = 3


def _fail(message: str, code: int) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@audit_app.command("verify", help="Gå igenom åtkomstloggens hashkedja; slutkod 2 och den första brutna raden om den "
                                  "är bruten (också en rad som inte längre stämmer med ett publicerat ankare).")
def audit_verify(
    anchor: Annotated[list[str] | None, typer.Option(
        "--anchor", help="RAD:HASH som `npo audit head` skrev ut tidigare och som förvarats utanför databasen "
                         "(kan upprepas)")] = None,
) -> None:
    """Walk the access log's hash chain; exit 2 naming the first broken row (also a row that no longer matches a
    published anchor)."""
    from kernel import runtime
    from overview import accesslog

    try:
        anchors = [accesslog.Anchor.parse(text) for text in anchor or []]
    except ValueError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    try:
        with runtime.session_scope() as session:
            result = accesslog.verify(session, anchors=anchors)
    except SQLAlchemyError as exc:
        _fail(f"Åtkomstloggen kunde inte läsas ({runtime.settings().sql_url}): {exc.__class__.__name__}: "
              f"{str(exc).splitlines()[0]}", EXIT_DATABASE)
    if not result.ok:
        where = f" vid rad {result.first_broken}" if result.first_broken is not None else ""
        _fail(f"Åtkomstloggen är bruten{where}: {result.problem} ({result.rows} förseglade rader före den är hela.)",
              EXIT_BROKEN)
    pending = (f" {result.pending} nyare rad(er) väntar på förseglaren (högst "
               f"{round(accesslog.SEAL_BOUND.total_seconds() / 60)} minuter)." if result.pending else "")
    typer.echo(f"Åtkomstloggen är hel: {result.rows} rader kontrollerade"
               + (f", {len(anchors)} publicerade ankare stämmer." if anchors else ".") + pending)


@audit_app.command("seal", help="Försegla åtkomstloggens nya rader i hashkedjan nu (webbprocesserna gör det varje "
                                "sekund, svepet var femte minut).")
def audit_seal(
    adopt_late: Annotated[bool, typer.Option(
        "--adopt-late", help="försegla också rader som är äldre än gränsen (10 minuter) — bara när du har granskat "
                             "dem, t.ex. efter att alla webbprocesser och svepet stått still; annars namnger "
                             "`npo audit verify` dem")] = False,
) -> None:
    """Seal the access log's unsealed rows into the chain now and print how many."""
    from kernel import runtime
    from overview import accesslog

    try:
        with runtime.session_scope() as session:
            sealed = accesslog.seal_all(session, adopt_late=adopt_late)
            found = accesslog.head(session)
    except SQLAlchemyError as exc:
        _fail(f"Åtkomstloggen kunde inte förseglas: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
              EXIT_DATABASE)
    typer.echo(f"{sealed} rad(er) förseglade; kedjans huvud: {found or 'tomt'}.")


@audit_app.command("head", help="Skriv ut kedjans senast förseglade plats som ankare (RAD:HASH) att förvara utanför "
                                "databasen; `verify --anchor` kontrollerar det.")
def audit_head() -> None:
    """Print the newest sealed place as an anchor (RAD:HASH) to keep outside the database; `verify --anchor`
    checks it."""
    from kernel import runtime
    from overview import accesslog

    try:
        with runtime.session_scope() as session:
            found = accesslog.head(session)
    except SQLAlchemyError as exc:
        _fail(f"Åtkomstloggen kunde inte läsas: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
              EXIT_DATABASE)
    if found is None:
        _fail("Åtkomstloggen är tom; det finns inget att förankra än.", EXIT_BAD_INPUT)
    typer.echo(str(found))


def log_extract(
    personnummer: Annotated[str, typer.Argument(help="patientens person- eller samordningsnummer")],
    av: Annotated[str, typer.Option("--av", help="HSA-id för den i NPÖ-förvaltningen (rollen npo-forvaltning) som "
                                                "tar fram utdraget; uttaget loggas i hens namn")],
    format_: Annotated[str, typer.Option("--format", help="text, csv eller pdf")] = "text",
    out: Annotated[Path | None, typer.Option("--out", help="fil att skriva till (krävs för pdf)")] = None,
) -> None:
    """The patient's log extract (HSLF-FS 2016:40 4:10) as text, CSV or PDF, with each access's basis and relation;
    taking it is logged like the admin page's (the requester must hold npo-forvaltning)."""
    from catalog import runtime as catalog_runtime
    from catalog.ldapconn import DirectoryError
    from kernel import clock, runtime
    from overview import accesslog, log_extract, service
    from overview.errors import InvalidInput, NotAllowed

    if format_ not in log_extract.FORMATS:
        _fail(f"Okänt format {format_!r}: välj text, csv eller pdf.", EXIT_BAD_INPUT)
    if format_ == "pdf" and out is None:
        _fail("Ett PDF-utdrag skrivs till en fil: ange --out FIL.", EXIT_BAD_INPUT)
    try:
        pnr = validate_personnummer(personnummer)
    except InvalidIdentifier as exc:
        _fail(exc.message, EXIT_BAD_INPUT)
    at = clock.now()
    try:
        with runtime.session_scope() as session:
            lines = service.patient_log_extract(session=session, directory=catalog_runtime.directory(),
                                                user_hsa_id=av, personnummer=pnr, now=at)
    except (InvalidInput, NotAllowed) as exc:
        _fail(exc.message, EXIT_BAD_INPUT)
    except DirectoryError as exc:
        _fail(f"Skånekatalogen svarar inte, så behörigheten att ta ut loggutdrag kan inte kontrolleras: "
              f"{exc.message}", EXIT_DATABASE)
    except SQLAlchemyError as exc:
        _fail(f"Åtkomstloggen kunde inte läsas: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
              EXIT_DATABASE)
    if format_ == "text":
        body = accesslog.format_extract(pnr, lines).encode("utf-8") + b"\n"
    elif format_ == "csv":
        body = log_extract.as_csv(lines)
    else:
        body = log_extract.as_pdf(pnr, lines, taken_at=at, taken_by=f"{av} (npo log-extract)")
    if out is None:  # text or CSV (a PDF always goes to a file)
        typer.echo(body.decode("utf-8"), nl=False)
        return
    try:
        out.write_bytes(body)
    except OSError as exc:
        _fail(f"Utdraget kunde inte skrivas till {out}: {exc.strerror or exc}", EXIT_BAD_INPUT)
    typer.echo(f"Loggutdrag för {pnr[:8]}-{pnr[8:]} ({len(lines)} åtkomster) skrivet till {out}; uttaget är loggat.")


def ensure_demo_rules(settings: Settings) -> None:
    """Put the demo's publication rules in force when no rules are (a var/ made before the rules were data); rules
    already in force, the demo's or imported ones, stay."""
    from demo import publication as demo_publication
    from kernel import clock, runtime
    from overview import publication

    try:
        with runtime.session_scope() as session:
            if publication.current(session) is not publication.NO_RULES:
                typer.echo("Publiceringsregler finns redan; inget ändrat.")
                return
            rules = demo_publication.load(session, now=clock.now(), loaded_by="npo demo rules")
            version = f"{rules.source} (version {rules.id})"
    except SQLAlchemyError as exc:
        _fail(f"Publiceringsreglerna kunde inte läsas in ({settings.sql_url}): {exc}", EXIT_DATABASE)
    typer.echo(f"Publiceringsregler: {version}.")


def load_demo_patients(settings: Settings, *, patients: int, seed: int) -> None:
    """Migrate the SQL database and load the demo's publication rules and patients into it (idempotent)."""
    from demo import patients as demo_patients
    from demo import publication as demo_publication
    from kernel import clock, runtime
    from npo.db import upgrade

    if patients <= 0:
        return
    try:
        upgrade(settings.sql_url)
        with runtime.session_scope() as session:
            rules = demo_publication.load(session, now=clock.now())
            version = f"{rules.source} (version {rules.id})"
            report = demo_patients.load(session, patients=patients, seed=seed)
    except SQLAlchemyError as exc:
        _fail(f"Demopatienterna kunde inte läsas in ({settings.sql_url}): {exc}", EXIT_DATABASE)
    typer.echo(f"Publiceringsregler: {version}.")
    typer.echo(f"Demopatienter: {report.created} nya, {report.existing} fanns redan ({report.rows} rader).")


def load_demo_history(settings: Settings, catalog: DemoCatalog, *, seed: int) -> None:
    """Give a demo database without orders 90 days of history for the driftöversikt (demo/history.py)."""
    from demo import history
    from kernel import clock, runtime

    try:
        with runtime.session_scope() as session:
            report = history.load(session, catalog, seed=seed, now=clock.now())
    except SQLAlchemyError as exc:
        _fail(f"Demohistoriken kunde inte läsas in ({settings.sql_url}): {exc}", EXIT_DATABASE)
    if not report.orders:
        typer.echo("Demohistorik: databasen har redan beställningar; inget tillagt.")
        return
    typer.echo(f"Demohistorik (90 dagar): {report.orders} beställningar, {report.recertification_rounds} "
               f"behörighetskontroller, {report.log_review_rounds} granskningsomgångar i logguppföljningen.")


# ---------------------------------------------------------------------- npo rules: the publication rules
rules_app = SwedishTyper(help="Publiceringsreglerna (steg 9 i PDL-grinden): läs in, skriv ut och visa historiken",
                         no_args_is_help=True)


@rules_app.command("import", help="Läs in en YAML-fil som ny version av publiceringsreglerna (kontrolleras först; "
                                  "samma text som versionen som gäller sparar ingenting).")
def rules_import(
    fil: Annotated[Path, typer.Argument(help="YAML-filen med reglerna")],
    comment: Annotated[str, typer.Option("--comment", help="varför reglerna ändras (sparas i historiken)")],
    by: Annotated[str, typer.Option("--by", help="vem som läser in (HSA-id eller namn; standard: användaren)")] = "",
) -> None:
    import getpass

    from kernel import clock, runtime
    from overview import publication
    from overview.errors import InvalidInput

    if not comment.strip():
        _fail("Ange varför reglerna ändras med --comment.", EXIT_BAD_INPUT)
    try:
        text = fil.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"Filen {fil} kunde inte läsas som UTF-8-text: {exc}", EXIT_BAD_INPUT)
    who = by.strip() or f"{getpass.getuser()} (npo rules import)"
    try:
        with runtime.session_scope() as session:
            before = publication.newest(session)
            row = publication.import_text(session, text, loaded_by=who[:200],
                                          source=f"{comment.strip()} ({fil.name})", now=clock.now())
            new = before is None or row.id != before.id
    except InvalidInput as exc:
        _fail(exc.message, EXIT_BAD_INPUT)
    except SQLAlchemyError as exc:
        _fail(f"Databasen kunde inte nås: {exc.__class__.__name__}", EXIT_DATABASE)
    typer.echo(f"Version {row.id} gäller nu." if new else f"Samma text som version {row.id}; ingen ny version.")


@rules_app.command("export", help="Skriv ut versionen som gäller (eller --version N) som YAML, till fil med --out.")
def rules_export(
    out: Annotated[Path | None, typer.Option("--out", help="filen att skriva (standard: skärmen)")] = None,
    version: Annotated[int | None, typer.Option("--version", help="versionens nummer (standard: den som gäller)",
                                                min=1)] = None,
) -> None:
    from kernel import runtime
    from overview import publication

    try:
        with runtime.read_scope() as session:
            row = publication.newest(session) if version is None else publication.version(session, version)
    except SQLAlchemyError as exc:
        _fail(f"Databasen kunde inte nås: {exc.__class__.__name__}", EXIT_DATABASE)
    if row is None:
        _fail("Inga publiceringsregler är inlästa." if version is None else f"Version {version} finns inte.",
              EXIT_BAD_INPUT)
    assert row is not None
    if out is None:
        typer.echo(row.document, nl=False)
    else:
        out.write_text(row.document, encoding="utf-8")
        typer.echo(f"Version {row.id} skriven till {out}.")


@rules_app.command("history", help="Visa versionerna: nummer, när, av vem, varför och hur många rader som ändrades.")
def rules_history() -> None:
    from kernel import runtime
    from kernel.clock import local_minute
    from overview import publication

    try:
        with runtime.read_scope() as session:
            versions = publication.history(session)
    except SQLAlchemyError as exc:
        _fail(f"Databasen kunde inte nås: {exc.__class__.__name__}", EXIT_DATABASE)
    for v in versions:
        typer.echo(f"{v.row.id:>4}{' *' if v.in_force else '  '} {local_minute(v.row.loaded_at)}  {v.row.loaded_by}  "
                   f"+{v.added} -{v.removed}  {v.row.source}")
