"""``vlmcar bench [--quick] [--json PATH] [--out-dir DIR]``: the reward-throughput benchmark.

Runs ``benchmarks/throughput.py`` (frames/s of checkers raw, under RestrictedPython, behind the
sandbox with and without the JIT, against a CLIP-sized image tower and the memory-read bound) and
prints its Markdown report. The benchmark lives in the source checkout, not in the installed
package, so this command needs the repository (it looks next to the ``sandbox`` package).

Results go to ``--out-dir``; by default a full run refreshes ``benchmarks/results/`` and a ``--quick``
run writes to a fresh temporary directory, so that rough numbers never overwrite the recorded ones.
``--json PATH`` also writes the results as JSON to ``PATH``.

Exit 0 when the run finished and every mode gave the same answer on every frame, 1 when answers
disagreed, 2 when the benchmark script cannot be found or the results cannot be written (a
``--json`` that is a directory or an ``--out-dir`` that is a file is refused before the run).
Timings are never turned into an exit code.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from vlmcar.args import output_dir, output_file

__all__ = ["benchmark_argv", "configure", "load_benchmark", "run", "script_path"]

_MODULE_NAME = "vlmcar_benchmarks_throughput"


def script_path() -> Path:
    """Where ``benchmarks/throughput.py`` is expected: in the checkout that holds ``sandbox``."""
    return Path(__file__).resolve().parent.parent / "benchmarks" / "throughput.py"


def load_benchmark(path: Path | None = None) -> ModuleType:
    """Import the benchmark script as a module (it is a script, not part of the package).

    Raises:
        FileNotFoundError: when the script is not there (an installed package without the
            repository).
    """
    path = path or script_path()
    if not path.is_file():
        raise FileNotFoundError(str(path))
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module  # dataclasses and inspect look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(_MODULE_NAME, None)
        raise
    return module


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` arguments to ``parser``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 84 px, batches 64 and 1, 3 checkers (under a minute, rough numbers)",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        type=output_file,
        help="also write the results as JSON to PATH (a file; checked before the run)",
    )
    parser.add_argument(
        "--out-dir",
        metavar="DIR",
        type=output_dir,
        help="where throughput.{json,md,png} go (default: benchmarks/results for a full run, "
        "a temporary directory for --quick)",
    )


def benchmark_argv(args: argparse.Namespace, out_dir: str) -> list[str]:
    """The benchmark's own command line for these ``vlmcar bench`` arguments."""
    argv = ["--out-dir", out_dir]
    if args.quick:
        argv.insert(0, "--quick")
    return argv


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; return the exit code (see the module docstring)."""
    try:
        module = load_benchmark()
    except FileNotFoundError as err:
        print(
            f"vlmcar bench: error: benchmark script not found at {err}; run it from a source "
            "checkout of vlm-car",
            file=sys.stderr,
        )
        return 2
    if args.out_dir:
        out_dir = args.out_dir
    elif args.quick:
        out_dir = tempfile.mkdtemp(prefix="vlmcar-bench-")
    else:
        out_dir = str(script_path().parent / "results")
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"vlmcar bench: error: cannot create {out_dir}: {err}", file=sys.stderr)
        return 2
    main = cast(Callable[[list[str]], dict[str, Any]], module.main)
    results = main(benchmark_argv(args, out_dir))
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        except OSError as err:
            print(f"vlmcar bench: error: cannot write {args.json}: {err}", file=sys.stderr)
            return 2
        print(f"wrote {args.json}")
    agree = bool(results.get("summary", {}).get("all_agree", False))
    if not agree:
        print("vlmcar bench: the modes disagreed on some frame's answer", file=sys.stderr)
    return 0 if agree else 1
