"""The `npo` command line for tests: in this process (Typer's CliRunner) or as the installed entry point.

A new Python process that imports the application costs seconds (more on a loaded machine); the commands under
test behave the same in this process, given what a new process would start from: an environment without this
process's NPO_* variables, and settings read afresh from it. An exception the command does not handle ends the
result as a process would: exit code 1 and the traceback on stderr, so "no Traceback" still means something.
A few tests run the installed `npo` script itself (`installed_npo`), so the entry point stays covered.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NPO_SCRIPT = Path(sys.executable).parent / "npo"  # the entry point `uv sync` installed ([project.scripts])


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """os.environ without this process's NPO_* variables, plus ``env``; restored afterwards."""
    saved = dict(os.environ)
    try:
        for name in [k for k in os.environ if k.startswith("NPO_")]:
            del os.environ[name]
        os.environ.update(env)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def npo(*args: str, env: dict[str, str], check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `npo *args` in this process with ``env`` (and no other NPO_* variable); exit code, stdout and stderr."""
    from typer.testing import CliRunner

    from kernel import runtime
    from kernel.settings import Settings
    from npo.cli import app

    before = runtime.settings()
    cwd = os.getcwd()
    try:
        with _environment(env):
            os.chdir(ROOT)
            runtime.configure(Settings())  # what a new process reads from its environment
            result = CliRunner().invoke(app, list(args), catch_exceptions=True)
    finally:
        os.chdir(cwd)
        runtime.configure(before)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(*result.exc_info))
    completed = subprocess.CompletedProcess(["npo", *args], result.exit_code, result.stdout, stderr)
    if check:
        completed.check_returncode()
    return completed


def installed_npo(*args: str, env: dict[str, str], check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the installed `npo` script as a real process with ``env`` (and no other NPO_* variable)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NPO_")}
    return subprocess.run([str(NPO_SCRIPT), *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
                          check=check, timeout=300)
