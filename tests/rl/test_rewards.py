"""RewardComposer arithmetic (ordered / any_order / potential), failure policies and stats."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rl.rewards import (
    CheckerFailureError,
    RewardComposer,
    RewardStats,
    parse_failure_policy,
    status_counts,
)

ALL = np.ones((1, 3), bool)
NOT_DONE = np.zeros(1, bool)


def run(scheme: str, rows: list[str], *, gamma: float = 0.9, valid: list[str] | None = None):
    """Step one env through flag rows like "101" and return the bonuses and completed rows."""
    c = RewardComposer(1, 3, scheme=scheme, bonus=1.0, gamma=gamma)
    bonuses, completed = [], []
    for t, row in enumerate(rows):
        flags = np.array([[ch == "1" for ch in row]])
        ok = ALL if valid is None else np.array([[ch == "1" for ch in valid[t]]])
        b, done = c.step(flags, ok, NOT_DONE)
        assert b.dtype == np.float32 and b.shape == (1,)
        bonuses.append(round(float(b[0]), 6))
        completed.append("".join("1" if x else "0" for x in done[0]))
    return bonuses, completed


# scheme, flag rows per step, expected bonus per step, expected latched after each step
CASES = [
    # ordered: 1 before 0 is ignored; 0 then later 1 and 2 latch in the same step (cascade)
    (
        "ordered",
        ["010", "100", "101", "111", "111"],
        [0, 1, 0, 2, 0],
        ["000", "100", "100", "111", "111"],
    ),
    # ordered: everything at once on the first step latches all three
    ("ordered", ["111", "000"], [3, 0], ["111", "111"]),
    # ordered: a latched sub-task stays latched when its checker stops firing
    ("ordered", ["100", "000", "010", "001"], [1, 0, 1, 1], ["100", "100", "110", "111"]),
    # ordered: the gap blocks what follows it, even when it fired
    ("ordered", ["101", "101", "011"], [1, 0, 2], ["100", "100", "111"]),
    # any_order: whatever fires latches, once
    (
        "any_order",
        ["010", "100", "101", "111", "111"],
        [1, 1, 1, 0, 0],
        ["010", "110", "111", "111", "111"],
    ),
    ("any_order", ["001", "001", "000"], [1, 0, 0], ["001", "001", "001"]),
    # potential (gamma 0.9): F = 0.9 * Phi' - Phi with ordered latching
    (
        "potential",
        ["010", "100", "101", "111", "000"],
        [0, 0.9, -0.1, 1.7, -0.3],
        ["000", "100", "100", "111", "111"],
    ),
]


@pytest.mark.parametrize(("scheme", "rows", "bonuses", "latched"), CASES)
def test_scheme_table(scheme, rows, bonuses, latched):
    got_bonus, got_latched = run(scheme, rows)
    assert got_bonus == pytest.approx(bonuses)
    assert got_latched == latched


def test_one_time_bonus_not_per_frame():
    """The released VLM-CaR code paid 0.5 on every frame after the key; we pay once per sub-task."""
    c = RewardComposer(2, 3, scheme="ordered", bonus=0.5)
    total = np.zeros(2)
    for _ in range(200):
        b, _ = c.step(np.ones((2, 3), bool), np.ones((2, 3), bool), np.zeros(2, bool))
        total += b
    assert total.tolist() == [1.5, 1.5]


@pytest.mark.parametrize("scheme", ["ordered", "any_order", "potential"])
def test_invalid_flags_never_latch_or_pay(scheme):
    bonuses, latched = run(scheme, ["111", "111", "111"], gamma=1.0, valid=["000", "011", "111"])
    if scheme == "ordered":
        assert bonuses == [0, 0, 3] and latched == ["000", "000", "111"]
    elif scheme == "any_order":
        assert bonuses == [0, 2, 1] and latched == ["000", "011", "111"]
    else:
        assert bonuses == [0, 0, 3] and latched == ["000", "000", "111"]


def test_invalid_in_the_middle_blocks_ordered_cascade():
    bonuses, latched = run("ordered", ["111", "111"], valid=["101", "111"])
    assert bonuses == [1, 2]
    assert latched == ["100", "111"]


def test_done_resets_after_the_terminal_flags_are_paid():
    c = RewardComposer(2, 2, scheme="ordered")
    ok = np.ones((2, 2), bool)
    c.step([[True, False], [True, False]], ok, [False, False])
    bonus, completed = c.step([[True, True], [False, False]], ok, [True, False])
    assert bonus.tolist() == [1.0, 0.0]  # env 0 is paid for the terminal frame's latch
    assert completed.tolist() == [[True, True], [True, False]]  # reported before the reset
    assert c.completed.tolist() == [[False, False], [True, False]]  # env 0 reset, env 1 kept
    bonus, _ = c.step([[True, False], [True, False]], ok, [False, False])
    assert bonus.tolist() == [1.0, 0.0]  # env 0's new episode pays again, env 1 does not


def test_reset_some_envs():
    c = RewardComposer(3, 1)
    c.step(np.ones((3, 1)), np.ones((3, 1)), np.zeros(3))
    c.reset([0, 2])
    assert c.completed[:, 0].tolist() == [False, True, False]
    c.reset()
    assert not c.completed.any()


def test_potential_terminal_convention():
    """True terminal: Phi(s') = 0, so the last step pays -Phi(s); truncation keeps Phi(s')."""
    ok = np.ones((2, 2), bool)
    c = RewardComposer(2, 2, scheme="potential", gamma=0.5, bonus=2.0)
    b, _ = c.step([[True, False]] * 2, ok, [False, False])
    assert b.tolist() == [1.0, 1.0]  # 2 * (0.5 * 1 - 0)
    # env 0 terminates, env 1 is truncated (time limit), both on a frame that completes sub-task 1
    b, completed = c.step([[True, True]] * 2, ok, [True, True], terminated=[True, False])
    assert b.tolist() == [-2.0, 0.0]  # 2 * (0.5 * 0 - 1), 2 * (0.5 * 2 - 1)
    assert completed.all()
    assert not c.completed.any()


def test_terminated_defaults_to_dones():
    c = RewardComposer(1, 1, scheme="potential", gamma=0.9)
    b, _ = c.step([[True]], [[True]], [True])
    assert b.tolist() == [0.0]  # Phi 0 -> terminal 0


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.lists(st.booleans(), min_size=4, max_size=4), min_size=1, max_size=30),
    valid=st.lists(st.lists(st.booleans(), min_size=4, max_size=4), min_size=30, max_size=30),
    gamma=st.floats(0.5, 1.0),
    truncate=st.booleans(),
)
def test_properties(rows, valid, gamma, truncate):
    t_end = len(rows)
    flags = np.array(rows)
    ok = np.array(valid[:t_end])
    dones = np.zeros(t_end, bool)
    dones[-1] = True
    ordered = RewardComposer(1, 4, scheme="ordered")
    anyo = RewardComposer(1, 4, scheme="any_order")
    pot = RewardComposer(1, 4, scheme="potential", gamma=gamma)
    total_ordered = total_any = discounted = 0.0
    last = None
    for t in range(t_end):
        args = (flags[t][None], ok[t][None], dones[t : t + 1])
        b, done_o = ordered.step(*args)
        total_ordered += float(b[0])
        b, done_a = anyo.step(*args)
        total_any += float(b[0])
        b, _ = pot.step(*args, terminated=dones[t : t + 1] & (not truncate))
        discounted += gamma**t * float(b[0])
        # ordered latches a prefix, and never more than any_order
        row = done_o[0]
        assert list(row) == sorted(row, reverse=True)
        assert not (row & ~done_a[0]).any()
        last = row
    assert total_ordered == last.sum() <= 4
    assert total_any == done_a[0].sum() <= 4
    # potential shaping telescopes: sum_t gamma^t F_t = gamma^T Phi(s_T) - Phi(s_0), Phi(s_0) = 0
    expected = gamma**t_end * last.sum() if truncate else 0.0
    assert discounted == pytest.approx(expected, abs=1e-4)
    assert not ordered.completed.any() and not pot.completed.any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scheme": "sparse"}, "scheme"),
        ({"gamma": 1.5}, "gamma"),
        ({"bonus": float("nan")}, "bonus"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RewardComposer(1, 1, **kwargs)


def test_bad_shapes():
    c = RewardComposer(2, 3)
    with pytest.raises(ValueError, match=r"flags: expected shape \(2, 3\)"):
        c.step(np.ones((3, 2), bool), np.ones((2, 3), bool), np.zeros(2, bool))
    with pytest.raises(ValueError, match="dones"):
        c.step(np.ones((2, 3), bool), np.ones((2, 3), bool), np.zeros(3, bool))


@pytest.mark.parametrize(
    ("policy", "budget"),
    [("continue", None), ("raise", 1), ("stop_after:1", 1), ("stop_after:40", 40)],
)
def test_parse_failure_policy(policy, budget):
    assert parse_failure_policy(policy) == budget


@pytest.mark.parametrize("policy", ["stop", "stop_after:", "stop_after:0", "stop_after:x", "RAISE"])
def test_parse_failure_policy_rejects(policy):
    with pytest.raises(ValueError, match="failure_policy"):
        parse_failure_policy(policy)


def test_stats_and_error_text():
    a = RewardStats(names=("k", "d"))
    a.steps, a.evaluate_seconds = 4, 0.02
    a.record_failure("k", "error", "ZeroDivisionError")
    a.record_failure("k", "error", "ZeroDivisionError")
    b = RewardStats(names=("k", "d"), steps=2, evaluate_seconds=0.01)
    b.record_failure("d", "timeout", "slow")
    merged = RewardStats.merge([a, b])
    assert merged.total_failures == 3
    assert merged.failures == {"k": {"error": 2}, "d": {"timeout": 1}}
    assert merged.failures_by_status == {"error": 2, "timeout": 1}
    assert merged.evaluate_ms == pytest.approx(5.0)
    assert merged.last_failure == ("d", "timeout", "slow")
    counts = status_counts(merged)
    assert "ok" not in counts and counts["error"] == 2 and counts["crash"] == 0
    text = str(
        CheckerFailureError(
            "key_picked", "violation", "np.f2py refused", step=7, failures=1, policy="raise"
        )
    )
    assert (
        "'key_picked'" in text and "'violation'" in text and "step 7" in text and "np.f2py" in text
    )
