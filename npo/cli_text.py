"""The `npo` command line speaks one language, Swedish, like the UI.

Every command's, option's and argument's help is written in Swedish where it is declared (``help=``; the English
docstrings are for the code's readers). What Typer adds itself is made Swedish here: the help of ``--help``, the
usage line and placeholders, the panel titles and the ``[standard: …]`` / ``[krävs]`` marks. Typer's rich help reads
those marks and titles from module constants at every call, so setting them once is enough. The shell-completion
options are left out: their help is built into Typer in English, and nobody completes this operator's tool in a
shell (D-41).
"""

from __future__ import annotations

from typing import Any

import typer
from typer import rich_utils
from typer.core import TyperCommand, TyperGroup

HELP_OPTION = "Visa den här hjälpen och avsluta."
USAGE = "Användning: "
OPTIONS_METAVAR = "[FLAGGOR]"
SUBCOMMAND_METAVAR = "KOMMANDO [ARGUMENT]..."

rich_utils.ARGUMENTS_PANEL_TITLE = "Argument"
rich_utils.OPTIONS_PANEL_TITLE = "Flaggor"
rich_utils.COMMANDS_PANEL_TITLE = "Kommandon"
rich_utils.DEFAULT_STRING = "[standard: {}]"
rich_utils.REQUIRED_LONG_STRING = "[krävs]"
rich_utils.ENVVAR_STRING = "[miljövariabel: {}]"
rich_utils.DEPRECATED_STRING = "(utfasad) "


class _Swedish:
    """Typer's own texts of one command or group, in Swedish."""

    def get_help_option(self, ctx: Any) -> Any:
        """The --help option, with Swedish help."""
        option = super().get_help_option(ctx)  # type: ignore[misc]  # a mixin: the click command comes after it
        if option is not None:
            option.help = HELP_OPTION
        return option

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        """The usage line, with a Swedish prefix."""
        pieces = self.collect_usage_pieces(ctx)  # type: ignore[attr-defined]  # the click command's, as above
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=USAGE)


class SwedishCommand(_Swedish, TyperCommand):
    """A command whose help is Swedish throughout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("options_metavar") in (None, "[OPTIONS]"):
            kwargs["options_metavar"] = OPTIONS_METAVAR
        super().__init__(*args, **kwargs)


class SwedishGroup(_Swedish, TyperGroup):
    """A group of commands whose help is Swedish throughout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("options_metavar") in (None, "[OPTIONS]"):
            kwargs["options_metavar"] = OPTIONS_METAVAR
        if kwargs.get("subcommand_metavar") is None:
            kwargs["subcommand_metavar"] = SUBCOMMAND_METAVAR
        super().__init__(*args, **kwargs)


class SwedishTyper(typer.Typer):
    """A Typer app (or sub-app) whose commands and groups print Swedish help."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cls=SwedishGroup, add_completion=False, **kwargs)

    def command(self, name: str | None = None, *, cls: type[TyperCommand] | None = None,
                **kwargs: Any) -> Any:
        """Register a command (Swedish help unless another class is asked for)."""
        return super().command(name, cls=cls or SwedishCommand, **kwargs)
