"""What fusion buys: whole-array checker idioms as numpy, as an unfused kernel, as a fused one.

Each idiom is a checker in the style models write (per-channel masks joined with ``&``,
``np.all(frame == KEY, axis=-1)``, ``frame.mean(axis=2)``, colour distances, changed-pixel
fractions, luminance, a helper taking the image). Timed in one run, on one batch of recorded
DoorKey-8x8 frames scaled to ``--size`` (nearest neighbour), each with its episode's first frame:

- ``numpy``: the checker ``exec``-ed with real numpy, frame by frame (the baseline);
- ``unfused``: its Numba kernel built with ``JitLimits(fuse=False)`` (every temporary array
  computed in full, as before fusion);
- ``fused``: its Numba kernel as the engine builds it (:mod:`sandbox.fusion`);
- the single-core read bound: one Numba pass summing every byte of the batch.

Kernels run in this process on this benchmark's own (trusted) checker text: this measures the
kernels, not the process hop (``realistic.py`` times the whole sandbox). The three modes must give
the same answer on every frame; timings are never asserted.

Usage:
    python benchmarks/fusion.py            # ~1 minute on 2 CPUs
    python benchmarks/fusion.py --quick    # smoke run
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from benchmarks.common import machine_info, parse_dataclass_args, write_results  # noqa: E402
from benchmarks.realistic import geomean, median_us, raw_checker, read_bound_us  # noqa: E402
from tools import build_corpus  # noqa: E402

IDIOMS: dict[str, str] = {
    "channel_mask": """
import numpy as np

def check(frame, first):
    r = frame[:, :, 0].astype(np.int32)
    g = frame[:, :, 1].astype(np.int32)
    b = frame[:, :, 2].astype(np.int32)
    mask = (r > 200) & (g > 200) & (b < 80)
    return np.count_nonzero(mask) > 20
""",
    "all_equal_key": """
import numpy as np

KEY = np.array([255, 255, 0])

def check(frame, first):
    return np.all(frame == KEY, axis=-1).sum() > 20
""",
    "grey_mean": """
import numpy as np

def check(frame, first):
    grey = frame.mean(axis=2)
    return np.count_nonzero(grey > 150) > 30
""",
    "colour_distance": """
import numpy as np

GOAL = (0, 255, 0)
TOL = 60

def check(frame, first):
    dist = np.abs(frame.astype(np.int16) - np.array(GOAL)).sum(axis=-1)
    return np.sum(dist < TOL) > 10
""",
    "changed_fraction": """
import numpy as np

def check(frame, first):
    changed = np.any(frame != first, axis=-1)
    return changed.mean() > 0.05
""",
    "luminance": """
import numpy as np

def check(frame, first):
    lum = 0.299 * frame[..., 0] + 0.587 * frame[..., 1] + 0.114 * frame[..., 2]
    return np.count_nonzero(lum > 180.0) > 25
""",
    "euclid_any": """
import numpy as np

RED = (255, 0, 0)

def check(frame, first):
    d = np.sqrt(((frame.astype(float) - RED) ** 2).sum(axis=-1))
    return bool(np.any(d < 40.0))
""",
    "helper_first_vs_now": """
import numpy as np

KEY_RGB = (255, 255, 0)
TOL = 40

def yellow_pixels(img):
    r = img[:, :, 0].astype(np.int32)
    g = img[:, :, 1].astype(np.int32)
    b = img[:, :, 2].astype(np.int32)
    mask = (np.abs(r - KEY_RGB[0]) <= TOL) & (np.abs(g - KEY_RGB[1]) <= TOL) & (
        np.abs(b - KEY_RGB[2]) <= TOL
    )
    return np.count_nonzero(mask)

def check(frame, first):
    start = yellow_pixels(first)
    now = yellow_pixels(frame)
    return start > 0 and now < 0.3 * start
""",
}


@dataclass
class Args:
    size: int = 84
    """frame side in pixels (recorded DoorKey-8x8 frames scaled by nearest neighbour)"""
    batch: int = 64
    """frames per batch"""
    repeats: int = 15
    """timed batches per mode (the median is reported)"""
    out_dir: str = ""
    """where the results go; empty: benchmarks/results next to this script"""
    quick: bool = False
    """smoke mode: 3 repeats, batch 16, three idioms"""


def scaled_batch(size: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    with np.load(build_corpus.frames_path("MiniGrid-DoorKey-8x8-v0")) as data:
        frames, firsts = data["frames"], data["firsts"]
    idx = np.arange(n) % len(frames)
    rows = (np.arange(size) * frames.shape[1]) // size
    cols = (np.arange(size) * frames.shape[2]) // size

    def scale(a: np.ndarray) -> np.ndarray:
        out = np.ascontiguousarray(a[idx][:, rows][:, :, cols])
        out.flags.writeable = False
        return out

    return scale(frames), scale(firsts)


def measure(name: str, source: str, frames: np.ndarray, firsts: np.ndarray, args: Args,
            cache: Path) -> dict[str, Any]:  # fmt: skip
    from sandbox.jit import JitLimits, Kernel, build_kernel, kernel_source

    n = len(frames)
    row: dict[str, Any] = {"idiom": name, "frames": n}
    source = source.lstrip("\n")
    row["fused_reductions"] = kernel_source(source).count("def _vlmcar_fz")
    run = raw_checker(source)
    us, raw = median_us(lambda: run(frames, firsts), args.repeats)
    row["numpy_us"], answers = us, {"numpy": [bool(v) for v in raw]}
    for mode, fuse in (("unfused", False), ("fused", True)):
        kernel = build_kernel(source, cache_dir=cache / mode, limits=JitLimits(fuse=fuse))
        if not isinstance(kernel, Kernel):
            if fuse:
                raise SystemExit(f"{name}: no fused kernel: {kernel}")
            row["unfused_us"], row["unfused_reason"] = None, kernel  # interpreter only
            continue
        out = np.zeros(n, np.bool_)

        def call(kernel: Kernel = kernel, out: np.ndarray = out) -> np.ndarray:
            kernel.run(frames, firsts, out)
            return out.copy()

        us, value = median_us(call, args.repeats)
        row[f"{mode}_us"], answers[mode] = us, [bool(v) for v in value]
    row["agree"] = all(a == answers["numpy"] for a in answers.values())
    row["read_bound_us"] = read_bound_us(frames, args.repeats)
    for mode in ("numpy", "unfused", "fused"):
        us = row[f"{mode}_us"]
        row[f"{mode}_us_per_frame"] = None if us is None else us / n
    unfused = row["unfused_us"]
    row["fused_over_unfused"] = None if unfused is None else unfused / row["fused_us"]
    row["fused_over_numpy"] = row["numpy_us"] / row["fused_us"]
    row["fused_of_read_bound"] = row["read_bound_us"] / row["fused_us"]
    row["unfused_of_read_bound"] = None if unfused is None else row["read_bound_us"] / unfused
    return row


def _opt(x: float | None, spec: str, suffix: str = "") -> str:
    return "no kernel" if x is None else f"{format(x, spec)}{suffix}"


def markdown(results: dict[str, Any]) -> str:
    a, m, s = results["args"], results["machine"], results["summary"]
    lines = [
        "# Fusion: whole-array idioms as numpy, unfused kernel, fused kernel",
        "",
        f"{len(results['rows'])} idioms (`benchmarks/fusion.py`), batches of {a['batch']} "
        f"recorded DoorKey-8x8 frames scaled to {a['size']}×{a['size']}, each with its first "
        f"frame; median of {a['repeats']} batches; kernels in-process (no process hop). "
        f"{m['platform']}, {m['cpu_count']} CPUs, load "
        f"{', '.join(f'{x:.1f}' for x in m['load_avg'] or [])}, {m['timestamp']}"
        f"{' (QUICK: rough numbers)' if a['quick'] else ''}.",
        "",
        "## Summary (geometric means, ratios from this run)",
        "",
        f"- fused over unfused kernel: {s['fused_over_unfused']:.2f}× (over the idioms that "
        "have an unfused kernel; `no kernel`: only the fused path compiles it)",
        f"- fused kernel over numpy (`exec`, frame by frame): {s['fused_over_numpy']:.2f}×",
        f"- fraction of the single-core read bound: fused {s['fused_of_read_bound']:.3f}, "
        f"unfused {s['unfused_of_read_bound']:.3f} (issue 12's target for whole-array "
        "checkers: ≥ 0.5)",
        f"- same answers in all three modes on every frame: {'yes' if s['all_agree'] else 'NO'}",
        "",
        "## Per idiom (µs per frame)",
        "",
        "| idiom | fused reductions | numpy | unfused | fused | fused / unfused | fused / numpy | "
        "of read bound |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['idiom']} | {r['fused_reductions']} | {r['numpy_us_per_frame']:.2f} | "
            f"{_opt(r['unfused_us_per_frame'], '.2f')} | {r['fused_us_per_frame']:.2f} | "
            f"{_opt(r['fused_over_unfused'], '.1f', '×')} | {r['fused_over_numpy']:.1f}× | "
            f"{r['fused_of_read_bound']:.3f} |"
        )
    lines += [
        "",
        "Read bound: one single-threaded pass summing the batch's bytes "
        f"({results['rows'][0]['read_bound_us'] / a['batch']:.2f} µs per frame here). A fused "
        "helper reads each pixel's channels once; `changed_fraction` reads the frame and the "
        "first frame in one pass and `helper_first_vs_now` makes one pass over each, so those two "
        "read twice the bytes the bound counts (their fraction would double against a two-batch "
        "bound). *unfused*: the same kernel built with `JitLimits(fuse=False)`; `no kernel`: "
        "`np.array(NAME)` is in the subset only where fusion lowers it.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_dataclass_args(Args, argv, __doc__)
    if args.quick:
        args = replace(args, repeats=3, batch=16)
    if args.batch < 1 or args.repeats < 1 or args.size < 8:
        raise SystemExit("--batch and --repeats must be at least 1, --size at least 8")
    idioms = dict(list(IDIOMS.items())[:3]) if args.quick else IDIOMS
    frames, firsts = scaled_batch(args.size, args.batch)
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="vlmcar-fusion-bench-") as tmp:
        for name, source in idioms.items():
            row = measure(name, source, frames, firsts, args, Path(tmp))
            rows.append(row)
            print(
                f"{name}: numpy {row['numpy_us_per_frame']:.2f} µs/frame, unfused "
                f"{_opt(row['unfused_us_per_frame'], '.2f')}, fused "
                f"{row['fused_us_per_frame']:.2f} "
                f"({row['fused_of_read_bound']:.2f} of the read bound), agree {row['agree']}",
                flush=True,
            )
    summary = {
        "fused_over_unfused": geomean([r["fused_over_unfused"] or 0.0 for r in rows]),
        "fused_over_numpy": geomean([r["fused_over_numpy"] for r in rows]),
        "fused_of_read_bound": geomean([r["fused_of_read_bound"] for r in rows]),
        "unfused_of_read_bound": geomean([r["unfused_of_read_bound"] or 0.0 for r in rows]),
        "all_agree": all(r["agree"] for r in rows),
    }
    results = {
        "benchmark": "fusion",
        "args": asdict(args),
        "machine": machine_info(),
        "elapsed_seconds": time.perf_counter() - t0,
        "summary": summary,
        "rows": rows,
    }
    out_dir = Path(args.out_dir) if args.out_dir else HERE / "results"
    write_results(out_dir, "fusion_quick" if args.quick else "fusion", results, markdown)
    return results


if __name__ == "__main__":
    main()
