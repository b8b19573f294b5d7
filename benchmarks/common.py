"""What every benchmark script shares: its command line and the machine description it records.

Provides:
    parse_dataclass_args: a ``--kebab-case`` option per field of an ``Args`` dataclass, with the
        docstring under each field as its help (booleans get ``--x/--no-x``).
    machine_info: the facts a result needs to be read later: Python and package versions, CPUs,
        load average, platform, time.
    timed_call, balanced_order, summary: one timing sample with the collector off, a Williams
        order for interleaving modes, median and quartiles.
    make_scene, paint, readonly_copy: structured synthetic frames (and rectangles painted onto
        one) and read-only copies of them.
    write_results: a result as STEM.json and STEM.md, the Markdown printed.
    source_digest, git_commit: which sandbox code a run measured.

The scripts stay self-contained otherwise (CleanRL style): one file holds a benchmark's whole logic.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import gc
import importlib.metadata
import inspect
import itertools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "PALETTE",
    "balanced_order",
    "field_docs",
    "git_commit",
    "machine_info",
    "make_scene",
    "paint",
    "parse_dataclass_args",
    "readonly_copy",
    "source_digest",
    "summary",
    "timed_call",
    "write_results",
]

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each dataclass field (read from the source, as tyro does)."""
    try:
        node = ast.parse(inspect.getsource(cls)).body[0]
    except (OSError, TypeError):  # source not available (frozen, interactive)
        return {}
    body = node.body if isinstance(node, ast.ClassDef) else []
    docs: dict[str, str] = {}
    for field, nxt in itertools.pairwise(body):
        if (
            isinstance(field, ast.AnnAssign)
            and isinstance(field.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[field.target.id] = nxt.value.value.strip()
    return docs


def parse_dataclass_args(
    cls: type[T], argv: Sequence[str] | None = None, doc: str | None = None
) -> T:
    """Build a ``cls`` instance from the command line (one ``--kebab-case`` option per field).

    Args:
        cls: a dataclass whose fields all have defaults of type bool, int, float or str.
        argv: the arguments (default: ``sys.argv[1:]``).
        doc: the script's docstring; its first line is the ``--help`` description.
    """
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        if isinstance(default, bool):
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=default, help=docs.get(f.name)
            )
        else:
            help_text = f"{docs.get(f.name, '')} (default: {default!r})"
            parser.add_argument(flag, type=type(default), default=default, help=help_text)
    ns = parser.parse_args(list(argv) if argv is not None else None)
    return cls(**vars(ns))


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info(dists: Sequence[str] = (), **extra: Any) -> dict[str, Any]:
    """Describe this machine and run.

    Args:
        dists: distributions whose installed versions to record (key: the name with ``-`` as
            ``_``, e.g. ``stable_baselines3``); None when one is not installed.
        extra: more keys (e.g. the sandbox's isolation level), recorded as given.
    """
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "vlm_car": _version("vlm-car"),
    }
    info.update({dist.replace("-", "_"): _version(dist) for dist in dists})
    info.update(
        {
            "cpu_count": os.cpu_count(),
            "cpu_affinity": affinity,
            "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "platform": platform.platform(),
            "machine": platform.machine(),
            "processor": platform.processor(),
        }
    )
    info.update(extra)
    info["timestamp"] = datetime.now(UTC).isoformat(timespec="seconds")
    return info


#: colours of the synthetic scenes (MiniGrid-like objects on black)
PALETTE: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0),  # red (agent, blobs)
    (0, 255, 0),  # green (goal)
    (0, 0, 255),  # blue
    (255, 255, 0),  # yellow (key, door)
    (255, 255, 255),  # white
    (200, 40, 40),  # dull red
    (40, 190, 60),  # dull green
)


def make_scene(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A background colour and 1 to 12 rectangles (some striped) from a small palette."""
    f = np.empty((h, w, 3), np.uint8)
    f[...] = rng.integers(0, 200, 3)
    paint(rng, f, int(rng.integers(1, 13)))
    return f


def paint(rng: np.random.Generator, f: np.ndarray, count: int) -> None:
    """Paint ``count`` palette rectangles (some striped) onto ``f`` in place."""
    h, w = f.shape[:2]
    for _ in range(count):
        rh, rw = int(rng.integers(3, max(4, h // 3))), int(rng.integers(3, max(4, w // 3)))
        y0, x0 = int(rng.integers(0, h - rh + 1)), int(rng.integers(0, w - rw + 1))
        step = 2 if rng.random() < 0.2 else 1  # some rectangles are striped (a fence, a grid)
        f[y0 : y0 + rh, x0 : x0 + rw : step] = PALETTE[int(rng.integers(len(PALETTE)))]


def write_results(
    out_dir: Path, stem: str, results: dict[str, Any], markdown: Callable[[dict[str, Any]], str]
) -> None:
    """``STEM.json`` and ``STEM.md`` in ``out_dir`` (created), and the Markdown printed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text = markdown(results)
    (out_dir / f"{stem}.md").write_text(text, encoding="utf-8")
    print(text)


def readonly_copy(a: np.ndarray) -> np.ndarray:
    """A read-only copy (the raw baseline's input, made before timing)."""
    out = a.copy()
    out.flags.writeable = False
    return out


def timed_call(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Wall time of one ``fn()`` in nanoseconds (garbage collector off) and what it returned."""
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        value = fn()
        return time.perf_counter_ns() - t0, value
    finally:
        if gc_was_on:
            gc.enable()


def balanced_order(items: Sequence[T], r: int) -> list[T]:
    """Round ``r``'s order: the rotations of ``items``, then those of the reversed items.

    Over ``2 * len(items)`` rounds every item is first equally often and follows every other item
    equally often (a Williams design), so no mode always runs right after the same other mode.
    """
    k = len(items)
    base = list(items) if (r // k) % 2 == 0 else list(reversed(items))
    return base[r % k :] + base[: r % k]


def summary(samples: Sequence[float]) -> dict[str, float]:
    """Median and inter-quartile points of the samples."""
    if len(samples) >= 2:
        q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    else:
        q1 = q3 = samples[0]
    return {"median": statistics.median(samples), "p25": q1, "p75": q3}


def source_digest() -> str:
    """sha256 of the sandbox package's sources (workers import them afresh at every start)."""
    import hashlib

    import sandbox

    root = Path(sandbox.__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def git_commit() -> str | None:
    """The commit checked out where the sandbox package lives (read only; None without git)."""
    import subprocess

    import sandbox

    root = Path(sandbox.__file__).resolve().parent.parent
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
