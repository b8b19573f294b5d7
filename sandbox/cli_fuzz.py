"""``vlmcar fuzz PATH... [--examples N] [--frames REAL.npy] [--first FIRST.npy] [--json]``.

Runs :func:`sandbox.fuzz.fuzz_checker` (admission fuzzing) on each checker inside sandbox workers
and prints what it found. Every input is checked before the first checker is fuzzed. Exit 0 when
every checker passed, 1 when any was rejected by the audit or by fuzzing, 2 on usage errors
(missing or unreadable files, malformed or empty frames, ``--examples`` < 1, a
``check(frame, first)`` checker without ``--first``).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from sandbox.audit import audit
from sandbox.cli_check import require_first
from sandbox.diagnostics import format_text
from sandbox.errors import FileRefused
from sandbox.safeio import load_npy, read_text
from vlmcar.args import UsageError, existing_file, identifier, positive_int

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``fuzz`` arguments to ``parser``."""
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", type=existing_file, help="checker source files"
    )
    parser.add_argument(
        "--examples", type=positive_int, default=100, help="frames to try (default 100)"
    )
    parser.add_argument(
        "--frames",
        type=existing_file,
        metavar="REAL.npy",
        help="(N, H, W, 3) uint8 frames from real rollouts to start examples from",
    )
    parser.add_argument(
        "--first",
        type=existing_file,
        metavar="FIRST.npy",
        help="(M, H, W, 3) or (H, W, 3) uint8 first frames of real episodes, paired with the "
        "examples as `first`; required for check(frame, first) checkers (synthetic frames then "
        "take their size)",
    )
    parser.add_argument(
        "--isolation",
        choices=("strict", "process"),
        help="default: the strongest this machine supports",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per checker")
    parser.add_argument(
        "--entry", type=identifier, default="check", help="entry function (default: check)"
    )


def _frames(path: str, label: str) -> np.ndarray:
    """(N, H, W, 3) uint8 frames from ``path`` ((H, W, 3) becomes one frame), N >= 1."""
    array = load_npy(path, label=label)  # FileRefused: a FIFO, too large, a lying header, ...
    if array.ndim == 3:
        array = array[None]
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3:
        raise UsageError(
            f"{label} {path}: must be (N, H, W, 3) uint8, got {array.dtype} {array.shape}; "
            "convert with np.asarray(x, dtype=np.uint8)"
        )
    if not len(array):
        raise UsageError(f"{label} {path}: holds no frames; give N >= 1 or leave {label} out")
    return array


def run(args: argparse.Namespace) -> int:
    """Fuzz every path; return the exit code."""
    from sandbox.fuzz import fuzz_checker

    try:  # every input is read and checked before the first checker is fuzzed
        real = _frames(args.frames, "--frames") if args.frames else None
        firsts = _frames(args.first, "--first") if args.first else None
        sources = [read_text(raw, kind="checker") for raw in args.paths]
    except FileRefused as err:
        print(f"vlmcar fuzz: error: {err}", file=sys.stderr)
        return 2
    if real is not None and firsts is not None and real.shape[1:3] != firsts.shape[1:3]:
        raise UsageError(
            f"--frames are {real.shape[1]}x{real.shape[2]} pixels but --first "
            f"{firsts.shape[1]}x{firsts.shape[2]}: a frame and its episode's first frame have "
            "one size"
        )
    reports = [
        audit(source, path=raw, entry=args.entry)
        for raw, source in zip(args.paths, sources, strict=True)
    ]
    for raw, source, report in zip(args.paths, sources, reports, strict=True):
        if report.ok:
            require_first(raw, source, args.entry, firsts is not None, "fuzz")
    failed = False
    for raw, source, report in zip(args.paths, sources, reports, strict=True):
        if not report.ok:
            format_text([report], sys.stdout)
            failed = True
            continue
        result = fuzz_checker(
            source,
            path=raw,
            entry=args.entry,
            examples=args.examples,
            real_frames=real,
            first_frames=firsts,
            isolation=args.isolation,
        )
        failed |= not result.ok
        if args.json:
            print(
                json.dumps(
                    {
                        "path": raw,
                        "ok": result.ok,
                        "examples": result.examples,
                        "problems": [p.describe() for p in result.problems],
                        "warnings": list(result.warnings),
                        "fire_rate": result.fire_rate,
                        "us_per_frame": result.us_per_frame,
                        "jit": result.jit,
                        "isolation": result.isolation,
                    }
                )
            )
            continue
        verdict = "ok" if result.ok else "REJECTED"
        print(
            f"{raw}: {verdict}: {result.examples} frames, fires on {result.fire_rate:.0%}, "
            f"{result.us_per_frame:,.1f} µs/frame, {result.jit}, isolation {result.isolation}"
        )
        for problem in result.problems:
            print(f"  problem: {problem.describe()}")
        for warning in result.warnings:
            print(f"  warning: {warning}")
    return 1 if failed else 0
