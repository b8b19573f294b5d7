"""``vlmcar fuzz PATH... [--examples N] [--frames REAL.npy] [--json]``: admission fuzzing.

Runs :func:`sandbox.fuzz.fuzz_checker` on each checker inside sandbox workers and prints what it
found. Exit 0 when every checker passed, 1 when any was rejected by the audit or by fuzzing, 2 on
usage errors (missing or unreadable files, malformed frames).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from sandbox.audit import audit
from sandbox.diagnostics import format_text

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``fuzz`` arguments to ``parser``."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="checker source files")
    parser.add_argument("--examples", type=int, default=100, help="frames to try (default 100)")
    parser.add_argument(
        "--frames",
        metavar="REAL.npy",
        help="(N, H, W, 3) uint8 frames from real rollouts to start examples from",
    )
    parser.add_argument(
        "--isolation",
        choices=("strict", "process"),
        help="default: the strongest this machine supports",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per checker")
    parser.add_argument("--entry", default="check")


def run(args: argparse.Namespace) -> int:
    """Fuzz every path; return the exit code."""
    from sandbox.fuzz import fuzz_checker

    real = None
    if args.frames:
        try:
            real = np.load(args.frames, allow_pickle=False)
        except (OSError, ValueError) as err:
            print(f"vlmcar fuzz: error: --frames {args.frames}: {err}", file=sys.stderr)
            return 2
        if real.dtype != np.uint8 or real.ndim != 4 or real.shape[-1] != 3:
            print(
                f"vlmcar fuzz: error: --frames must be (N, H, W, 3) uint8, got {real.dtype} "
                f"{real.shape}",
                file=sys.stderr,
            )
            return 2
    failed = False
    for raw in args.paths:
        try:
            source = Path(raw).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            print(f"vlmcar fuzz: error: {raw}: cannot read: {err}", file=sys.stderr)
            return 2
        report = audit(source, path=raw, entry=args.entry)
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
