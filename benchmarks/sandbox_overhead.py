"""Sandbox overhead: audit and compile cost, and per-call cost against an unsandboxed baseline.

What it measures, all in one run (so ratios compare numbers taken on the same machine, minutes apart):

1. ``audit(source)`` and ``compile_checker(source)`` (audit + RestrictedPython compile + load) time
   per checker, median over ``--repeats`` runs each.
2. Time per call on 84×84×3 structured scenes of
   * raw: the same source loaded with :func:`sandbox.baseline.load_unsafe` (plain ``exec``, real
     numpy) and called directly on a read-only copy of the frame made beforehand, which is what an
     unsandboxed engine does;
   * call: ``checker(frame)``: frame validation, one immutable copy, guards, budgets, contract;
   * batch: ``checker.batch(frames)``, per frame, for a batch of ``--batch-size`` frames.
   Each sample times one or more passes over all frames; the three modes are interleaved (rotating
   their order) and the median over ``--call-repeats`` samples is reported. GC is off while timing.
3. A calibration row: a checker that returns ``True`` (pure fixed cost of a sandboxed call), and the
   cost of validating and copying one frame.

The checkers are the ``benign`` entries of ``tests/sandbox/data/attacks-public.jsonl`` plus the
examples in ``sandbox/examples/`` that the audit accepts. Every answer of the sandboxed call and batch
is compared with the raw answer on every frame (``agree`` in the results).

Writes ``sandbox_overhead.json``, ``sandbox_overhead.md`` and ``sandbox_overhead.png`` to
``--out-dir`` (default: ``benchmarks/results`` next to this script). Timings are never asserted.

Usage:
    python benchmarks/sandbox_overhead.py            # full run (about a minute)
    python benchmarks/sandbox_overhead.py --quick    # smoke run (a few seconds)
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import sandbox
from sandbox.baseline import load_unsafe
from sandbox.frames import readonly_batch, validate_frame

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from benchmarks.common import machine_info as common_machine_info  # noqa: E402
from benchmarks.common import (  # noqa: E402
    make_scene,
    parse_dataclass_args,
    readonly_copy,
    summary,
)


@dataclass
class Args:
    repeats: int = 25
    """times each checker is audited and compiled (median reported; at least 20 for a real run)"""
    call_repeats: int = 31
    """timing samples per checker and mode (raw, call, batch); the median is reported"""
    passes: int = 2
    """passes over all frames in one timing sample"""
    height: int = 84
    """frame height in pixels"""
    width: int = 84
    """frame width in pixels"""
    batch_size: int = 64
    """frames per batch; also the number of distinct frames every mode is timed on"""
    seed: int = 1
    """seed of the scene generator"""
    out_dir: str = ""
    """where the results go; empty: benchmarks/results next to this script"""
    attacks: str = ""
    """JSON-lines file whose `benign` entries are benchmarked; empty: the vendored public sample"""
    quick: bool = False
    """smoke mode: 3 repeats, 3 samples, 1 pass, batch of 16 (seconds, numbers are rough)"""


def parse_args(argv: Sequence[str] | None = None) -> Args:
    """Build an :class:`Args` from the command line (one ``--kebab-case`` option per field)."""
    return parse_dataclass_args(Args, argv, __doc__)


def machine_info() -> dict[str, Any]:
    return common_machine_info(("numba", "RestrictedPython", "matplotlib"))


# --------------------------------------------------------------------------------------------
# Inputs: checkers and frames
# --------------------------------------------------------------------------------------------

NULL_CHECKER = "def check(frame):\n    return True\n"


def load_checkers(attacks: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The benign sample entries and the audit-accepted examples, and what was skipped (and why)."""
    candidates: list[dict[str, Any]] = []
    for line in attacks.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            if entry.get("category") == "benign":
                candidates.append({"id": entry["id"], "origin": "benign", "source": entry["code"]})
    examples = Path(sandbox.__file__).resolve().parent / "examples"
    for path in sorted(examples.glob("*.py")):
        if not path.name.startswith("_"):
            text = path.read_text(encoding="utf-8")
            candidates.append({"id": f"example:{path.stem}", "origin": "example", "source": text})
    kept, skipped = [], []
    for c in candidates:
        report = sandbox.audit(c["source"], path=f"<{c['id']}>")
        if report.ok:
            kept.append(c)
        else:
            skipped.append({"id": c["id"], "origin": c["origin"], "codes": list(report.codes)})
    return kept, skipped


def make_first(h: int, w: int) -> np.ndarray:
    """The episode's first frame for two-argument checkers: a key, a door, an agent and a goal."""
    f = np.full((h, w, 3), 30, np.uint8)
    s = max(2, min(h, w) // 10)
    f[s : 2 * s, s : 2 * s] = (255, 255, 0)  # key
    f[h - 3 * s : h - s, w // 2 : w // 2 + s] = (255, 255, 0)  # door
    f[h // 2 : h // 2 + s, s : 2 * s] = (255, 0, 0)  # agent
    f[h - 2 * s : h - s, w - 2 * s : w - s] = (0, 255, 0)  # goal
    return f


# --------------------------------------------------------------------------------------------
# Timing helpers
# --------------------------------------------------------------------------------------------


def timed_ns(fn: Callable[[], Any]) -> int:
    """Wall time of one ``fn()`` in nanoseconds, with the garbage collector off."""
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        fn()
        return time.perf_counter_ns() - t0
    finally:
        if gc_was_on:
            gc.enable()


def geomean(values: Sequence[float]) -> float:
    return statistics.geometric_mean(values) if values else math.nan


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


def time_audit_compile(c: dict[str, Any], repeats: int) -> dict[str, Any]:
    """Median audit and audit+compile time of one checker, in milliseconds."""
    src, label = c["source"], f"<{c['id']}>"
    sandbox.compile_checker(src, path=label)  # warm-up (imports, caches)
    audit_ms, compile_ms = [], []
    for r in range(repeats):
        a = lambda: sandbox.audit(src, path=label)  # noqa: E731
        k = lambda: sandbox.compile_checker(src, path=label)  # noqa: E731
        pair = (a, k) if r % 2 == 0 else (k, a)
        times = [timed_ns(fn) / 1e6 for fn in pair]
        audit_ms.append(times[0] if r % 2 == 0 else times[1])
        compile_ms.append(times[1] if r % 2 == 0 else times[0])
    return {"audit_ms": summary(audit_ms), "compile_ms": summary(compile_ms)}


def bind_modes(
    source: str, label: str, frames: np.ndarray, first: np.ndarray
) -> tuple[int, dict[str, Callable[[], Any]], Callable[[], dict[str, Any]]]:
    """Load one checker both ways; return its arity, one pass per mode, and an agreement check."""
    checker = sandbox.compile_checker(source, path=label)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # load_unsafe always warns
        raw = load_unsafe(source)
    n = frames.shape[0]
    ro_frames = [readonly_copy(f) for f in frames]
    ro_first = readonly_copy(first)
    firsts = np.repeat(first[None], n, axis=0)
    arity = checker.arity

    if arity == 1:

        def raw_pass() -> list[Any]:
            return [raw(f) for f in ro_frames]

        def call_pass() -> list[bool]:
            return [checker(f) for f in frames]

        def batch_pass() -> np.ndarray:
            return checker.batch(frames)
    else:

        def raw_pass() -> list[Any]:
            return [raw(f, ro_first) for f in ro_frames]

        def call_pass() -> list[bool]:
            return [checker(f, first) for f in frames]

        def batch_pass() -> np.ndarray:
            return checker.batch(frames, firsts)

    def agreement() -> dict[str, Any]:
        r = [bool(v) for v in raw_pass()]
        c = call_pass()
        b = [bool(v) for v in batch_pass()]
        return {
            "n_frames": n,
            "n_true": sum(r),
            "agree_call": r == c,
            "agree_batch": r == b,
            "agree": r == c == b,
            "raw_answers": "".join("1" if v else "0" for v in r),
        }

    return arity, {"raw": raw_pass, "call": call_pass, "batch": batch_pass}, agreement


def time_modes(modes: dict[str, Callable[[], Any]], n: int, args: Args) -> dict[str, Any]:
    """µs per frame of each mode: median over samples, modes interleaved in rotating order."""
    names = list(modes)
    samples: dict[str, list[float]] = {m: [] for m in names}
    for r in range(args.call_repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for m in order:
            fn = modes[m]

            def run(fn: Callable[[], Any] = fn) -> None:
                for _ in range(args.passes):
                    fn()

            samples[m].append(timed_ns(run) / 1e3 / (n * args.passes))
        gc.collect()
    return {f"{m}_us": summary(samples[m]) for m in names}


def calibrate(frames: np.ndarray, args: Args) -> dict[str, Any]:
    """Fixed costs: the do-nothing checker, and validating + copying one frame."""
    first = frames[0]
    _, modes, agreement = bind_modes(NULL_CHECKER, "<null>", frames, first)
    agreement()
    out = {k: v["median"] for k, v in time_modes(modes, frames.shape[0], args).items()}

    def prep_pass() -> None:
        for f in frames:
            readonly_batch(validate_frame(f)[None])

    def errstate_pass() -> None:
        for _ in range(frames.shape[0]):
            with np.errstate(all="ignore"):
                pass

    fixed = time_modes({"frame_prep": prep_pass, "errstate": errstate_pass}, len(frames), args)
    out.update({k: v["median"] for k, v in fixed.items()})
    return out


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------

COLUMNS = (
    "checker",
    "audit ms",
    "audit+compile ms",
    "raw µs",
    "call µs",
    "batch µs/frame",
    "call/raw",
    "batch/raw",
    "agree",
)


def markdown(results: dict[str, Any]) -> str:
    rows = results["checkers"]
    s, cal, a = results["summary"], results["calibration"], results["args"]
    lines = [
        "# Sandbox overhead",
        "",
        f"{a['height']}×{a['width']}×3 uint8 scenes, batch {a['batch_size']}, "
        f"{a['repeats']} audit/compile repeats, {a['call_repeats']} call samples × {a['passes']} "
        f"pass(es); medians. raw = `load_unsafe` function on a pre-made read-only frame; call = "
        f"`checker(frame)`; batch = `checker.batch(frames)` per frame. "
        f"{results['machine']['platform']}, Python {results['machine']['python']}, "
        f"numpy {results['machine']['numpy']}, {results['machine']['cpu_count']} CPUs, "
        f"{results['machine']['timestamp']}{' (QUICK: rough numbers)' if a['quick'] else ''}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|",
    ]
    for r in rows:
        lines.append(
            f"| {r['id']} | {r['audit_ms']:.3f} | {r['compile_ms']:.3f} | {r['raw_us']:.1f} | "
            f"{r['call_us']:.1f} | {r['batch_us']:.1f} | {r['call_ratio']:.2f} | "
            f"{r['batch_ratio']:.2f} | {'yes' if r['agree'] else 'NO'} |"
        )
    lines += [
        "",
        f"**Summary** ({s['n_checkers']} checkers): median audit {s['audit_ms_median']:.3f} ms, "
        f"median audit+compile {s['compile_ms_median']:.3f} ms; median per frame raw "
        f"{s['raw_us_median']:.1f} µs, call {s['call_us_median']:.1f} µs, batch "
        f"{s['batch_us_median']:.1f} µs; geometric-mean ratio call/raw "
        f"{s['call_ratio_geomean']:.2f}× (range {s['call_ratio_min']:.2f}–"
        f"{s['call_ratio_max']:.2f}), batch/raw {s['batch_ratio_geomean']:.2f}×; "
        f"median added cost per call {s['call_overhead_us_median']:.1f} µs "
        f"(batch {s['batch_overhead_us_median']:.1f} µs); answers agree on every frame: "
        f"{'yes' if s['all_agree'] else 'NO'}.",
        "",
        f"**Calibration** (`return True` checker): raw {cal['raw_us']:.2f} µs, call "
        f"{cal['call_us']:.2f} µs, batch {cal['batch_us']:.2f} µs/frame; validate + immutable copy "
        f"of one frame {cal['frame_prep_us']:.2f} µs; `np.errstate` enter/exit "
        f"{cal['errstate_us']:.2f} µs.",
    ]
    if results["skipped"]:
        skipped = ", ".join(f"{k['id']} ({'/'.join(k['codes'])})" for k in results["skipped"])
        lines += ["", f"Skipped (rejected by the audit): {skipped}."]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["checkers"]
    x = np.arange(len(rows))
    width = 0.27
    fig, ax = plt.subplots(figsize=(max(8.0, 0.9 * len(rows) + 3), 5.2))
    bars = (
        ("raw_us", "raw (load_unsafe)"),
        ("call_us", "sandbox call"),
        ("batch_us", "sandbox batch / frame"),
    )
    for i, (key, label) in enumerate(bars):
        ax.bar(x + (i - 1) * width, [r[key] for r in rows], width, label=label)
    ax.set_yscale("log")
    ax.set_ylabel("µs per frame (median, log scale)")
    ax.set_xticks(x, [r["id"].removeprefix("benign-") for r in rows], rotation=30, ha="right")
    s = results["summary"]
    ax.set_title(
        f"Checker cost per frame, {results['args']['height']}×{results['args']['width']} frames "
        f"(geomean call/raw {s['call_ratio_geomean']:.2f}×, batch/raw "
        f"{s['batch_ratio_geomean']:.2f}×)"
    )
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.quick:
        args = dataclasses.replace(
            args,
            repeats=min(args.repeats, 3),
            call_repeats=min(args.call_repeats, 3),
            passes=1,
            batch_size=min(args.batch_size, 16),
        )
    out_dir = Path(args.out_dir) if args.out_dir else HERE / "results"
    attacks = (
        Path(args.attacks) if args.attacks else REPO / "tests/sandbox/data/attacks-public.jsonl"
    )

    # seeding
    random.seed(args.seed)
    np.random.seed(args.seed)
    rng = np.random.default_rng(args.seed)

    # inputs
    checkers, skipped = load_checkers(attacks)
    frames = np.stack([make_scene(rng, args.height, args.width) for _ in range(args.batch_size)])
    first = make_first(args.height, args.width)
    t_start = time.perf_counter()

    # 1. audit and audit+compile
    rows: list[dict[str, Any]] = []
    for c in checkers:
        t = time_audit_compile(c, args.repeats)
        rows.append(
            {
                "id": c["id"],
                "origin": c["origin"],
                "audit_ms": t["audit_ms"]["median"],
                "compile_ms": t["compile_ms"]["median"],
                "audit_ms_iqr": [t["audit_ms"]["p25"], t["audit_ms"]["p75"]],
                "compile_ms_iqr": [t["compile_ms"]["p25"], t["compile_ms"]["p75"]],
            }
        )

    # 2. per-call cost: raw vs sandboxed call vs batch (agreement pass doubles as warm-up)
    for c, row in zip(checkers, rows, strict=True):
        arity, modes, agreement = bind_modes(c["source"], f"<{c['id']}>", frames, first)
        row["arity"] = arity
        row.update(agreement())
        t = time_modes(modes, args.batch_size, args)
        for m in ("raw", "call", "batch"):
            row[f"{m}_us"] = t[f"{m}_us"]["median"]
            row[f"{m}_us_iqr"] = [t[f"{m}_us"]["p25"], t[f"{m}_us"]["p75"]]
        row["call_ratio"] = row["call_us"] / row["raw_us"]
        row["batch_ratio"] = row["batch_us"] / row["raw_us"]
        row["call_overhead_us"] = row["call_us"] - row["raw_us"]
        row["batch_overhead_us"] = row["batch_us"] - row["raw_us"]
    calibration = calibrate(frames, args)

    med = lambda key: statistics.median(r[key] for r in rows) if rows else math.nan  # noqa: E731
    results: dict[str, Any] = {
        "benchmark": "sandbox_overhead",
        "args": dataclasses.asdict(args) | {"out_dir": str(out_dir), "attacks": str(attacks)},
        "machine": machine_info(),
        "checkers": rows,
        "skipped": skipped,
        "calibration": calibration,
        "summary": {
            "n_checkers": len(rows),
            "audit_ms_median": med("audit_ms"),
            "compile_ms_median": med("compile_ms"),
            "raw_us_median": med("raw_us"),
            "call_us_median": med("call_us"),
            "batch_us_median": med("batch_us"),
            "call_ratio_geomean": geomean([r["call_ratio"] for r in rows]),
            "batch_ratio_geomean": geomean([r["batch_ratio"] for r in rows]),
            "call_ratio_min": min((r["call_ratio"] for r in rows), default=math.nan),
            "call_ratio_max": max((r["call_ratio"] for r in rows), default=math.nan),
            "call_overhead_us_median": med("call_overhead_us"),
            "batch_overhead_us_median": med("batch_overhead_us"),
            "all_agree": all(r["agree"] for r in rows),
            "elapsed_s": time.perf_counter() - t_start,
        },
    }

    # 3. outputs
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sandbox_overhead.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (out_dir / "sandbox_overhead.md").write_text(text)
    plot(results, out_dir / "sandbox_overhead.png")
    print(text)
    print(f"wrote {out_dir}/sandbox_overhead.{{json,md,png}}")
    return results


if __name__ == "__main__":
    main()
