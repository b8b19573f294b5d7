"""``vlmcar demo``: the offline main job (for now: audit and sandbox the bundled example checkers).

Audits every example checker shipped in ``sandbox/examples`` and prints the findings, runs the
accepted ones in an isolated worker on synthetic MiniGrid-like frames (a grey-walled room with a
yellow key, a green goal and a red agent), then shows what happens to checkers that break the rules
at run time: an in-process budget, a worker killed on its deadline and replaced, a contract breach.
It needs no network and no GPU. The demo grows with the synthesis and RL issues.
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib import resources

import numpy as np
from numpy.typing import NDArray

from sandbox.audit import audit
from sandbox.budgets import Budgets
from sandbox.checker import compile_checker
from sandbox.diagnostics import format_text
from sandbox.errors import CheckerRuntimeError
from sandbox.pool import Sandbox

__all__ = ["configure", "room_frame", "run"]

_SPINNER = """
def check(frame):
    n = 0
    while n >= 0:
        n = n + 1
    return True
"""

_CONTRACT_BREAKER = """
def check(frame):
    return frame.mean()
"""

_RUNTIME_VIOLATOR = """
def check(frame):
    total = 0
    for value in range(10 ** 9):
        total += value
    return total > 0
"""


def room_frame(
    *, key: bool, agent_x: int, goal: bool = True, size: int = 8, tile: int = 8
) -> NDArray[np.uint8]:
    """Draw a small MiniGrid-like room (highlight off) as an RGB uint8 frame.

    Args:
        key: draw the yellow key on the floor.
        agent_x: the agent's column (in tiles).
        goal: draw the green goal in the bottom-right corner.
        size: room side in tiles, walls included.
        tile: tile side in pixels.

    Returns:
        A (size*tile, size*tile, 3) uint8 frame.

    Example:
        >>> room_frame(key=True, agent_x=2).shape
        (64, 64, 3)
    """
    f = np.zeros((size * tile, size * tile, 3), np.uint8)
    f[:tile], f[-tile:], f[:, :tile], f[:, -tile:] = 100, 100, 100, 100

    def fill(ty: int, tx: int, rgb: tuple[int, int, int]) -> None:
        f[ty * tile + 1 : (ty + 1) * tile - 1, tx * tile + 1 : (tx + 1) * tile - 1] = rgb

    fill(3, size // 2, (255, 255, 0))  # the door is yellow too
    if key:
        fill(2, 2, (255, 255, 0))
    if goal and agent_x != size - 2:
        fill(size - 2, size - 2, (0, 255, 0))
    fill(size - 2 if agent_x == size - 2 else 1, agent_x, (255, 0, 0))
    return f


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` arguments to ``parser`` (none yet)."""


def run(args: argparse.Namespace) -> int:
    """Run the demo and return 0."""
    out = sys.stdout
    examples = sorted(
        (
            p
            for p in resources.files("sandbox.examples").iterdir()
            if p.name.endswith(".py") and not p.name.startswith("_")
        ),
        key=lambda p: p.name,
    )
    print("== 1. Static audit of the bundled example checkers ==", file=out)
    reports = [audit(p.read_text(encoding="utf-8"), path=f"examples/{p.name}") for p in examples]
    format_text(reports, out, verbose=True)

    print("\n== 2. Accepted checkers, run behind the process boundary ==", file=out)
    start = room_frame(key=True, agent_x=1)
    frames = np.stack([start, room_frame(key=False, agent_x=3), room_frame(key=False, agent_x=6)])
    firsts = np.repeat(start[None], len(frames), axis=0)
    labels = ["start (key on floor)", "key taken, agent mid-room", "agent on the goal"]
    accepted = [r for r in reports if r.ok]
    t0 = time.perf_counter()
    with Sandbox([r.source for r in accepted], names=[r.path for r in accepted]) as box:
        started = time.perf_counter() - t0
        layers = ", ".join(layer.name for layer in box.layers if layer.available)
        print(f"isolation: {box.isolation} ({layers}); worker started in {started:.2f} s", file=out)
        box.evaluate(frames, firsts)  # warm
        result = box.evaluate(frames, firsts)
        for report, row, status in zip(accepted, result.results, result.statuses, strict=True):
            shown = ", ".join(f"{lab}={bool(v)}" for lab, v in zip(labels, row, strict=True))
            print(f"{report.path}: {status}: {shown}", file=out)
        print(
            f"one batch ({len(accepted)} checkers x {len(frames)} frames, process hop included): "
            f"{result.seconds * 1e3:.2f} ms",
            file=out,
        )

    print("\n== 3. Checkers that pass the audit but misbehave at run time ==", file=out)
    runaway = compile_checker(_RUNTIME_VIOLATOR, path="runaway.py")
    t0 = time.perf_counter()
    try:
        runaway(start)
    except CheckerRuntimeError as err:
        print(
            f"in-process budget stopped it after {time.perf_counter() - t0:.2f} s: {err}", file=out
        )
    with Sandbox(
        [_SPINNER, _CONTRACT_BREAKER],
        names=["spinner.py", "returns_float.py"],
        timeout=1.0,
        budgets=Budgets(max_iterations=10**12),
    ) as box:
        pid = box.worker_pid
        t0 = time.perf_counter()
        result = box.evaluate(frames)
        for status, detail in zip(result.statuses, result.details, strict=True):
            print(f"  {status}: {detail}", file=out)
        print(
            f"worker {pid} killed and replaced by {box.worker_pid} in "
            f"{time.perf_counter() - t0:.2f} s (deadline 1.0 s); training would go on",
            file=out,
        )
    print("\nNext: `vlmcar audit --rules` for the rule table; see README.md for the API.", file=out)
    return 0
