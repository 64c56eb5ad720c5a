"""py-spy for the benchmarks: record processes while a phase runs, and sum the samples into named parts.

``record`` starts ``py-spy record`` (raw collapsed stacks, idle frames included) on each process; ``stop`` makes
them write their files (SIGINT). ``breakdown`` reads such files and counts each sample under the first part whose
pattern matches one of its frames, nearest the leaf first, so a log append's SQL counts as the log append and not as
SQL facts. py-spy is not a dependency of the project: ``python3 -m venv /tmp/spyenv && /tmp/spyenv/bin/pip install
py-spy`` and put it beside the interpreter (``ln -s /tmp/spyenv/bin/py-spy .venv/bin/``).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path


def record(processes: Mapping[str, int], folder: Path, *, rate: int = 100) -> list[subprocess.Popen[bytes]]:
    """py-spy attached to each named pid, writing ``folder/<name>.txt`` when stopped."""
    folder.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        raise SystemExit(f"--profile needs py-spy at {spy} (see bench/profiling.py)")
    return [subprocess.Popen([str(spy), "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
                              "--idle", "--subprocesses", "--nonblocking", "--output", str(folder / f"{name}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, pid in processes.items()]


def stop(profilers: Iterable[subprocess.Popen[bytes]]) -> None:
    """Ask each py-spy to write its output (SIGINT) and wait for it."""
    started = list(profilers)
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


IDLE = re.compile(r"select \(selectors\.py|_run_once \(asyncio/base_events\.py.*;select|"
                  r"wait \(threading\.py|_worker \(concurrent/futures/thread\.py.*;get \(queue|"
                  r"epoll|poll \(selectors")


def breakdown(files: Iterable[Path], parts: Iterable[tuple[str, str]]) -> dict[str, object]:
    """Samples per part (share of the active samples; idle waits counted apart) over py-spy raw files."""
    compiled = [(name, re.compile(pattern)) for name, pattern in parts]
    counts: Counter[str] = Counter()
    idle = 0
    for file in files:
        for line in Path(file).read_text(errors="replace").splitlines():
            stack, _, number = line.rpartition(" ")
            if not number.isdigit():
                continue
            frames = stack.split(";")
            if IDLE.search(frames[-1]) or IDLE.search(";".join(frames[-3:])):
                idle += int(number)
                continue
            counts[_part(frames, compiled)] += int(number)
    active = sum(counts.values()) or 1
    return {"active_samples": sum(counts.values()), "idle_samples": idle,
            "parts": {name: round(100 * n / active, 1) for name, n in counts.most_common()}}


def _part(frames: list[str], compiled: list[tuple[str, re.Pattern[str]]]) -> str:
    for frame in reversed(frames):
        for name, pattern in compiled:
            if pattern.search(frame):
                return name
    return "other"
