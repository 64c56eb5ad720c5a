"""Which tests guard which core rule module: the map `make mutation` runs (tests/mutation/run.py).

Only a module's own tests run against its mutants, and each module has a time budget in minutes (the budgets add
up to under an hour on two shared cores); a mutant is killed when one of its tests fails. The authorization matrix
(tests/api/test_authorization_matrix.py, about five minutes on its own here) is left out of authz's selection:
mutmut runs a selection twice before the first mutant, so it would use the whole budget; authz's rules are
specified rule by rule in tests/provisioning/test_authz.py instead. tests/mutation/
test_targets.py keeps the map pointing at files that exist and the budgets under an hour.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One core module (or a pair that is one rule) and the test files that are its specification."""

    name: str
    sources: tuple[str, ...]
    tests: tuple[str, ...]
    minutes: float = 4.0


_ORDERING = "tests/provisioning/test_ordering.py"
_GATE_TESTS = ("tests/overview/test_gate_items.py", "tests/overview/test_gate_access.py",
               "tests/overview/test_gate_blocks.py", "tests/overview/test_gate_consent.py",
               "tests/overview/test_gate_reasons.py")

TARGETS: dict[str, Target] = {t.name: t for t in [
    Target("states", ("provisioning/states.py",),
           ("tests/provisioning/test_states.py", "tests/provisioning/test_states_lock.py"), 1.5),
    Target("routing", ("provisioning/routing.py",), ("tests/provisioning/test_routing.py", _ORDERING), 3),
    Target("identifiers", ("catalog/identifiers.py",), ("tests/catalog/test_identifiers.py",), 2),
    Target("clock", ("kernel/clock.py",),
           ("tests/catalog/test_clock.py", "tests/catalog/test_clock_instants.py"), 2.5),
    Target("reconcile", ("catalog/reconcile.py",),
           ("tests/catalog/test_reconcile_plan.py", "tests/catalog/test_reconcile_apply.py",
            "tests/catalog/test_reconcile.py"), 8),
    Target("decisions", ("provisioning/decisions.py",),
           ("tests/provisioning/test_decisions.py", _ORDERING, "tests/provisioning/test_sweeping.py"), 8),
    Target("authz", ("provisioning/authz.py",), ("tests/provisioning/test_authz.py", _ORDERING), 7),
    Target("accesslog", ("overview/accesslog.py",),
           ("tests/overview/test_accesslog_exact.py", "tests/overview/test_accesslog.py"), 4),
    Target("gate", ("overview/gate.py",), _GATE_TESTS, 4),
    Target("gate_items", ("overview/gate_items.py",), _GATE_TESTS, 4),
    Target("logreview_rounds", ("overview/logreview/rounds.py",),
           ("tests/overview/test_logreview_rounds.py", "tests/overview/test_logreview_rounds_exact.py"), 4),
    Target("recertification", ("provisioning/recertification/rounds.py", "kernel/review.py"),
           ("tests/provisioning/test_review_recertification.py", "tests/provisioning/test_recertification_dates.py",
            "tests/provisioning/test_recertification_exact.py"), 9),
]}
