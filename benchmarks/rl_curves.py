"""Learning curves: PPO with a code reward (CaR, the reference program) against the sparse reward.

What it runs: for every env in ``--envs``, every seed in ``--seeds`` and both rewards (``reference``
and ``sparse``), one :func:`rl.training.train` job with the project's default PPO settings
(:class:`rl.training.TrainConfig`: symbolic full-grid observations, one-hot cells and two small
convolutions in front of the MLP, 8 envs). Every ``--eval-every`` env steps the policy is
evaluated on ``--eval-episodes`` fixed evaluation layouts (``--eval-policy``: actions sampled from
the policy by default, as rl-starter-files evaluates MiniGrid agents, or greedy) and scored by the
env's own success criterion (MiniGrid: the episode's env return is positive). The code reward
only changes what the learner is paid; the evaluation never sees it.

Jobs run ``--parallel`` at a time in fresh processes (each pins torch to one thread); a CaR job
and the sparse job of the same env and seed run side by side, so both see the same machine load.

Reported per env and reward: success rate against env steps (mean and min-max spread over seeds,
plotted), env steps until the first evaluation at >= ``--threshold`` success per seed and their
mean +- standard deviation over the seeds that got there ("not reached within N" otherwise),
final success, training steps/s and wall time, and for CaR the sandbox statistics (evaluate ms
per VecEnv step, checker failures, which checkers run JIT-compiled).

Writes ``rl_curves.json``, ``rl_curves.md`` and ``rl_curves.png`` to ``--out-dir`` (default:
``benchmarks/results`` next to this script; ``--quick`` writes ``rl_curves_quick.*`` so a smoke
run never overwrites the real results). Timings and success rates are never asserted.

Usage:
    python benchmarks/rl_curves.py            # full run (about 30 minutes on 2 CPUs)
    python benchmarks/rl_curves.py --quick    # smoke run (under 90 s)
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import sys
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from benchmarks.common import machine_info as common_machine_info  # noqa: E402
from benchmarks.common import parse_dataclass_args  # noqa: E402
from rl.training import TrainConfig, TrainResult, run_jobs  # noqa: E402


@dataclass
class Args:
    envs: str = "MiniGrid-DoorKey-8x8-v0,MiniGrid-DoorKey-6x6-v0"
    """comma-separated env ids (built-in MiniGrid envs with a reference program)"""
    timesteps: str = "MiniGrid-DoorKey-8x8-v0=300000,MiniGrid-DoorKey-6x6-v0=120000"
    """env steps per run: one number for every env, or ENV=N pairs, comma-separated"""
    seeds: str = "0,1,2"
    """comma-separated seeds (at least 3 for a real run)"""
    rewards: str = "reference,sparse"
    """comma-separated rewards: reference (the env's reference program), sparse, or a program dir"""
    eval_every: int = 10_000
    """env steps between evaluations"""
    eval_policy: str = "sampled"
    """sampled (actions drawn from the policy, as in training) or greedy (argmax): in MiniGrid the
    greedy policy lags far behind, one state whose argmax is a no-op repeats to the time limit"""
    eval_episodes: int = 20
    """episodes per evaluation (same layouts every time)"""
    threshold: float = 0.9
    """success rate whose first crossing is reported as steps-to-success"""
    n_envs: int = 8
    """parallel envs per run"""
    parallel: int = 2
    """runs at a time (each in its own process, torch pinned to one thread)"""
    isolation: str = ""
    """sandbox isolation for the checkers; empty: the strongest this machine supports"""
    out_dir: str = ""
    """where the results go; empty: benchmarks/results next to this script"""
    quick: bool = False
    """smoke mode: DoorKey-5x5, 2 seeds, 12,288 steps, evaluations every 4,096 steps (< 90 s)"""
    rerender: str = ""
    """re-aggregate and re-render an earlier run's JSON (no training); writes next to it"""


def parse_args(argv: Sequence[str] | None = None) -> Args:
    """Build an :class:`Args` from the command line (one ``--kebab-case`` option per field)."""
    return parse_dataclass_args(Args, argv, __doc__)


def machine_info() -> dict[str, Any]:
    return common_machine_info(("torch", "stable-baselines3", "gymnasium", "minigrid"))


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def timesteps_for(spec: str, envs: Sequence[str]) -> dict[str, int]:
    """``"N"`` or ``"ENV=N,ENV=N"`` -> env -> steps (every env in ``envs`` must get a number)."""
    parts = _split(spec)
    if len(parts) == 1 and "=" not in parts[0]:
        return dict.fromkeys(envs, int(float(parts[0])))
    table = {}
    for part in parts:
        env, _, n = part.partition("=")
        table[env.strip()] = int(float(n))
    missing = [e for e in envs if e not in table]
    if missing:
        raise SystemExit(f"--timesteps gives no budget for {', '.join(missing)}")
    return {e: table[e] for e in envs}


# --------------------------------------------------------------------------------------------
# Aggregation
# --------------------------------------------------------------------------------------------


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return float(statistics.fmean(values)), float(statistics.pstdev(values)) if len(
        values
    ) > 1 else 0.0


def full_intervals(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's training-return points, less a last one covering under half an interval.

    The end-of-training evaluation closes a last, usually short, interval (a few hundred steps,
    a handful of episodes) whose means are noise.
    """
    pts = list(run["returns"])
    every = run["config"]["eval_every"]
    if len(pts) >= 2 and pts[-1]["steps"] - pts[-2]["steps"] < every / 2:
        pts.pop()
    return pts


def aggregate(runs: Sequence[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """One env x reward: the success curve across seeds and steps-to-threshold."""
    steps = sorted(set.intersection(*[{p["steps"] for p in r["curve"]} for r in runs]))
    by_seed = [{p["steps"]: p["success_rate"] for p in r["curve"]} for r in runs]
    train_by_seed = [{p["steps"]: p["success_rate"] for p in full_intervals(r)} for r in runs]
    mean, std, lo, hi, train_mean = [], [], [], [], []
    for s in steps:
        vals = [d[s] for d in by_seed]
        mean.append(float(np.mean(vals)))
        std.append(float(np.std(vals)))
        lo.append(float(np.min(vals)))
        hi.append(float(np.max(vals)))
        tv = [d[s] for d in train_by_seed if d.get(s) is not None]
        train_mean.append(float(np.mean(tv)) if tv else None)
    last_sub: dict[str, list[float]] = {}
    for r in runs:
        pts = [p for p in full_intervals(r) if p["episodes"]]
        for k, v in (pts[-1]["subtask_rates"] if pts else {}).items():
            last_sub.setdefault(k, []).append(v)
    reached = []
    train_reached = []
    for r in runs:
        hit = next((p["steps"] for p in r["curve"] if p["success_rate"] >= threshold), None)
        reached.append(hit)
        hit = next(
            (
                p["steps"]
                for p in full_intervals(r)
                if p["success_rate"] is not None and p["success_rate"] >= threshold
            ),
            None,
        )
        train_reached.append(hit)
    got = [float(x) for x in reached if x is not None]
    m, sd = _mean_std(got)
    tgot = [float(x) for x in train_reached if x is not None]
    tm, tsd = _mean_std(tgot)
    budget = max(r["timesteps"] for r in runs)
    finals = [r["final_success"] for r in runs]
    fm, fsd = _mean_std(finals)
    sps = [r["steps_per_second"] for r in runs]
    boxes = [r["sandbox"] for r in runs if r.get("sandbox")]
    sandbox = None
    if boxes:
        sandbox = {
            "evaluate_ms_mean": float(np.mean([b["evaluate_ms"] for b in boxes])),
            "evaluate_share_of_train_time": float(
                np.mean(
                    [
                        b["evaluate_seconds"] / r["train_seconds"]
                        for b, r in zip(boxes, runs, strict=True)
                    ]
                )
            ),
            "total_failures": int(sum(b["total_failures"] for b in boxes)),
            "jit_modes": boxes[0].get("jit_modes"),
            "isolation": boxes[0].get("isolation"),
        }
    return {
        "seeds": [r["config"]["seed"] for r in runs],
        "budget": budget,
        "steps": steps,
        "success_mean": mean,
        "success_std": std,
        "success_min": lo,
        "success_max": hi,
        "train_success_mean": train_mean,
        "final_subtask_rates": {k: float(np.mean(v)) for k, v in last_sub.items()},
        "steps_to_threshold": reached,
        "reached": len(got),
        "steps_to_threshold_mean": m if got else None,
        "steps_to_threshold_std": sd if got else None,
        "train_steps_to_threshold": train_reached,
        "train_reached": len(tgot),
        "train_steps_to_threshold_mean": tm if tgot else None,
        "train_steps_to_threshold_std": tsd if tgot else None,
        "final_success_mean": fm,
        "final_success_std": fsd,
        "steps_per_second_mean": float(np.mean(sps)),
        "wall_seconds_mean": float(np.mean([r["wall_seconds"] for r in runs])),
        "sandbox": sandbox,
    }


def steps_text(agg: dict[str, Any], prefix: str = "") -> str:
    """``"62,000 ± 8,165 (3/3)"`` or ``"not reached within 200,000 (0/3)"`` or a mix.

    ``prefix="train_"`` describes the training-episode success instead of the evaluation's.
    """
    n = len(agg["seeds"])
    k = agg[f"{prefix}reached"]
    if k == 0:
        return f"not reached within {agg['budget']:,} (0/{n} seeds)"
    mean, std = agg[f"{prefix}steps_to_threshold_mean"], agg[f"{prefix}steps_to_threshold_std"]
    text = f"{mean:,.0f} ± {std:,.0f}"
    if k < n:
        return f"{text} in {k}/{n} seeds; not reached within {agg['budget']:,} in {n - k}"
    return f"{text} ({k}/{n} seeds)"


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def _eval_words(a: dict[str, Any]) -> str:
    """How the evaluation chose actions (runs before ``--eval-policy`` existed were greedy)."""
    policy = a.get("eval_policy", "greedy")
    return "sampled-policy" if policy == "sampled" else "deterministic (greedy)"


def markdown(results: dict[str, Any]) -> str:
    a = results["args"]
    m = results["machine"]
    thr = a["threshold"]
    how = _eval_words(a)
    lines = [
        "# Learning curves: code reward (CaR) vs sparse reward",
        "",
        f"PPO (SB3 {m['stable_baselines3']}, `rl.training` defaults: symbolic full-grid observation "
        f"with one-hot cells, two 3×3 convolutions and a 64-64 MLP, {a['n_envs']} envs, 128 "
        f"steps per env per update), seeds {a['seeds']}, {how} evaluation of "
        f"{a['eval_episodes']} fixed layouts every {a['eval_every']:,} env steps, success = the "
        f"env's own criterion (episode env return > 0). CaR = the env's reference program "
        f"(ordered sub-tasks, +1 once per sub-task, added to the env reward), run in the sandbox. "
        f"{results['parallel']} run(s) at a time, torch 1 thread each. {m['platform']}, "
        f"{m['cpu_count']} CPUs, load average at start {m['load_avg']}, {m['timestamp']}; "
        f"total {results['elapsed_seconds'] / 60:.1f} min"
        f"{' (QUICK: rough numbers)' if a['quick'] else ''}.",
        "",
        f"| env | reward | env steps to {thr:.0%} success, {how} eval (mean ± sd) | "
        f"per seed | final eval success (mean ± sd) | env steps to {thr:.0%} success of the "
        "training episodes (stochastic policy) | per seed | steps/s | wall s/run |",
        "|---|---|---|---|---:|---|---|---:|---:|",
    ]

    def per_seed(values: list[int | None]) -> str:
        return ", ".join(f"{v:,}" if v is not None else "—" for v in values)

    for env, per in results["envs"].items():
        for reward, agg in per.items():
            lines.append(
                f"| {env} | {reward} | {steps_text(agg)} | {per_seed(agg['steps_to_threshold'])} | "
                f"{agg['final_success_mean']:.2f} ± {agg['final_success_std']:.2f} | "
                f"{steps_text(agg, 'train_')} | {per_seed(agg['train_steps_to_threshold'])} | "
                f"{agg['steps_per_second_mean']:,.0f} | {agg['wall_seconds_mean']:.0f} |"
            )
    lines += [
        "",
        "Training episodes at the end of the budget (the stochastic training policy, mean over "
        "seeds, last evaluation interval): success rate and, for CaR, the rate of each sub-task.",
        "",
    ]
    for env, per in results["envs"].items():
        for reward, agg in per.items():
            train = [v for v in agg["train_success_mean"] if v is not None]
            subs = ", ".join(f"{k} {v:.2f}" for k, v in agg["final_subtask_rates"].items())
            lines.append(
                f"- {env} / {reward}: training success {train[-1] if train else float('nan'):.2f}"
                + (f"; sub-tasks {subs}" if subs else "")
            )
    lines += ["", "**Headline**", ""]
    for env, text in results["headline"].items():
        lines.append(f"- {env}: {text}")
    boxes = [
        (env, reward, agg["sandbox"])
        for env, per in results["envs"].items()
        for reward, agg in per.items()
        if agg["sandbox"]
    ]
    if boxes:
        lines += ["", "**Sandbox** (CaR runs)", ""]
        for env, reward, b in boxes:
            modes = ", ".join(m[0] for m in b["jit_modes"] or [])
            lines.append(
                f"- {env} / {reward}: isolation {b['isolation']}, checkers [{modes}], evaluate "
                f"{b['evaluate_ms_mean']:.2f} ms per VecEnv step "
                f"({b['evaluate_share_of_train_time']:.1%} of training time), "
                f"{b['total_failures']} checker failures."
            )
    return "\n".join(lines) + "\n"


def headline(envs: dict[str, dict[str, dict[str, Any]]], rewards: Sequence[str]) -> dict[str, str]:
    out = {}
    for env, per in envs.items():
        parts = [f"{r}: {steps_text(per[r])}" for r in rewards if r in per]
        parts += [
            f"{r} (training episodes): {steps_text(per[r], 'train_')}" for r in rewards if r in per
        ]
        car, sparse = per.get("reference"), per.get("sparse")
        if car and sparse and car["reached"]:
            n_car, n_sparse = len(car["seeds"]), len(sparse["seeds"])
            if car["reached"] == n_car and sparse["reached"] == n_sparse:
                ratio = sparse["steps_to_threshold_mean"] / car["steps_to_threshold_mean"]
                parts.append(f"sparse needs {ratio:.1f}× the env steps of CaR")
            else:  # a mean over the seeds that got there would flatter the slower reward
                parts.append(
                    f"CaR reaches it in {car['reached']}/{n_car} seeds, "
                    f"sparse in {sparse['reached'] or 'none'}"
                    + (f"/{n_sparse}" if sparse["reached"] else "")
                )
        out[env] = "; ".join(parts)
    return out


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = results["envs"]
    fig, axes = plt.subplots(1, len(envs), figsize=(6.0 * len(envs), 4.4), squeeze=False)
    thr = results["args"]["threshold"]
    how = _eval_words(results["args"])
    for ax, (env, per) in zip(axes[0], envs.items(), strict=True):
        for reward, agg in per.items():
            x = np.asarray(agg["steps"])
            label = "CaR (reference program)" if reward == "reference" else reward
            (line,) = ax.plot(x, agg["success_mean"], label=f"{label}, mean of {len(agg['seeds'])}")
            ax.fill_between(
                x, agg["success_min"], agg["success_max"], alpha=0.2, color=line.get_color()
            )
            train = [np.nan if v is None else v for v in agg["train_success_mean"]]
            ax.plot(
                x,
                train,
                linestyle=":",
                color=line.get_color(),
                label=f"{label}, training episodes (stochastic policy)",
            )
        ax.axhline(thr, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(env)
        ax.set_xlabel("env steps")
        ax.set_ylabel(f"success rate ({how} eval)")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    title = (
        f"PPO success rate vs env steps (solid: {how} eval, mean over seeds; band: "
        "min–max; dotted: training episodes)"
    )
    fig.suptitle(textwrap.fill(title, 62 * len(envs)))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.eval_policy not in ("sampled", "greedy"):
        raise SystemExit(f"--eval-policy {args.eval_policy!r}: choose sampled or greedy")
    if args.rerender:
        return rerender(Path(args.rerender))
    if args.quick:
        args = dataclasses.replace(
            args,
            envs="MiniGrid-DoorKey-5x5-v0",
            timesteps="12288",
            seeds="0,1",
            eval_every=4096,
            eval_episodes=4,
        )
    envs = _split(args.envs)
    budgets = timesteps_for(args.timesteps, envs)
    seeds = [int(s) for s in _split(args.seeds)]
    rewards = _split(args.rewards)
    out_dir = Path(args.out_dir) if args.out_dir else HERE / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "rl_curves_quick" if args.quick else "rl_curves"
    machine = machine_info()

    # one job per env x seed x reward; a seed's rewards are adjacent (they run side by side)
    jobs: list[tuple[str, str, int]] = [
        (env, reward, seed) for env in envs for seed in seeds for reward in rewards
    ]
    configs = [
        TrainConfig(
            env_id=env,
            reward=reward,
            timesteps=budgets[env],
            seed=seed,
            n_envs=args.n_envs,
            eval_every=args.eval_every,
            eval_episodes=args.eval_episodes,
            eval_deterministic=args.eval_policy == "greedy",
            isolation=args.isolation or None,  # type: ignore[arg-type]
        )
        for env, reward, seed in jobs
    ]
    t0 = time.perf_counter()
    done: list[TrainResult] = run_jobs(configs, parallel=args.parallel)
    elapsed = time.perf_counter() - t0
    results = report(
        args, envs, rewards, seeds, budgets, jobs, [r.to_dict() for r in done], elapsed, machine
    )
    write(results, out_dir, stem)
    return results


def write(results: dict[str, Any], out_dir: Path, stem: str) -> None:
    (out_dir / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / f"{stem}.md").write_text(markdown(results), encoding="utf-8")
    plot(results, out_dir / f"{stem}.png")
    print(markdown(results))


def report(
    args: Args,
    envs: list[str],
    rewards: list[str],
    seeds: list[int],
    budgets: dict[str, int],
    jobs: list[tuple[str, str, int]],
    runs: list[dict[str, Any]],
    elapsed: float,
    machine: dict[str, Any],
) -> dict[str, Any]:
    """Aggregate the runs (one per job, same order) into the results dict."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for env in envs:
        table[env] = {}
        for reward in rewards:
            mine = [
                run for (e, rw, _), run in zip(jobs, runs, strict=True) if e == env and rw == reward
            ]
            table[env][reward] = aggregate(mine, args.threshold)
    results = {
        "benchmark": "rl_curves",
        "args": {**dataclasses.asdict(args), "seeds": seeds, "timesteps": budgets},
        "parallel": args.parallel,
        "machine": machine,
        "elapsed_seconds": elapsed,
        "envs": table,
        "headline": headline(table, rewards),
        "runs": [
            {**run, "env_id": e, "reward_spec": rw, "seed": s}
            for (e, rw, s), run in zip(jobs, runs, strict=True)
        ],
    }
    return results


def rerender(path: Path) -> dict[str, Any]:
    """Aggregate and render the runs of an earlier results JSON again (no training)."""
    old = json.loads(path.read_text(encoding="utf-8"))
    a = old["args"]
    a.setdefault("eval_policy", "greedy")  # runs from before the option evaluated greedily
    args = Args(**{k: v for k, v in a.items() if k not in ("seeds", "timesteps")})
    runs = old["runs"]
    jobs = [(r["config"]["env_id"], str(r["config"]["reward"]), r["config"]["seed"]) for r in runs]
    envs = list(dict.fromkeys(e for e, _, _ in jobs))
    rewards = list(dict.fromkeys(rw for _, rw, _ in jobs))
    clean = [
        {k: v for k, v in r.items() if k not in ("env_id", "reward_spec", "seed")} for r in runs
    ]
    for r in clean:
        r.setdefault("reward", "sparse" if r["config"]["reward"] == "sparse" else "code")
    results = report(
        args,
        envs,
        rewards,
        list(a["seeds"]),
        dict(a["timesteps"]),
        jobs,
        clean,
        old["elapsed_seconds"],
        old["machine"],
    )
    results["rerendered_from"] = str(path)
    write(results, path.parent, path.stem)
    return results


if __name__ == "__main__":
    main()
