"""``vlmcar demo``: the README's main job, offline, end to end.

1. **Audit**: the bundled example checkers, one of them malicious (rejected with its findings).
2. **Synthesis** on MiniGrid DoorKey-5x5 from a *replayed recording of a scripted stand-in VLM*
   (``synth/data/demo_replay.json``, recorded from ``synth/data/demo_script.json``; no network, no
   model): decomposition into sub-tasks, one checker per sub-task, each through the admission gate
   (audit, sandbox load, fuzzing, verification). The script includes a prompt-injected malicious
   checker and a degenerate one; both are rejected and regenerated from feedback.
3. **Verification** table of the accepted program on fresh rollouts.
4. **Throughput** of the program's checkers behind the process boundary (JIT where possible).
5. **Training**: a short PPO run with the code reward and with the sparse reward.
6. A summary of where everything was written (bundle, plot, JSON).
"""

from __future__ import annotations

import argparse
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
# The settings the recording was made with (``tools/record_demo_replay.py``): the feedback sent to
# the model (fuzz counter-examples, statistics) is part of each request, so other settings miss it.
SYNTH_SETTINGS: dict[str, Any] = {"n_expert": 8, "n_random": 8, "fuzz_examples": 40, "seed": 0}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` arguments to ``parser``."""
    parser.add_argument(
        "--out", default="demo_output", help="output directory (default ./demo_output)"
    )
    parser.add_argument(
        "--timesteps",
        type=int,
        default=80_000,
        help="PPO steps per run in step 5 (default 80,000; ~1 minute each)",
    )
    parser.add_argument("--seed", type=int, default=0)
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
    client = ReplayClient(ReplayStore(Path(str(data / "demo_replay.json"))))
    result = synthesize(
        ENV_ID, client, log=lambda line: print(f"  {line}", flush=True), **SYNTH_SETTINGS
    )
    if not result.ok:
        print(f"synthesis failed for {', '.join(result.failed)}")
        return 1
    bundle_dir = out / "bundle"
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

    _header("5. PPO: code reward vs sparse reward (short run)")
    steps = 4_096 if quick else args.timesteps
    curves: dict[str, Any] = {}
    for label, reward in (("code reward", program), ("sparse", "sparse")):
        config = TrainConfig(
            ENV_ID,
            reward=reward,
            timesteps=steps,
            seed=args.seed,
            eval_every=max(2_048, steps // 8),
            eval_episodes=10 if quick else 20,
            log_dir=str(out / "train" / label.replace(" ", "_")),
        )
        trained = train(config, progress=True)
        curves[label] = trained
        print(
            f"  {label}: final success {trained.final_success:.0%} after {trained.timesteps:,} "
            f"steps ({trained.steps_per_second:,.0f} steps/s)"
        )
    plot = out / "demo_curves.png"
    _plot(curves, plot)

    summary = {
        "env_id": ENV_ID,
        "bundle": str(bundle_dir),
        "model": provenance.get("model"),
        "rounds": [r.to_json() | {"reply": None} for r in result.rounds],
        "verification": report.to_json(),
        "throughput": throughput,
        "training": {
            k: {
                "final_success": v.final_success,
                "steps_per_second": v.steps_per_second,
                "curve": [(p.steps, p.success_rate) for p in v.curve],
            }
            for k, v in curves.items()
        },
        "seconds": time.perf_counter() - t_start,
    }
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    _header("6. Outputs")
    print(f"  bundle (program.json + one checker per sub-task, with provenance): {bundle_dir}")
    print(f"  learning curves: {plot}")
    print(f"  summary: {out / 'demo_summary.json'}")
    print(f"  verify again any time: vlmcar verify {bundle_dir}")
    print(f"  total {time.perf_counter() - t_start:.0f} s")
    return 0


def _plot(curves: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, result in curves.items():
        xs = [p.steps for p in result.curve]
        ys = [p.success_rate for p in result.curve]
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("success rate (deterministic eval)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"PPO on {ENV_ID}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
