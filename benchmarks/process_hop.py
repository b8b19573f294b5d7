"""Process hop: what the OS boundary of ``Sandbox`` costs per batch, on a runaway, and at start-up.

What it measures, all in one run (so ratios compare numbers taken on the same machine, minutes apart):

1. Time per batch of ``--batch-sizes`` (1, 8, 64) structured 84×84×3 scenes, for two checkers (a cheap
   colour count with the ``count_color`` vision helper and a heavier numpy grayscale-gradient edge
   density), for one set holding both (the per-batch cost amortised over two checkers) and for a
   ``return True`` checker (calibration: the pure fixed cost), in three modes:
   * inproc: :func:`sandbox.compile_checker` and ``checker.batch(frames)`` in this process
     (restricted layers only, no boundary), one call per checker of the set;
   * process: ``Sandbox(isolation="process").evaluate(frames)`` (worker process, rlimits);
   * strict: ``Sandbox(isolation="strict").evaluate(frames)`` (every layer; skipped where the
     machine cannot provide it; the level and layers the worker applied are recorded).
   Each sample times one call; the modes are interleaved (rotating their order, forwards and
   backwards in turn, so that each mode follows each other mode equally often: a call right after
   another sandbox call finds the parent's code for it in warm caches), the batch is drawn
   in turn from a pool of distinct scenes, and the median and IQR over ``--samples`` samples are
   reported, with frames/s, the hop overhead (sandbox − inproc, µs per batch) and the ratio
   sandbox/inproc. GC is off while timing. Every timed sandbox answer is compared with the in-process
   answer on the same frames (``agree`` in the results). The samples are split over
   ``--box-rounds`` rounds of fresh sandboxes (created in rotating level order): on a machine with
   few CPUs, whether the scheduler wakes a worker on the parent's CPU or on another one moves the
   hop by tens of µs, so the CPU each worker was last seen on is recorded too.
2. A runaway: a Sandbox holding ``[ok, spin]`` (``spin`` loops forever; its iteration budget is
   raised so that only the parent's deadline stops it, and ``max_failures=1`` so that it is disabled
   after that) with ``timeout`` in ``--timeouts``, with and without a pre-warmed spare. Reported: the
   wall time of the ``evaluate`` that times out (deadline + kill + swap in the spare, or a cold
   respawn), its excess over the deadline, the next ``evaluate`` (the ok checker answers again), and
   the time from the start of the failing call until the next call has returned ok. Before each
   trial the spare, if any, is waited for, so that it really is pre-warmed.
3. Start-up: ``Sandbox(...)`` construction until the worker has said ready (``spare=False``), for
   process and strict.

Writes ``process_hop.json``, ``process_hop.md`` and ``process_hop.png`` to ``--out-dir`` (default:
``benchmarks/results`` next to this script). Timings are never asserted.

Usage:
    python benchmarks/process_hop.py            # full run (about three minutes)
    python benchmarks/process_hop.py --quick    # smoke run (about half a minute)
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import itertools
import json
import logging
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

import sandbox
from sandbox.errors import IsolationUnavailable
from sandbox.pool import Sandbox, strongest_isolation

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from benchmarks.common import (  # noqa: E402
    balanced_order,
    git_commit,
    make_scene,
    parse_dataclass_args,
    source_digest,
    summary,
    timed_call,
)
from benchmarks.common import machine_info as common_machine_info  # noqa: E402

T = TypeVar("T")


@dataclass
class Args:
    samples: int = 201
    """timing samples per checker set, batch size and mode (one call each); the median is reported"""
    warmup: int = 5
    """untimed calls per checker set, batch size and mode before timing (again for each box round)"""
    box_rounds: int = 3
    """fresh sandboxes per checker set and batch size (the samples are split between them)"""
    idle_ms: float = 2.0
    """calibration: the pause before each 'after idle' call of the null checker, in milliseconds"""
    batch_sizes: str = "1,8,64"
    """comma-separated batch sizes (frames per evaluate call)"""
    scenes: int = 256
    """distinct scenes in the pool the batches are cut from"""
    height: int = 84
    """frame height in pixels"""
    width: int = 84
    """frame width in pixels"""
    seed: int = 1
    """seed of the scene generator"""
    timeouts: str = "0.5,1.0"
    """comma-separated Sandbox timeouts (seconds) for the runaway trials"""
    runaway_repeats: int = 7
    """runaway trials per isolation level, timeout and spare setting (medians reported)"""
    runaway_batch: int = 8
    """frames per evaluate call in the runaway trials"""
    startup_repeats: int = 9
    """Sandbox constructions per isolation level for the start-up time (median reported)"""
    out_dir: str = ""
    """where the results go; empty: benchmarks/results next to this script"""
    quick: bool = False
    """smoke mode: 21 samples, 2 warm-ups, 1 box round, 1 runaway trial each, 3 start-ups (rough)"""


def parse_args(argv: Sequence[str] | None = None) -> Args:
    """Build an :class:`Args` from the command line (one ``--kebab-case`` option per field)."""
    return parse_dataclass_args(Args, argv, __doc__)


def machine_info() -> dict[str, Any]:
    level, reports = strongest_isolation()
    return common_machine_info(
        ("numba", "RestrictedPython", "matplotlib"),
        strongest_isolation=level,
        isolation_layers={r.name: r.available for r in reports},
    )


def _int_list(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


def _float_list(text: str) -> list[float]:
    return [float(t) for t in text.split(",") if t.strip()]


# --------------------------------------------------------------------------------------------
# Inputs: checkers and frames
# --------------------------------------------------------------------------------------------

COLOR_CHECKER = "def check(frame):\n    return count_color(frame, (255, 255, 0), 10) > 20\n"

EDGE_CHECKER = """import numpy as np


def check(frame):
    g = frame.astype(np.float32)
    gray = 0.299 * g[..., 0] + 0.587 * g[..., 1] + 0.114 * g[..., 2]
    gx = np.abs(np.diff(gray, axis=1))[:-1, :]
    gy = np.abs(np.diff(gray, axis=0))[:, :-1]
    edges = (gx + gy) > 40.0
    return bool(edges.mean() > 0.04)
"""

NULL_CHECKER = "def check(frame):\n    return True\n"

SPIN_CHECKER = (
    "def check(frame):\n    n = 0\n    while n >= 0:\n        n = n + 1\n    return True\n"
)

CHECKERS: dict[str, str] = {"color": COLOR_CHECKER, "edge": EDGE_CHECKER, "null": NULL_CHECKER}
CHECKER_SETS: dict[str, tuple[str, ...]] = {
    "color": ("color",),
    "edge": ("edge",),
    "both": ("color", "edge"),
    "null": ("null",),  # calibration: the pure fixed cost of a batch (and of the hop)
}
REAL_SETS = ("color", "edge", "both")  # the summary's medians are over these


def cut_batches(pool: np.ndarray, n: int) -> list[np.ndarray]:
    """Consecutive, contiguous batches of ``n`` scenes from the pool (at least one)."""
    count = max(1, pool.shape[0] // n)
    return [np.ascontiguousarray(pool[i * n : (i + 1) * n]) for i in range(count)]


# --------------------------------------------------------------------------------------------
# Timing helpers
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_pool_log() -> Iterator[None]:
    """Silence the pool's expected 'worker replaced' warnings during the runaway trials."""
    logger = logging.getLogger("sandbox.pool")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def available_levels() -> tuple[list[str], dict[str, str]]:
    """The sandbox isolation levels to measure, and why any was left out."""
    level, reports = strongest_isolation()
    if level == "strict":
        return ["process", "strict"], {}
    missing = "; ".join(f"{r.name}: {r.detail}" for r in reports if not r.available)
    return ["process"], {"strict": f"unavailable on this machine ({missing})"}


# --------------------------------------------------------------------------------------------
# 1. Hop overhead per batch
# --------------------------------------------------------------------------------------------


def last_cpu(pid: int | str) -> int | None:
    """The CPU a process last ran on (Linux ``/proc``; None elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[36])
    except (OSError, IndexError, ValueError):
        return None


def measure_hop(
    pool: np.ndarray, levels: list[str], args: Args
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """µs per batch for every checker set, batch size and mode; agreement on every timed batch.

    Every (set, batch size) gets ``--box-rounds`` rounds of fresh boxes, created in rotating level
    order, so that no level keeps one lucky (or unlucky) CPU placement for the whole run.
    """
    inproc = {name: sandbox.compile_checker(src, path=name) for name, src in CHECKERS.items()}
    sandbox_info: dict[str, Any] = {
        lv: {"requested": lv, "boxes": 0, "respawns_during_timing": 0, "same_worker": True}
        for lv in levels
    }
    rows: list[dict[str, Any]] = []
    group = 0
    for set_name, members in CHECKER_SETS.items():
        checkers = [inproc[m] for m in members]

        def run_inproc(frames: np.ndarray, cs: list[Any] = checkers) -> np.ndarray:
            return np.stack([c.batch(frames) for c in cs])

        for n in _int_list(args.batch_sizes):
            batches = cut_batches(pool, n)
            expected = [run_inproc(b) for b in batches]
            names = ["inproc", *levels]
            samples: dict[str, list[float]] = {m: [] for m in names}
            checked = {m: 0 for m in names}
            mismatches = {m: 0 for m in names}
            placements: list[dict[str, int | None]] = []
            rounds = max(1, args.box_rounds)
            per_round = [len(range(k, args.samples, rounds)) for k in range(rounds)]
            r = 0
            for k in range(rounds):
                shift = (group + k) % len(levels)
                boxes: dict[str, Sandbox] = {}
                try:
                    for lv in levels[shift:] + levels[:shift]:
                        boxes[lv] = Sandbox(
                            [CHECKERS[m] for m in members],
                            names=list(members),
                            isolation=lv,
                            spare=False,
                        )
                    pids = {lv: box.worker_pid for lv, box in boxes.items()}
                    modes: dict[str, Callable[[np.ndarray], Any]] = {"inproc": run_inproc}
                    modes |= {lv: boxes[lv].evaluate for lv in levels}
                    for m, w in itertools.product(names, range(args.warmup)):
                        modes[m](batches[w % len(batches)])
                    for _ in range(per_round[k]):
                        b = r % len(batches)
                        frames = batches[b]
                        order = balanced_order(names, r)
                        r += 1
                        for m in order:
                            fn = modes[m]
                            ns, value = timed_call(lambda fn=fn, frames=frames: fn(frames))
                            samples[m].append(ns / 1e3)
                            if m == "inproc":
                                got, ok = value, True
                            else:
                                got, ok = value.results, value.ok
                            checked[m] += 1
                            if not (ok and np.array_equal(got, expected[b])):
                                mismatches[m] += 1
                        gc.collect()
                    placements.append(
                        {"parent": last_cpu("self")}
                        | {lv: last_cpu(box.worker_pid or 0) for lv, box in boxes.items()}
                    )
                    for lv, box in boxes.items():
                        info = sandbox_info[lv]
                        info["isolation"] = box.isolation
                        info["layers"] = [x.name for x in box.layers if x.available]
                        info["boxes"] += 1
                        info["respawns_during_timing"] += box.respawns
                        info["same_worker"] &= box.worker_pid == pids[lv]
                finally:
                    for box in boxes.values():
                        box.close()
            group += 1
            row: dict[str, Any] = {
                "set": set_name,
                "checkers": list(members),
                "batch_size": n,
                "n_distinct_batches": len(batches),
                "n_frames": len(batches) * n,
                "n_true": [int(sum(e[i].sum() for e in expected)) for i in range(len(members))],
                "agree": all(v == 0 for v in mismatches.values()),
                "batches_checked": checked,
                "mismatches": mismatches,
                "box_rounds": rounds,
                "last_cpu": placements,
            }
            base = summary(samples["inproc"])
            for m in names:
                s = summary(samples[m])
                row[f"{m}_us"] = s["median"]
                row[f"{m}_us_iqr"] = [s["p25"], s["p75"]]
                row[f"{m}_us_per_frame"] = s["median"] / n
                row[f"{m}_fps"] = n / (s["median"] * 1e-6)
                if m != "inproc":
                    row[f"{m}_hop_us"] = s["median"] - base["median"]
                    row[f"{m}_hop_us_per_frame"] = (s["median"] - base["median"]) / n
                    row[f"{m}_ratio"] = s["median"] / base["median"]
            rows.append(row)
    return rows, sandbox_info


def idle_calibration(frames: np.ndarray, levels: list[str], args: Args) -> dict[str, Any]:
    """The null checker's batch of one, back to back and after a pause of ``--idle-ms``.

    Back to back, the worker's CPU is still awake when the next request comes; after a pause it
    may have gone idle (on a virtual machine: the vCPU halted), and waking it costs more. The main
    table sits in between (other modes and a ``gc.collect()`` run between two calls of a box).
    """
    checker = sandbox.compile_checker(NULL_CHECKER, path="null")
    modes: dict[str, Callable[[], Any]] = {"inproc": lambda: checker.batch(frames)}
    out: dict[str, Any] = {"idle_ms": args.idle_ms, "batch_size": int(frames.shape[0])}
    boxes = {
        lv: Sandbox([NULL_CHECKER], names=["null"], isolation=lv, spare=False) for lv in levels
    }
    try:
        for lv, box in boxes.items():
            modes[lv] = lambda box=box: box.evaluate(frames)
        names = list(modes)
        n = max(1, args.samples // 2)
        for m in names:
            for _ in range(args.warmup):
                modes[m]()
        b2b: dict[str, list[float]] = {m: [] for m in names}
        idle: dict[str, list[float]] = {m: [] for m in names}
        for r in range(len(names)):
            for m in names[r:] + names[:r]:
                fn = modes[m]
                for _ in range(max(1, n // len(names))):
                    b2b[m].append(timed_call(fn)[0] / 1e3)
                for _ in range(max(1, n // len(names))):
                    time.sleep(args.idle_ms / 1e3)
                    idle[m].append(timed_call(fn)[0] / 1e3)
                gc.collect()
        for m in names:
            for label, samples in (("back_to_back", b2b[m]), ("after_idle", idle[m])):
                s = summary(samples)
                out[f"{m}_{label}_us"] = s["median"]
                out[f"{m}_{label}_us_iqr"] = [s["p25"], s["p75"]]
        for lv in levels:
            for label in ("back_to_back", "after_idle"):
                out[f"{lv}_{label}_hop_us"] = out[f"{lv}_{label}_us"] - out[f"inproc_{label}_us"]
    finally:
        for box in boxes.values():
            box.close()
    return out


def amortisation(rows: list[dict[str, Any]], levels: list[str]) -> list[dict[str, Any]]:
    """Per batch size: the both-checkers box against the two one-checker boxes."""
    by = {(r["set"], r["batch_size"]): r for r in rows}
    out = []
    for n in sorted({r["batch_size"] for r in rows}):
        color, edge, both = by["color", n], by["edge", n], by["both", n]
        entry: dict[str, Any] = {"batch_size": n}
        for m in ["inproc", *levels]:
            separate = color[f"{m}_us"] + edge[f"{m}_us"]
            entry[f"{m}_separate_us"] = separate
            entry[f"{m}_both_us"] = both[f"{m}_us"]
            entry[f"{m}_both_per_checker_us"] = both[f"{m}_us"] / 2
            if m != "inproc":
                entry[f"{m}_hop_separate_us"] = color[f"{m}_hop_us"] + edge[f"{m}_hop_us"]
                entry[f"{m}_hop_both_us"] = both[f"{m}_hop_us"]
                entry[f"{m}_hop_both_per_checker_us"] = both[f"{m}_hop_us"] / 2
        out.append(entry)
    return out


# --------------------------------------------------------------------------------------------
# 2. Runaway: detect, kill, replace, ready again
# --------------------------------------------------------------------------------------------


def wait_for_spare(box: Sandbox) -> str:
    """Block until the box's spare worker has said ready, so that the spare is really pre-warmed.

    Uses the pool's private hook (there is no public one); returns how it waited.
    """
    spare = getattr(box, "_spare", None)
    ensure = getattr(box, "_ensure_ready", None)
    if spare is None:
        return "no spare"
    if callable(ensure):
        ensure(spare)
        return "ensure_ready"
    time.sleep(2.0)  # fallback if the pool's internals change: generous for a ~0.4 s start-up
    return "sleep 2 s"


def runaway_trial(
    level: str, timeout: float, spare: bool, frames: np.ndarray, expected_ok: np.ndarray
) -> dict[str, Any]:
    """One runaway: build the box, time the call that times out, then the next call."""
    box = Sandbox(
        [COLOR_CHECKER, SPIN_CHECKER],
        names=["ok", "spin"],
        isolation=level,
        timeout=timeout,
        spare=spare,
        max_failures=1,
        budgets=sandbox.Budgets(max_iterations=10**12),
    )
    try:
        waited = wait_for_spare(box)
        # One worker per checker: the runaway is checker 1, "spin".
        pid_before, respawns_before = box.worker_pids[1], box.respawns
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            t0 = time.perf_counter()
            first = box.evaluate(frames)
            t1 = time.perf_counter()
            second = box.evaluate(frames)
            t2 = time.perf_counter()
        finally:
            if gc_was_on:
                gc.enable()
        return {
            "level": level,
            "isolation": box.isolation,
            "timeout_s": timeout,
            "spare": spare,
            "waited": waited,
            "timeout_call_s": t1 - t0,
            "excess_s": (t1 - t0) - timeout,
            "next_call_s": t2 - t1,
            "detect_ready_s": t2 - t0,
            "ready_after_deadline_s": (t2 - t0) - timeout,
            "first_statuses": list(first.statuses),
            "next_statuses": list(second.statuses),
            "details": [d[:300] for d in (*first.details, *second.details) if d],
            "timed_out": first.statuses[1] == "timeout",
            "ok_answered": first.statuses[0] == "ok" and second.statuses[0] == "ok",
            "ok_agree": bool(
                np.array_equal(first.results[0], expected_ok)
                and np.array_equal(second.results[0], expected_ok)
            ),
            "respawns": box.respawns - respawns_before,
            "worker_replaced": box.worker_pids[1] != pid_before,
        }
    finally:
        box.close()


def measure_runaway(
    pool: np.ndarray, levels: list[str], args: Args
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    frames = np.ascontiguousarray(pool[: args.runaway_batch])
    expected_ok = sandbox.compile_checker(COLOR_CHECKER).batch(frames)
    configs = list(itertools.product(levels, _float_list(args.timeouts), (True, False)))
    trials: list[dict[str, Any]] = []
    with quiet_pool_log():
        for r in range(args.runaway_repeats):
            order = balanced_order(configs, r)
            for level, timeout, spare in order:
                trials.append(runaway_trial(level, timeout, spare, frames, expected_ok))
    rows = []
    for level, timeout, spare in configs:
        mine = [
            t for t in trials if (t["level"], t["timeout_s"], t["spare"]) == (level, timeout, spare)
        ]
        row: dict[str, Any] = {
            "level": level,
            "isolation": mine[0]["isolation"],
            "timeout_s": timeout,
            "spare": spare,
            "n": len(mine),
            "all_timed_out": all(t["timed_out"] for t in mine),
            "all_ok_answered": all(t["ok_answered"] for t in mine),
            "ok_agree": all(t["ok_agree"] for t in mine),
            "all_replaced": all(t["worker_replaced"] and t["respawns"] == 1 for t in mine),
        }
        for key in (
            "timeout_call_s",
            "excess_s",
            "next_call_s",
            "detect_ready_s",
            "ready_after_deadline_s",
        ):
            s = summary([t[key] for t in mine])
            row[key] = s["median"]
            row[f"{key}_iqr"] = [s["p25"], s["p75"]]
        rows.append(row)
    return rows, trials


# --------------------------------------------------------------------------------------------
# 3. Start-up
# --------------------------------------------------------------------------------------------


def measure_startup(levels: list[str], args: Args) -> list[dict[str, Any]]:
    """Sandbox construction until its (only) worker has said ready, rotating the levels."""
    samples: dict[str, list[float]] = {lv: [] for lv in levels}
    used: dict[str, str] = {}
    for r in range(args.startup_repeats):
        order = balanced_order(levels, r)
        for lv in order:
            holder: list[Sandbox] = []

            def build(lv: str = lv, holder: list[Sandbox] = holder) -> None:
                holder.append(
                    Sandbox(
                        [COLOR_CHECKER, EDGE_CHECKER],
                        names=["color", "edge"],
                        isolation=lv,
                        spare=False,
                    )
                )

            ns, _ = timed_call(build)
            samples[lv].append(ns / 1e9)
            used[lv] = holder[0].isolation
            holder[0].close()
            gc.collect()
    rows = []
    for lv in levels:
        s = summary(samples[lv])
        rows.append(
            {
                "level": lv,
                "isolation": used[lv],
                "n": len(samples[lv]),
                "startup_s": s["median"],
                "startup_s_iqr": [s["p25"], s["p75"]],
                "startup_s_min": min(samples[lv]),
            }
        )
    return rows


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def _iqr(row: dict[str, Any], key: str, scale: float = 1.0, fmt: str = ".0f") -> str:
    lo, hi = row[f"{key}_iqr"]
    return f"{row[key] * scale:{fmt}} ({lo * scale:{fmt}}–{hi * scale:{fmt}})"


def markdown(results: dict[str, Any]) -> str:
    a, m = results["args"], results["machine"]
    levels = results["levels"]
    lines = [
        "# Process hop",
        "",
        f"{a['height']}×{a['width']}×3 uint8 structured scenes (pool of {a['scenes']}), "
        f"{a['samples']} samples of one call per checker set × batch size × mode, modes "
        f"interleaved, split over {a['box_rounds']} round(s) of fresh sandboxes; medians (IQR); "
        "`null` is the `return True` checker (pure fixed cost). inproc = "
        "`compile_checker(src).batch(frames)` in this process (one call per checker of the set); "
        + ", ".join(
            f"{lv} = `Sandbox(isolation={lv!r}).evaluate(frames)` "
            f"(worker applied: {'/'.join(results['sandboxes'][lv]['layers'])})"
            for lv in levels
        )
        + ". hop = sandbox − inproc per batch. sandbox package "
        f"`{results['summary']['sandbox_package']}` (commit "
        f"{(results['summary']['git_commit'] or 'unknown')[:12]}). {m['platform']}, "
        f"Python {m['python']}, numpy {m['numpy']}, {m['cpu_count']} CPUs, {m['timestamp']}"
        f"{' (QUICK: rough numbers)' if a['quick'] else ''}.",
    ]
    if results["summary"]["sandbox_source_changed_during_run"]:
        lines += [
            "",
            "**WARNING**: the sandbox sources changed during the run; numbers are suspect.",
        ]
    if results["skipped_levels"]:
        lines += [
            "",
            "Skipped: " + "; ".join(f"{k}: {v}" for k, v in results["skipped_levels"].items()),
        ]
    head = ["set", "batch", "inproc µs"]
    for lv in levels:
        head += [f"{lv} µs", f"{lv} hop µs", f"{lv}/inproc"]
    head += ["frames/s " + "/".join(["inproc", *levels]), "agree"]
    lines += ["", "| " + " | ".join(head) + " |"]
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for r in results["hop"]:
        cells = [r["set"], str(r["batch_size"]), _iqr(r, "inproc_us")]
        for lv in levels:
            cells += [_iqr(r, f"{lv}_us"), f"{r[f'{lv}_hop_us']:.0f}", f"{r[f'{lv}_ratio']:.2f}"]
        fps = " / ".join(f"{r[f'{k}_fps']:,.0f}" for k in ["inproc", *levels])
        cells += [fps, "yes" if r["agree"] else "NO"]
        lines.append("| " + " | ".join(cells) + " |")

    s = results["summary"]
    frac, c = s["worker_on_parent_cpu_fraction"], results["calibration"]
    lines += [
        "",
        "**Calibration** (null checker, batch of 1, µs per call; hop = sandbox − inproc): back to "
        "back "
        + ", ".join(f"{k} {c[f'{k}_back_to_back_us']:.0f}" for k in ["inproc", *levels])
        + f"; after a {c['idle_ms']:g} ms pause "
        + ", ".join(f"{k} {c[f'{k}_after_idle_us']:.0f}" for k in ["inproc", *levels])
        + ". The hop depends on whether the worker's CPU is still awake (back to back) or has to "
        "be woken (after a pause; on a virtual machine a halted vCPU); the table above lies in "
        "between. Workers last seen on the parent's CPU: "
        + ", ".join(f"{lv} {frac[lv]:.0%}" for lv in levels)
        + " of boxes.",
    ]

    lines += [
        "",
        "**Amortisation** (one box holding both checkers vs one box per checker): µs per batch.",
        "",
    ]
    head = ["batch", "inproc both (sum of two)"]
    for lv in levels:
        head += [f"{lv} both (two boxes)", f"{lv} hop both (two boxes)"]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---:"] * len(head)) + "|"]
    for e in results["amortisation"]:
        cells = [str(e["batch_size"]), f"{e['inproc_both_us']:.0f} ({e['inproc_separate_us']:.0f})"]
        for lv in levels:
            cells += [
                f"{e[f'{lv}_both_us']:.0f} ({e[f'{lv}_separate_us']:.0f})",
                f"{e[f'{lv}_hop_both_us']:.0f} ({e[f'{lv}_hop_separate_us']:.0f})",
            ]
        lines.append("| " + " | ".join(cells) + " |")

    lines += [
        "",
        f"**Runaway** (`[ok, spin]`, `max_failures=1`, batch of {a['runaway_batch']}, "
        f"{a['runaway_repeats']} trial(s) each; seconds, medians (IQR)): timeout call = the "
        "`evaluate` that hits the deadline; excess = timeout call − timeout; next = the following "
        "`evaluate` (ok checker answers); detect+ready = start of the timeout call to end of next.",
        "",
        "| level | timeout s | spare | timeout call | excess | next call | detect+ready | "
        "ready − deadline | checks |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["runaway"]:
        ok = r["all_timed_out"] and r["all_ok_answered"] and r["ok_agree"] and r["all_replaced"]
        lines.append(
            f"| {r['isolation']} | {r['timeout_s']:g} | {'warm' if r['spare'] else 'cold'} | "
            f"{_iqr(r, 'timeout_call_s', fmt='.3f')} | {_iqr(r, 'excess_s', fmt='.3f')} | "
            f"{_iqr(r, 'next_call_s', fmt='.4f')} | {_iqr(r, 'detect_ready_s', fmt='.3f')} | "
            f"{r['ready_after_deadline_s']:.3f} | {'ok' if ok else 'FAILED'} |"
        )

    lines += [
        "",
        f"**Start-up** (`Sandbox(...)` to ready, `spare=False`, two checkers, "
        f"{a['startup_repeats']} each): "
        + "; ".join(
            f"{r['isolation']} {r['startup_s'] * 1e3:.0f} ms "
            f"(IQR {r['startup_s_iqr'][0] * 1e3:.0f}–{r['startup_s_iqr'][1] * 1e3:.0f}, "
            f"min {r['startup_s_min'] * 1e3:.0f})"
            for r in results["startup"]
        )
        + ".",
    ]
    lines += [
        "",
        "**Summary**: hop per batch (median over color/edge/both) "
        + "; ".join(
            f"{lv}: "
            + ", ".join(
                f"{n}→{s['hop_us_by_level_and_batch'][lv][str(n)]:.0f} µs" for n in s["batch_sizes"]
            )
            for lv in levels
        )
        + "; ratio sandbox/inproc "
        + "; ".join(
            f"{lv}: "
            + ", ".join(
                f"{n}→{s['ratio_by_level_and_batch'][lv][str(n)]:.2f}×" for n in s["batch_sizes"]
            )
            for lv in levels
        )
        + "; null-checker hop "
        + "; ".join(
            f"{lv}: "
            + ", ".join(
                f"{n}→{s['null_hop_us_by_level_and_batch'][lv][str(n)]:.0f} µs"
                for n in s["batch_sizes"]
            )
            for lv in levels
        )
        + f"; every timed sandbox answer equals the in-process answer: "
        f"{'yes' if s['all_agree'] else 'NO'}; elapsed {s['elapsed_s']:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = results["levels"]
    fig, (ax1, ax2, ax3) = plt.subplots(
        1, 3, figsize=(17, 5.2), gridspec_kw={"width_ratios": [1.4, 1.3, 0.6]}
    )
    styles = {"inproc": "-", "process": "--", "strict": ":"}
    colors = {"color": "tab:orange", "edge": "tab:blue", "both": "tab:green", "null": "tab:gray"}
    for set_name in CHECKER_SETS:
        rows = [r for r in results["hop"] if r["set"] == set_name]
        xs = [r["batch_size"] for r in rows]
        for mode in ["inproc", *levels]:
            ys = [r[f"{mode}_us"] for r in rows]
            lo = [r[f"{mode}_us"] - r[f"{mode}_us_iqr"][0] for r in rows]
            hi = [r[f"{mode}_us_iqr"][1] - r[f"{mode}_us"] for r in rows]
            ax1.errorbar(
                xs,
                ys,
                yerr=[lo, hi],
                linestyle=styles.get(mode, "-."),
                marker="o",
                color=colors[set_name],
                capsize=2,
                label=f"{set_name} {mode}",
            )
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax1.set_xlabel("batch size (frames)")
    ax1.set_ylabel("µs per batch (median, IQR bars)")
    ax1.set_title("Per-batch cost: in process vs behind the process hop")
    ax1.grid(which="both", alpha=0.3)
    ax1.legend(fontsize=7, ncol=4)

    rows = results["runaway"]
    labels = [
        f"{r['isolation']}\n{r['timeout_s']:g}s {'warm' if r['spare'] else 'cold'}" for r in rows
    ]
    x = np.arange(len(rows))
    deadline = [r["timeout_s"] for r in rows]
    excess = [r["excess_s"] for r in rows]
    nxt = [r["next_call_s"] for r in rows]
    ax2.bar(x, deadline, color="tab:gray", label="deadline (timeout)")
    ax2.bar(x, excess, bottom=deadline, color="tab:red", label="excess: kill + swap/respawn")
    ax2.bar(
        x,
        nxt,
        bottom=[d + e for d, e in zip(deadline, excess, strict=True)],
        color="tab:green",
        label="next evaluate (ok)",
    )
    for xi, d, e, nx in zip(x, deadline, excess, nxt, strict=True):
        ax2.annotate(
            f"+{(e + nx) * 1e3:.0f} ms",
            (xi, d + e + nx),
            ha="center",
            va="bottom",
            fontsize=7,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax2.set_xticks(x, labels, fontsize=7)
    ax2.set_ylabel("seconds (medians)")
    ax2.set_title("Runaway checker: detect, replace, ready again")
    ax2.legend(fontsize=8)
    ax2.grid(axis="y", alpha=0.3)

    st = results["startup"]
    ax3.bar(
        [r["isolation"] for r in st],
        [r["startup_s"] * 1e3 for r in st],
        yerr=[
            [(r["startup_s"] - r["startup_s_iqr"][0]) * 1e3 for r in st],
            [(r["startup_s_iqr"][1] - r["startup_s"]) * 1e3 for r in st],
        ],
        capsize=4,
        color="tab:purple",
    )
    ax3.set_ylabel("ms (median, IQR)")
    ax3.set_title("Worker start-up")
    ax3.grid(axis="y", alpha=0.3)
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
            samples=min(args.samples, 21),
            warmup=min(args.warmup, 2),
            box_rounds=1,
            runaway_repeats=min(args.runaway_repeats, 1),
            startup_repeats=min(args.startup_repeats, 3),
        )
    out_dir = Path(args.out_dir) if args.out_dir else HERE / "results"

    # seeding
    random.seed(args.seed)
    np.random.seed(args.seed)
    rng = np.random.default_rng(args.seed)

    # inputs
    pool = np.stack([make_scene(rng, args.height, args.width) for _ in range(args.scenes)])
    levels, skipped_levels = available_levels()
    digest_before = source_digest()
    t_start = time.perf_counter()

    # 1. per-batch cost and hop overhead; 2. runaway; 3. start-up
    try:
        hop, sandboxes = measure_hop(pool, levels, args)
    except IsolationUnavailable as err:  # the probe said yes but the worker said no
        levels = ["process"]
        skipped_levels["strict"] = f"worker refused: {err}"
        hop, sandboxes = measure_hop(pool, levels, args)
    calibration = idle_calibration(np.ascontiguousarray(pool[:1]), levels, args)
    runaway, trials = measure_runaway(pool, levels, args)
    startup = measure_startup(levels, args)

    batch_sizes = _int_list(args.batch_sizes)

    def by_level_and_batch(key: str, sets: Sequence[str]) -> dict[str, dict[str, float]]:
        return {
            lv: {
                str(n): statistics.median(
                    r[f"{lv}_{key}"] for r in hop if r["batch_size"] == n and r["set"] in sets
                )
                for n in batch_sizes
            }
            for lv in levels
        }

    placements = [p for r in hop for p in r["last_cpu"]]
    same_cpu = {
        lv: sum(p["parent"] is not None and p[lv] == p["parent"] for p in placements)
        / len(placements)
        for lv in levels
    }
    results: dict[str, Any] = {
        "benchmark": "process_hop",
        "args": dataclasses.asdict(args) | {"out_dir": str(out_dir)},
        "machine": machine_info(),
        "checkers": CHECKERS | {"spin": SPIN_CHECKER},
        "levels": levels,
        "skipped_levels": skipped_levels,
        "sandboxes": sandboxes,
        "hop": hop,
        "amortisation": amortisation(hop, levels),
        "calibration": calibration,
        "runaway": runaway,
        "runaway_trials": trials,
        "startup": startup,
        "summary": {
            "batch_sizes": batch_sizes,
            "hop_us_by_level_and_batch": by_level_and_batch("hop_us", REAL_SETS),
            "ratio_by_level_and_batch": by_level_and_batch("ratio", REAL_SETS),
            "null_hop_us_by_level_and_batch": by_level_and_batch("hop_us", ("null",)),
            "worker_on_parent_cpu_fraction": same_cpu,
            "all_agree": all(r["agree"] for r in hop),
            "runaway_all_ok": all(
                r["all_timed_out"] and r["all_ok_answered"] and r["ok_agree"] and r["all_replaced"]
                for r in runaway
            ),
            "startup_s": {r["level"]: r["startup_s"] for r in startup},
            "elapsed_s": time.perf_counter() - t_start,
            "sandbox_source_sha256": digest_before,
            "sandbox_package": str(Path(sandbox.__file__).resolve().parent),
            "git_commit": git_commit(),
            # workers import the sources afresh at every start: an edit during the run taints it
            "sandbox_source_changed_during_run": source_digest() != digest_before,
        },
    }

    # outputs
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "process_hop.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (out_dir / "process_hop.md").write_text(text)
    plot(results, out_dir / "process_hop.png")
    print(text)
    print(f"wrote {out_dir}/process_hop.{{json,md,png}}")
    return results


if __name__ == "__main__":
    main()
