"""`npo --help` speaks one language, Swedish, for every command, group, option and argument, and so does what Typer
adds (the usage line, the panel titles, the help of --help).

Two checks: every declared help text (walked from the command tree itself, so a new command is covered without
being named here) must read as Swedish (a Swedish letter or function word) and contain none of a list of English
words; and every command's rendered `--help` must contain no English word either, once the identifiers (command and
option names, type placeholders such as <path>) are taken out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from npo.cli import app

# Words that only English has among the help texts' vocabulary (Swedish homographs such as "start", "in", "by",
# "data", "demo", "export", "stack", "list" are left out on purpose).
ENGLISH = frozenset(re.findall(r"\S+", """
    a an and are at be behind but can certificate chain create current database default delete directory disable
    each every exit extract file fill first for from help if install into is issue it its key listener log message
    migrate never new next not of on only options or path paths plain print read reconcile required revoke
    run serve server shell should show stop that the their this to trusted unless update usage use when whether
    which while with without write you your commands arguments completion
"""))
SWEDISH = frozenset(re.findall(r"\S+", """
    och i på för med att en ett som av till den det de om inte eller från är vid per samt hur vad visa skriv starta
    stoppa antal se dess alla varje bara utan när så fyll kör ange
"""))
WORD = re.compile(r"[A-Za-zÅÄÖåäöÉé]+")
IDENTIFIERS = re.compile(r"`[^`]*`|--?[\w-]+|<[^>]*>|\[[\w\s<=>.:]*\]|\bNPO_\w+|\bSE\d+-\w+|\w+\.\w+|\S+/\S+")


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group below ``command`` (itself first), with its path."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, (*path, name))


def help_texts() -> list[tuple[str, str]]:
    """(where, text) for every command's and parameter's help, the --help option's included."""
    root = typer.main.get_command(app)
    found = []
    for path, command in commands(root):
        where = " ".join(("npo", *path))
        found.append((where, command.help or ""))
        ctx = typer.Context(command, info_name=where)
        for param in command.get_params(ctx):
            found.append((f"{where} {param.name}", getattr(param, "help", None) or ""))
    return found


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(IDENTIFIERS.sub(" ", text))]


def test_the_walk_sees_every_command() -> None:
    names = {where for where, _ in help_texts()}
    for expected in ("npo sync", "npo catalog start", "npo demo load", "npo db upgrade", "npo certs issue",
                     "npo audit verify", "npo log-extract personnummer", "npo run prefect", "npo sync help"):
        assert expected in names, expected
    assert len(names) > 40


@pytest.mark.parametrize(("where", "text"), help_texts(), ids=lambda value: value if " " in str(value) else None)
def test_every_help_text_is_swedish(where: str, text: str) -> None:
    assert text.strip(), f"{where} has no help"
    said = words(text)
    assert [w for w in said if w in ENGLISH] == [], f"{where}: {text!r}"
    assert re.search("[åäöÅÄÖ]", text) or SWEDISH.intersection(said), f"{where} does not read as Swedish: {text!r}"


def test_every_rendered_help_page_is_swedish() -> None:
    root = typer.main.get_command(app)
    runner = CliRunner()
    names = {word for path, _ in commands(root) for part in path for word in part.split("-")}
    for path, _command in commands(root):
        result = runner.invoke(app, [*path, "--help"], prog_name="npo", env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        page = result.output
        assert "Användning: npo" in page and "Visa den här hjälpen och avsluta." in page, path
        english = [w for w in words(page) if w in ENGLISH and w not in names]
        assert english == [], (path, english, page)
