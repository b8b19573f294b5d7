"""``vlmcar check`` (run one checker on frames in the sandbox) and ``vlmcar doctor``.

``vlmcar check PATH --frames FRAMES.npy [--first FIRST.npy] [--isolation LEVEL] [--timeout S]``
prints ``{"results": [...], "isolation": ..., "status": ..., "detail": ...}`` as JSON and exits 0 when
the checker answered, 1 when the audit rejected it, 3 on a run-time violation, limit, timeout, crash
or contract breach (``status`` says which), 2 on usage errors (unreadable files, bad frames, a
non-positive ``--timeout``, a ``check(frame, first)`` checker without ``--first``).

``vlmcar doctor [--json]`` prints which isolation layers this machine supports and what ``strict``
would use.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from typing import Any

import numpy as np

from sandbox.audit import audit
from sandbox.diagnostics import format_text
from sandbox.errors import FileRefused, FrameError, IsolationUnavailable, SandboxError
from sandbox.oslimits import probe
from sandbox.safeio import load_npy, read_text
from vlmcar.args import UsageError, existing_file, identifier, positive_float

__all__ = ["configure", "configure_doctor", "entry_arity", "require_first", "run", "run_doctor"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``check`` arguments to ``parser``."""
    parser.add_argument("path", metavar="PATH", type=existing_file, help="checker source file")
    parser.add_argument(
        "--frames",
        required=True,
        type=existing_file,
        metavar="FRAMES.npy",
        help="(N, H, W, 3) or (H, W, 3) uint8 array saved with numpy.save",
    )
    parser.add_argument(
        "--first",
        type=existing_file,
        metavar="FIRST.npy",
        help="first frame(s) of the episode, same shape as --frames or (H, W, 3); required for "
        "a check(frame, first) checker",
    )
    parser.add_argument(
        "--isolation",
        choices=("strict", "process", "inprocess"),
        help="default: the strongest this machine supports",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=5.0,
        help="seconds the checker may take over the batch (default 5)",
    )
    parser.add_argument(
        "--entry", type=identifier, default="check", help="entry function (default: check)"
    )


def entry_arity(source: str, entry: str = "check") -> int:
    """How many parameters the module-level ``entry`` function takes (1 or 2), from the AST.

    The source is only parsed, never compiled or run. Call it on audited sources (the audit has
    already refused one without the entry or with another signature); 1 when it cannot tell.

    Example:
        >>> entry_arity("def check(frame, first):\\n    return True\\n")
        2
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return 1
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry:
            return len(node.args.posonlyargs) + len(node.args.args)
    return 1


def require_first(path: str, source: str, entry: str, given: bool, command: str) -> None:
    """Refuse a ``check(frame, first)`` checker when no first frame was given.

    Without one the checker would get each frame as its own first frame and answer as if nothing
    had changed since the episode began: a silently wrong answer.

    Raises:
        UsageError: the checker takes ``first`` and ``given`` is False.
    """
    if not given and entry_arity(source, entry) >= 2:
        raise UsageError(
            f"{path}: {entry}(frame, first) compares each frame with the episode's first frame; "
            f"give it with --first FIRST.npy (one (H, W, 3) frame for all, or one per frame). "
            f"Without it `vlmcar {command}` would pass every frame as its own first frame and "
            "the answers would mean nothing"
        )


def _load(path: str, what: str) -> np.ndarray[Any, Any]:
    array = load_npy(path, label=what)  # FileRefused: a FIFO, too large, a lying header, ...
    if array.ndim == 3:
        array = array[None]
    return np.asarray(array)


def run(args: argparse.Namespace) -> int:
    """Run one checker on the frames in a sandbox and print JSON; return the exit code."""
    from sandbox.pool import Sandbox

    try:
        source = read_text(args.path, kind="checker")
    except FileRefused as err:
        print(f"vlmcar check: error: {err}", file=sys.stderr)
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
    require_first(args.path, source, args.entry, bool(args.first), "check")
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
    except (FrameError, FileRefused) as err:
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
