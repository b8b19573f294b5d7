"""Held-out model-style checkers (tests/sandbox/data/heldout*): sandbox == raw exec on every frame.

``heldout``: 30 checkers written by a helper agent in GPT-4o, Claude and Qwen-VL styles *after* the
JIT lowering of comprehensions, sequence loops and nested functions was built, without reading
the main corpus, so they measure what the kernel generator does on checkers it was not written
against (see the data README). Each runs in a real strict :class:`sandbox.Sandbox` with the JIT on
over the recorded frames of all five corpus environments, and its answers must equal plain
``exec`` with real numpy on every frame, whichever path it ran on. The path is printed, never
asserted. ``heldout2``: 30 more, written by another helper on 2026-12-07 after sorted(), loops over
appended lists and private names were added, without seeing the kernel generator, the corpus or
the first set. Marked ``long`` (60 cold kernel builds): ``make test-long`` runs it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sandbox.audit import audit
from sandbox.pool import Sandbox
from tools import build_corpus as BUILD

pytestmark = pytest.mark.long

DATA = Path(__file__).parent / "data"
SETS = {name: sorted((DATA / name).glob("[0-9][0-9]_*.py")) for name in ("heldout", "heldout2")}
#: Checkers the audit refuses, with the reason (fed back to the model in the pipeline).
REFUSED = {"19_claude_no_locked_doors.py": "M204"}  # a module constant built by a comprehension
ENVS = sorted(
    {"MiniGrid-DoorKey-5x5-v0", "MiniGrid-DoorKey-8x8-v0", "MiniGrid-UnlockPickup-v0",
     "MiniGrid-KeyCorridorS3R1-v0", "PandaPush-v3"}
)  # fmt: skip


def _audited(set_name: str) -> list[Path]:
    return [p for p in SETS[set_name] if not (set_name == "heldout2" and p.name in REFUSED)]


@pytest.mark.parametrize("set_name", sorted(SETS))
def test_heldout_checkers_audit_clean(set_name: str) -> None:
    files = SETS[set_name]
    assert len(files) >= 30
    found = {p.name: audit(p.read_text("utf-8")).codes for p in files}
    refused = {k: v for k, v in found.items() if v}
    expected = {k: v for k, v in REFUSED.items() if set_name == "heldout2"}
    assert {k: expected.get(k) in v for k, v in refused.items()} == dict.fromkeys(expected, True)


@pytest.mark.parametrize("set_name", sorted(SETS))
@pytest.mark.parametrize("env_id", ENVS)
def test_heldout_sandbox_answers_equal_raw_exec(set_name: str, env_id: str) -> None:
    with np.load(BUILD.frames_path(env_id)) as data:
        frames, firsts = data["frames"], data["firsts"]
    files = _audited(set_name)
    names = [p.name for p in files]
    sources = [p.read_text("utf-8") for p in files]
    with Sandbox(sources, names=names, isolation=None, timeout=30.0) as box:
        result = box.evaluate(frames, firsts)
        modes = box.jit_modes
    wrong = {}
    for i, (name, source) in enumerate(zip(names, sources, strict=True)):
        expected = BUILD.raw_answers(source, frames, firsts)
        assert result.statuses[i] == "ok", (name, result.statuses[i], result.details[i])
        got = [bool(v) for v in result.results[i]]
        if got != expected:
            wrong[name] = [k for k, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    on_jit = sum(mode == "jit" for mode, _ in modes)
    print(f"\n{set_name} {env_id}: JIT {on_jit} of {len(names)}")
    for name, (mode, why) in zip(names, modes, strict=True):
        if mode != "jit":
            print(f"  {name}: {why.splitlines()[0][:110]}")
    assert not wrong, f"sandbox and raw exec differ on frames: {wrong}"
