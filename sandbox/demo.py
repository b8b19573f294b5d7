"""``vlmcar demo``: the offline main job (for now: audit and run the bundled example checkers).

Audits every example checker shipped in ``sandbox/examples``, prints the findings, compiles the
accepted ones and runs them on synthetic MiniGrid-like frames (a grey-walled room with a yellow key,
a green goal and a red agent), then shows what happens to a checker that breaks the rules at run
time. It needs no network and no GPU. The demo grows with the synthesis and RL issues.
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib import resources

import numpy as np
from numpy.typing import NDArray

from sandbox.audit import audit
from sandbox.checker import compile_checker
from sandbox.diagnostics import format_text
from sandbox.errors import CheckerRuntimeError

__all__ = ["configure", "room_frame", "run"]

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

    print("\n== 2. Accepted checkers on synthetic frames ==", file=out)
    start = room_frame(key=True, agent_x=1)
    frames = np.stack([start, room_frame(key=False, agent_x=3), room_frame(key=False, agent_x=6)])
    labels = ["start (key on floor)", "key taken, agent mid-room", "agent on the goal"]
    for report in reports:
        if not report.ok:
            continue
        checker = compile_checker(report.source, path=report.path)
        firsts = np.repeat(start[None], len(frames), axis=0)
        t0 = time.perf_counter()
        results = checker.batch(frames, firsts)
        dt = (time.perf_counter() - t0) / len(frames)
        shown = ", ".join(f"{lab}={bool(r)}" for lab, r in zip(labels, results, strict=True))
        print(f"{report.path}: {shown}   ({dt * 1e6:.0f} µs/frame)", file=out)

    print("\n== 3. A checker that passes the audit but runs away at run time ==", file=out)
    runaway = compile_checker(_RUNTIME_VIOLATOR, path="runaway.py")
    t0 = time.perf_counter()
    try:
        runaway(start)
    except CheckerRuntimeError as err:
        print(f"stopped after {time.perf_counter() - t0:.2f} s: {err}", file=out)
    print("\nNext: `vlmcar audit --rules` for the rule table; see README.md for the API.", file=out)
    return 0
