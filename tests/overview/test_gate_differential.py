"""The optimised gate decides exactly as the gate did before it was optimised (D-61).

tests/overview/gate_reference/ is a frozen copy of the gate as of commit bf6d255. Both decide the benchmark's cases
(bench/gate.py: the first 8,000 from seed 1, as the benchmark times them, and a few thousand from other seeds and
at other times) and the property tests' generated facts; every Decision must be equal: allowed, the failed check, every
reason, the commission, every item's verdict (shown, check, code, basis, consent, emergency, blocked), whether
blocked data exists and which vårdgivare are named.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings

from overview.gate import decide
from tests.overview.gate_reference.gate import decide as reference_decide
from tests.overview.test_gate_builders import NOW
from tests.overview.test_gate_properties import allowed_facts, any_facts, blocked_emergency_facts


def _differences(cases, now: dt.datetime) -> tuple[int, list[str]]:  # type: ignore[no-untyped-def]
    count, wrong = 0, []
    for facts in cases:
        count += 1
        expected, got = reference_decide(facts, now), decide(facts, now)
        if got != expected and len(wrong) < 3:
            wrong.append(f"case {count}: expected {expected}\n got {got}")
    return count, wrong


@pytest.mark.parametrize(("count", "seed", "shift"), [
    (8_000, 1, dt.timedelta(0)),  # the first of the benchmark's cases
    (1_000, 2, dt.timedelta(0)), (1_000, 7, dt.timedelta(0)), (1_000, 42, dt.timedelta(0)),
    (1_000, 3, dt.timedelta(hours=-30)),  # other moments: consents, openings and relations start and end
    (1_000, 5, dt.timedelta(days=400)), (1_000, 11, dt.timedelta(days=-4000)),
])
def test_the_bench_cases_are_decided_as_before(bench, count: int, seed: int, shift: dt.timedelta) -> None:
    decided, wrong = _differences(bench.cases(count, seed), bench.NOW + shift)
    assert decided == count
    assert not wrong, "\n".join(wrong)


@settings(max_examples=250, deadline=None)
@given(any_facts | allowed_facts() | blocked_emergency_facts())
def test_generated_facts_are_decided_as_before(value) -> None:  # type: ignore[no-untyped-def]
    assert decide(value, NOW) == reference_decide(value, NOW)
