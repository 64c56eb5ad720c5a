"""Which tests guard which core rule module: the map `make mutation` runs (tests/mutation/run.py).

Only a module's own tests run against its mutants, so a run stays well under an hour on two cores; a mutant is
killed when one of them fails. tests/mutation/test_targets.py keeps the map pointing at files that exist.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One core module (or a pair that is one rule) and the test files that are its specification."""

    name: str
    sources: tuple[str, ...]
    tests: tuple[str, ...]


_ORDERING = "tests/provisioning/test_ordering.py"
_GATE_TESTS = ("tests/overview/test_gate_access.py", "tests/overview/test_gate_blocks.py",
               "tests/overview/test_gate_consent.py")

TARGETS: dict[str, Target] = {t.name: t for t in [
    Target("states", ("provisioning/states.py",),
           ("tests/provisioning/test_states.py", "tests/provisioning/test_states_lock.py")),
    Target("routing", ("provisioning/routing.py",), ("tests/provisioning/test_routing.py", _ORDERING)),
    Target("identifiers", ("catalog/identifiers.py",), ("tests/catalog/test_identifiers.py",)),
    Target("clock", ("catalog/clock.py",), ("tests/catalog/test_clock.py", "tests/catalog/test_clock_instants.py")),
    Target("reconcile", ("catalog/reconcile.py",),
           ("tests/catalog/test_reconcile_plan.py", "tests/catalog/test_reconcile.py")),
    Target("decisions", ("provisioning/decisions.py",), (_ORDERING,)),
    Target("authz", ("provisioning/authz.py",), (_ORDERING, "tests/api/test_authorization_matrix.py")),
    Target("accesslog", ("overview/accesslog.py",), ("tests/overview/test_accesslog.py",)),
    Target("gate", ("overview/gate.py",), _GATE_TESTS),
    Target("gate_items", ("overview/gate_items.py",), _GATE_TESTS),
    Target("logreview_rounds", ("overview/logreview_rounds.py",), ("tests/overview/test_logreview_rounds.py",)),
    Target("recertification", ("provisioning/recertification.py",),
           ("tests/provisioning/test_review_recertification.py", "tests/provisioning/test_recertification_dates.py")),
]}
