"""``vlmcar demo``: the README's main job, offline, end to end.

1. **Audit**: the bundled example checkers, one of them malicious (rejected with its findings).
2. **Synthesis** on MiniGrid DoorKey-5x5 from a *replayed recording of a scripted stand-in VLM*
   (``synth/data/demo_replay.json``, recorded from ``synth/data/demo_script.json``; no network, no
   model): decomposition into sub-tasks, one checker per sub-task, each through the admission gate
   (audit, sandbox load, fuzzing, verification). The script includes a prompt-injected malicious
   checker and a degenerate one; both are rejected and regenerated from feedback.
3. **Verification** table of the accepted program on fresh rollouts.
4. **Throughput** of the program's checkers behind the process boundary (JIT where possible).
5. **Training**: short PPO runs with the code reward and with the sparse reward, ``--seeds`` seeds
   each (default 1). The summary states what the runs support: per seed the steps to first reach
   90 % success, the best and the final success; over several seeds the mean and spread. One seed
   is a demonstration that everything runs, not evidence that one reward learns faster, and the
   demo says so.
6. Where everything was written (bundle, plot, JSON), and the next step: the same pipeline on the
   user's own environment.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["configure", "run"]

ENV_ID = "MiniGrid-DoorKey-5x5-v0"
#: The settings the recording was made with (``tools/record_demo_replay.py``), which are also
#: ``vlmcar synth``'s defaults: the feedback sent to the model (fuzz counter-examples, statistics)
#: is part of each request and quotes these numbers, so a replay with other settings misses.
SYNTH_SETTINGS: dict[str, Any] = {
    "max_rounds": 3,
    "n_expert": 8,
    "n_random": 8,
    "random_length": 50,
    "fuzz_examples": 60,
    "seed": 0,
}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` arguments to ``parser``."""
    from vlmcar.args import non_negative_int, output_dir, positive_int

    parser.add_argument(
        "--out",
        default="demo_output",
        type=output_dir,
        help="output directory (default ./demo_output)",
    )
    parser.add_argument(
        "--timesteps",
        type=positive_int,
        default=80_000,
        help="PPO steps per run in step 5 (default 80,000; ~1 minute each)",
    )
    parser.add_argument(
        "--seeds",
        type=positive_int,
        default=1,
        help="PPO seeds per reward in step 5 (default 1: a demonstration, not evidence; 3 or "
        "more give a mean and a spread, one minute per run)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="first seed (default 0)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a fast smoke run: fewer rollouts, fuzz examples and PPO steps",
    )


def _header(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the demo; return 0 (or 1 if synthesis unexpectedly fails)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from rl.training import TrainConfig, train
    from sandbox import Sandbox, audit
    from sandbox.diagnostics import format_text
    from synth.bundle import load_bundle, write_bundle
    from synth.pipeline import synthesize
    from synth.replay import ReplayClient, ReplayStore
    from synth.verify import collect_rollouts, verify_sources
    from synth.vlm import MeteredClient

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    quick = bool(args.quick)
    t_start = time.perf_counter()

    _header("1. Static audit of generated code (one example is malicious)")
    examples = sorted(
        (
            p
            for p in resources.files("sandbox.examples").iterdir()
            if p.name.endswith(".py") and not p.name.startswith("_")
        ),
        key=lambda p: p.name,
    )
    reports = [audit(p.read_text(encoding="utf-8"), path=f"examples/{p.name}") for p in examples]
    format_text(reports, sys.stdout, verbose=False)

    _header(f"2. Synthesis on {ENV_ID} (replayed recording of a scripted stand-in VLM; offline)")
    data = resources.files("synth") / "data"
    client = MeteredClient(ReplayClient(ReplayStore(Path(str(data / "demo_replay.json")))))
    result = synthesize(
        ENV_ID, client, log=lambda line: print(f"  {line}", flush=True), **SYNTH_SETTINGS
    )
    print(f"  {client.describe_totals()}")
    if not result.ok:
        print(f"synthesis failed for {', '.join(result.failed)}")
        return 1
    bundle_dir = out / "bundle"
    if result.program is not None:
        extra = {**result.program.extra, "usage": client.to_json(timing=False)}
        result.program = dataclasses.replace(result.program, extra=extra)
    write_bundle(result, bundle_dir)
    program, provenance = load_bundle(bundle_dir)
    rejected = [r for r in result.rounds if r.subtask and r.stage != "accepted"]
    print(
        f"  {len(result.rounds)} model calls; {len(rejected)} candidate(s) rejected and regenerated:"
    )
    for r in rejected:
        print(f"    {r.subtask} attempt {r.attempt}: {r.summary}")

    _header("3. Verification on fresh rollouts (per sub-task; ground truth from env state)")
    expert, random = collect_rollouts(
        ENV_ID,
        n_expert=4 if quick else 10,
        n_random=4 if quick else 10,
        random_length=50,
        seed=args.seed + 1000,
    )
    report = verify_sources(ENV_ID, program.names, program.sources, expert, random)
    print(report.markdown())

    _header("4. Reward throughput behind the process boundary")
    frames = np.ascontiguousarray(np.concatenate([t.frames for t in expert])[:64])
    firsts = np.ascontiguousarray(np.concatenate([t.firsts for t in expert])[:64])
    with Sandbox(list(program.sources), names=list(program.names), spare=False) as box:
        box.evaluate(frames, firsts)
        samples = []
        for _ in range(5 if quick else 30):
            t0 = time.perf_counter()
            box.evaluate(frames, firsts)
            samples.append(time.perf_counter() - t0)
        per_batch = float(np.median(samples))
        modes = ", ".join(
            f"{n}: {m}" for n, (m, _) in zip(program.names, box.jit_modes, strict=True)
        )
        isolation = box.isolation
    n = len(frames)
    throughput = {
        "frames_per_batch": n,
        "checkers": len(program.names),
        "isolation": isolation,
        "us_per_batch": per_batch * 1e6,
        "frames_per_second": n / per_batch,
        "checker_calls_per_second": n * len(program.names) / per_batch,
    }
    print(
        f"  {len(program.names)} checkers x {n} frames ({frames.shape[1]}x{frames.shape[2]}) in "
        f"{per_batch * 1e3:.2f} ms per batch: {n / per_batch:,.0f} frames/s, isolation "
        f"{isolation}; {modes}"
    )
    print(
        "  (a CLIP ViT-B/32 image forward costs ~47 ms per frame on this CPU: "
        "benchmarks/results/throughput.md)"
    )

    steps = 2_048 if quick else args.timesteps
    seeds = list(range(args.seed, args.seed + args.seeds))
    _header(f"5. PPO: code reward vs sparse reward ({steps:,} steps, {len(seeds)} seed(s) each)")
    runs: dict[str, list[Any]] = {}
    for label, reward in (("code reward", program), ("sparse", "sparse")):
        for seed in seeds:
            config = TrainConfig(
                ENV_ID,
                reward=reward,
                timesteps=steps,
                seed=seed,
                eval_every=max(2_048, steps // 8),
                eval_episodes=5 if quick else 20,
                log_dir=str(out / "train" / f"{label.replace(' ', '_')}_seed{seed}"),
            )
            trained = train(config, progress=True)
            runs.setdefault(label, []).append(trained)
            print(f"  {label}, seed {seed}: {_describe_run(trained)}")
    plot = out / "demo_curves.png"
    _plot(runs, plot)
    conclusion = _conclusion(runs, steps)
    print()
    for line in conclusion:
        print(f"  {line}")

    summary = {
        "env_id": ENV_ID,
        "bundle": str(bundle_dir),
        "model": provenance.get("model"),
        "rounds": [r.to_json() | {"reply": None} for r in result.rounds],
        "verification": report.to_json(),
        "throughput": throughput,
        "training": {
            label: [
                {
                    "seed": r.config["seed"],
                    "steps_to_90": r.steps_to_90,
                    "best_success": max((p.success_rate for p in r.curve), default=0.0),
                    "final_success": r.final_success,
                    "steps_per_second": r.steps_per_second,
                    "curve": [(p.steps, p.success_rate) for p in r.curve],
                }
                for r in results
            ]
            for label, results in runs.items()
        },
        "conclusion": conclusion,
        "usage": client.to_json(),
        "seconds": time.perf_counter() - t_start,
    }
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    _header("6. Outputs")
    print(f"  bundle (program.json + one checker per sub-task, with provenance): {bundle_dir}")
    print(f"  learning curves: {plot}")
    print(f"  summary: {out / 'demo_summary.json'}")
    print(f"  verify again any time: vlmcar verify {bundle_dir}")
    print(f"  total {time.perf_counter() - t_start:.0f} s")
    _header("Next: your own environment")
    for line in NEXT_STEPS:
        print(f"  {line}")
    return 0


#: What to run next on one's own task (README: "Your own environment").
NEXT_STEPS = (
    "The same pipeline runs on any Gymnasium environment; you give the task in words and a few",
    "expert demonstrations (README, 'Your own environment'):",
    "  vlmcar synth --env my_pkg.envs:Maze-v0 --task 'reach the green exit' \\",
    "      --demos my_pkg.experts:make_policy --model openai/gpt-4o --out maze_bundle",
    "  vlmcar verify maze_bundle --show sheet.png      # look at where each checker fires",
    "  vlmcar train --env my_pkg.envs:Maze-v0 --reward maze_bundle --seeds 0 1 2",
    "(--model needs the provider's API key, e.g. OPENAI_API_KEY; --record FILE keeps the replies",
    "so that --replay FILE reruns it offline.)",
)


def _describe_run(result: Any) -> str:
    """Steps to 90 %, best and final success of one run: what its curve shows, not its last point."""
    best = max((p.success_rate for p in result.curve), default=0.0)
    reached = (
        f"reached 90 % at {result.steps_to_90:,} steps"
        if result.steps_to_90 is not None
        else "never reached 90 %"
    )
    return (
        f"{reached}; best {best:.0%}, final {result.final_success:.0%} "
        f"({result.steps_per_second:,.0f} steps/s)"
    )


def _mean_std(values: list[float]) -> str:
    mean = float(np.mean(values))
    return f"{mean:,.0f} ± {float(np.std(values)):,.0f}" if len(values) > 1 else f"{mean:,.0f}"


def _conclusion(runs: dict[str, list[Any]], steps: int) -> list[str]:
    """What the training runs support, in a few lines (matching what the plot shows)."""
    n = min(len(v) for v in runs.values())
    lines = []
    for label, results in runs.items():
        reached = [float(r.steps_to_90) for r in results if r.steps_to_90 is not None]
        finals = [r.final_success for r in results]
        when = (
            f"reached 90 % success in {len(reached)}/{len(results)} seed(s)"
            + (f", after {_mean_std(reached)} steps" if reached else "")
            + f" (within {steps:,})"
        )
        final = f"final success {np.mean(finals):.0%}" + (
            f" ± {np.std(finals):.0%}" if len(finals) > 1 else ""
        )
        lines.append(f"{label}: {when}; {final}.")
    if n == 1:
        lines.append(
            "One seed per reward: this shows that every stage runs end to end, not that one "
            "reward learns faster. A single PPO run is noisy (a curve can reach 90 % and fall "
            "back), so compare curves over seeds: --seeds 3 here, or "
            "benchmarks/results/rl_curves.md (3 seeds, DoorKey-6x6 and 8x8)."
        )
    else:
        lines.append(
            f"Mean ± standard deviation over {n} seeds; with this few seeds, treat a difference "
            "smaller than the spread as noise (benchmarks/results/rl_curves.md has longer runs)."
        )
    return lines


def _plot(runs: dict[str, list[Any]], path: Path) -> None:
    """Every seed's curve (thin) and, with several seeds, their mean (thick), per reward."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for index, (label, results) in enumerate(runs.items()):
        colour = f"C{index}"
        for k, result in enumerate(results):
            xs = [p.steps for p in result.curve]
            ys = [p.success_rate for p in result.curve]
            thin = len(results) > 1
            ax.plot(
                xs,
                ys,
                color=colour,
                marker="" if thin else "o",
                alpha=0.35 if thin else 1.0,
                linewidth=1 if thin else 1.5,
                label=None if thin or k else label,
            )
        if len(results) > 1 and len({len(r.curve) for r in results}) == 1:
            xs = [p.steps for p in results[0].curve]
            mean = np.mean([[p.success_rate for p in r.curve] for r in results], axis=0)
            ax.plot(xs, mean, color=colour, marker="o", linewidth=2, label=f"{label} (mean)")
    n = min(len(v) for v in runs.values())
    ax.set_xlabel("environment steps")
    ax.set_ylabel("success rate (deterministic eval)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"PPO on {ENV_ID}, {n} seed(s)" + (" (not evidence)" if n == 1 else ""))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
