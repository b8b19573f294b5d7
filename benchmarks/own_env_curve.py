"""Learning curves on an environment outside the built-in set: the synthesised program vs sparse.

What it runs: first the own-environment path of the README ("Your own environment") in Python:
:func:`synth.pipeline.synthesize` on ``--env`` (default ``MiniGrid-MultiRoom-N2-S4-v0``, which has
no registry entry, expert, labeller or reference program in vlm-car) with the recorded stand-in
replies of ``--script`` (``tests/envs_outside/multiroom_script.json``: the *scripted* model, which
does not look at the images; its checkers were written against the env's real frames) and expert
demonstrations from ``--demos`` (``rl.experts:MiniGridPlanner``). The admitted program (sub-tasks
``door_opened`` -> ``goal_reached``) and its verification table are recorded.

Then, for every seed in ``--seeds``, two :func:`rl.training.train` jobs with the project's default
PPO settings (:class:`rl.training.TrainConfig`: MiniGrid's symbolic full-grid observation, one-hot
cells and two small convolutions in front of a 64-64 MLP, 8 envs): CaR (the synthesised program,
ordered sub-tasks, +1 once per sub-task added to the env reward, checkers in the sandbox) and
sparse (the env's own reward). Every ``--eval-every`` env steps the policy is evaluated on
``--eval-episodes`` fixed layouts (actions sampled from the policy, as ``benchmarks/rl_curves.py``
does) and scored by the env's own criterion (the episode's env return is positive) and its env
return; the code reward never enters the evaluation.

Reported: success rate and env return against env steps (mean and min-max over seeds, plotted),
env steps to the first evaluation at >= ``--threshold`` success per seed, final success, the
training episodes' success and sub-task rates, steps/s, wall time and the sandbox statistics.
Writes ``own_env_curve.json``, ``.md`` and ``.png`` to ``--out-dir`` (default
``benchmarks/results``; ``--quick`` writes ``own_env_curve_quick.*``). Nothing is asserted.

Usage:
    python benchmarks/own_env_curve.py            # full run (about 20 minutes on 2 loaded CPUs)
    python benchmarks/own_env_curve.py --quick    # smoke run (about 2 minutes)
"""

from __future__ import annotations

import dataclasses
import json
import os
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
from benchmarks.rl_curves import aggregate, steps_text  # noqa: E402

REWARDS = ("program", "sparse")
LABELS = {"program": "CaR (synthesised program)", "sparse": "sparse (env reward)"}


@dataclass
class Args:
    env: str = "MiniGrid-MultiRoom-N2-S4-v0"
    """the environment (any Gymnasium id or module:EnvId)"""
    script: str = "tests/envs_outside/multiroom_script.json"
    """the scripted stand-in VLM's replies (relative to the repository, or absolute)"""
    demos: str = "rl.experts:MiniGridPlanner"
    """expert demonstrations for synthesis (rl.demos source)"""
    task: str = ""
    """the task in words; empty: the env's own (MiniGrid's mission)"""
    timesteps: int = 60_000
    """env steps per run"""
    seeds: str = "0,1,2"
    """comma-separated seeds (at least 3 for a real run)"""
    eval_every: int = 5_000
    """env steps between evaluations"""
    eval_episodes: int = 20
    """episodes per evaluation (same layouts every time), actions sampled from the policy"""
    threshold: float = 0.9
    """success rate whose first crossing is reported as steps-to-success"""
    n_envs: int = 8
    """parallel envs per run"""
    parallel: int = 2
    """runs at a time (each in its own process, torch pinned to one thread)"""
    synth_expert: int = 8
    """expert episodes the synthesis verifies against"""
    synth_random: int = 8
    """random rollouts (50 frames) the synthesis verifies against"""
    isolation: str = ""
    """sandbox isolation for the checkers; empty: the strongest this machine supports"""
    out_dir: str = ""
    """where the results go; empty: benchmarks/results next to this script"""
    quick: bool = False
    """smoke mode: 2 seeds, 8,192 steps, evaluations every 4,096 steps of 4 episodes"""


def parse_args(argv: Sequence[str] | None = None) -> Args:
    """Build an :class:`Args` from the command line (one ``--kebab-case`` option per field)."""
    return parse_dataclass_args(Args, argv, __doc__)


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def synthesise(args: Args) -> Any:
    """Run the pipeline with the scripted replies; return the :class:`SynthesisResult`."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from sandbox.safeio import load_json
    from synth.pipeline import synthesize
    from synth.scripted import ScriptedClient

    script = Path(args.script)
    script = script if script.is_absolute() else REPO / script
    client = ScriptedClient(load_json(script, label="--script"))
    result = synthesize(
        args.env,
        client,
        task_text=args.task or None,
        demos=args.demos,
        n_expert=args.synth_expert,
        n_random=args.synth_random,
        isolation=args.isolation or None,
        log=lambda line: print(f"  {line}", flush=True),
    )
    if not result.ok or result.program is None:
        raise SystemExit(f"synthesis admitted no program for {', '.join(result.failed)}")
    return result


# --------------------------------------------------------------------------------------------
# Aggregation and reporting
# --------------------------------------------------------------------------------------------


def returns(runs: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    """Mean, min and max over seeds of the evaluations' mean env return, per evaluation."""
    steps = sorted(set.intersection(*[{p["steps"] for p in r["curve"]} for r in runs]))
    by_seed = [{p["steps"]: p["mean_return"] for p in r["curve"]} for r in runs]
    values = np.asarray([[d[s] for d in by_seed] for s in steps], dtype=float)
    return {
        "steps": [float(s) for s in steps],
        "mean": values.mean(axis=1).tolist(),
        "min": values.min(axis=1).tolist(),
        "max": values.max(axis=1).tolist(),
    }


def headline(per: dict[str, dict[str, Any]]) -> str:
    """One line comparing the two rewards' steps to the threshold."""
    car, sparse = per["program"], per["sparse"]
    parts = [f"{LABELS[r]}: {steps_text(per[r])}" for r in REWARDS]
    n = len(car["seeds"])
    if car["reached"] == n and sparse["reached"] == n:
        ratio = sparse["steps_to_threshold_mean"] / car["steps_to_threshold_mean"]
        parts.append(f"sparse needs {ratio:.2f}x the env steps of CaR")
    else:  # a mean over the seeds that got there would flatter the slower reward
        parts.append(f"CaR reaches it in {car['reached']}/{n} seeds, sparse in {sparse['reached']}")
    return "; ".join(parts)


def markdown(results: dict[str, Any]) -> str:
    """The results as a Markdown report."""
    a, m, synth = results["args"], results["machine"], results["synthesis"]
    thr = a["threshold"]
    per = results["rewards"]
    lines = [
        f"# Own environment: synthesised program (CaR) vs sparse reward on {a['env']}",
        "",
        f"{a['env']} has no entry, expert, labeller or reference program in vlm-car: the program "
        f"was synthesised on the own-environment path from the recorded replies of a *scripted* "
        f"stand-in model (`{a['script']}`; it does not look at the images) with demonstrations "
        f"from `{a['demos']}`, and admitted by the sandbox gate (audit, fuzzing, verification on "
        f"{synth['verification']['n_expert']} expert episodes and "
        f"{synth['verification']['n_random']} random rollouts of "
        f"{synth['verification']['random_length']} frames).",
        "",
        f"PPO (SB3 {m['stable_baselines3']}, `rl.training` defaults: symbolic full-grid "
        f"observation with one-hot cells, two 3×3 convolutions and a 64-64 MLP, {a['n_envs']} "
        f"envs, 128 steps per env per update), {a['timesteps']:,} env steps per run, seeds "
        f"{a['seeds']}, sampled-policy evaluation of {a['eval_episodes']} fixed layouts every "
        f"{a['eval_every']:,} env steps; success = the env's own criterion (episode env return "
        f"> 0). CaR = the synthesised program (ordered sub-tasks, +1 once per sub-task, added "
        f"to the env reward), run in the sandbox. {a['parallel']} run(s) at a time, torch 1 "
        f"thread each. {m['platform']}, {m['cpu_count']} CPUs, load average at start "
        f"{m['load_avg']}, {m['timestamp']}; synthesis {synth['seconds']:.0f} s, training "
        f"{results['elapsed_seconds'] / 60:.1f} min{' (QUICK: rough numbers)' if a['quick'] else ''}.",
        "",
        "## The synthesised program",
        "",
        "Sub-tasks: " + " → ".join(f"`{n}`" for n in synth["subtasks"]) + ".",
        "",
        synth["table"].strip(),
        "",
        "## Learning curves",
        "",
        f"| reward | env steps to {thr:.0%} success (mean ± sd) | per seed | final success "
        "(mean ± sd) | final env return (mean) | training episodes: success, sub-tasks | "
        "steps/s | wall s/run |",
        "|---|---|---|---:|---:|---|---:|---:|",
    ]
    for reward in REWARDS:
        agg = per[reward]
        seeds = ", ".join(f"{v:,}" if v is not None else "—" for v in agg["steps_to_threshold"])
        train = [v for v in agg["train_success_mean"] if v is not None]
        subs = ", ".join(f"{k} {v:.2f}" for k, v in agg["final_subtask_rates"].items())
        lines.append(
            f"| {LABELS[reward]} | {steps_text(agg)} | {seeds} | "
            f"{agg['final_success_mean']:.2f} ± {agg['final_success_std']:.2f} | "
            f"{agg['returns']['mean'][-1]:.3f} | "
            f"{train[-1] if train else float('nan'):.2f}{'; ' + subs if subs else ''} | "
            f"{agg['steps_per_second_mean']:,.0f} | {agg['wall_seconds_mean']:.0f} |"
        )
    lines += ["", f"**Headline**: {results['headline']}", ""]
    box = per["program"]["sandbox"]
    if box:
        modes = ", ".join(str(mode[0]) for mode in box["jit_modes"] or [])
        lines += [
            f"**Sandbox** (CaR runs): isolation {box['isolation']}, checkers [{modes}], evaluate "
            f"{box['evaluate_ms_mean']:.2f} ms per VecEnv step "
            f"({box['evaluate_share_of_train_time']:.1%} of training time), "
            f"{box['total_failures']} checker failures.",
            "",
        ]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    """Success rate and env return against env steps, one line per reward."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12.0, 4.4))
    thr = results["args"]["threshold"]
    for reward in REWARDS:
        agg = results["rewards"][reward]
        x = np.asarray(agg["steps"])
        n = len(agg["seeds"])
        (line,) = axes[0].plot(x, agg["success_mean"], label=f"{LABELS[reward]}, mean of {n}")
        axes[0].fill_between(
            x, agg["success_min"], agg["success_max"], alpha=0.2, color=line.get_color()
        )
        ret = agg["returns"]
        axes[1].plot(ret["steps"], ret["mean"], color=line.get_color(), label=LABELS[reward])
        axes[1].fill_between(
            ret["steps"], ret["min"], ret["max"], alpha=0.2, color=line.get_color()
        )
    axes[0].axhline(thr, color="grey", linestyle="--", linewidth=0.8)
    axes[0].set_ylabel("success rate (sampled-policy eval)")
    axes[0].set_ylim(-0.03, 1.03)
    axes[1].set_ylabel("env return (eval mean; the code reward is not in it)")
    for ax in axes:
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    title = (
        f"{results['args']['env']}: PPO with the synthesised program vs the sparse reward "
        "(mean over seeds; band: min-max)"
    )
    fig.suptitle(textwrap.fill(title, 110))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Synthesise, train both rewards on every seed, write the results; return them."""
    from rl.training import TrainConfig, run_jobs

    args = parse_args(argv)
    if args.quick:
        args = dataclasses.replace(
            args, timesteps=8192, seeds="0,1", eval_every=4096, eval_episodes=4
        )
    seeds = [int(s) for s in _split(args.seeds)]
    if not seeds:
        raise SystemExit("--seeds: give at least one seed")
    out_dir = Path(args.out_dir) if args.out_dir else HERE / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "own_env_curve_quick" if args.quick else "own_env_curve"
    machine = common_machine_info(("torch", "stable-baselines3", "gymnasium", "minigrid"))

    t0 = time.perf_counter()
    print(f"synthesising a program for {args.env} (scripted replies: {args.script})")
    synthesis = synthesise(args)
    synth_seconds = time.perf_counter() - t0
    program = synthesis.program
    assert program is not None and synthesis.verification is not None

    jobs = [(reward, seed) for seed in seeds for reward in REWARDS]  # a seed's pair side by side
    configs = [
        TrainConfig(
            env_id=args.env,
            reward=program if reward == "program" else "sparse",
            timesteps=args.timesteps,
            seed=seed,
            n_envs=args.n_envs,
            eval_every=args.eval_every,
            eval_episodes=args.eval_episodes,
            eval_deterministic=False,
            isolation=args.isolation or None,  # type: ignore[arg-type]
        )
        for reward, seed in jobs
    ]
    print(f"training {len(configs)} runs, {args.parallel} at a time")
    t1 = time.perf_counter()
    runs = [r.to_dict() for r in run_jobs(configs, parallel=args.parallel)]
    elapsed = time.perf_counter() - t1
    table: dict[str, dict[str, Any]] = {}
    for reward in REWARDS:
        mine = [run for (rw, _), run in zip(jobs, runs, strict=True) if rw == reward]
        table[reward] = {**aggregate(mine, args.threshold), "returns": returns(mine)}
    results = {
        "benchmark": "own_env_curve",
        "args": {**dataclasses.asdict(args), "seeds": seeds},
        "machine": machine,
        "synthesis": {
            "seconds": synth_seconds,
            "model": synthesis.model,
            "subtasks": list(program.names),
            "sources": dict(zip(program.names, program.sources, strict=True)),
            "verification": synthesis.verification.to_json(),
            "table": synthesis.verification.markdown(),
        },
        "elapsed_seconds": elapsed,
        "rewards": table,
        "headline": headline(table),
        "runs": [
            {**run, "reward_spec": rw, "seed": s} for (rw, s), run in zip(jobs, runs, strict=True)
        ],
    }
    (out_dir / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / f"{stem}.md").write_text(markdown(results), encoding="utf-8")
    plot(results, out_dir / f"{stem}.png")
    print(markdown(results))
    return results


if __name__ == "__main__":
    main()
