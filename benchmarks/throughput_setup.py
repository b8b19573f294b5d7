"""The throughput benchmark's inputs: its arguments, the seven checkers, the scenes, machine facts.

Part of ``benchmarks/throughput.py`` (run that script); see its docstring for the whole.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from benchmarks.common import machine_info as common_machine_info
from benchmarks.common import make_scene, paint
from sandbox.pool import strongest_isolation


@dataclass
class Args:
    sizes: str = "64,84,256"
    """comma-separated square frame sides in pixels"""
    batch_sizes: str = "1,8,64"
    """comma-separated batch sizes (frames per call)"""
    checkers: str = ""
    """comma-separated checker ids to run (empty: all seven; see CHECKERS)"""
    scenes: int = 256
    """distinct scenes per frame size (the batches are cut from them; all are checked for agreement)"""
    samples: int = 201
    """most timing samples per checker, size, batch size and mode (one call each)"""
    min_samples: int = 7
    """fewest timing samples per cell, whatever it costs"""
    cell_seconds: float = 2.0
    """timing budget of one cell (checker × size × batch), all modes together"""
    warmup: int = 2
    """untimed calls per mode before a cell is timed (after the agreement pass)"""
    extra_batches: str = "256,1024"
    """bounds section: further batch sizes for the headline checker at 84×84"""
    clip_batches: str = "1,16"
    """comma-separated CLIP batch sizes"""
    clip_samples: int = 5
    """timed CLIP forwards per size and batch size (median reported)"""
    clip_size: int = 84
    """frame size whose CLIP forward is timed (other sizes: their resize is timed and swapped in)"""
    torch_threads: int = 2
    """torch.set_num_threads for the CLIP forward"""
    mem_mib: int = 256
    """buffer size for the read-bandwidth measurement, MiB (at least 256 for a real run)"""
    compile_repeats: int = 2
    """fresh subprocesses per compile scenario (median reported)"""
    seed: int = 1
    """seed of the scene generator"""
    out_dir: str = ""
    """where the results go; empty: benchmarks/results next to this script"""
    compile_probe: str = ""
    """internal: time build_kernel of this checker id in this (fresh) process, print JSON, exit"""
    quick: bool = False
    """smoke mode: 84 px only, batches 64 and 1, 3 checkers, CLIP batch 1 only, short budgets"""


def _int_list(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


def _str_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


# --------------------------------------------------------------------------------------------
# Inputs: checkers and frames
# --------------------------------------------------------------------------------------------

COLOR_CHECKER = "def check(frame):\n    return count_color(frame, (255, 255, 0), 10) > 20\n"

BLOB_CHECKER = """def check(frame):
    mask = color_mask(frame, (255, 0, 0), 30)
    return largest_component(mask) >= frame.shape[0] * frame.shape[1] // 100
"""

CHANGED_CHECKER = """def check(frame, first):
    return changed_fraction(frame, first, 20) > 0.05
"""

MEAN_CHECKER = "def check(frame):\n    return frame[..., 0].mean() > 100\n"

GRID_CHECKER = """def check(frame):
    h = frame.shape[0]
    w = frame.shape[1]
    sy = max(1, h // 16)
    sx = max(1, w // 16)
    bright = 0
    total = 0
    for y in range(0, h, sy):
        for x in range(0, w, sx):
            r = int(frame[y, x, 0])
            g = int(frame[y, x, 1])
            b = int(frame[y, x, 2])
            if r + g + b > 450:
                bright += 1
            total += 1
    return bright * 10 > total
"""

CENTROID_CHECKER = """import math


def check(frame):
    agent = color_mask(frame, (255, 0, 0), 30)
    goal = color_mask(frame, (0, 255, 0), 30)
    if pixel_count(agent) == 0 or pixel_count(goal) == 0:
        return False
    ay, ax = centroid(agent)
    gy, gx = centroid(goal)
    d = math.sqrt((ay - gy) ** 2 + (ax - gx) ** 2)
    return d < 0.35 * frame.shape[0]
"""

SORTED_CHECKER = """def check(frame):
    means = [float(frame[..., c].mean()) for c in range(3)]
    ranked = sorted(means)
    return ranked[2] - ranked[0] > 40
"""

NULL_CHECKER = "def check(frame):\n    return True\n"

#: id -> (source, what it stands for)
CHECKERS: dict[str, tuple[str, str]] = {
    "color_count": (COLOR_CHECKER, "count_color(frame, yellow, 10) > 20 (the headline)"),
    "blob": (BLOB_CHECKER, "color_mask + largest_component >= 1 % of the frame"),
    "changed": (CHANGED_CHECKER, "changed_fraction(frame, first, 20) > 0.05 (two frames)"),
    "channel_mean": (MEAN_CHECKER, "frame[..., 0].mean() > 100"),
    "grid_loop": (GRID_CHECKER, "Python loop over a 16×16 grid of pixels"),
    "centroid": (CENTROID_CHECKER, "red/green centroid distance < 0.35 × height"),
    "sorted_means": (SORTED_CHECKER, "list comprehension + sorted (outside the JIT subset)"),
}
QUICK_CHECKERS = ("color_count", "changed", "sorted_means")
HEADLINE = "color_count"

#: mode key -> column label
MODES: dict[str, str] = {
    "raw": "(a) raw exec",
    "restricted": "(b) RestrictedPython",
    "sandbox": "(c) sandbox",
    "jit": "(d) sandbox + JIT",
    "jit_inproc": "JIT in process",
}


def make_pool(rng: np.random.Generator, n: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` scenes and each one's episode-first frame (the scene before 0 to 3 rectangles moved in)."""
    firsts = np.stack([make_scene(rng, side, side) for _ in range(n)])
    frames = firsts.copy()
    for f in frames:
        paint(rng, f, int(rng.integers(0, 4)))
    return frames, firsts


# --------------------------------------------------------------------------------------------
# Timing helpers
# --------------------------------------------------------------------------------------------


def machine_info(torch_info: dict[str, Any] | None = None) -> dict[str, Any]:
    level, reports = strongest_isolation()
    return common_machine_info(
        ("numba", "torch", "RestrictedPython", "matplotlib"),
        strongest_isolation=level,
        isolation_layers={r.name: r.available for r in reports},
        numba_threading_layer_threads=numba.config.NUMBA_NUM_THREADS,
        torch_runtime=torch_info or {},
    )


@contextlib.contextmanager
def quiet_warnings() -> Iterator[None]:
    """load_unsafe warns on every use (by design); the benchmark uses it deliberately."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def isolation_level() -> tuple[str, str]:
    """The level the sandbox modes use, and why it is not strict (empty when it is)."""
    level, reports = strongest_isolation()
    if level == "strict":
        return "strict", ""
    return level, "; ".join(f"{r.name}: {r.detail}" for r in reports if not r.available)
