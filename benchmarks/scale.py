"""Scale: how fast ``vlmcar relabel`` relabels an offline dataset serially and on Ray, and beyond.

What it measures, all in one run, on one dataset (MiniGrid-DoorKey-5x5-v0 reward frames, 40×40×3:
expert and random episodes rolled out once, then repeated to ``--frames``) relabelled with the
environment's reference program (3 checkers) in ``--partition-frames`` partitions:

1. Wall time and frames/s of :func:`rl.relabel.relabel` (program load, planning, every partition,
   assembly, the sidecar) in three modes, interleaved over ``--repeats`` rounds (rotating their
   order): ``serial`` (partitions one after another in this process, each in its own Sandbox),
   ``ray1`` (each partition a Ray task, one in flight) and ``ray2`` (two in flight), on a local
   Ray instance started once with ``ray.init(num_cpus=--ray-cpus)``. Every mode's output is
   compared with the serial one (``agree``).
2. Per partition (from the sidecar): time inside the task (Sandbox start, evaluate calls,
   composition), the Sandbox start alone, and the driver's round trip (submit to result written).
   The per-worker rate is frames / time inside the task; the steady checker rate is frames /
   evaluate time (what a partition costs once its Sandbox is up).
3. Scheduling overhead: per task, round trip − time inside the task (argument shipping, Ray
   scheduling, result transfer), and per partition, (ray1 wall − serial wall) / partitions (a Ray
   task against a serial loop, all costs included); also the round trip of an empty Ray task and
   the driver's ``ray.put`` rate for partition-sized frame arrays (the driver ships every frame).
4. Training runs per hour (``vlmcar train --seeds ... [--ray]``, :func:`rl.training.run_jobs` and
   :func:`rl.training.run_jobs_on_ray`): ``--train-runs`` seeds of PPO on the same environment with
   its reference program (``--train-timesteps`` steps each, 4 envs, one evaluation at the end, its
   own sandbox workers), ``serial`` (one after another in this process), ``ray1`` (a local Ray
   instance with 1 CPU: one run at a time) and ``ray2`` (2 CPUs). Reported: wall time and runs per
   hour per mode, each run's own wall time and its set-up (envs, sandbox start, model), the
   per-run cost of Ray ((ray1 − serial) / runs), whether each Ray run's evaluation curve equals the
   serial run's, and the same N-node projection for runs per hour.
5. A projection for N nodes of C CPUs, computed from those numbers: each worker relabels at the
   measured per-worker rate times the measured two-worker efficiency of this machine, and the
   driver (which reads every partition and ships it) caps the total at its measured ``ray.put``
   rate; what would bound it is stated (model calls play no part in relabelling: the checkers
   are code).

Writes ``scale.json`` and ``scale.md`` to ``--out-dir`` (default: ``benchmarks/results`` next to
this script). Timings are never asserted.

Usage:
    python benchmarks/scale.py            # full run (80,000 frames, 3 rounds; a few minutes)
    python benchmarks/scale.py --quick    # smoke run (12,000 frames, 1 round; about a minute)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from benchmarks.common import (  # noqa: E402
    balanced_order,
    git_commit,
    machine_info,
    parse_dataclass_args,
    summary,
)

ENV = "MiniGrid-DoorKey-5x5-v0"
DEFAULT_PARTITION_FRAMES = 20_000  # rl.relabel's default (not imported: keep --help light)
MODES = ("serial", "ray1", "ray2")


@dataclass
class Args:
    frames: int = 80_000
    """frames in the dataset (rolled-out episodes repeated until there are this many)"""
    partition_frames: int = 10_000
    """frames per partition (whole episodes; each partition starts its own Sandbox)"""
    batch_frames: int = 1024
    """frames per Sandbox.evaluate call"""
    repeats: int = 3
    """rounds of the three modes (medians reported)"""
    episodes: int = 48
    """distinct episodes rolled out (expert and random, half each) before repetition"""
    ray_cpus: int = 2
    """CPUs of the local Ray instance"""
    isolation: str = ""
    """sandbox isolation (empty: the strongest this machine supports)"""
    nodes: str = "1,2,4,8,16,32,64"
    """comma-separated node counts for the projection"""
    node_cpus: str = "2,16"
    """comma-separated CPUs per node for the projection"""
    train_runs: int = 4
    """training runs (seeds) per mode for the runs-per-hour figures (0: skip training)"""
    train_timesteps: int = 4096
    """env steps per training run"""
    out_dir: str = ""
    """where the results go; empty: benchmarks/results next to this script"""
    quick: bool = False
    """smoke mode: 12,000 frames in 2,000-frame partitions, 1 round, 16 distinct episodes; 2
    training runs of 1,024 steps"""
    rerender: str = ""
    """recompute the derived figures and scale.md from a saved scale.json (no measuring)"""


def build_dataset(args: Args, path: Path) -> dict[str, Any]:
    """Roll out episodes, repeat them to ``args.frames`` frames, save the .npz; describe it."""
    from rl.rollouts import rollouts

    half = max(1, args.episodes // 2)
    trajs = rollouts(ENV, half, "expert", 0) + rollouts(ENV, half, "random", 1000, length=24)
    episodes = []
    for t in trajs:  # a random rollout may hold several episodes
        cuts = np.flatnonzero(np.r_[True, t.episode[1:] != t.episode[:-1]])
        for a, b in zip(cuts, [*cuts[1:], len(t)], strict=True):
            if b - a >= 2:
                episodes.append((t.frames[a:b], t.rewards[a:b], t.terminated[a:b]))
    frames, rewards, terms, starts = [], [], [], []
    at = i = 0
    while at < args.frames:
        f, r, d = episodes[i % len(episodes)]
        starts.append(at)
        frames.append(f)
        rewards.append(r)
        terms.append(d)
        at += len(f)
        i += 1
    stacked = np.concatenate(frames)
    np.savez(
        path,
        frames=stacked,
        episode_starts=np.array(starts),
        rewards=np.concatenate(rewards),
        terminated=np.concatenate(terms),
    )
    return {
        "env": ENV,
        "frames": len(stacked),
        "episodes": len(starts),
        "distinct_episodes": len(episodes),
        "frame_shape": list(stacked.shape[1:]),
        "megabytes": stacked.nbytes / 2**20,
    }


def run_mode(mode: str, args: Args, npz: Path, out: Path) -> dict[str, Any]:
    """One relabelling run; its wall time, rates and per-partition timings."""
    from rl.relabel import relabel

    t0 = time.perf_counter()
    result = relabel(
        f"reference:{ENV}",
        npz,
        out,
        ray=None if mode == "serial" else "auto",
        workers=None if mode == "serial" else int(mode[-1]),
        isolation=args.isolation or None,  # type: ignore[arg-type]
        partition_frames=args.partition_frames,
        batch_frames=args.batch_frames,
    )
    wall = time.perf_counter() - t0
    parts = result.summary["partitions"]
    return {
        "mode": mode,
        "wall_seconds": wall,
        "frames_per_second": result.frames / wall,
        "partitions": len(parts),
        "isolation": result.summary["run"]["isolation"],
        "task_seconds": [p["seconds"] for p in parts],
        "sandbox_start_seconds": [p["sandbox_start_seconds"] for p in parts],
        "evaluate_seconds": [p["evaluate_seconds"] for p in parts],
        "round_trip_seconds": [p["round_trip_seconds"] for p in parts],
        "frames": [p["frames"][1] - p["frames"][0] for p in parts],
        "pids": sorted({p["pid"] for p in parts}),
        "out": str(result.out),
    }


def ray_micro(ray: Any, frames: np.ndarray, repeats: int) -> dict[str, Any]:
    """Round trip of an empty task, and ray.put of a partition's frames (the driver's shipping)."""

    def noop() -> int:
        return 0

    task = ray.remote(num_cpus=1)(noop)
    ray.get(task.remote())  # warm a worker
    trips = []
    for _ in range(max(20, repeats * 20)):
        t0 = time.perf_counter()
        ray.get(task.remote())
        trips.append(time.perf_counter() - t0)
    puts = []
    for _ in range(max(3, repeats * 3)):
        t0 = time.perf_counter()
        ref = ray.put(frames)
        puts.append(time.perf_counter() - t0)
        del ref
    put = statistics.median(puts)
    return {
        "empty_task_ms": summary([1000 * t for t in trips]),
        "put_megabytes": frames.nbytes / 2**20,
        "put_seconds": summary(puts),
        "put_megabytes_per_second": frames.nbytes / 2**20 / put,
        "put_frames_per_second": len(frames) / put,
    }


def saved_args(results: dict[str, Any]) -> Args:
    """The :class:`Args` of a saved run (fields a newer version added take their defaults)."""
    return Args(**{k: v for k, v in results["args"].items() if k in Args.__dataclass_fields__})


def train_configs(args: Args, root: Path, mode: str) -> list[Any]:
    """The training jobs of one mode: one per seed, the same in every mode."""
    from rl.training import TrainConfig

    return [
        TrainConfig(
            ENV,
            reward="reference",
            timesteps=args.train_timesteps,
            seed=seed,
            n_envs=4,
            eval_every=args.train_timesteps,  # one evaluation, at the end
            eval_episodes=4,
            torch_threads=1,
            isolation=cast(Any, args.isolation or None),
            log_dir=root / f"train-{mode}" / f"seed{seed}",
            save_model=False,
        )
        for seed in range(args.train_runs)
    ]


def measure_training(args: Args, root: Path) -> dict[str, Any]:
    """Runs per hour: the same seeds serially, on a 1-CPU and on a 2-CPU local Ray."""
    import ray

    from rl.training import RunFailure, run_jobs, run_jobs_on_ray

    rows: dict[str, Any] = {}
    curves: dict[str, list[Any]] = {}
    for mode in MODES:
        configs = train_configs(args, root, mode)
        if mode != "serial":
            ray.init(num_cpus=int(mode[-1]), include_dashboard=False, logging_level=logging.WARNING)
        try:
            t0 = time.perf_counter()
            done = run_jobs(configs) if mode == "serial" else run_jobs_on_ray(configs)
            wall = time.perf_counter() - t0
        finally:
            if mode != "serial":
                ray.shutdown()
        ok = [r for r in done if not isinstance(r, RunFailure)]
        failed = [f"{r.error}: {r.message}" for r in done if isinstance(r, RunFailure)]
        curves[mode] = [[(p.steps, p.success_rate, p.mean_return) for p in r.curve] for r in ok]
        rows[mode] = {
            "wall_seconds": wall,
            "runs": len(ok),
            "failed": failed,
            "runs_per_hour": 3600 * len(ok) / wall if wall > 0 else 0.0,
            "run_wall_seconds": [r.wall_seconds for r in ok],
            "run_setup_seconds": [r.setup_seconds for r in ok],
            "run_train_seconds": [r.train_seconds for r in ok],
            "steps_per_second": [r.steps_per_second for r in ok],
            "isolation": ok[0].sandbox.get("isolation") if ok and ok[0].sandbox else None,
        }
        print(
            f"training {mode}: {len(ok)} run(s) in {wall:.1f} s, "
            f"{rows[mode]['runs_per_hour']:.0f} runs/hour",
            file=sys.stderr,
        )
    for mode in MODES:
        rows[mode]["curves_agree_with_serial"] = curves[mode] == curves["serial"]
    return {
        "env": ENV,
        "runs": args.train_runs,
        "timesteps": args.train_timesteps,
        "n_envs": 4,
        "modes": rows,
    }


def derive_training(training: dict[str, Any], args: Args) -> dict[str, Any]:
    """Runs per hour, Ray's per-run cost, two-CPU efficiency and the N-node projection."""
    modes = training["modes"]
    rate = {m: modes[m]["runs_per_hour"] for m in MODES}
    runs = max(1, training["runs"])
    efficiency = rate["ray2"] / (2 * rate["ray1"]) if rate["ray1"] else 0.0
    per_run = statistics.median(modes["ray1"]["run_wall_seconds"] or [math.inf])
    projection = [
        {
            "nodes": n,
            "cpus_per_node": cpus,
            "runs_per_hour": n * cpus * 3600 / per_run * efficiency if per_run else 0.0,
        }
        for cpus in [int(c) for c in args.node_cpus.split(",") if c]
        for n in [int(x) for x in args.nodes.split(",") if x]
    ]
    return {
        "runs_per_hour": rate,
        "ray_cost_per_run_seconds": (
            modes["ray1"]["wall_seconds"] - modes["serial"]["wall_seconds"]
        )
        / runs,
        "two_cpu_efficiency": efficiency,
        "run_wall_seconds_median": per_run,
        "setup_seconds_median": statistics.median(modes["serial"]["run_setup_seconds"] or [0.0]),
        "projection": projection,
    }


def training_markdown(res: dict[str, Any]) -> list[str]:
    """The training section of scale.md."""
    t = res.get("training")
    if not t:
        return []
    d = derive_training(t, saved_args(res))
    lines = [
        "## Training runs per hour",
        "",
        f"{t['runs']} PPO run(s) per mode on {t['env']} with its reference program, "
        f"{t['timesteps']:,} env steps each ({t['n_envs']} envs, one evaluation at the end, "
        f"isolation {t['modes']['serial']['isolation']}, 1 torch thread per run); Ray instances "
        "started before the clock (num_cpus 1 for ray1, 2 for ray2).",
        "",
        "| mode | wall s | runs/hour | run wall s (median) | set-up s (median) | steps/s (median) "
        "| curves equal the serial runs' |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for mode in MODES:
        row = t["modes"][mode]
        lines.append(
            f"| {mode} | {row['wall_seconds']:.1f} | {row['runs_per_hour']:.0f} | "
            f"{statistics.median(row['run_wall_seconds'] or [0.0]):.1f} | "
            f"{statistics.median(row['run_setup_seconds'] or [0.0]):.1f} | "
            f"{statistics.median(row['steps_per_second'] or [0.0]):,.0f} | "
            f"{'yes' if row['curves_agree_with_serial'] else 'NO'}"
            f"{' (' + str(len(row['failed'])) + ' failed)' if row['failed'] else ''} |"
        )
    lines += [
        "",
        f"- Ray's cost per run, all included (ray1 wall − serial wall, per run; the Ray side also "
        f"probes every node for the isolation level): {d['ray_cost_per_run_seconds']:+.1f} s; "
        f"two-CPU efficiency (ray2 / (2 × ray1)) {d['two_cpu_efficiency']:.2f}. A run's set-up "
        f"(envs, sandbox workers, the PPO model) is {d['setup_seconds_median']:.1f} s of its "
        f"{d['run_wall_seconds_median']:.1f} s here; longer runs amortise it.",
        "",
        "Projection (runs of this length; N nodes × C CPUs × 3600 / run wall × the two-CPU "
        "efficiency): "
        + "; ".join(
            f"{p['nodes']}×{p['cpus_per_node']}: {p['runs_per_hour']:,.0f}/h"
            for p in d["projection"]
        )
        + ". What bounds it: each run is CPU-bound on its node (PPO updates and the checkers of "
        "its envs' frames, in its own sandbox workers: a run with K checkers uses about 1 + K "
        "processes), so the projection is linear until runs are fewer than CPUs; the driver only "
        "ships configurations and collects results; model calls play no part (training calls no "
        "VLM); the log directories must be on storage every node sees.",
        "",
    ]
    return lines


def agree(a: str, b: str) -> bool:
    with np.load(a) as x, np.load(b) as y:
        return set(x.files) == set(y.files) and all(np.array_equal(x[k], y[k]) for k in x.files)


def derive(runs: list[dict[str, Any]], micro: dict[str, Any], args: Args) -> dict[str, Any]:
    """Rates, overheads and the projection, from the runs."""
    by = {m: [r for r in runs if r["mode"] == m] for m in MODES}
    med = {m: statistics.median(r["frames_per_second"] for r in by[m]) for m in MODES}
    wall = {m: statistics.median(r["wall_seconds"] for r in by[m]) for m in MODES}
    frames_per_part = statistics.median(f for r in runs for f in r["frames"])
    per_worker = {
        m: statistics.median(sum(r["frames"]) / sum(r["task_seconds"]) for r in by[m])
        for m in MODES
    }
    steady = statistics.median(
        sum(r["frames"]) / max(sum(r["evaluate_seconds"]), 1e-9) for r in runs
    )
    start = statistics.median(s for r in runs for s in r["sandbox_start_seconds"])
    sched = [
        trip - inside
        for m in ("ray1", "ray2")
        for r in by[m]
        for trip, inside in zip(r["round_trip_seconds"], r["task_seconds"], strict=True)
    ]
    parts = statistics.median(r["partitions"] for r in runs)
    efficiency = med["ray2"] / (2 * med["ray1"]) if med["ray1"] else 0.0
    one = by["serial"] + by["ray1"]  # one worker at a time: no contention between sandboxes
    start_one = statistics.median(s for r in one for s in r["sandbox_start_seconds"])
    steady_one = statistics.median(
        sum(r["frames"]) / max(sum(r["evaluate_seconds"]), 1e-9) for r in one
    )
    rest = statistics.median(  # closing the Sandbox, composition, copies: per partition
        t - st - ev
        for r in one
        for t, st, ev in zip(
            r["task_seconds"], r["sandbox_start_seconds"], r["evaluate_seconds"], strict=True
        )
    )

    def worker_rate(frames: float) -> float:
        return frames / (start_one + rest + frames / steady_one)

    ship = micro["put_frames_per_second"]
    sizes = sorted({int(frames_per_part), DEFAULT_PARTITION_FRAMES})
    projection = []
    for cpus in [int(c) for c in args.node_cpus.split(",") if c]:
        for n in [int(x) for x in args.nodes.split(",") if x]:
            row: dict[str, Any] = {"nodes": n, "cpus_per_node": cpus, "workers": n * cpus}
            for size in sizes:
                compute = n * cpus * worker_rate(size) * efficiency
                row[f"p{size}"] = {
                    "compute_frames_per_second": compute,
                    "frames_per_second": min(compute, ship),
                    "bound": "workers" if compute < ship else "driver",
                }
            row["driver_cap_frames_per_second"] = ship
            projection.append(row)
    model = {
        "sandbox_start_seconds": start_one,
        "steady_checker_frames_per_second": steady_one,
        "other_seconds_per_partition": rest,
        "worker_rate_at_measured_partition": worker_rate(frames_per_part),
        "worker_rate_at_default_partition": worker_rate(DEFAULT_PARTITION_FRAMES),
        "partition_sizes": sizes,
        "two_worker_efficiency": efficiency,
    }
    return {
        "frames_per_second": med,
        "wall_seconds": wall,
        "speedup_ray2_over_ray1": med["ray2"] / med["ray1"] if med["ray1"] else None,
        "speedup_ray2_over_serial": med["ray2"] / med["serial"] if med["serial"] else None,
        "two_worker_efficiency": efficiency,
        "per_worker_frames_per_second": per_worker,
        "steady_checker_frames_per_second": steady,
        "sandbox_start_seconds_median": start,
        "frames_per_partition": frames_per_part,
        "scheduling_overhead_per_task_ms": summary([1000 * s for s in sched]) if sched else None,
        "ray_task_vs_serial_per_partition_ms": 1000 * (wall["ray1"] - wall["serial"]) / parts,
        "model": model,
        "projection": projection,
    }


def markdown(res: dict[str, Any]) -> str:
    d, m, ds, a = res["derived"], res["micro"], res["dataset"], res["args"]
    mo = d["model"]
    mach = res["machine"]
    lines = [
        "# Scale: relabelling an offline dataset",
        "",
        f"{'Quick (smoke) run' if a['quick'] else 'Full run'}: {ds['frames']:,} frames of {ds['env']} "
        f"({ds['frame_shape'][0]}×{ds['frame_shape'][1]}×3, {ds['megabytes']:.0f} MB, "
        f"{ds['episodes']:,} episodes, {ds['distinct_episodes']} distinct) relabelled with the "
        f"reference program (3 checkers) in {a['partition_frames']:,}-frame partitions, "
        f"{a['batch_frames']} frames per evaluate call, isolation {res['runs'][0]['isolation']}; "
        f"{a['repeats']} round(s) per mode, modes interleaved; medians. Local Ray "
        f"{mach.get('ray')} with num_cpus={a['ray_cpus']}. {mach['platform']}, Python "
        f"{mach['python']}, {mach['cpu_count']} CPUs (load average "
        f"{', '.join(f'{x:.1f}' for x in mach['load_avg'] or [])} at the start), "
        f"{mach['timestamp']}, commit {str(res.get('commit'))[:12]}.",
        "",
        "| mode | wall s | frames/s | per-worker frames/s (inside the task) | partitions "
        "| output agrees with serial |",
        "|---|---:|---:|---:|---:|---|",
    ]
    parts = {m: max(r["partitions"] for r in res["runs"] if r["mode"] == m) for m in MODES}
    for mode in MODES:
        lines.append(
            f"| {mode} | {d['wall_seconds'][mode]:.2f} | {d['frames_per_second'][mode]:,.0f} | "
            f"{d['per_worker_frames_per_second'][mode]:,.0f} | {parts[mode]} | "
            f"{'yes' if res['agree'][mode] else 'NO'} |"
        )
    sched = d["scheduling_overhead_per_task_ms"]
    lines += [
        "",
        f"- Speed-up: ray2 / ray1 = {d['speedup_ray2_over_ray1']:.2f}, ray2 / serial = "
        f"{d['speedup_ray2_over_serial']:.2f}; two-worker efficiency on this machine "
        f"(ray2 / (2 × ray1)) = {d['two_worker_efficiency']:.2f}. Each worker's Sandbox runs its 3 "
        f"checkers in 3 processes at once, so 2 workers already ask for 6 processes on "
        f"{mach['cpu_count']} CPUs.",
        f"- Inside a partition: Sandbox start {d['sandbox_start_seconds_median']:.2f} s (median), "
        f"then the checkers run at {d['steady_checker_frames_per_second']:,.0f} frames/s (frames / "
        f"evaluate time): at {d['frames_per_partition']:,.0f} frames per partition the start is "
        f"most of a partition's cost, which is why partitions default to 20,000 frames.",
        f"- Scheduling overhead per Ray task (round trip − time inside the task: shipping the "
        f"frames, scheduling, the result back): {sched['median']:.1f} ms "
        f"({sched['p25']:.1f}–{sched['p75']:.1f}); a Ray task against the serial loop, all costs "
        f"included: {d['ray_task_vs_serial_per_partition_ms']:+.0f} ms per partition (ray1 wall − "
        f"serial wall, per partition; the Ray side includes probing every node for the isolation "
        f"level). Empty task round trip {m['empty_task_ms']['median']:.2f} ms.",
        f"- The driver reads every partition and ships it: ray.put of one partition "
        f"({m['put_megabytes']:.0f} MB) takes {m['put_seconds']['median'] * 1000:.0f} ms, "
        f"{m['put_megabytes_per_second']:,.0f} MB/s = {m['put_frames_per_second']:,.0f} frames/s "
        f"of these frames.",
        "",
        "## Projection for N nodes",
        "",
        f"A model fitted to the one-worker runs (serial and ray1): a worker relabels a partition of "
        f"P frames in start + other + P / steady seconds, with start = "
        f"{mo['sandbox_start_seconds']:.2f} s (its Sandbox), other = "
        f"{mo['other_seconds_per_partition'] * 1000:.0f} ms (closing the Sandbox, composition, "
        f"copies) and steady = {mo['steady_checker_frames_per_second']:,.0f} frames/s (the "
        "checkers): "
        f"{mo['worker_rate_at_measured_partition']:,.0f} frames/s at the measured "
        f"{d['frames_per_partition']:,.0f}-frame partitions (measured: "
        f"{d['per_worker_frames_per_second']['ray1']:,.0f}), "
        f"{mo['worker_rate_at_default_partition']:,.0f} at the default 20,000. N nodes × C "
        f"workers each give N × C × that × the two-worker efficiency measured here "
        f"({d['two_worker_efficiency']:.2f}; pessimistic where a node has a CPU per checker "
        f"process), capped by the driver's ship rate ({m['put_frames_per_second']:,.0f} frames/s). "
        "Assumes partitions ≥ workers, the same per-CPU speed and the same checkers; on a network "
        "the link caps the ship rate too (10 Gbit/s ≈ 1.2 GB/s ≈ "
        f"{1.2e9 / (math.prod(ds['frame_shape'])):,.0f} frames/s of these frames, "
        f"{1.2e9 / (224 * 224 * 3):,.0f} of 224×224×3 ones).",
        "",
        "Bound: workers = the sandbox on the workers; driver = reading and shipping partitions.",
        "",
        "| nodes | CPUs/node | workers | "
        + " | ".join(f"frames/s at P = {p:,} (bound)" for p in mo["partition_sizes"])
        + " |",
        "|---:|---:|---:|" + "---:|" * len(mo["partition_sizes"]),
    ]
    for p in d["projection"]:
        cells = [
            f"{p[f'p{size}']['frames_per_second']:,.0f} ({p[f'p{size}']['bound']})"
            for size in mo["partition_sizes"]
        ]
        lines.append(
            f"| {p['nodes']} | {p['cpus_per_node']} | {p['workers']} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "What bounds it: (1) the sandbox, per worker: a Sandbox start per partition (amortised by "
        "larger partitions) and the checkers' own cost per frame, which depends on the program "
        "(these reference checkers are JIT-compiled; interpreted or heavier ones are slower, and "
        "then the workers, not the driver, bound the cluster for longer); (2) dataset I/O at the "
        "driver: one process reads every partition (an in-memory .npz here; a Minari HDF5 "
        "dataset is read episode by episode, slower) and puts it in the object store, so past the "
        "crossing point above more nodes add nothing until partitions are read where they run; "
        "(3) model-call latency plays no part: relabelling runs code checkers only, no VLM (it "
        "bounds `vlmcar synth`, not this).",
        "",
    ]
    lines += training_markdown(res)
    return "\n".join(lines)


def write(results: dict[str, Any], out_dir: Path) -> None:
    (out_dir / "scale.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / "scale.md").write_text(markdown(results), encoding="utf-8")
    print(f"wrote {out_dir}/scale.{{json,md}}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_dataclass_args(Args, argv, __doc__)
    if args.rerender:
        saved = Path(args.rerender)
        results: dict[str, Any] = json.loads(saved.read_text(encoding="utf-8"))
        results["derived"] = derive(results["runs"], results["micro"], saved_args(results))
        write(results, Path(args.out_dir) if args.out_dir else saved.parent)
        return results
    if args.quick:
        args = dataclasses.replace(
            args,
            frames=12_000,
            partition_frames=2_000,
            repeats=1,
            episodes=16,
            train_runs=min(args.train_runs, 2),
            train_timesteps=min(args.train_timesteps, 1024),
        )
    import ray

    out_dir = Path(args.out_dir) if args.out_dir else HERE / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_info(["ray"])
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vlmcar-scale-") as tmp:
        root = Path(tmp)
        npz = root / "dataset.npz"
        dataset = build_dataset(args, npz)
        ray.init(num_cpus=args.ray_cpus, include_dashboard=False, logging_level="WARNING")
        try:
            runs: list[dict[str, Any]] = []
            first_out: dict[str, str] = {}
            for r in range(args.repeats):
                for mode in balanced_order(MODES, r):
                    out = root / f"{mode}-{r}.npz"
                    row = run_mode(mode, args, npz, out)
                    row["round"] = r
                    runs.append(row)
                    first_out.setdefault(mode, row["out"])
                    print(
                        f"round {r} {mode}: {row['wall_seconds']:.2f} s, "
                        f"{row['frames_per_second']:,.0f} frames/s",
                        file=sys.stderr,
                    )
            with np.load(npz) as data:
                part = data["frames"][: args.partition_frames]
            micro = ray_micro(ray, part, args.repeats)
        finally:
            ray.shutdown()
        agreement = {m: agree(first_out["serial"], first_out[m]) for m in MODES}
        training = measure_training(args, root) if args.train_runs > 0 else None
    results = {
        "benchmark": "scale",
        "args": dataclasses.asdict(args),
        "machine": machine,
        "commit": git_commit(),
        "elapsed_seconds": time.perf_counter() - t_all,
        "dataset": dataset,
        "runs": runs,
        "micro": micro,
        "agree": agreement,
        "training": training,
    }
    results["derived"] = derive(runs, micro, args)
    write(results, out_dir)
    return results


if __name__ == "__main__":
    main()
