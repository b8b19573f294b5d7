"""``vlmcar check`` (run one checker on frames in the sandbox) and ``vlmcar doctor``.

``vlmcar check PATH --frames FRAMES.npy [--first FIRST.npy] [--isolation LEVEL] [--timeout S]``
prints ``{"results": [...], "isolation": ..., "status": ..., "detail": ...}`` as JSON and exits 0 when
the checker answered, 1 when the audit rejected it, 3 on a run-time violation, limit, timeout, crash
or contract breach (``status`` says which), 2 on usage errors (unreadable files, bad frames).

``vlmcar doctor [--json]`` prints which isolation layers this machine supports and what ``strict``
would use.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from sandbox.audit import audit
from sandbox.diagnostics import format_text
from sandbox.errors import FrameError, IsolationUnavailable, SandboxError
from sandbox.oslimits import probe

__all__ = ["configure", "configure_doctor", "run", "run_doctor"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``check`` arguments to ``parser``."""
    parser.add_argument("path", metavar="PATH", help="checker source file")
    parser.add_argument(
        "--frames",
        required=True,
        metavar="FRAMES.npy",
        help="(N, H, W, 3) or (H, W, 3) uint8 array saved with numpy.save",
    )
    parser.add_argument(
        "--first",
        metavar="FIRST.npy",
        help="first frame(s) of the episode, same shape as --frames or (H, W, 3)",
    )
    parser.add_argument(
        "--isolation",
        choices=("strict", "process", "inprocess"),
        help="default: the strongest this machine supports",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="seconds the checker may take over the batch (default 5)",
    )
    parser.add_argument("--entry", default="check")


def _load(path: str, what: str) -> np.ndarray[Any, Any]:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise FrameError(what, f"cannot load {path!r}: {err}") from None
    if isinstance(array, np.ndarray) and array.ndim == 3:
        array = array[None]
    return np.asarray(array)


def run(args: argparse.Namespace) -> int:
    """Run one checker on the frames in a sandbox and print JSON; return the exit code."""
    from sandbox.pool import Sandbox

    try:
        source = Path(args.path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        print(f"vlmcar check: error: {args.path}: cannot read: {err}", file=sys.stderr)
        return 2
    report = audit(source, path=args.path, entry=args.entry)
    if not report.ok:
        format_text([report], sys.stderr)
        out = {
            "results": None,
            "isolation": args.isolation,
            "status": "rejected",
            "detail": f"{len(report.findings)} audit finding(s)",
            "findings": [f.to_json() for f in report.findings],
        }
        print(json.dumps(out))
        return 1
    try:
        frames = _load(args.frames, "--frames")
        firsts = _load(args.first, "--first") if args.first else None
        if firsts is not None and firsts.shape[0] == 1 and frames.shape[0] > 1:
            firsts = np.repeat(firsts, frames.shape[0], axis=0)
        with Sandbox(
            [source],
            names=[args.path],
            entry=args.entry,
            isolation=args.isolation,
            timeout=args.timeout,
            spare=False,
        ) as box:
            result = box.evaluate(frames, firsts)
            isolation = box.isolation
    except FrameError as err:
        print(f"vlmcar check: error: {err}", file=sys.stderr)
        return 2
    except IsolationUnavailable as err:
        print(f"vlmcar check: error: {err}", file=sys.stderr)
        return 2
    except SandboxError as err:
        print(
            json.dumps(
                {
                    "results": None,
                    "isolation": args.isolation,
                    "status": "error",
                    "detail": str(err),
                }
            )
        )
        return 3
    status = result.statuses[0]
    out = {
        "results": result.results[0].tolist() if status == "ok" else None,
        "isolation": isolation,
        "status": status,
        "detail": result.details[0],
    }
    print(json.dumps(out))
    if status != "ok":
        print(f"vlmcar check: {result.details[0]}", file=sys.stderr)
    return 0 if status == "ok" else 3


def configure_doctor(parser: argparse.ArgumentParser) -> None:
    """Add the ``doctor`` arguments to ``parser``."""
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run_doctor(args: argparse.Namespace) -> int:
    """Print which isolation layers this machine supports and what ``strict`` needs; return 0.

    One row per layer of :data:`sandbox.oslimits.LAYERS` and one for the seal, each tried for
    real in a throw-away child (:func:`sandbox.oslimits.probe`); then the Landlock ABI, whether
    workers can drop to uid 65534 (and why not), and the layers ``strict`` requires here
    (:func:`sandbox.oslimits.required_layers`, plus the seal).
    """
    from sandbox.landlock import abi_version, default_read_paths
    from sandbox.oslimits import required_layers
    from sandbox.privileges import NOBODY, uid_drop_blocker

    reports = probe()
    available = {r.name for r in reports if r.available}
    required = [*required_layers(reports), "seal"]
    missing = [name for name in required if name not in available]
    strict = not missing
    default = "strict" if strict else "process"
    try:
        abi: int | None = abi_version()
        abi_text = f"ABI {abi}"
    except OSError as err:
        abi, abi_text = None, f"unavailable ({err})"
    blocker = uid_drop_blocker(default_read_paths())
    if args.json:
        print(
            json.dumps(
                {
                    "layers": [
                        {"name": r.name, "available": r.available, "detail": r.detail}
                        for r in reports
                    ],
                    "landlock_abi": abi,
                    "uid_drop": {"possible": blocker is None, "uid": NOBODY, "reason": blocker},
                    "strict_requires": required,
                    "strict_missing": missing,
                    "strict_available": strict,
                    "default_isolation": default,
                },
                indent=2,
            )
        )
        return 0
    print("vlmcar doctor: isolation layers on this machine\n")
    for r in reports:
        print(f"  [{'x' if r.available else ' '}] {r.name:<15} {r.detail}")
    print()
    print(f"Landlock: {abi_text}")
    if blocker is None:
        print(f"uid drop: possible (workers run as uid/gid {NOBODY}, without capabilities)")
    else:
        print(f"uid drop: not possible: {blocker}; workers keep uid 0, without capabilities")
    print(f"strict requires here: {', '.join(required)}")
    print()
    if strict:
        print(
            "strict isolation is available and is the default: every required layer is applied "
            "in each worker, and a worker refuses to start if one fails."
        )
    else:
        print(
            f"strict isolation is NOT available (missing: {', '.join(missing)}); the default is "
            "'process' (separate process + rlimits + thread pinning). `--isolation strict` will "
            "refuse to start."
        )
    return 0
