"""Every public attack is rejected by the audit or stopped at run time; benign checkers work.

Attacks are defended by class, not by string: these tests assert *how* each entry is stopped (audit
finding, or a run-time status), never that a particular message appears.
"""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest

from sandbox import AuditError, BudgetError, Budgets, CheckerRuntimeError, audit, compile_checker
from tests.sandbox.conftest import ATTACKS, BENIGN, DATA, SHARED, scene

# A frame that fires the input-triggered payload of evasion-magic-pixel-trigger.
MAGIC = scene(background=(0, 0, 0))
MAGIC[0, 0, 0], MAGIC[0, 1, 0], MAGIC[0, 2, 0] = 13, 37, 42


def test_vendored_sample_matches_shared_copy() -> None:
    if not SHARED.exists():  # a clone without ../shared: the vendored copy is all there is
        assert (DATA / "attacks-public.jsonl").stat().st_size > 0
        return
    assert (DATA / "attacks-public.jsonl").read_bytes() == SHARED.read_bytes()


def test_sample_covers_every_category() -> None:
    assert len({a["category"] for a in ATTACKS}) == 26
    assert len(BENIGN) >= 7


# Attacks the engine's semantics neutralise rather than stop: each runs to a plain answer, and
# test_neutralised_attack_gets_nothing checks that what it aimed at does not happen.
NEUTRALISED = {
    # integers are int64 two's complement on both paths: nothing differs, and no big integer is built
    "evasion-interpreter-vs-jit": False,
    "cpu-bigint-shift-mul": False,
    "cpu-bigint-power": ((pow(9, 9**9, 2**64) + 2**63) % 2**64 - 2**63) % 7 == 1,
    "mem-bigint-tower": False,
    # builtins iterate arrays through the counted path: the iteration budget sees every element
    "iterate-without-getiter": True,
}
STOPPED = [a for a in ATTACKS if a["id"] not in NEUTRALISED]


@pytest.mark.parametrize("attack", STOPPED, ids=lambda a: a["id"])
def test_attack_is_rejected_or_stopped(attack: dict[str, str], noise_frame: np.ndarray) -> None:
    try:
        checker = compile_checker(attack["code"], path=attack["id"])
    except AuditError as err:
        assert err.findings, "an audit rejection must carry findings"
        assert all(f.line >= 1 and f.col >= 1 for f in err.findings)
        return
    for frame in (noise_frame, MAGIC, np.zeros_like(noise_frame)):
        with pytest.raises(CheckerRuntimeError) as info:
            checker(frame)
        assert info.value.status in {"violation", "budget", "contract", "error"}


@pytest.mark.parametrize("attack_id", sorted(NEUTRALISED))
def test_neutralised_attack_gets_nothing(attack_id: str, noise_frame: np.ndarray) -> None:
    (attack,) = [a for a in ATTACKS if a["id"] == attack_id]
    checker = compile_checker(attack["code"], path=attack_id)
    # The wrapped int64 answer, the same on every frame (the JIT path computes it too).
    assert checker(noise_frame) is NEUTRALISED[attack_id]
    assert checker(np.zeros_like(noise_frame)) is NEUTRALISED[attack_id]
    if attack_id == "iterate-without-getiter":
        tight = compile_checker(attack["code"], budgets=Budgets(max_iterations=20))
        with pytest.raises(BudgetError):
            tight(noise_frame)  # sorted() and zip() were charged one iteration per element


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a["id"])
def test_audit_report_is_consistent_with_compile(attack: dict[str, str]) -> None:
    report = audit(attack["code"], path=attack["id"])
    if report.ok:
        compile_checker(attack["code"])  # accepted sources must compile
    else:
        with pytest.raises(AuditError):
            compile_checker(attack["code"])


# Frames built for each benign checker: (frame where it must say True, frame where it must say False)
BENIGN_FRAMES = {
    "benign-local-array-write": (scene(background=(200, 200, 200)), scene(background=(10, 10, 10))),
    "benign-clip-count-nonzero": (scene(background=(0, 200, 0)), scene(background=(0, 50, 0))),
    "benign-walrus-count": (
        scene(rects=[(0, 0, 4, 5, (0, 0, 255))]),
        scene(background=(0, 0, 100)),
    ),
    "benign-sorted-zip-enumerate": (
        scene(background=(200, 50, 50)),
        scene(background=(50, 200, 50)),
    ),
    "benign-small-channel-loop": (
        scene(rects=[(0, 0, 32, 16, (255, 255, 255))]),
        scene(background=(90, 90, 90)),
    ),
    "benign-argwhere-bbox": (
        scene(rects=[(5, 5, 15, 15, (0, 255, 0))]),
        scene(rects=[(5, 5, 7, 7, (0, 255, 0))]),
    ),
    "benign-edge-density": (
        scene(rects=[(0, x, 32, x + 2, (255, 255, 255)) for x in range(0, 32, 4)]),
        scene(background=(120, 120, 120)),
    ),
}


def reference(source: str, frame: np.ndarray) -> bool:
    """Run a *trusted benign* checker with the real numpy, as the reference answer."""
    namespace: dict[str, object] = {"np": np}
    exec(compile(ast.parse(source), "<benign>", "exec"), namespace)
    return bool(namespace["check"](frame))  # type: ignore[operator]


@pytest.mark.parametrize("entry", BENIGN, ids=lambda a: a["id"])
def test_benign_checker_is_accepted_and_correct(entry: dict[str, str]) -> None:
    assert audit(entry["code"]).ok
    checker = compile_checker(entry["code"], path=entry["id"])
    yes, no = BENIGN_FRAMES[entry["id"]]
    assert checker(yes) is True
    assert checker(no) is False
    rng = np.random.default_rng(1)
    for _ in range(5):
        frame = scene(
            background=tuple(rng.integers(0, 256, 3)),
            rects=[
                (
                    *sorted(rng.integers(0, 32, 2)),
                    *sorted(rng.integers(0, 32, 2)),
                    tuple(rng.integers(0, 256, 3)),
                )
                for _ in range(3)
            ],
        )
        assert checker(frame) == reference(entry["code"], frame)


def test_every_benign_entry_has_frames() -> None:
    assert {e["id"] for e in BENIGN} == set(BENIGN_FRAMES)


def test_attack_sample_lines_are_valid_json() -> None:
    for line in (DATA / "attacks-public.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        assert {"id", "category", "code"} <= set(entry)
