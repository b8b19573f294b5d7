"""Throughput experiments 3 and 4: the memory-read bound (f), and what bounds the headline.

Part of ``benchmarks/throughput.py`` (run that script); see its docstring for the whole.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from multiprocessing import shared_memory
from typing import Any

import numba
import numpy as np

import sandbox
from benchmarks.common import (
    balanced_order,
    summary,
    timed_call,
)
from benchmarks.throughput_setup import (
    COLOR_CHECKER,
    HEADLINE,
    NULL_CHECKER,
    Args,
    _int_list,
    make_scene,
)
from sandbox.pool import Sandbox

# --------------------------------------------------------------------------------------------
# 3. (f) memory-read bound
# --------------------------------------------------------------------------------------------


@numba.njit(nogil=True)
def _sum_words(words: np.ndarray) -> int:
    s = np.uint64(0)
    for i in range(words.size):
        s += words[i]
    return s


@numba.njit(nogil=True)
def _sum_bytes(buf: np.ndarray) -> int:
    s = np.uint64(0)
    for i in range(buf.size):
        s += buf[i]
    return s


def measure_memory(args: Args) -> dict[str, Any]:
    """Single-thread read bandwidth (Numba loops, best of 5) and copy bandwidth (np.copyto)."""
    nbytes = args.mem_mib * 2**20
    buf = np.full(nbytes, 1, np.uint8)
    words = buf.view(np.uint64)
    small = buf[: 2**16]
    _sum_words(small.view(np.uint64))  # compile
    _sum_bytes(small)
    out: dict[str, Any] = {"buffer_mib": args.mem_mib, "passes": 5}
    for name, fn, arr in (("words", _sum_words, words), ("bytes", _sum_bytes, buf)):
        times = []
        for _ in range(5):
            ns, total = timed_call(lambda fn=fn, arr=arr: fn(arr))
            times.append(ns / 1e9)
        out[f"read_{name}_checksum"] = int(total)  # keeps the loop honest (all ones: known sum)
        out[f"read_{name}_gbps"] = nbytes / min(times) / 1e9
        out[f"read_{name}_s"] = times
    dst = np.empty_like(buf)
    times = []
    for _ in range(5):
        ns, _ = timed_call(lambda dst=dst, buf=buf: np.copyto(dst, buf))
        times.append(ns / 1e9)
    out["copy_gbps"] = nbytes / min(times) / 1e9
    out["read_gbps"] = max(out["read_words_gbps"], out["read_bytes_gbps"])
    out["read_kernel"] = (
        "uint64 words" if out["read_words_gbps"] >= out["read_bytes_gbps"] else "uint8 bytes"
    )
    del buf, words, dst
    gc.collect()
    return out


# --------------------------------------------------------------------------------------------
# 4. Bounds of the headline: kernel, copy, fixed cost of the hop
# --------------------------------------------------------------------------------------------


@numba.njit(nogil=True)
def _reference_count_batch(frames: np.ndarray, tol: int, out: np.ndarray) -> None:
    """Reference kernel (research §5.2: flat, branch-free, no bounds checks): yellow count > 20."""
    n = frames.shape[0]
    flat = frames.reshape(n, -1)
    pixels = flat.shape[1] // 3
    for k in range(n):
        row = flat[k]
        c = 0
        for p in range(pixels):
            i = 3 * p
            c += (
                (abs(np.int32(row[i]) - 255) <= tol)
                & (abs(np.int32(row[i + 1]) - 255) <= tol)
                & (abs(np.int32(row[i + 2]) - 0) <= tol)
            )
        out[k] = c > 20


def _compile_reference() -> bool:
    """Compile the reference for the arrays it is timed on, now; True if with Numba's defaults.

    ``sandbox.jit_helpers`` drops LLVM's ``nsw`` from whatever compiles after it is imported,
    outside ``sandbox.vision`` (kernels must wrap); the reference is Numba's own behaviour, so it
    compiles when this module is imported, which :mod:`benchmarks.throughput` does first.
    """
    import sys

    defaults = "sandbox.jit_helpers" not in sys.modules
    frames = np.zeros((1, 3, 3, 3), np.uint8)
    readonly = np.frombuffer(frames.tobytes(), np.uint8).reshape(frames.shape)
    for batch in (frames, readonly):
        _reference_count_batch(batch, 10, np.zeros(1, np.bool_))
    return defaults


#: Whether the reference kernel was compiled with Numba's default flags (reported).
REFERENCE_DEFAULTS = _compile_reference()


def measure_bounds(level: str, args: Args) -> dict[str, Any]:
    """The headline at 84×84: bare kernel, in-process JIT, shm copy, null box and colour box."""
    from sandbox.jit import build_kernel

    side = 84
    batch_sizes = sorted(set(_int_list(args.batch_sizes)) | set(_int_list(args.extra_batches)))
    rng = np.random.default_rng(args.seed + 7)
    pool_n = max(max(batch_sizes) * 2, args.scenes)
    pool = np.stack([make_scene(rng, side, side) for _ in range(pool_n)])
    kernel = build_kernel(COLOR_CHECKER)
    if isinstance(kernel, str):
        return {"skipped": f"colour count did not compile: {kernel}"}
    jitted = sandbox.compile_checker(COLOR_CHECKER, path="color", jit=True)
    boxes = {
        "null_box": Sandbox([NULL_CHECKER], names=["null"], isolation=level, spare=False),
        "color_box": Sandbox([COLOR_CHECKER], names=["color"], isolation=level, spare=False),
    }
    shm = shared_memory.SharedMemory(create=True, size=pool_n * side * side * 3)
    rows = []
    try:
        names = ["ref_kernel", "kernel", "jit_inproc", "shm_copy", "null_box", "color_box"]
        for n in batch_sizes:
            count = max(1, pool_n // n)
            batches = [np.ascontiguousarray(pool[i * n : (i + 1) * n]) for i in range(count)]
            ro = [
                np.frombuffer(b.tobytes(), np.uint8).reshape(b.shape) for b in batches
            ]  # read-only
            out = np.zeros(n, np.bool_)
            shm_view = np.ndarray((shm.size,), np.uint8, buffer=shm.buf)
            expected = [jitted.batch(b) for b in batches]

            def shm_copy(b: int, n: int = n, batches: list = batches, view: Any = shm_view) -> None:
                view[: batches[b].nbytes] = batches[b].reshape(-1)

            def run_kernel(b: int, ro: list = ro, out: np.ndarray = out) -> np.ndarray:
                kernel.run(ro[b], ro[b], out)
                return out.copy()

            def run_reference(b: int, ro: list = ro, out: np.ndarray = out) -> np.ndarray:
                _reference_count_batch(ro[b], 10, out)
                return out.copy()

            modes: dict[str, Callable[[int], Any]] = {
                "ref_kernel": run_reference,
                "kernel": run_kernel,
                "jit_inproc": lambda b, batches=batches: jitted.batch(batches[b]),
                "shm_copy": shm_copy,
                "null_box": lambda b, batches=batches: boxes["null_box"].evaluate(batches[b]),
                "color_box": lambda b, batches=batches: boxes["color_box"].evaluate(batches[b]),
            }
            mismatches = 0
            for m in names:
                for b in range(min(count, 4)):
                    modes[m](b)
            cost = sum(timed_call(lambda fn=modes[m]: fn(0))[0] for m in names) / 1e9
            n_samples = int(min(args.samples, max(args.min_samples, args.cell_seconds / cost)))
            samples: dict[str, list[float]] = {m: [] for m in names}
            for r in range(n_samples):
                b = r % count
                for m in balanced_order(names, r):
                    ns, value = timed_call(lambda fn=modes[m], b=b: fn(b))
                    samples[m].append(ns / 1e3)
                    if m in ("ref_kernel", "kernel", "jit_inproc"):
                        mismatches += int(np.count_nonzero(np.asarray(value) != expected[b]))
                    elif m == "color_box":
                        ok = value.ok and np.array_equal(value.results[0], expected[b])
                        mismatches += 0 if ok else 1
                if r % 8 == 7:
                    gc.collect()
            row: dict[str, Any] = {"batch_size": n, "samples": n_samples, "mismatches": mismatches}
            for m in names:
                s = summary(samples[m])
                row[f"{m}_us"] = s["median"]
                row[f"{m}_us_iqr"] = [s["p25"], s["p75"]]
                row[f"{m}_fps"] = n / (s["median"] * 1e-6)
            row["kernel_gbps"] = n * side * side * 3 / (row["kernel_us"] * 1e-6) / 1e9
            row["ref_kernel_gbps"] = n * side * side * 3 / (row["ref_kernel_us"] * 1e-6) / 1e9
            row["hop_us"] = row["color_box_us"] - row["kernel_us"]
            # (d) if the worker's kernel ran at the reference kernel's speed, same hop
            row["projected_fps_ref_kernel"] = n / ((row["ref_kernel_us"] + row["hop_us"]) * 1e-6)
            row["ipc_us"] = row["null_box_us"] - row["shm_copy_us"]
            row["box_ceiling_fps"] = row["null_box_fps"]
            rows.append(row)
            del shm_view
            gc.collect()
        info = {
            "size": side,
            "checker": HEADLINE,
            "pool": pool_n,
            "null_jit_mode": boxes["null_box"].jit_modes[0][0],
            "color_jit_mode": boxes["color_box"].jit_modes[0][0],
            "isolation": boxes["color_box"].isolation,
            "rows": rows,
            "reference_numba_defaults": REFERENCE_DEFAULTS,
        }
    finally:
        for box in boxes.values():
            box.close()
        shm.close()
        shm.unlink()
    return info
