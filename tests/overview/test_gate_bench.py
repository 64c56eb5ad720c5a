"""bench/gate.py keeps working (its structure and determinism; nothing here is timed)."""

from __future__ import annotations

import json

import pytest


def test_bench_cases_are_deterministic(bench) -> None:
    assert list(bench.cases(50, seed=3)) == list(bench.cases(50, seed=3))
    assert list(bench.cases(50, seed=3)) != list(bench.cases(50, seed=4))


def test_bench_cases_are_mixed(bench) -> None:
    decisions = [bench.decide(facts, bench.NOW) for facts in bench.cases(400, seed=1)]
    assert any(d.allowed and d.shown for d in decisions) and any(not d.allowed for d in decisions)
    assert any(d.blocked_exists for d in decisions)


def test_bench_prints_one_json_object_with_the_figures(bench, capsys: pytest.CaptureFixture[str]) -> None:
    bench.main(["--cases", "200", "--json", "--no-http"])  # the HTTP part starts servers: run by hand
    figures = json.loads(capsys.readouterr().out)
    assert figures["decide_cases"] == 200
    assert {"decide_p50_us", "decide_p99_us", "decide_mean_us", "peak_rss_mb"} <= set(figures)
    assert 0 < figures["decide_p50_us"] <= figures["decide_p99_us"]
