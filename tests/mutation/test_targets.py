"""The mutation map stays true: every core module is mutated, and only against test files that exist."""

from __future__ import annotations

from pathlib import Path

from tests.mutation.run import ROOT, _table
from tests.mutation.targets import TARGETS

CORE = {"provisioning/states.py", "provisioning/authz.py", "provisioning/decisions.py", "provisioning/routing.py",
        "catalog/reconcile.py", "catalog/identifiers.py", "kernel/clock.py", "overview/accesslog.py",
        "overview/gate.py", "overview/gate_items.py", "overview/logreview/rounds.py",
        "provisioning/recertification/rounds.py", "kernel/review.py"}


def test_every_core_module_is_mutated_against_tests_that_exist() -> None:
    assert {source for target in TARGETS.values() for source in target.sources} == CORE
    for target in TARGETS.values():
        assert target.tests, target.name
        missing = [path for path in (*target.sources, *target.tests) if not (ROOT / path).is_file()]
        assert missing == [], target.name
    assert sum(target.minutes for target in TARGETS.values()) <= 57  # with setup and survivor diffs: under an hour


def test_the_scratch_pyproject_is_toml() -> None:
    import tomllib

    text = _table("tool.mutmut", {"only_mutate": ["catalog/x.py"], "debug": False, "timeout_multiplier": 15.0,
                                  "note": 'a "quoted" å'})
    assert tomllib.loads(text) == {"tool": {"mutmut": {"only_mutate": ["catalog/x.py"], "debug": False,
                                                       "timeout_multiplier": 15.0, "note": 'a "quoted" å'}}}
    assert Path(__file__).resolve().is_relative_to(ROOT)
