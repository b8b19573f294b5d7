"""The gate states order problems apart from the others, from the report's fields (no text search)."""

from __future__ import annotations

import pytest

from rl.program import reference_program
from synth.gate import GateContext, _stats
from synth.verify import collect_rollouts, verify_sources

pytestmark = pytest.mark.slow

ENV = "MiniGrid-DoorKey-5x5-v0"


def test_order_problems_are_structured_and_reach_the_refine_feedback() -> None:
    program = reference_program(ENV)
    source = dict(zip(program.names, program.sources, strict=True))
    expert, random = collect_rollouts(ENV, n_expert=3, n_random=2, random_length=20, seed=5)
    # key_picked put after goal_reached fires long before its "predecessor" in every episode
    report = verify_sources(
        ENV,
        ["goal_reached", "key_picked"],
        [source["goal_reached"], source["key_picked"]],
        expert,
        random,
        isolation="process",
    )
    first, late = report.subtasks
    assert first.order_problems == ()
    assert len(late.order_problems) == 1 and late.order_problems[0] in late.problems
    assert "goal_reached" in late.order_problems[0]
    stats = _stats(late, GateContext(ENV, expert, random))
    assert stats.order_problems == late.order_problems
    assert not set(stats.notes) & set(stats.order_problems)
    assert set(stats.notes) | set(stats.order_problems) == set(late.problems)
    assert report.to_json()["subtasks"][1]["order_problems"] == list(late.order_problems)
