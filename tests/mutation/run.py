"""Mutation testing of the core rule modules with mutmut 3: each module against its own tests, then one table.

    .venv/bin/python -m tests.mutation.run [MODULE ...] [--max-children N] [--minutes M]   (make mutation: all)

mutmut reads its settings from the pyproject.toml of the directory it runs in and copies the source into
``mutants/`` there. So each module gets a scratch directory ``var/mutation/<module>/``: symlinks to the packages
and the tests, and a pyproject.toml that is the project's ``[tool.mutmut]`` and pytest settings plus this module's
``only_mutate`` and test selection (TARGETS). Results stay there (``mutmut results`` / ``mutmut show NAME`` in that
directory); survivors are also written to ``var/mutation/<module>/survivors.txt`` with their diffs. Each module has
a time budget (targets.py; ``--minutes`` sets one for all); mutmut tests the mutants with the fastest tests first,
and what the budget leaves unchecked is shown in the table (score = killed / checked).

The tests run on SQLite only (NPO_TEST_DATABASE_URL is dropped): a mutant of a rule is caught or not regardless of
the database, and PostgreSQL would double the time. The real slapd is started by the tests' own conftest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tests.mutation.targets import TARGETS, Target

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "var" / "mutation"
MUTMUT = ROOT / ".venv" / "bin" / "mutmut"
LINKED = ["catalog", "provisioning", "overview", "forms", "api", "flows", "npo", "tests"]
KILLED = {1, 3, 36, 37, 24, -24, 152, 255}  # failed test, pytest error, timeouts, type check (mutmut's stats.py)
SURVIVED = {0}
NO_TESTS = {33, 5}


@dataclass
class Score:
    """The outcome of one module's run."""

    name: str
    total: int = 0
    killed: int = 0
    survived: list[str] | None = None
    no_tests: list[str] | None = None
    not_checked: int = 0  # left when the module's time budget ran out
    other: int = 0
    seconds: float = 0.0

    @property
    def checked(self) -> int:
        return self.total - self.not_checked

    @property
    def percent(self) -> float:
        """Killed among the mutants checked (a survivor and a mutant no test reaches both count against it)."""
        return 100.0 * self.killed / self.checked if self.checked else 100.0


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _table(name: str, values: dict[str, object]) -> str:
    return f"[{name}]\n" + "".join(f"{key} = {_toml_value(v)}\n" for key, v in values.items())


def prepare(target: Target) -> Path:
    """A fresh scratch directory for one module: symlinked packages and a pyproject.toml of its own."""
    scratch = WORK / target.name
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    for name in LINKED:
        (scratch / name).symlink_to(ROOT / name, target_is_directory=True)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mutmut = dict(project["tool"]["mutmut"])
    mutmut["only_mutate"] = list(target.sources)
    mutmut["pytest_add_cli_args_test_selection"] = list(target.tests)
    pytest_options = project["tool"]["pytest"]["ini_options"]
    (scratch / "pyproject.toml").write_text(_table("tool.mutmut", mutmut) + "\n"
                                            + _table("tool.pytest.ini_options", pytest_options))
    return scratch


def collect(target: Target, scratch: Path, seconds: float) -> Score:
    """Count the outcomes mutmut stored beside each mutated file (``mutants/<path>.meta``)."""
    score = Score(target.name, survived=[], no_tests=[], seconds=seconds)
    for source in target.sources:
        meta = scratch / "mutants" / f"{source}.meta"
        if not meta.exists():
            continue
        for mutant, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            score.total += 1
            if code in KILLED:
                score.killed += 1
            elif code in SURVIVED:
                score.survived.append(mutant)  # type: ignore[union-attr]
            elif code in NO_TESTS:
                score.no_tests.append(mutant)  # type: ignore[union-attr]
            elif code is None:
                score.not_checked += 1
            else:
                score.other += 1
    return score


_SHOW = """
import sys
from mutmut.__main__ import find_mutant, get_diff_for_mutant, status_by_exit_code
for name in sys.argv[1:]:
    found = find_mutant(name)
    print(f"# {name}: {status_by_exit_code[found.exit_code_by_key[name]]}")
    print(get_diff_for_mutant(name, path=found.path))
    print()
"""


def write_survivors(score: Score, scratch: Path, env: dict[str, str]) -> None:
    """Each survivor's diff into survivors.txt (one process for all: `mutmut show` per mutant costs a second)."""
    names = [*(score.survived or []), *(score.no_tests or [])]
    shown = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", _SHOW, *names], cwd=scratch, env=env,
                           capture_output=True, text=True) if names else None
    (scratch / "survivors.txt").write_text(shown.stdout if shown else "")


def _mutmut(scratch: Path, env: dict[str, str], max_children: int, minutes: float) -> int | None:
    """Run mutmut in ``scratch``; past the budget it is interrupted (it keeps the verdicts it has). Exit code."""
    with (scratch / "mutmut.log").open("w") as log:
        process = subprocess.Popen(["nice", "-n", "10", str(MUTMUT), "run", "--max-children", str(max_children)],
                                   cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # its own group: the interrupt reaches its workers too
        try:
            return process.wait(timeout=minutes * 60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            return None


def run(target: Target, *, max_children: int, minutes: float) -> Score:
    """Mutate one module and run its tests against every mutant (within ``minutes``); the score."""
    scratch = prepare(target)
    env = {k: v for k, v in os.environ.items() if k not in {"NPO_TEST_DATABASE_URL", "PYTHONPATH"}}
    env["NPO_MUTATION_SOURCES"] = ",".join(target.sources)  # tests/mutation/plugin.py warms the other caches
    started = time.monotonic()
    code = _mutmut(scratch, env, max_children, minutes)
    score = collect(target, scratch, time.monotonic() - started)
    if code is None:
        print(f"{target.name}: stopped after its budget of {minutes:g} minutes", file=sys.stderr)
    elif code != 0 and score.total == 0:
        print(f"{target.name}: mutmut failed (exit {code}); see {scratch / 'mutmut.log'}", file=sys.stderr)
    write_survivors(score, scratch, env)
    return score


def table(scores: list[Score]) -> str:
    """The per-module table (Markdown, so it can be pasted into docs/mutation.md)."""
    rows = ["| module | mutants | checked | killed | survived | no test | score | minutes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in scores:
        rows.append(f"| {s.name} | {s.total} | {s.checked} | {s.killed} | {len(s.survived or [])} "
                    f"| {len(s.no_tests or [])} | {s.percent:.1f} % | {s.seconds / 60:.1f} |")
    checked = sum(s.checked for s in scores)
    killed = sum(s.killed for s in scores)
    rows.append(f"| **all** | {sum(s.total for s in scores)} | {checked} | {killed} "
                f"| {sum(len(s.survived or []) for s in scores)} | {sum(len(s.no_tests or []) for s in scores)} "
                f"| {100.0 * killed / checked if checked else 100:.1f} % | {sum(s.seconds for s in scores) / 60:.1f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"any of: {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="time budget per module (default: each module's own, together under an hour)")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in TARGETS]
    if unknown:
        parser.error(f"unknown module(s): {', '.join(unknown)}")
    scores = []
    for name in args.modules or list(TARGETS):
        print(f"mutating {name} …", flush=True)
        target = TARGETS[name]
        scores.append(run(target, max_children=args.max_children, minutes=args.minutes or target.minutes))
        print(table(scores[-1:]).splitlines()[-2], flush=True)
    print()
    print(table(scores))
    for s in scores:
        for mutant in [*(s.survived or []), *(s.no_tests or [])]:
            print(f"  survivor {mutant}  (diff: var/mutation/{s.name}/survivors.txt)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
