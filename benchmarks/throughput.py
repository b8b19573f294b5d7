"""Reward throughput: frames/s of code checkers (raw, restricted, sandboxed, JIT) against CLIP and memory.

What it measures, all in one run (so every ratio compares numbers taken on the same machine, minutes
apart):

1. Frames/s of seven representative checkers (a colour count, a blob size, a first-frame change,
   a channel mean, a per-pixel loop over a downsampled grid, a centroid distance, and one that is
   outside the JIT subset: a list comprehension and ``sorted``) on ``--sizes`` square structured
   scenes at ``--batch-sizes`` frames per call, in five modes:
   * (a) raw: the same source loaded with :func:`sandbox.baseline.load_unsafe` (plain ``exec``,
     no sandbox, what Text2Reward-style engines do), called once per frame on read-only copies
     made beforehand;
   * (b) restricted: ``compile_checker(source).batch(frames)`` (RestrictedPython, guards, budgets,
     one immutable copy of the batch) in this process;
   * (c) sandbox: ``Sandbox([source], isolation=<strongest>, jit=False).evaluate(frames)`` (a worker
     process behind every isolation layer the machine supports, frames through shared memory);
   * (d) sandbox + JIT: the same with ``jit=True`` (the worker runs the Numba kernel when the checker
     fits the subset and agrees with the interpreter; otherwise it says why, and (d) is the
     interpreter path again);
   * diagnostic: ``compile_checker(source, jit=True).batch(frames)`` in this process (kernel plus
     the immutable copy, no process hop), for checkers that get a kernel.
   Each sample times one call; the modes are interleaved in a balanced rotating order (each mode
   follows each other mode equally often), the batch is drawn in turn from a pool of distinct
   scenes, and the median and IQR are reported. The number of samples adapts to the cell's cost
   (``--min-samples`` to ``--samples``, about ``--cell-seconds`` per cell). GC is off while timing.
   Every answer of every mode, in the untimed pass over the whole pool and in every timed call, is
   compared with the raw answer (``agree`` in the results).
2. (e) A CLIP ViT-B/32-shaped image tower in torch (random weights, built here from ``torch.nn``:
   patch-32 convolution 3→768 at 224×224, 12 pre-norm transformer blocks of width 768 with 12 heads
   and MLP 3072, projection to 512), ``torch.set_num_threads(--torch-threads)``, frames resized with
   ``torch.nn.functional.interpolate``: seconds per frame at batch 1 and 16, timed on
   ``--clip-size`` frames; for the other sizes the resize alone is timed and swapped in.
3. (f) The memory-read bound: the single-thread read bandwidth of a Numba loop over a
   ``--mem-mib`` MiB buffer (best of 5), and bytes read per frame ÷ bandwidth.
4. Bounds of the headline (colour count, 84×84): the bare kernel, the kernel in process, the copy
   into shared memory, a ``return True`` checker behind the sandbox (the fixed cost of one batch) and
   the colour count behind the sandbox, at the main batch sizes and at ``--extra-batches``.
5. JIT compile cost: ``build_kernel`` of the colour count in a fresh subprocess with an empty
   ``VLMCAR_CACHE_DIR`` (new checker, Numba's cache of the vision helpers as installed), then again
   with the same directory (cached), and with ``NUMBA_CACHE_DIR`` empty too (nothing cached).

The experiments live one per file, each reading top to bottom; this script holds the command
line and the run order:

- ``throughput_setup.py``: the arguments, the seven checkers, the scenes, machine facts;
- ``throughput_checkers.py``: experiment 1 (the five modes, balanced interleaved timing);
- ``throughput_clip.py``: experiment 2 (the CLIP-shaped tower);
- ``throughput_bounds.py``: experiments 3 and 4 (the read bound, the bounds of the headline);
- ``throughput_compile.py``: experiment 5 (compile cost in fresh processes);
- ``throughput_report.py``: derived ratios, targets, the Markdown report and the plot.

Writes ``throughput.json``, ``throughput.md`` and ``throughput.png`` to ``--out-dir`` (default:
``benchmarks/results`` next to this script). Timings are never asserted; the targets are reported as
reached or not, with what bounds them.

Usage:
    python benchmarks/throughput.py            # full run (about five minutes)
    python benchmarks/throughput.py --quick    # smoke run (under a minute)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import sandbox
from sandbox.errors import IsolationUnavailable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from benchmarks.common import git_commit, parse_dataclass_args, source_digest  # noqa: E402
from benchmarks.throughput_bounds import (  # noqa: E402
    measure_bounds,
    measure_memory,
)
from benchmarks.throughput_checkers import (  # noqa: E402
    measure_checker,
)
from benchmarks.throughput_clip import (  # noqa: E402
    measure_clip,
)
from benchmarks.throughput_compile import (  # noqa: E402
    compile_probe,
    measure_compile,
)
from benchmarks.throughput_report import (  # noqa: E402
    derive,
    fmt_fps,
    fmt_ratio,
    markdown,
    plot,
    targets,
)
from benchmarks.throughput_setup import (  # noqa: E402
    CHECKERS,
    HEADLINE,
    MODES,
    QUICK_CHECKERS,
    Args,
    _int_list,
    _str_list,
    isolation_level,
    machine_info,
    make_pool,
)

SCRIPT = Path(__file__).resolve()


def parse_args(argv: Sequence[str] | None = None) -> Args:
    """Build an :class:`Args` from the command line (one ``--kebab-case`` option per field)."""
    return parse_dataclass_args(Args, argv, __doc__)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.compile_probe:  # internal: one fresh-process compile timing
        result = compile_probe(args.compile_probe)
        print(json.dumps(result))
        return result
    if args.quick:
        args = dataclasses.replace(
            args,
            sizes="84",
            batch_sizes="64,1",
            checkers=args.checkers or ",".join(QUICK_CHECKERS),
            scenes=min(args.scenes, 64),
            samples=min(args.samples, 21),
            min_samples=min(args.min_samples, 3),
            cell_seconds=min(args.cell_seconds, 0.6),
            warmup=1,
            extra_batches="",
            clip_batches="1",
            clip_samples=min(args.clip_samples, 2),
            compile_repeats=1,
        )
    out_dir = Path(args.out_dir) if args.out_dir else HERE / "results"
    ids = _str_list(args.checkers) or list(CHECKERS)
    unknown = [c for c in ids if c not in CHECKERS]
    if unknown:
        raise SystemExit(
            f"unknown checker id(s): {', '.join(unknown)}; choose from {list(CHECKERS)}"
        )

    # seeding
    random.seed(args.seed)
    np.random.seed(args.seed)
    rng = np.random.default_rng(args.seed)

    # inputs
    # at least one full batch of distinct scenes at every batch size
    n_scenes = max(args.scenes, *_int_list(args.batch_sizes))
    pools = {side: make_pool(rng, n_scenes, side) for side in _int_list(args.sizes)}
    level, why_not_strict = isolation_level()
    load_at_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    digest_before = source_digest()
    t_start = time.perf_counter()
    logging.getLogger("sandbox.pool").setLevel(logging.WARNING)

    # 1. checkers; 4. bounds; 3. memory; 5. compile; 2. CLIP last (torch's threads stay around)
    rows: list[dict[str, Any]] = []
    checkers: dict[str, dict[str, Any]] = {}
    for cid in ids:
        try:
            cid_rows, info = measure_checker(cid, pools, level, args)
        except IsolationUnavailable as err:  # the probe said yes but the worker said no
            why_not_strict = f"worker refused: {err}"
            level = "process"
            cid_rows, info = measure_checker(cid, pools, level, args)
        rows += cid_rows
        checkers[cid] = info
    sections = {"checkers": time.perf_counter() - t_start}
    t = time.perf_counter()
    bounds = measure_bounds(level, args)
    sections["bounds"] = time.perf_counter() - t
    t = time.perf_counter()
    memory = measure_memory(args)
    sections["memory"] = time.perf_counter() - t
    t = time.perf_counter()
    compile_info = measure_compile(args)
    sections["compile"] = time.perf_counter() - t
    t = time.perf_counter()
    clip, clip_info = measure_clip(pools, args)
    sections["clip"] = time.perf_counter() - t
    derive(rows, checkers, clip, clip_info, memory)

    head = next(
        (r for r in rows if r["checker"] == HEADLINE and r["size"] == 84 and r["batch_size"] == 64),
        None,
    )
    headline = "not measured"
    if head is not None:
        headline = (
            f"(a) {fmt_fps(head['raw_fps'])}, (b) {fmt_fps(head['restricted_fps'])}, "
            f"(c) {fmt_fps(head['sandbox_fps'])}, (d) {fmt_fps(head['jit_fps'])} frames/s "
            f"(IQR {fmt_fps(head['jit_fps_iqr'][0])}–{fmt_fps(head['jit_fps_iqr'][1])}), JIT in process "
            f"{fmt_fps(head['jit_inproc_fps'])}, (e) CLIP {fmt_fps(head['clip_fps'])}, (f) memory bound "
            f"{fmt_fps(head['mem_bound_fps'])}; d/a {fmt_ratio(head['ratio_jit_raw'])}, c/a "
            f"{fmt_ratio(head['ratio_sandbox_raw'])}, d/e {fmt_ratio(head['ratio_jit_clip'])}, d/f "
            f"{fmt_ratio(head['ratio_jit_membound'])}."
        )
    results: dict[str, Any] = {
        "benchmark": "throughput",
        "args": dataclasses.asdict(args) | {"out_dir": str(out_dir)},
        "machine": machine_info({"torch_threads_used": clip_info["torch_threads"]}),
        "isolation": level,
        "isolation_not_strict_because": why_not_strict,
        "load_avg_at_start": load_at_start,
        "modes": MODES,
        "checkers": checkers,
        "rows": rows,
        "clip": clip,
        "clip_info": clip_info,
        "memory": memory,
        "bounds": bounds,
        "compile": compile_info,
        "summary": {},
    }
    results["targets"] = targets(results)
    results["summary"] = {
        "headline": headline,
        "headline_row": head,
        "all_agree": all(r["agree"] for r in rows)
        and all(b["mismatches"] == 0 for b in bounds.get("rows", [])),
        "frames_compared": sum(sum(r["frames_checked"].values()) for r in rows),
        "targets_met": sum(t["met"] for t in results["targets"]),
        "targets_total": len(results["targets"]),
        "respawns": sum(sum(c["respawns"].values()) for c in checkers.values()),
        "section_s": sections,
        "sandbox_source_sha256": digest_before,
        "sandbox_package": str(Path(sandbox.__file__).resolve().parent),
        "git_commit": git_commit(),
        # workers import the sources afresh at every start: an edit during the run taints it
        "sandbox_source_changed_during_run": source_digest() != digest_before,
        "elapsed_s": time.perf_counter() - t_start,
    }

    # outputs
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "throughput.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (out_dir / "throughput.md").write_text(text)
    plot(results, out_dir / "throughput.png")
    print(text)
    print(f"wrote {out_dir}/throughput.{{json,md,png}}")
    return results


if __name__ == "__main__":
    main()
