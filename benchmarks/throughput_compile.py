"""Throughput experiment 5: JIT compile cost, first build and cached load, in fresh processes.

Part of ``benchmarks/throughput.py`` (run that script); see its docstring for the whole.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.throughput_setup import (
    CHECKERS,
    HEADLINE,
    Args,
    make_scene,
)

SCRIPT = Path(__file__).resolve().with_name("throughput.py")


# --------------------------------------------------------------------------------------------
# 5. JIT compile: first call and cached load, each in a fresh subprocess
# --------------------------------------------------------------------------------------------


def compile_probe(spec: str) -> dict[str, Any]:
    """Run in a fresh subprocess: time ``build_kernel`` and the kernel's first call.

    ``spec`` is a checker id, optionally followed by ``+warm_up``: then the vision helpers are
    warmed first (:func:`sandbox.vision.warm_up`, which initialises Numba's runtime), as a sandbox
    worker does before it builds kernels.
    """
    from sandbox import vision
    from sandbox.jit import build_kernel, default_cache_dir

    cid, _, extra = spec.partition("+")
    source = CHECKERS[cid][0]
    rng = np.random.default_rng(0)
    pool = np.stack([make_scene(rng, 84, 84) for _ in range(64)])
    frames = np.frombuffer(pool.tobytes(), np.uint8).reshape(pool.shape)
    out = np.zeros(64, np.bool_)
    warm_up_s = 0.0
    if extra == "warm_up":
        t = time.perf_counter()
        vision.warm_up()
        warm_up_s = time.perf_counter() - t
    t0 = time.perf_counter()
    kernel = build_kernel(source)
    build_s = time.perf_counter() - t0
    if isinstance(kernel, str):
        return {"ok": False, "reason": kernel, "build_s": build_s}
    t1 = time.perf_counter()
    kernel.run(frames, frames, out)
    first_call_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    kernel.run(frames, frames, out)
    second_call_s = time.perf_counter() - t2
    return {
        "ok": True,
        "build_s": build_s,
        "kernel_seconds": kernel.seconds,
        "kernel_cached_flag": kernel.cached,
        "first_call_s": first_call_s,
        "second_call_s": second_call_s,
        "compile_s": build_s + first_call_s,
        "warm_up_s": warm_up_s,
        "n_true": int(out.sum()),
        "cache_dir": str(default_cache_dir()),
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
    }


def run_probe(spec: str, cache_dir: Path, numba_dir: Path | None) -> dict[str, Any]:
    """Start one fresh probe process with the given cache directories; its JSON plus wall time."""
    env = dict(os.environ)
    env["VLMCAR_CACHE_DIR"] = str(cache_dir)
    if numba_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(numba_dir)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--compile-probe", spec],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    wall = time.perf_counter() - t0
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"ok": False, "reason": f"exit {done.returncode}: {done.stderr[-500:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    result["process_wall_s"] = wall
    files = list(cache_dir.rglob("*.nbi")) + (list(numba_dir.rglob("*.nbi")) if numba_dir else [])
    result["cache_index_files"] = len(files)
    return result


#: scenario -> (label, runs in quick mode)
COMPILE_SCENARIOS: dict[str, tuple[str, bool]] = {
    "cold": ("empty VLMCAR_CACHE_DIR (new checker), fresh process", True),
    "warm": ("same VLMCAR_CACHE_DIR again (cached), fresh process", True),
    "cold_init": ("empty VLMCAR_CACHE_DIR, after vision.warm_up() (as in a worker)", False),
    "warm_init": ("cached, after vision.warm_up() (as in a worker)", True),
    "cold_all": ("empty VLMCAR_CACHE_DIR and NUMBA_CACHE_DIR (nothing cached)", False),
    "warm_all": ("both again (cached)", False),
}


def measure_compile(args: Args) -> dict[str, Any]:
    """Cold (empty VLMCAR_CACHE_DIR) and warm (same directory again), each in a fresh process.

    Also, in a full run: after the worker's ``vision.warm_up()``, and with nothing cached at all.
    """
    wanted = [k for k, (_, quick) in COMPILE_SCENARIOS.items() if quick or not args.quick]
    scenarios: dict[str, list[dict[str, Any]]] = {k: [] for k in wanted}
    with tempfile.TemporaryDirectory(prefix="vlmcar-bench-jit-") as tmp:
        root = Path(tmp)
        for r in range(args.compile_repeats):
            kernel_dir = root / f"kernels{r}"
            scenarios["cold"].append(run_probe(HEADLINE, kernel_dir, None))
            scenarios["warm"].append(run_probe(HEADLINE, kernel_dir, None))
            scenarios["warm_init"].append(run_probe(f"{HEADLINE}+warm_up", kernel_dir, None))
            if args.quick:
                continue
            init_dir = root / f"init{r}"
            scenarios["cold_init"].append(run_probe(f"{HEADLINE}+warm_up", init_dir, None))
            all_dir, numba_dir = root / f"all{r}", root / f"numba{r}"
            scenarios["cold_all"].append(run_probe(HEADLINE, all_dir, numba_dir))
            scenarios["warm_all"].append(run_probe(HEADLINE, all_dir, numba_dir))
    out: dict[str, Any] = {
        "checker": HEADLINE,
        "repeats": args.compile_repeats,
        "trials": scenarios,
    }
    for name, trials in scenarios.items():  # medians over the repeats
        ok = [t for t in trials if t.get("ok")]
        out[name] = (
            {
                key: statistics.median(t[key] for t in ok)
                for key in (
                    "build_s",
                    "kernel_seconds",
                    "first_call_s",
                    "compile_s",
                    "warm_up_s",
                    "process_wall_s",
                )
            }
            | {"ok": len(ok) == len(trials), "cached_flag": [t["kernel_cached_flag"] for t in ok]}
            if ok
            else {"ok": False, "reason": trials[0].get("reason") if trials else "no trials"}
        )
    return out
