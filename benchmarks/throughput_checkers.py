"""Throughput experiment 1: frames/s of each checker raw, restricted, sandboxed and sandboxed + JIT.

Part of ``benchmarks/throughput.py`` (run that script); see its docstring for the whole.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable
from typing import Any

import numpy as np

import sandbox
from benchmarks.common import (
    balanced_order,
    readonly_copy,
    summary,
    timed_call,
)
from benchmarks.throughput_setup import (
    CHECKERS,
    MODES,
    Args,
    _int_list,
    quiet_warnings,
)
from sandbox.baseline import load_unsafe
from sandbox.pool import Sandbox

# --------------------------------------------------------------------------------------------
# 1. Checker throughput: raw, restricted, sandbox, sandbox + JIT
# --------------------------------------------------------------------------------------------


def answers_of(mode: str, value: Any) -> np.ndarray | None:
    """A mode's answers as a bool array, or None when the call did not answer (a sandbox failure)."""
    if mode in ("sandbox", "jit"):
        if not value.ok:
            return None
        return np.asarray(value.results[0], dtype=bool)
    return np.asarray([bool(v) for v in value], dtype=bool)


def measure_checker(
    cid: str,
    pools: dict[int, tuple[np.ndarray, np.ndarray]],
    level: str,
    args: Args,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every size and batch size for one checker: frames/s per mode, agreement on every frame."""
    source = CHECKERS[cid][0]
    restricted = sandbox.compile_checker(source, path=cid)
    jitted = sandbox.compile_checker(source, path=cid, jit=True)
    with quiet_warnings():
        raw = load_unsafe(source)
    arity = restricted.arity
    boxes: dict[str, Sandbox] = {}
    try:
        boxes["sandbox"] = Sandbox(
            [source], names=[cid], isolation=level, jit=False, spare=False, timeout=120.0
        )
        boxes["jit"] = Sandbox(
            [source], names=[cid], isolation=level, jit=True, spare=False, timeout=120.0
        )
        box_mode, box_why = boxes["jit"].jit_modes[0]
        info: dict[str, Any] = {
            "id": cid,
            "description": CHECKERS[cid][1],
            "source": source,
            "arity": arity,
            "jit_mode": box_mode,
            "jit_reason": box_why,
            "jit_inproc": jitted.kernel is not None,
            "jit_inproc_reason": jitted.jit_reason,
            "isolation": {m: b.isolation for m, b in boxes.items()},
            "layers": {m: [x.name for x in b.layers if x.available] for m, b in boxes.items()},
            "worker_pids": {m: b.worker_pid for m, b in boxes.items()},
        }
        names = ["raw", "restricted", "sandbox", "jit"]
        if jitted.kernel is not None:
            names.append("jit_inproc")
        rows = []
        for side, (frames_all, firsts_all) in pools.items():
            ro_frames = [readonly_copy(f) for f in frames_all]
            ro_firsts = [readonly_copy(f) for f in firsts_all]
            if arity == 1:
                expected = np.array([bool(raw(f)) for f in ro_frames])
            else:
                expected = np.array(
                    [bool(raw(f, s)) for f, s in zip(ro_frames, ro_firsts, strict=True)]
                )
            for n in _int_list(args.batch_sizes):
                count = max(1, frames_all.shape[0] // n)
                batches = [
                    (
                        np.ascontiguousarray(frames_all[i * n : (i + 1) * n]),
                        np.ascontiguousarray(firsts_all[i * n : (i + 1) * n]),
                    )
                    for i in range(count)
                ]

                def call(
                    mode: str,
                    b: int,
                    n: int = n,
                    batches: list = batches,
                    ro_frames: list = ro_frames,
                    ro_firsts: list = ro_firsts,
                ) -> Any:
                    frames, firsts = batches[b]
                    second = firsts if arity == 2 else None
                    if mode == "raw":
                        fs = ro_frames[b * n : (b + 1) * n]
                        if arity == 1:
                            return [raw(f) for f in fs]
                        ss = ro_firsts[b * n : (b + 1) * n]
                        return [raw(f, s) for f, s in zip(fs, ss, strict=True)]
                    if mode == "restricted":
                        return restricted.batch(frames, second)
                    if mode == "jit_inproc":
                        return jitted.batch(frames, second)
                    return boxes[mode].evaluate(frames, second)

                rows.append(time_cell(cid, side, n, names, call, len(batches), expected, args))
        info["respawns"] = {m: b.respawns for m, b in boxes.items()}
        info["same_worker"] = {m: b.worker_pid == info["worker_pids"][m] for m, b in boxes.items()}
    finally:
        for box in boxes.values():
            box.close()
    return rows, info


def time_cell(
    cid: str,
    side: int,
    n: int,
    names: list[str],
    call: Callable[[str, int], Any],
    n_batches: int,
    expected: np.ndarray,
    args: Args,
) -> dict[str, Any]:
    """One checker × size × batch size: an agreement pass over every batch, then timed samples."""
    mismatches = dict.fromkeys(names, 0)
    failures = dict.fromkeys(names, 0)
    checked = dict.fromkeys(names, 0)

    def check(mode: str, b: int, value: Any) -> None:
        got = answers_of(mode, value)
        checked[mode] += n
        if got is None:
            failures[mode] += 1
            mismatches[mode] += n
        else:
            mismatches[mode] += int(np.count_nonzero(got != expected[b * n : (b + 1) * n]))

    # agreement pass over the whole pool (untimed; doubles as warm-up), then estimate the cost
    cost = dict.fromkeys(names, 0.0)
    for m in names:
        for b in range(n_batches):
            ns, value = timed_call(lambda m=m, b=b: call(m, b))
            check(m, b, value)
            cost[m] = ns / 1e9 if b == 0 else min(cost[m], ns / 1e9)
        for w in range(args.warmup):
            call(m, w % n_batches)
    per_round = sum(cost.values())
    k = len(names)
    n_samples = int(min(args.samples, max(args.min_samples, args.cell_seconds / per_round)))
    n_samples = max(1, math.ceil(n_samples / (2 * k)) * 2 * k)  # whole Williams blocks
    n_samples = min(n_samples, max(args.samples, args.min_samples))
    samples: dict[str, list[float]] = {m: [] for m in names}
    for r in range(n_samples):
        b = r % n_batches
        for m in balanced_order(names, r):
            ns, value = timed_call(lambda m=m, b=b: call(m, b))
            samples[m].append(ns / 1e3)
            check(m, b, value)
        if r % 8 == 7:
            gc.collect()
    gc.collect()
    row: dict[str, Any] = {
        "checker": cid,
        "size": side,
        "batch_size": n,
        "n_distinct_batches": n_batches,
        "n_frames": n_batches * n,
        "n_true": int(expected[: n_batches * n].sum()),
        "samples": n_samples,
        "frames_checked": checked,
        "mismatches": mismatches,
        "failed_calls": failures,
        "agree": all(v == 0 for v in mismatches.values()),
    }
    for m in MODES:
        if m not in samples:
            row[f"{m}_us"] = None
            row[f"{m}_fps"] = None
            continue
        s = summary(samples[m])
        row[f"{m}_us"] = s["median"]
        row[f"{m}_us_iqr"] = [s["p25"], s["p75"]]
        row[f"{m}_us_per_frame"] = s["median"] / n
        row[f"{m}_fps"] = n / (s["median"] * 1e-6)
        row[f"{m}_fps_iqr"] = [n / (s["p75"] * 1e-6), n / (s["p25"] * 1e-6)]
    return row
