"""Learning curves after one refinement round: sparse vs the reference program vs the refined one.

What it runs, per env in ``--envs`` (DoorKey-8x8 and UnlockPickup by default) and seed in
``--seeds``, with the project's PPO settings (:class:`rl.training.TrainConfig`, as
``benchmarks/rl_curves.py``):

1. **reference**: PPO on the env's reference program (``--reference-timesteps``), with the reward
   diagnosis on, so every seed's directory holds ``reward_report.json`` and ``program/``.
2. **refine**: ``vlmcar refine`` on those runs (every seed's report goes into the prompt), answered
   by the *scripted* replies in ``benchmarks/data/refine/ENV/`` (a stand-in for a model, written by
   a developer: see that folder's README). The revised checkers go through the real gate.
3. **refined** and **sparse**: PPO on the refined program and on the env's own reward
   (``--timesteps``).

Every ``--eval-every`` env steps the policy is evaluated on ``--eval-episodes`` fixed layouts by the
env's own success criterion (the code reward only changes what the learner is paid). Reported per
env and reward: the success curve (mean and min-max over seeds, PNG), env steps to the first
evaluation at >= ``--threshold``, final success, the per-sub-task completion rates of the training
episodes at the end, the diagnosis' alarms, and what the refinement changed.

Resumable: each run keeps its directory under ``--work-dir`` (default
``benchmarks/.work/refine_curves``, git-ignored) and a run whose ``result.json`` is there with the
same settings is not trained again; the refined bundle is reused the same way. After each phase the
results so far are written, so a run cut short still leaves its numbers. ``--reuse-from`` takes the
finished runs (and the refined bundles' copies) of an earlier results JSON of this benchmark, so a
fresh checkout adds what is missing without training the rest again.

Writes ``refine_curves.json``, ``.md`` and ``.png`` (and a copy of each env's refined bundle and
``REFINEMENT.md`` in ``refine_curves/``) to ``--out-dir`` (default ``benchmarks/results``;
``--quick`` writes ``refine_curves_quick.*``). Success rates and timings are never asserted.

Usage:
    python benchmarks/refine_curves.py           # full run (about 1.5-2 hours on 2 CPUs)
    python benchmarks/refine_curves.py --quick   # smoke run (a few minutes)
    python benchmarks/refine_curves.py --reuse-from benchmarks/results/refine_curves.json
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import shutil
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from benchmarks.common import parse_dataclass_args  # noqa: E402
from benchmarks.rl_curves import aggregate, machine_info, steps_text, timesteps_for  # noqa: E402
from rl.training import TrainConfig, run_jobs  # noqa: E402

DATA = HERE / "data" / "refine"
REWARDS = ("sparse", "reference", "refined", "flooding")

# The deliberately flooding program: its one sub-task is "done" as soon as anything moved, so the
# bonus is paid in every episode whether or not the task gets any nearer (the diagnosis' flooding
# alarm must fire on it, and never on the reference programs)
FLOODING_CHECKER = """import numpy as np


def check(frame, first):
    return changed_fraction(frame, first, 0) > 0.0
"""


@dataclass
class Args:
    envs: str = "MiniGrid-DoorKey-8x8-v0,MiniGrid-UnlockPickup-v0"
    """comma-separated env ids, each with scripted replies in benchmarks/data/refine/ENV/"""
    timesteps: str = "MiniGrid-DoorKey-8x8-v0=300000,MiniGrid-UnlockPickup-v0=1000000"
    """env steps per sparse and refined run: one number, or ENV=N pairs"""
    reference_timesteps: str = "MiniGrid-DoorKey-8x8-v0=300000,MiniGrid-UnlockPickup-v0=300000"
    """env steps per reference run (the runs the refinement reads): one number, or ENV=N pairs"""
    seeds: str = "0,1,2"
    """comma-separated seeds (at least 3 for a real run)"""
    eval_every: str = "MiniGrid-DoorKey-8x8-v0=10000,MiniGrid-UnlockPickup-v0=50000"
    """env steps between evaluations: one number, or ENV=N pairs"""
    eval_episodes: int = 20
    """episodes per evaluation (the same layouts every time; actions sampled from the policy)"""
    threshold: float = 0.9
    """success rate whose first crossing is reported as steps-to-success"""
    n_envs: int = 8
    """parallel envs per run"""
    parallel: int = 2
    """runs at a time (each in its own process, torch pinned to one thread)"""
    isolation: str = ""
    """sandbox isolation for the checkers; empty: the strongest this machine supports"""
    flooding_timesteps: str = "MiniGrid-DoorKey-8x8-v0=100000"
    """also train N steps per seed on a deliberately flooding program (one checker that fires on
    every frame after the first change since reset): ENV=N pairs, one number (every env), or
    empty (none)"""
    sparse_from: str = "benchmarks/results/rl_curves.json"
    """an earlier results JSON (rl_curves.py) whose sparse runs with the same settings (env,
    steps, seed, envs, evaluation) are used instead of training them again; empty: train all"""
    reuse_from: str = ""
    """an earlier results JSON of this benchmark: its runs with the same settings are used
    instead of training them again, and its copies of the refined bundles are restored into
    --work-dir where that has none (a refined run is reused only on the same bundle); empty: none"""
    retrain: str = ""
    """comma-separated kinds of run (sparse, reference, refined, flooding) trained again even where
    --reuse-from, --sparse-from or --work-dir has them (after a change to what they measure)"""
    n_expert: int = 20
    """expert trajectories the gate verifies the refined checkers on"""
    n_random: int = 8
    """random rollouts the gate verifies them on"""
    work_dir: str = ""
    """where runs and bundles are kept (and reused); empty: benchmarks/.work/refine_curves"""
    out_dir: str = ""
    """where the results go; empty: benchmarks/results next to this script"""
    report_only: bool = False
    """train and refine nothing: report the runs finished in --work-dir so far (and list the
    missing ones)"""
    quick: bool = False
    """smoke mode: DoorKey-8x8, 1 seed, 4,096 steps per run, a small gate (a few minutes)"""


def parse_args(argv: Sequence[str] | None = None) -> Args:
    """Build an :class:`Args` from the command line (one ``--kebab-case`` option per field)."""
    return parse_dataclass_args(Args, argv, __doc__)


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


# --------------------------------------------------------------------------------------------
# The scripted replies
# --------------------------------------------------------------------------------------------


def flooding_budgets(spec: str, envs: Sequence[str]) -> dict[str, int]:
    """``--flooding-timesteps``: ENV=N pairs (those envs), one number (every env in ``envs``) or
    empty (none)."""
    if not spec.strip():
        return {}
    named = [p.partition("=")[0].strip() for p in _split(spec) if "=" in p]
    return timesteps_for(spec, named or envs)


def script_for(env_id: str) -> dict[str, list[str]]:
    """The scripted replies for ``env_id``: purpose -> reply texts (``vlmcar refine --script``).

    ``decomposition.json`` answers the refine-from-training prompt; ``NAME.py`` answers the
    checker prompt of each new sub-task ``NAME``.
    """
    folder = DATA / env_id
    decomposition = folder / "decomposition.json"
    if not decomposition.is_file():
        raise SystemExit(f"{env_id}: no scripted replies in {folder} (decomposition.json)")
    text = decomposition.read_text(encoding="utf-8")
    script = {"refine_training": [f"```json\n{text.strip()}\n```\n"]}
    for checker in sorted(folder.glob("*.py")):
        body = checker.read_text(encoding="utf-8")
        script[f"checker:{checker.stem}"] = [f"```python\n{body.strip()}\n```\n"]
    return script


# --------------------------------------------------------------------------------------------
# Runs (reused when their result.json matches)
# --------------------------------------------------------------------------------------------


def _same_run(log_dir: Path, config: TrainConfig) -> dict[str, Any] | None:
    """The finished run in ``log_dir`` when it was trained with ``config``'s settings."""
    path = log_dir / "result.json"
    if not path.is_file():
        return None
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    want = config.to_dict()
    got = old.get("config", {})
    return old if _same_config(got, want) else None


_CONFIG_KEYS = (
    "env_id",
    "timesteps",
    "seed",
    "n_envs",
    "eval_every",
    "eval_episodes",
    "eval_deterministic",
    "reward",
)


def _same_config(got: dict[str, Any], want: dict[str, Any], *, anywhere: bool = False) -> bool:
    """The settings that make two runs the same run. ``anywhere``: a bundle kept under a work
    dir is named by its folder (``bundles/NAME``), not by where that work dir was."""

    def key(config: dict[str, Any], k: str) -> Any:
        value = config.get(k)
        if anywhere and k == "reward" and isinstance(value, str) and "bundles" in Path(value).parts:
            return Path(value).parts[-2:]
        return value

    return all(key(got, k) == key(want, k) for k in _CONFIG_KEYS)


def earlier_results(path: str, flag: str) -> dict[str, Any]:
    """The results JSON at ``path`` (relative to the repository unless absolute); {} if none."""
    if not path:
        return {}
    where = Path(path) if Path(path).is_absolute() else REPO / path
    try:
        old = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"{flag} {path}: not readable ({exc}); those runs are trained", flush=True)
        return {}
    if not isinstance(old, dict) or not isinstance(old.get("runs"), list):
        print(f"{flag} {path}: no 'runs' list in it; those runs are trained", flush=True)
        return {}
    old["_path"] = path
    return old


def borrowed_runs(
    old: dict[str, Any], configs: Sequence[TrainConfig | None], *, anywhere: bool = False
) -> dict[int, dict[str, Any]]:
    """Index in ``configs`` -> a finished run of an earlier results JSON with the same settings
    (labelled with where and when it was measured; a run it had borrowed keeps its label)."""
    if not old:
        return {}
    out: dict[int, dict[str, Any]] = {}
    when = old.get("machine", {}).get("timestamp", "?")
    for i, c in enumerate(configs):
        if c is None:
            continue
        want = c.to_dict()
        for run in old["runs"]:
            if _same_config(run.get("config", {}), want, anywhere=anywhere):
                clean = {k: v for k, v in run.items() if k not in ("env_id", "reward_spec", "seed")}
                clean.setdefault("borrowed_from", f"{old['_path']} (measured {when})")
                out[i] = clean
                break
    return out


def restore_bundle(old: dict[str, Any], env_id: str, bundle: Path) -> bool:
    """Copy the earlier results' copy of ``env_id``'s refined bundle into ``bundle`` when that
    holds none; True when ``bundle`` now has the same program as that copy."""
    info = (old.get("refinements") or {}).get(env_id) or {}
    copy = Path(str(info.get("copy", "")))
    copy = copy if copy.is_absolute() else REPO / copy
    if not info.get("copy") or not (copy / "program.json").is_file():
        return False
    if not (bundle / "program.json").is_file():
        bundle.mkdir(parents=True, exist_ok=True)
        for path in sorted(copy.iterdir()):
            if path.is_file():
                shutil.copy2(path, bundle / path.name)
        print(f"{env_id}: refined bundle restored from {copy}", flush=True)
    return (bundle / "program.json").read_bytes() == (copy / "program.json").read_bytes()


def forget(configs: Sequence[TrainConfig]) -> None:
    """Remove the work-dir runs of ``configs`` (``--retrain``), so they are trained again."""
    for c in configs:
        shutil.rmtree(str(c.log_dir), ignore_errors=True)


def train_all(
    configs: Sequence[TrainConfig],
    parallel: int,
    borrowed: dict[int, dict[str, Any]] | None = None,
    *,
    train: bool = True,
) -> list[dict[str, Any] | None]:
    """Train the configs not already finished in their log dirs (nor ``borrowed``); every run's
    result dict, in the configs' order (None for one not finished when ``train`` is False)."""
    borrowed = borrowed or {}
    todo = [
        c
        for i, c in enumerate(configs)
        if i not in borrowed and _same_run(Path(str(c.log_dir)), c) is None
    ]
    if todo and train:
        print(f"training {len(todo)} run(s), {len(configs) - len(todo)} reused", flush=True)
        for c in todo:
            shutil.rmtree(str(c.log_dir), ignore_errors=True)  # a run cut short starts afresh
        run_jobs(todo, parallel=parallel)
    out: list[dict[str, Any] | None] = []
    for i, c in enumerate(configs):
        run = borrowed.get(i) or _same_run(Path(str(c.log_dir)), c)
        if run is None and train:
            raise SystemExit(f"{c.log_dir}: the run left no result.json")
        out.append(run)
    return out


def refine(env_id: str, runs_dir: Path, out: Path, args: Args) -> dict[str, Any]:
    """``vlmcar refine runs_dir --script ...``: the refined bundle's directory and transcript."""
    from vlmcar.cli import main as vlmcar

    manifest = out / "program.json"
    if manifest.is_file() and (out / "REFINEMENT.md").is_file():
        print(f"{env_id}: refined bundle reused from {out}", flush=True)
        return {"bundle": str(out), "exit_code": 0, "reused": True}
    script = out.parent / f"{env_id}.script.json"  # beside the bundle, not in it
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(json.dumps(script_for(env_id), indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    argv = [
        "refine",
        str(runs_dir),
        "--script",
        str(script),
        "--out",
        str(out),
        "--expert",
        str(args.n_expert),
        "--random",
        str(args.n_random),
    ]
    if args.isolation:
        argv += ["--isolation", args.isolation]
    print(f"{env_id}: vlmcar {' '.join(argv)}", flush=True)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = vlmcar(argv)
    print(textwrap.indent(buffer.getvalue().rstrip(), "  "), flush=True)
    if code != 0:
        raise SystemExit(f"{env_id}: vlmcar refine exited {code}")
    return {"bundle": str(out), "exit_code": code, "reused": False}


def flooding_program(env_id: str, directory: Path) -> Path:
    """Write the deliberately flooding program for ``env_id`` into ``directory`` (once)."""
    from rl.program import RewardProgram, SubTask, save_program

    program = RewardProgram(
        env_id,
        get_task(env_id),
        (
            SubTask(
                "anything_moved", "Anything in the frame changed since reset.", FLOODING_CHECKER
            ),
        ),
        extra={"origin": "benchmarks/refine_curves.py: a deliberately flooding program"},
    )
    save_program(program, directory, key=None)
    return directory


def get_task(env_id: str) -> str:
    from rl.registry import get_spec

    reference = get_spec(env_id).reference
    if reference is None:
        raise SystemExit(f"{env_id}: no reference program to take the task text from")
    return reference().task


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def _alarms(runs: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for r in runs:
        diag = r.get("diagnosis") or {}
        for alarm in diag.get("alarms", []) or []:
            text = alarm.get("message") if isinstance(alarm, dict) else str(alarm)
            lines.append(f"seed {r['config']['seed']}: {text}")
    return lines


def report(
    args: Args,
    envs: list[str],
    seeds: list[int],
    runs: dict[str, dict[str, list[dict[str, Any]]]],
    refinements: dict[str, dict[str, Any]],
    elapsed: float,
    machine: dict[str, Any],
) -> dict[str, Any]:
    table: dict[str, dict[str, Any]] = {}
    for env in envs:
        table[env] = {}
        for reward in REWARDS:
            mine = runs.get(env, {}).get(reward)
            if mine:
                agg = aggregate(mine, args.threshold)
                agg["alarms"] = _alarms(mine)
                for kind in ("stall", "flooding"):  # runs that raised this kind of alarm
                    agg[f"{kind}_runs"] = sum(
                        bool((r.get("diagnosis") or {}).get(kind)) for r in mine
                    )
                table[env][reward] = agg
    return {
        "benchmark": "refine_curves",
        "args": {**dataclasses.asdict(args), "seeds": seeds},
        "machine": machine,
        "elapsed_seconds": elapsed,
        "envs": table,
        "refinements": refinements,
        "runs": [
            {**run, "env_id": env, "reward_spec": reward}
            for env, per in runs.items()
            for reward, rs in per.items()
            for run in rs
        ],
    }


def _subtasks(agg: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in agg["final_subtask_rates"].items()) or "—"


def markdown(results: dict[str, Any]) -> str:
    a = results["args"]
    m = results["machine"]
    thr = a["threshold"]
    lines = [
        "# One refinement round: sparse vs reference program vs refined program",
        "",
        f"PPO (SB3 {m['stable_baselines3']}, `rl.training` defaults as in `rl_curves.md`: symbolic "
        f"full-grid observation, {a['n_envs']} envs), seeds {a['seeds']}, sampled-policy "
        f"evaluation of {a['eval_episodes']} fixed layouts (every {a['eval_every']} env steps), "
        "success = the env's own criterion (episode env return > 0). *reference*: the env's "
        "reference program, trained with the reward diagnosis on; *refined*: the program "
        "`vlmcar refine` made from those runs' reward reports in one round, **with scripted "
        "replies** (`benchmarks/data/refine/`: a stand-in for a model, written by a developer; "
        "the checkers went through the real gate); *sparse*: the env's own reward. Code rewards: "
        "ordered sub-tasks, +1 once each, added to the env reward, run in the sandbox. "
        f"{a['parallel']} run(s) at a time, torch 1 thread each. {m['platform']}, "
        f"{m['cpu_count']} CPUs, {m['timestamp']}; total {results['elapsed_seconds'] / 60:.1f} min"
        f"{' (QUICK: rough numbers)' if a['quick'] else ''}.",
        "",
        f"| env | reward | budget | env steps to {thr:.0%} success (mean ± sd) | per seed | "
        "final success (mean ± sd) | per seed | sub-task rates, training episodes at the end | "
        "alarms | steps/s |",
        "|---|---|---:|---|---|---:|---|---|---:|---:|",
    ]
    for env, per in results["envs"].items():
        for reward, agg in per.items():
            seeds = ", ".join(f"{v:,}" if v is not None else "—" for v in agg["steps_to_threshold"])
            finals = [
                r["final_success"]
                for r in results["runs"]
                if r["env_id"] == env and r["reward_spec"] == reward
            ]
            lines.append(
                f"| {env} | {reward} | {agg['budget']:,} | {steps_text(agg)} | {seeds} | "
                f"{agg['final_success_mean']:.2f} ± {agg['final_success_std']:.2f} | "
                f"{', '.join(f'{f:.2f}' for f in finals)} | {_subtasks(agg)} | "
                f"{len(agg['alarms'])} | {agg['steps_per_second_mean']:,.0f} |"
            )
    borrowed = sorted(
        {
            (r["env_id"], r["reward_spec"], r["borrowed_from"])
            for r in results["runs"]
            if r.get("borrowed_from")
        }
    )
    if borrowed:
        lines.append("")
    for env, reward, source in borrowed:
        lines.append(
            f"The {reward} runs of {env} are those of `{source}`: the same settings (env, "
            "steps, seeds, envs, evaluation), not trained again here."
        )
    if results.get("missing"):
        lines += [
            "",
            "**Not finished when this report was written:** " + "; ".join(results["missing"]),
        ]
    lines += ["", "## What the refinement changed", ""]
    for env, ref in results["refinements"].items():
        lines.append(
            f"- **{env}**: before `{ref.get('before', '?')}`; after `{ref.get('after', '?')}`"
        )
        if ref.get("changes"):
            lines.append(f"  - scripted reason: {ref['changes']}")
        lines.append(f"  - bundle and transcript: `{ref.get('copy', ref.get('bundle'))}`")
    lines += ["", "## Alarms raised by the reward diagnosis", ""]
    for env, per in results["envs"].items():
        for reward, agg in per.items():
            for alarm in agg["alarms"]:
                lines.append(f"- {env} / {reward}, {alarm}")
    lines += ["", "## Targets", ""]
    for env, per in results["envs"].items():
        refined = per.get("refined")
        if refined is None:
            continue
        n = len(refined["seeds"])
        finals = [
            r["final_success"]
            for r in results["runs"]
            if r["env_id"] == env and r["reward_spec"] == "refined"
        ]
        good = sum(f >= thr for f in finals)
        lines.append(
            f"- {env}, refined: {thr:.0%} success reached in {refined['reached']}/{n} seeds "
            f"within {refined['budget']:,} steps; final success ≥ {thr} in {good}/{n}."
        )
    for env, per in results["envs"].items():
        flood = per.get("flooding")
        if flood is None:
            continue
        n = len(flood["seeds"])
        quiet = [
            f"{reward} {agg['flooding_runs']}/{len(agg['seeds'])}"
            for reward, agg in per.items()
            if reward in ("reference", "refined")
        ]
        lines.append(
            f"- {env}, flooding alarm: fired in {flood['flooding_runs']}/{n} runs of the "
            f"deliberately flooding program ({flood['budget']:,} steps each); in "
            f"{', '.join(quiet)} runs of the code rewards."
        )
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = results["envs"]
    fig, axes = plt.subplots(1, len(envs), figsize=(6.2 * len(envs), 4.4), squeeze=False)
    thr = results["args"]["threshold"]
    colours = {
        "sparse": "tab:grey",
        "reference": "tab:blue",
        "refined": "tab:red",
        "flooding": "tab:olive",
    }
    for ax, (env, per) in zip(axes[0], envs.items(), strict=True):
        for reward, agg in per.items():
            x = np.asarray(agg["steps"])
            label = {
                "refined": "refined program (1 round, scripted replies)",
                "reference": "reference program",
                "sparse": "sparse (env reward)",
                "flooding": "deliberately flooding program",
            }[reward]
            c = colours.get(reward)
            ax.plot(x, agg["success_mean"], color=c, label=f"{label}, mean of {len(agg['seeds'])}")
            ax.fill_between(x, agg["success_min"], agg["success_max"], alpha=0.18, color=c)
        ax.axhline(thr, color="black", linestyle="--", linewidth=0.8)
        ax.set_title(env)
        ax.set_xlabel("env steps")
        ax.set_ylabel("success rate (sampled-policy eval)")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(
        "PPO success vs env steps: sparse, reference program, refined program (band: min–max)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(results: dict[str, Any], out_dir: Path, stem: str) -> None:
    (out_dir / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / f"{stem}.md").write_text(markdown(results), encoding="utf-8")
    if any(results["envs"].values()):
        plot(results, out_dir / f"{stem}.png")


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def _describe(bundle: Path) -> dict[str, Any]:
    """Before/after sub-tasks and the stated reason, from the refined bundle."""
    from rl.program import load_program

    program = load_program(bundle, key=None)
    lineage = program.extra.get("lineage", {}) if isinstance(program.extra, dict) else {}
    reason = ""
    decomposition = DATA / program.env_id / "decomposition.json"
    if decomposition.is_file():
        reason = json.loads(decomposition.read_text(encoding="utf-8")).get("changes", "")
    return {
        "before": " → ".join(lineage.get("parent_subtasks", [])),
        "after": " → ".join(program.names),
        "changes": reason,
        "lineage": lineage,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.quick:
        args = dataclasses.replace(
            args,
            envs="MiniGrid-DoorKey-8x8-v0",
            timesteps="4096",
            reference_timesteps="4096",
            seeds="0",
            eval_every="2048",
            eval_episodes=2,
            flooding_timesteps="MiniGrid-DoorKey-8x8-v0=4096",
            n_expert=4,
            n_random=3,
            parallel=1,
        )
    envs = _split(args.envs)
    for env in envs:
        script_for(env)  # refuse an env without replies before any training
    budgets = timesteps_for(args.timesteps, envs)
    ref_budgets = timesteps_for(args.reference_timesteps, envs)
    flooding = flooding_budgets(args.flooding_timesteps, envs)
    every = timesteps_for(args.eval_every, [*envs, *flooding])
    seeds = [int(s) for s in _split(args.seeds)]
    retrain = set(_split(args.retrain))
    if retrain - set(REWARDS):
        raise SystemExit(
            f"--retrain {args.retrain!r}: unknown kind(s) {sorted(retrain - set(REWARDS))}; "
            f"choose from {', '.join(REWARDS)}"
        )
    out_dir = Path(args.out_dir) if args.out_dir else HERE / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "refine_curves_quick" if args.quick else "refine_curves"
    work = Path(args.work_dir) if args.work_dir else HERE / ".work" / stem
    machine = machine_info()
    t0 = time.perf_counter()

    def config(env: str, reward: str, spec: str, seed: int, steps: int) -> TrainConfig:
        return TrainConfig(
            env_id=env,
            reward=spec,
            timesteps=steps,
            seed=seed,
            n_envs=args.n_envs,
            eval_every=every[env],
            eval_episodes=args.eval_episodes,
            eval_deterministic=False,  # sampled actions, as rl_curves.py and rl-starter-files
            isolation=args.isolation or None,  # type: ignore[arg-type]
            log_dir=(work / reward / env / f"seed{seed}").resolve(),
        )

    runs: dict[str, dict[str, list[dict[str, Any]]]] = {env: {} for env in envs}
    refinements: dict[str, dict[str, Any]] = {}
    missing: list[str] = []

    def keep(
        configs: Sequence[TrainConfig],
        done: Sequence[dict[str, Any] | None],
        reward: Callable[[TrainConfig], str],
    ) -> None:
        for c, r in zip(configs, done, strict=True):
            if r is None:
                missing.append(f"{c.env_id} / {reward(c)} / seed {c.seed} ({c.timesteps:,} steps)")
            else:
                runs.setdefault(c.env_id, {}).setdefault(reward(c), []).append(r)

    def save() -> dict[str, Any]:
        results = report(args, envs, seeds, runs, refinements, time.perf_counter() - t0, machine)
        results["missing"] = missing
        write(results, out_dir, stem)
        return results

    # 1. the reference program, with the diagnosis writing each seed's reward report
    ref_configs = [
        config(e, "reference", "reference", s, ref_budgets[e]) for e in envs for s in seeds
    ]
    old = earlier_results(args.reuse_from, "--reuse-from")
    if "reference" in retrain:
        forget(ref_configs)
    reused = {} if "reference" in retrain else borrowed_runs(old, ref_configs, anywhere=True)
    done = train_all(ref_configs, args.parallel, reused, train=not args.report_only)
    keep(ref_configs, done, lambda _: "reference")
    save()

    # 2. one refinement round per env, from every seed's report, with the scripted replies
    copies = out_dir / stem
    same_bundle = {env: restore_bundle(old, env, work / "bundles" / env) for env in envs}
    for env in envs:
        if args.report_only and not (work / "bundles" / env / "program.json").is_file():
            missing.append(f"{env} / refinement")
            continue
        info = refine(env, work / "reference" / env, work / "bundles" / env, args)
        bundle = Path(info["bundle"])
        info.update(_describe(bundle))
        kept = copies / env
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True, exist_ok=True)
        for path in sorted(bundle.iterdir()):  # program.json, the checkers, REFINEMENT.md
            if path.is_file():
                shutil.copy2(path, kept / path.name)
        info["copy"] = str(kept.relative_to(REPO) if kept.is_relative_to(REPO) else kept)
        refinements[env] = info
    save()

    # 3. the refined program first (the question), then sparse at the same budget, then the
    # flooding program; the longest budgets first, so two workers end close together
    order = sorted(envs, key=lambda e: -budgets[e])
    later = [
        config(e, "refined", str(work / "bundles" / e), s, budgets[e]) for e in order for s in seeds
    ]
    later += [config(e, "sparse", "sparse", s, budgets[e]) for e in order for s in seeds]
    for env, steps in flooding.items():
        where = flooding_program(env, work / "bundles" / f"flooding-{env}")
        later += [config(env, "flooding", str(where), s, steps) for s in seeds]

    def name(c: TrainConfig) -> str:
        if c.reward == "sparse":
            return "sparse"
        return "flooding" if "flooding-" in str(c.reward) else "refined"

    forget([c for c in later if name(c) in retrain])
    sparse = earlier_results(args.sparse_from, "--sparse-from")
    borrowed = borrowed_runs(
        sparse, [c if c.reward == "sparse" and "sparse" not in retrain else None for c in later]
    )
    mine = [
        c if name(c) not in retrain and (name(c) != "refined" or same_bundle[c.env_id]) else None
        for c in later
    ]
    borrowed.update(borrowed_runs(old, mine, anywhere=True))  # this benchmark's own runs first
    done = train_all(later, args.parallel, borrowed, train=not args.report_only)

    keep(later, done, name)
    results = save()
    print(markdown(results))
    return results


if __name__ == "__main__":
    main()
