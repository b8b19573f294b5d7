"""Model-style checkers at speed: raw ``exec`` vs RestrictedPython vs sandbox vs sandbox + JIT.

The corpus (``tests/sandbox/data/corpus/``: 46 checkers in the styles GPT-4o, Claude and Qwen-VL
write, over five environments, with frames recorded from real rollouts) is timed per checker, in
one run, five ways on the same batch (``--batch`` frames of its environment, each with its
episode's first frame), interleaved: each of ``--repeats`` rounds times every mode once, in a
balanced order, so a shared host's drift lands on all modes alike and a worker's CPU idles between
its calls as it does between env steps (medians and quartiles are reported):

- ``raw``: the checker ``exec``-ed with the real numpy module, called frame by frame (no audit,
  no guards, no process boundary: the baseline);
- ``restricted``: ``sandbox.compile_checker`` in this process (audit + RestrictedPython + guards
  + budgets, the interpreter path, ``checker.batch``);
- ``sandbox``: ``Sandbox([source], jit=False)``, strongest isolation: the process boundary;
- ``sandbox_jit``: ``Sandbox([source])``: the Numba kernel where the checker fits the subset
  (which path it ran on is reported);
- ``staged_jit``: the same, on the path ``CodeRewardVecEnv`` takes: each batch's frames written
  into the sandbox's shared memory (``Sandbox.stage``), the first frames once (they change only
  at resets), then ``Sandbox.evaluate_stage`` (no second copy, no re-validation).

Plus the single-core memory-read bound of the batch (a Numba loop summing its bytes): what no
checker that reads every pixel can beat. Reported per checker: µs per frame of each mode, the
speed-up of sandbox + JIT over raw ``exec``, the fraction of the read bound it reaches, and whether
all five modes gave the same answers on every frame. Summaries: geometric means over the corpus
and over the jitted checkers. Timings are never asserted; the corpus checkers are this project's
own test data (trusted), which is why ``raw`` and ``restricted`` may run them in this process.

Usage:
    python benchmarks/realistic.py          # full run (~6 minutes on 2 CPUs)
    python benchmarks/realistic.py --quick  # smoke run (one env, 3 checkers)
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from benchmarks.common import (  # noqa: E402
    balanced_order,
    machine_info,
    parse_dataclass_args,
    summary,
    timed_call,
    write_results,
)
from tools import build_corpus  # noqa: E402

MODES = ("raw", "restricted", "sandbox", "sandbox_jit", "staged_jit")


@dataclass
class Args:
    batch: int = 64
    """frames per batch (the env's recorded frames, repeated when it has fewer)"""
    repeats: int = 15
    """rounds per checker; each times every mode once, interleaved (medians are reported)"""
    envs: str = ""
    """comma-separated env ids to time (empty: every env of the corpus)"""
    limit: int = 0
    """time at most this many checkers per env (0: all)"""
    out_dir: str = ""
    """where the results go; empty: benchmarks/results next to this script"""
    quick: bool = False
    """smoke mode: one env, 3 checkers, 2 repeats, batch 16"""


def batch_of(path: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` frames of a recorded file (and their first frames), repeated when it has fewer."""
    with np.load(path) as data:
        frames, firsts = data["frames"], data["firsts"]
    idx = np.arange(n) % len(frames)
    return np.ascontiguousarray(frames[idx]), np.ascontiguousarray(firsts[idx])


def raw_checker(source: str) -> Callable[[np.ndarray, np.ndarray], list[bool]]:
    """The checker by plain ``exec`` with real numpy, called frame by frame."""
    check = build_corpus.raw_check(source)

    def run(frames: np.ndarray, firsts: np.ndarray) -> list[bool]:
        return [bool(check(frames[i], firsts[i])) for i in range(len(frames))]

    return run


def median_us(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median µs of ``repeats`` calls after a warm-up call, and the last call's value."""
    fn()  # warm (caches, first-call costs)
    samples = []
    value = None
    for _ in range(repeats):
        ns, value = timed_call(fn)
        samples.append(ns / 1e3)
    return statistics.median(samples), value


@functools.cache
def _sum_bytes() -> Callable[[np.ndarray], Any]:
    """A Numba loop summing a uint8 buffer (compiled once per process)."""
    import numba

    @numba.njit(nogil=True)
    def sum_bytes(buf: np.ndarray) -> Any:
        s = np.uint64(0)
        for i in range(buf.size):
            s += buf[i]
        return s

    sum_bytes(np.zeros(64, np.uint8))  # compile
    return sum_bytes


def read_bound_us(frames: np.ndarray, repeats: int) -> float:
    """Best time of one single-threaded pass summing every byte of the batch."""
    sum_bytes = _sum_bytes()
    flat = frames.reshape(-1)
    best = math.inf
    for _ in range(max(5, repeats)):
        ns, _ = timed_call(lambda: sum_bytes(flat))
        best = min(best, ns / 1e3)
    return best


def measure(
    name: str, source: str, frames: np.ndarray, firsts: np.ndarray, args: Args
) -> dict[str, Any]:
    """Time the five modes of one checker interleaved, round by round, on the same batch.

    Each round times every mode once, in a balanced order (``balanced_order``), so drift of a
    shared host over the checker's seconds lands on all modes alike; the row keeps each
    mode's median and inter-quartile points over the rounds.
    """
    from sandbox import compile_checker
    from sandbox.jit import kernel_source
    from sandbox.pool import Sandbox

    n = len(frames)
    row: dict[str, Any] = {"checker": name, "frames": n}
    ro_frames, ro_firsts = frames.copy(), firsts.copy()
    ro_frames.flags.writeable = False
    ro_firsts.flags.writeable = False
    raw = raw_checker(source)
    checker = compile_checker(source, path=name)
    with contextlib.ExitStack() as stack:
        boxes = {
            mode: stack.enter_context(
                Sandbox([source], names=[name], jit=jit, timeout=30.0, spare=False)
            )
            for mode, jit in (("sandbox", False), ("sandbox_jit", True), ("staged_jit", True))
        }
        stage = boxes["staged_jit"].stage(n, frames.shape[1:3], firsts=True)
        if stage.firsts is not None:
            stage.firsts[...] = firsts  # once: the wrapper writes them at episode starts
        runs: dict[str, Callable[[], list[bool]]] = {
            "raw": lambda: raw(ro_frames, ro_firsts),
            "restricted": lambda: [bool(v) for v in checker.batch(ro_frames, ro_firsts)],
        }
        oks: dict[str, bool] = {}
        for mode, box in boxes.items():

            def run(box: Sandbox = box, mode: str = mode) -> list[bool]:
                if mode == "staged_jit":
                    stage.frames[...] = frames  # the wrapper's per-step frame writes
                    result = box.evaluate_stage(stage)
                else:
                    result = box.evaluate(frames, firsts)
                oks[mode] = oks.get(mode, True) and bool(result.ok)
                return [bool(v) for v in result.results[0]]

            runs[mode] = run
        answers = {mode: runs[mode]() for mode in MODES}  # warm: caches, first-call costs
        samples: dict[str, list[float]] = {mode: [] for mode in MODES}
        steady = True  # every mode gives its first answers again on every timed batch
        for r in range(args.repeats):
            for mode in balanced_order(MODES, r):
                ns, value = timed_call(runs[mode])
                samples[mode].append(ns / 1e3)
                steady = steady and value == answers[mode]
        row["path"], row["path_reason"] = boxes["sandbox_jit"].jit_modes[0]
        row["isolation"] = boxes["sandbox_jit"].isolation
    for mode in MODES:
        stats = summary(samples[mode])
        row[f"{mode}_us"] = stats["median"]
        row[f"{mode}_p25_us"], row[f"{mode}_p75_us"] = stats["p25"], stats["p75"]
    for mode in ("sandbox", "sandbox_jit", "staged_jit"):
        row[f"{mode}_ok"] = oks[mode]
    row["agree"] = steady and all(answers[m] == answers["raw"] for m in MODES)
    try:  # the corpus is trusted test data: its kernel text may be built in this process
        row["fused"] = kernel_source(source).count("def _vlmcar_fz")
    except ValueError:
        row["fused"] = 0
    row["read_bound_us"] = read_bound_us(frames, args.repeats)
    row["jit_over_raw"] = row["raw_us"] / row["sandbox_jit_us"]
    row["staged_over_raw"] = row["raw_us"] / row["staged_jit_us"]
    # the same ratio from the quartiles of both (the spread a reader should allow for)
    row["jit_over_raw_low"] = row["raw_p25_us"] / row["sandbox_jit_p75_us"]
    row["jit_over_raw_high"] = row["raw_p75_us"] / row["sandbox_jit_p25_us"]
    row["fraction_of_read_bound"] = row["read_bound_us"] / row["sandbox_jit_us"]
    for mode in MODES:
        row[f"{mode}_us_per_frame"] = row[f"{mode}_us"] / n
    return row


def geomean(values: Sequence[float]) -> float | None:
    good = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in good) / len(good)) if good else None


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    jitted = [r for r in rows if r.get("path") == "jit"]
    out: dict[str, Any] = {
        "checkers": len(rows),
        "jitted": len(jitted),
        "all_agree": all(r["agree"] for r in rows),
        "jit_over_raw_geomean": geomean([r["jit_over_raw"] for r in rows]),
        "jit_over_raw_geomean_jitted": geomean([r["jit_over_raw"] for r in jitted]),
        "jit_over_raw_geomean_low": geomean([r["jit_over_raw_low"] for r in rows]),
        "jit_over_raw_geomean_high": geomean([r["jit_over_raw_high"] for r in rows]),
        "read_bound_fraction_geomean": geomean([r["fraction_of_read_bound"] for r in rows]),
        "read_bound_fraction_geomean_jitted": geomean(
            [r["fraction_of_read_bound"] for r in jitted]
        ),
        "restricted_over_raw_geomean": geomean([r["raw_us"] / r["restricted_us"] for r in rows]),
        "sandbox_over_raw_geomean": geomean([r["raw_us"] / r["sandbox_us"] for r in rows]),
        "staged_over_raw_geomean": geomean([r["staged_over_raw"] for r in rows]),
        "staged_over_raw_geomean_jitted": geomean([r["staged_over_raw"] for r in jitted]),
    }
    return out


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "—" if x is None else format(x, spec)


def markdown(results: dict[str, Any]) -> str:
    a, m, s = results["args"], results["machine"], results["summary"]
    lines = [
        "# Model-style checkers at speed (the corpus of tests/sandbox/data/corpus)",
        "",
        f"{s['checkers']} checkers, batches of {a['batch']} recorded frames of each checker's env "
        "(native size: MiniGrid tile 8, PandaPush 64×64), each with its first frame; median of "
        f"{a['repeats']} rounds, each timing the five modes once in a balanced order; "
        f"isolation `{results['isolation']}`. {m['platform']}, "
        f"{m['cpu_count']} CPUs, load {', '.join(f'{x:.1f}' for x in m['load_avg'] or [])}, "
        f"{m['timestamp']}; total {results['elapsed_seconds'] / 60:.1f} min"
        f"{' (QUICK: rough numbers)' if a['quick'] else ''}.",
        "",
        "## Summary",
        "",
        f"- jitted: {s['jitted']} of {s['checkers']}; all five modes give the same answers on "
        f"every frame: {'yes' if s['all_agree'] else 'NO'}",
        f"- sandbox + JIT over raw `exec` (geometric mean): {_fmt(s['jit_over_raw_geomean'])}× "
        f"over the corpus ({_fmt(s['jit_over_raw_geomean_low'])}–"
        f"{_fmt(s['jit_over_raw_geomean_high'])}× from the quartiles), "
        f"{_fmt(s['jit_over_raw_geomean_jitted'])}× over the jitted checkers "
        "(issue 12's target: ≥ 5×)",
        f"- the same on the vectorised wrapper's path (frames written into the shared memory, "
        f"first frames once; `staged`): {_fmt(s.get('staged_over_raw_geomean'))}× over the "
        f"corpus, {_fmt(s.get('staged_over_raw_geomean_jitted'))}× over the jitted checkers",
        f"- fraction of the single-core read bound (geometric mean): "
        f"{_fmt(s['read_bound_fraction_geomean'], '.3f')} over the corpus, "
        f"{_fmt(s['read_bound_fraction_geomean_jitted'], '.3f')} over the jitted checkers "
        "(target for whole-array checkers: ≥ 0.5)",
        f"- RestrictedPython in-process over raw: {_fmt(s['restricted_over_raw_geomean'])}×; "
        f"sandbox without JIT over raw: {_fmt(s['sandbox_over_raw_geomean'])}× (> 1 is faster)",
        "",
        "## Per checker (µs per frame)",
        "",
        "| checker | env | raw | restricted | sandbox | sandbox + JIT | staged | path | fused | "
        "JIT / raw | (quartiles) | staged / raw | of read bound | agree |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['checker']} | {r['env']} | {r['raw_us_per_frame']:.1f} | "
            f"{r['restricted_us_per_frame']:.1f} | {r['sandbox_us_per_frame']:.1f} | "
            f"{r['sandbox_jit_us_per_frame']:.1f} | {r['staged_jit_us_per_frame']:.1f} | "
            f"{r['path']} | {r.get('fused', 0)} | "
            f"{r['jit_over_raw']:.2f}× | {r['jit_over_raw_low']:.2f}–{r['jit_over_raw_high']:.2f} | "
            f"{r['staged_over_raw']:.2f}× | "
            f"{r['fraction_of_read_bound']:.3f} | {'yes' if r['agree'] else 'NO'} |"
        )
    lines += [
        "",
        "*raw*: `exec` with real numpy, frame by frame. *restricted*: audit + RestrictedPython + "
        "guards in this process. *sandbox*: the process boundary, interpreter path. *sandbox + "
        "JIT*: the Numba kernel where the checker fits (else the interpreter again; `path`), through "
        "`Sandbox.evaluate` (frames and first frames copied every batch). *staged*: the same "
        "kernel on the vectorised wrapper's path (each batch's frames written into the shared "
        "memory, first frames once, `evaluate_stage`). The "
        "sandbox modes include the per-batch fixed cost (frame copy and the hop, ~150–350 µs a "
        "batch here: `frame_path.md`). *fused*: reductions lowered to one pass "
        "(`sandbox.fusion`, `fusion.md`). Read bound: one pass summing the batch's bytes.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_dataclass_args(Args, argv, __doc__)
    if args.quick:
        args = replace(
            args, repeats=2, batch=16, limit=3, envs=args.envs or "MiniGrid-DoorKey-5x5-v0"
        )
    if args.batch < 1 or args.repeats < 1:
        raise SystemExit("--batch and --repeats must be at least 1")
    answers = json.loads((build_corpus.CORPUS / "answers.json").read_text(encoding="utf-8"))
    envs = sorted({str(e["env"]) for e in answers.values()})
    if args.envs:
        wanted = [e.strip() for e in args.envs.split(",") if e.strip()]
        unknown = sorted(set(wanted) - set(envs))
        if unknown:
            raise SystemExit(f"--envs: {', '.join(unknown)} not in the corpus ({', '.join(envs)})")
        envs = wanted
    t0 = time.perf_counter()
    rows = []
    isolation = "?"
    for env_id in envs:
        frames, firsts = batch_of(build_corpus.frames_path(env_id), args.batch)
        names = sorted(n for n, e in answers.items() if e["env"] == env_id)
        if args.limit:
            names = names[: args.limit]
        for name in names:
            source = (build_corpus.CORPUS / name).read_text(encoding="utf-8")
            row = measure(name, source, frames, firsts, args)
            row["env"] = env_id.removeprefix("MiniGrid-")
            isolation = row.get("isolation", isolation)
            rows.append(row)
            print(
                f"{name}: raw {row['raw_us_per_frame']:.1f} µs/frame, sandbox+JIT "
                f"{row['sandbox_jit_us_per_frame']:.1f} ({row['path']}), agree {row['agree']}",
                flush=True,
            )
    results = {
        "benchmark": "realistic",
        "args": asdict(args),
        "machine": machine_info(),
        "isolation": isolation,
        "elapsed_seconds": time.perf_counter() - t0,
        "summary": summarise(rows),
        "rows": rows,
    }
    out_dir = Path(args.out_dir) if args.out_dir else HERE / "results"
    write_results(out_dir, "realistic_quick" if args.quick else "realistic", results, markdown)
    return results


if __name__ == "__main__":
    main()
