"""A later refinement round (UnlockPickup): diagnose the last round's program, refine, train.

``refine_curves.py`` runs round 1: the reference program's stall goes to ``vlmcar refine`` and the
refined program is trained. This script runs round ``--round N`` (2, 3, ...) the way a user would:

1. **diagnose**: PPO on round ``N-1``'s program (``--parent``; by default the bundle copy the last
   round kept: ``benchmarks/results/refine_curves/ENV`` for round 2,
   ``benchmarks/results/refine_round{N-1}/bundle`` after that) for ``--diagnose-timesteps`` on
   ``--diagnose-seed``, with the reward diagnosis on; or ``--diagnose-run DIR``, a ``vlmcar train``
   seed directory already trained on that program (one of round ``N-1``'s runs).
2. **refine**: ``vlmcar refine`` on that run, answered by the *scripted* replies in
   ``benchmarks/data/refine/ENV/roundN/`` (``decomposition.json`` and a ``NAME.py`` per new
   sub-task: a stand-in for a model, written by a developer; see ``benchmarks/data/refine/README.md``).
   Kept and new checkers go through the real gate.
3. **train**: PPO on round ``N``'s program for ``--timesteps`` on ``--seeds``.

Reported: the success curves of round ``N`` next to the sparse reward and the earlier rounds at the
same budget, borrowed from ``--compare-from`` (``refine_curves.json``: sparse and round 1) and from
``refine_round{k}.json`` for ``1 < k < N`` (runs with the same env, steps, seeds and evaluation,
labelled as borrowed), the diagnosis run's alarms, and what the round changed. Runs are reused from
``--work-dir`` when their settings match. Success rates and timings are never asserted.

Writes ``refine_round{N}.json``, ``.md`` and ``.png`` (and a copy of the new bundle and the
diagnosis run's reward report in ``refine_round{N}/``) to ``--out-dir`` (default
``benchmarks/results``; ``--quick`` writes ``refine_round{N}_quick.*``).

Usage:
    python benchmarks/refine_round.py --round 2   # about 1.5 hours on 2 CPUs
    python benchmarks/refine_round.py --round 3 \
        --diagnose-run benchmarks/.work/refine_round2/refined-2/seed0
    python benchmarks/refine_round.py --quick     # smoke run (a few minutes)
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from benchmarks.common import parse_dataclass_args  # noqa: E402
from benchmarks.refine_curves import DATA, _describe, _same_run  # noqa: E402
from benchmarks.rl_curves import aggregate, machine_info, steps_text  # noqa: E402
from rl.training import TrainConfig, run_jobs  # noqa: E402

#: the highest round this script knows how to label and plot
MAX_ROUND = 9


def kind_of(round_: int) -> str:
    """The ``kind`` of a round's runs in results (round 1 is ``refine_curves.py``'s ``refined``)."""
    return "refined" if round_ == 1 else f"refined-{round_}"


#: the kinds of run in a report, in plotting order
KINDS = ("sparse", *(kind_of(k) for k in range(1, MAX_ROUND + 1)))


def label(kind: str, current: int) -> str:
    """How a kind of run is named in the report of round ``current``."""
    if kind == "sparse":
        return "sparse (env reward)"
    k = 1 if kind == "refined" else int(kind.split("-")[1])
    if k == 1:
        return "round 1 (refine_curves.py)"
    return f"round {k} (scripted replies)" + ("" if k == current else f" (refine_round{k}.py run)")


@dataclass
class Args:
    env: str = "MiniGrid-UnlockPickup-v0"
    """the env (round N's replies are in benchmarks/data/refine/ENV/roundN/)"""
    round: int = 2
    """the round to run (2 or later; round 1 is refine_curves.py)"""
    parent: str = ""
    """round N-1's bundle (relative to the repository unless absolute); empty: the copy that
    round kept (refine_curves/ENV for round 2, refine_round{N-1}/bundle after that)"""
    diagnose_run: str = ""
    """a vlmcar train seed directory trained on --parent (reward_report.json, program/); empty:
    train one (--diagnose-timesteps on --diagnose-seed)"""
    diagnose_timesteps: int = 500_000
    """env steps of the diagnosis run"""
    diagnose_seed: int = 3
    """seed of the diagnosis run (not one of --seeds)"""
    timesteps: int = 1_000_000
    """env steps per run of the new round (refine_curves.py trains round 1 and sparse for 1M)"""
    seeds: str = "0,1,2"
    """comma-separated seeds of the new round's runs"""
    eval_every: int = 50_000
    """env steps between evaluations"""
    eval_episodes: int = 20
    """episodes per evaluation (fixed layouts; actions sampled from the policy)"""
    threshold: float = 0.9
    """success rate whose first crossing is reported as steps-to-success"""
    n_envs: int = 8
    """parallel envs per run"""
    parallel: int = 2
    """runs at a time (each in its own process, torch pinned to one thread)"""
    isolation: str = ""
    """sandbox isolation for the checkers; empty: the strongest this machine supports"""
    compare_from: str = "benchmarks/results/refine_curves.json"
    """refine_curves.py results whose round-1 and sparse runs (same settings) are compared"""
    n_expert: int = 20
    """expert trajectories the gate verifies the kept checkers on"""
    n_random: int = 8
    """random rollouts the gate verifies them on"""
    work_dir: str = ""
    """where runs and bundles are kept (and reused); empty: benchmarks/.work/refine_roundN"""
    out_dir: str = ""
    """where the results go; empty: benchmarks/results next to this script"""
    quick: bool = False
    """smoke mode: 1 seed, 4,096 steps per run, a small gate (a few minutes)"""


def _repo_path(text: str) -> Path:
    path = Path(text)
    return path if path.is_absolute() else REPO / path


def script_for(env_id: str, round_: int = 2) -> dict[str, list[str]]:
    """Round ``round_``'s scripted replies for ``env_id``: purpose -> reply texts.

    ``roundN/decomposition.json`` answers the refine-from-training prompt and each
    ``roundN/NAME.py`` the checker prompt of a new sub-task ``NAME``.
    """
    folder = DATA / env_id / f"round{round_}"
    path = folder / "decomposition.json"
    if not path.is_file():
        raise SystemExit(f"{env_id}: no scripted round-{round_} replies ({path})")
    text = path.read_text(encoding="utf-8").strip()
    script = {"refine_training": [f"```json\n{text}\n```\n"]}
    for checker in sorted(folder.glob("*.py")):
        body = checker.read_text(encoding="utf-8").strip()
        script[f"checker:{checker.stem}"] = [f"```python\n{body}\n```\n"]
    return script


def train(configs: Sequence[TrainConfig], parallel: int) -> list[dict[str, Any]]:
    """Train the configs whose log dir holds no finished run with the same settings."""
    todo = [c for c in configs if _same_run(Path(str(c.log_dir)), c) is None]
    if todo:
        print(f"training {len(todo)} run(s), {len(configs) - len(todo)} reused", flush=True)
        for c in todo:
            shutil.rmtree(str(c.log_dir), ignore_errors=True)
        run_jobs(todo, parallel=parallel)
    out = []
    for c in configs:
        run = _same_run(Path(str(c.log_dir)), c)
        if run is None:
            raise SystemExit(f"{c.log_dir}: the run left no result.json")
        out.append(run)
    return out


def refine(run_dir: Path, out: Path, args: Args) -> dict[str, Any]:
    """``vlmcar refine run_dir --script ...`` into ``out`` (reused when it is there)."""
    from vlmcar.cli import main as vlmcar

    if (out / "program.json").is_file() and (out / "REFINEMENT.md").is_file():
        print(f"round-{args.round} bundle reused from {out}", flush=True)
        return {"bundle": str(out), "exit_code": 0, "reused": True}
    script = out.parent / f"{args.env}.round{args.round}.script.json"
    script.parent.mkdir(parents=True, exist_ok=True)
    replies = script_for(args.env, args.round)
    script.write_text(json.dumps(replies, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    argv = ["refine", str(run_dir), "--script", str(script), "--out", str(out)]
    argv += ["--expert", str(args.n_expert), "--random", str(args.n_random)]
    if args.isolation:
        argv += ["--isolation", args.isolation]
    print(f"vlmcar {' '.join(argv)}", flush=True)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = vlmcar(argv)
    print(textwrap.indent(buffer.getvalue().rstrip(), "  "), flush=True)
    if code != 0:
        raise SystemExit(f"vlmcar refine exited {code}")
    return {"bundle": str(out), "exit_code": code, "reused": False}


def compared(
    path: Path | str, env: str, config: TrainConfig, seeds: Sequence[int], kinds: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The runs of ``kinds`` in results file ``path`` with ``config``'s budget and evaluation.

    ``path`` is ``refine_curves.json`` (runs named by ``reward_spec``) or an earlier round's
    ``refine_roundK.json`` (runs named by ``kind``; runs it borrowed itself are not taken again).
    """
    where = _repo_path(str(path))
    if not str(path) or not where.is_file():
        print(f"{path}: not there; its runs are not compared", flush=True)
        return {}
    old = json.loads(where.read_text(encoding="utf-8"))
    want = config.to_dict()
    keys = ("timesteps", "n_envs", "eval_every", "eval_episodes", "eval_deterministic")
    when = old.get("machine", {}).get("timestamp", "?")
    shown = where.relative_to(REPO) if where.is_relative_to(REPO) else where
    out: dict[str, list[dict[str, Any]]] = {}
    for run in old.get("runs", []):
        if "borrowed_from" in run:
            continue
        kind = run.get("kind", run.get("reward_spec"))
        same = all(run.get("config", {}).get(k) == want[k] for k in keys)
        mine = run.get("env_id") == env and kind in kinds
        if mine and same and run["config"]["seed"] in seeds:
            label = f"{shown} (measured {when})"
            out.setdefault(kind, []).append({**run, "borrowed_from": label})
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_dataclass_args(Args, argv, __doc__)
    if args.quick:
        args = dataclasses.replace(
            args,
            diagnose_timesteps=4096,
            timesteps=4096,
            seeds="0",
            eval_every=2048,
            eval_episodes=2,
            n_expert=4,
            n_random=3,
            parallel=1,
        )
    n = args.round
    if not 2 <= n <= MAX_ROUND:
        raise SystemExit(f"--round {n}: give a round from 2 to {MAX_ROUND} (1 is refine_curves.py)")
    script_for(args.env, n)  # refuse an env without replies before any training
    if not args.parent:
        before = f"refine_curves/{args.env}" if n == 2 else f"refine_round{n - 1}/bundle"
        args = dataclasses.replace(args, parent=f"benchmarks/results/{before}")
    parent = _repo_path(args.parent)
    if not (parent / "program.json").is_file():
        last = "refine_curves.py" if n == 2 else f"refine_round.py --round {n - 1}"
        raise SystemExit(f"--parent {args.parent}: no program.json there (run {last})")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    out_dir = Path(args.out_dir) if args.out_dir else HERE / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"refine_round{n}" + ("_quick" if args.quick else "")
    work = (Path(args.work_dir) if args.work_dir else HERE / ".work" / stem).resolve()
    t0 = time.perf_counter()

    def config(reward: str, seed: int, steps: int, log_dir: Path) -> TrainConfig:
        return TrainConfig(
            env_id=args.env,
            reward=reward,
            timesteps=steps,
            seed=seed,
            n_envs=args.n_envs,
            eval_every=args.eval_every,
            eval_episodes=args.eval_episodes,
            eval_deterministic=False,  # sampled actions, as refine_curves.py
            isolation=args.isolation or None,  # type: ignore[arg-type]
            log_dir=log_dir,
        )

    # 1. the diagnosis run of the last round's program
    if args.diagnose_run:
        run_dir = _repo_path(args.diagnose_run)
        if not (run_dir / "reward_report.json").is_file():
            raise SystemExit(f"--diagnose-run {args.diagnose_run}: no reward_report.json there")
        diagnosis = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))
    else:
        run_dir = work / "diagnose" / f"seed{args.diagnose_seed}"
        diag = config(str(parent), args.diagnose_seed, args.diagnose_timesteps, run_dir)
        (diagnosis,) = train([diag], 1)

    # 2. the new round, from that run's report
    bundle = work / "bundles" / f"round{n}"
    info = refine(run_dir, bundle, args)
    info.update(_describe(bundle))
    reply = json.loads((DATA / args.env / f"round{n}" / "decomposition.json").read_text("utf-8"))
    info["changes"] = reply.get("changes", "")  # _describe reads round 1's
    kept = out_dir / stem
    shutil.rmtree(kept, ignore_errors=True)
    (kept / "bundle").mkdir(parents=True)
    for path in sorted(bundle.iterdir()):
        if path.is_file():
            shutil.copy2(path, kept / "bundle" / path.name)
    for name in ("reward_report.md", "reward_report.png", "reward_report.json"):
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, kept / f"diagnosis_{name}")
    info["copy"] = str(kept.relative_to(REPO) if kept.is_relative_to(REPO) else kept)

    # 3. the new round's program, next to sparse and the earlier rounds at the same budget
    mine = kind_of(n)
    configs = [config(str(bundle), s, args.timesteps, work / mine / f"seed{s}") for s in seeds]
    first = ("sparse", "refined")
    runs = compared(args.compare_from, args.env, configs[0], seeds, first)
    for k in range(2, n):
        path = out_dir / f"refine_round{k}{'_quick' if args.quick else ''}.json"
        runs.update(compared(path, args.env, configs[0], seeds, (kind_of(k),)))
    runs[mine] = train(configs, args.parallel)
    results = {
        "benchmark": stem,
        "round": n,
        "args": dataclasses.asdict(args),
        "machine": machine_info(),
        "elapsed_seconds": time.perf_counter() - t0,
        "refinement": info,
        "diagnosis_run": {
            "dir": str(run_dir),
            "seed": diagnosis.get("config", {}).get("seed"),
            "timesteps": diagnosis.get("timesteps"),
            "final_success": diagnosis.get("final_success"),
            "diagnosis": diagnosis.get("diagnosis"),
            "final_subtask_rates": _last_rates(diagnosis),
        },
        "kinds": {k: aggregate(runs[k], args.threshold) for k in KINDS if runs.get(k)},
        "runs": [{**r, "kind": k} for k in KINDS for r in runs.get(k, [])],
    }
    write(results, out_dir, stem)
    print(markdown(results))
    return results


def _last_rates(run: dict[str, Any]) -> dict[str, float]:
    """Sub-task completion and success of the training episodes of the run's last interval."""
    full = [p for p in run.get("returns", []) if p.get("episodes")]
    if not full:
        return {}
    last = full[-1]
    return {**last.get("subtask_rates", {}), "success": last.get("success_rate")}


def markdown(results: dict[str, Any]) -> str:
    a, m, ref, diag = (results[k] for k in ("args", "machine", "refinement", "diagnosis_run"))
    thr = a["threshold"]
    n = results.get("round", 2)  # refine_round2.json was written before --round
    lines = [
        f"# Refinement round {n} ({a['env']}): from the diagnosis to the next program",
        "",
        f"{a['env']}, PPO with the project's defaults (8 envs), seeds {a['seeds']}, sampled-policy "
        f"evaluation of {a['eval_episodes']} fixed layouts every {a['eval_every']:,} steps; "
        f"success = the env's own criterion. Round {n}'s replies are **scripted** "
        f"(`benchmarks/data/refine/ENV/round{n}/`, a stand-in for a model, written by a developer); "
        f"its checkers went through the real gate. {m['platform']}, {m['cpu_count']} CPUs, "
        f"{m['timestamp']}; total {results['elapsed_seconds'] / 60:.1f} min"
        f"{' (QUICK: rough numbers)' if a['quick'] else ''}.",
        "",
        f"## The diagnosis run (round-{n - 1} program)",
        "",
        f"Seed {diag['seed']}, {diag['timesteps'] or 0:,} steps, final eval success "
        f"{diag['final_success'] if diag['final_success'] is not None else float('nan'):.2f}; "
        "training episodes of the last interval: "
        + ", ".join(f"{k} {v:.2f}" for k, v in diag["final_subtask_rates"].items() if v is not None)
        + ".",
        "",
    ]
    alarms = (diag.get("diagnosis") or {}).get("alarms", [])
    lines += [f"- **{x['kind']}**: {x['message']}" for x in alarms] or ["- no alarm"]
    lines += [
        "",
        f"## What round {n} changed",
        "",
        f"before `{ref.get('before', '?')}`; after `{ref.get('after', '?')}`",
        "",
        f"scripted reason: {ref.get('changes', '')}",
        "",
        f"bundle and transcript: `{ref.get('copy', ref.get('bundle'))}/bundle`; the report the "
        f"round read: `{ref.get('copy')}/diagnosis_reward_report.md`",
        "",
        "## Success",
        "",
        f"| program | budget | env steps to {thr:.0%} success (mean ± sd) | per seed | final "
        "success (mean ± sd) | per seed | sub-task rates, training episodes at the end |",
        "|---|---:|---|---|---:|---|---|",
    ]
    for kind, agg in results["kinds"].items():
        per = ", ".join(f"{v:,}" if v is not None else "—" for v in agg["steps_to_threshold"])
        finals = [r["final_success"] for r in results["runs"] if r["kind"] == kind]
        rates = ", ".join(f"{k} {v:.2f}" for k, v in agg["final_subtask_rates"].items()) or "—"
        lines.append(
            f"| {label(kind, n)} | {agg['budget']:,} | {steps_text(agg)} | {per} | "
            f"{agg['final_success_mean']:.2f} ± {agg['final_success_std']:.2f} | "
            f"{', '.join(f'{f:.2f}' for f in finals)} | {rates} |"
        )
    borrowed = sorted(
        {(r["kind"], r["borrowed_from"]) for r in results["runs"] if "borrowed_from" in r}
    )
    if borrowed:
        lines.append("")
    for kind, source in borrowed:
        lines.append(f"The {label(kind, n)} runs are those of `{source}`, not trained again here.")
    mine = results["kinds"].get(kind_of(n))
    if mine:
        finals = [r["final_success"] for r in results["runs"] if r["kind"] == kind_of(n)]
        good = sum(f >= thr for f in finals)
        lines += [
            "",
            "## Target",
            "",
            f"- final success ≥ {thr} on {good}/{len(finals)} seeds within {mine['budget']:,} "
            f"steps (issue 13 asks 3/3 within 1M); {thr:.0%} first reached in "
            f"{mine['reached']}/{len(finals)}.",
        ]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cycle = ("tab:red", "tab:green", "tab:blue", "tab:purple", "tab:orange", "tab:brown")
    colours = {"sparse": "tab:grey", **dict(zip(KINDS[1:], cycle * 2, strict=False))}
    current = results.get("round", 2)
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    for kind, agg in results["kinds"].items():
        x = np.asarray(agg["steps"])
        seeds = len(agg["seeds"])
        name = f"{label(kind, current)}, mean of {seeds}"
        ax.plot(x, agg["success_mean"], color=colours[kind], label=name)
        ax.fill_between(x, agg["success_min"], agg["success_max"], alpha=0.18, color=colours[kind])
    ax.axhline(results["args"]["threshold"], color="black", linestyle="--", linewidth=0.8)
    ax.set_title(f"{results['args']['env']}: PPO success, sampled-policy eval (band: min–max)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(results: dict[str, Any], out_dir: Path, stem: str) -> None:
    (out_dir / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / f"{stem}.md").write_text(markdown(results), encoding="utf-8")
    if results["kinds"]:
        plot(results, out_dir / f"{stem}.png")


if __name__ == "__main__":
    main()
