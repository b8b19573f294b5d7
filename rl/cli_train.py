"""``vlmcar train``: train PPO with the sparse env reward or a code reward, one run per seed.

``vlmcar train --env ID [--env-kwargs JSON] --reward sparse|reference|PROGRAM_DIR --timesteps N
--seeds S [S ...] [--n-envs N] [--observation auto|symbolic|image|native] [--out DIR]
[--scheme ordered|any-order|potential] [--bonus X] [--no-diagnosis] ...``

``ID`` is any environment: a built-in one, any Gymnasium id (``CartPole-v1``,
``MiniGrid-LavaCrossingS9N1-v0``) or ``module:EnvId`` (the module is imported first). Runs
:func:`rl.training.train` once per seed (sequentially), prints a per-seed summary table (final
success rate, env steps to reach 0.9 success, steps/s, wall time, checker failures) and writes
``DIR/train.json`` (every seed's :class:`rl.training.TrainResult` plus a summary) with each seed's logs
in ``DIR/seed<S>/`` (SB3's ``progress.csv``, ``eval.csv``, Monitor files, ``result.json``, the model
``model.zip`` and, for a code reward, the program it trained on in ``program/`` and the reward
report ``reward_report.md``/``.json``/``.png``).

``--scheme`` and ``--bonus`` override the program's reward scheme (one of
:data:`rl.schemes.SCHEMES`; ``any-order`` is accepted for ``any_order``) and its bonus per sub-task.
The reward diagnosis (:mod:`rl.diagnosis`: completion rate per sub-task over time, stall and
flooding alarms) runs for every code reward unless ``--no-diagnosis``; alarms are printed as
warnings while training, listed after the table, and summarised in each ``result.json``.

``--ray [auto|ADDRESS]`` trains every seed as a Ray task instead (:func:`rl.training.run_jobs_on_ray`:
one CPU request per run, its own envs and sandbox workers, the same seeded results and files as the
serial run), prints a line as each run ends, and keeps the finished runs when one fails (exit 3) or
on Ctrl-C (exit 130). No Ray installed, no cluster at ``ADDRESS``, or a node that lacks a layer the
isolation level needs: exit 2, before any run starts.

Exit codes: 0 every seed trained; 2 usage errors, before any training (unknown env id, with close
matches; an env that cannot draw the frames a code reward needs; spaces PPO cannot handle; a
program directory that is missing, malformed, tampered with or rejected by the audit; an
unavailable isolation level; bad numbers or JSON; an unknown ``--scheme``; a ``--bonus`` that is
not a finite number > 0; ``--scheme``/``--bonus`` with the sparse reward; ``--out`` an existing
file), with a message on
stderr naming the problem; 3 a checker-failure policy (``--failure-policy raise`` or
``stop_after:N``) stopped training (the remaining seeds are skipped; the JSON says which checker
failed and why); 130 Ctrl-C: the interrupted seed's model and results and ``train.json`` are
written first.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from vlmcar.args import positive_float

__all__ = ["configure", "format_alarms", "format_table", "run", "scheme_name"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` arguments to ``parser``."""
    from rl.envs import ENV_IDS
    from rl.schemes import SCHEME_CLASSES, SCHEMES

    parser.add_argument(
        "--env",
        required=True,
        metavar="ID",
        help=f"any Gymnasium id or module:EnvId; built-in: {', '.join(ENV_IDS)}",
    )
    parser.add_argument(
        "--env-kwargs",
        metavar="JSON",
        help="constructor keyword arguments of the env, a JSON object, e.g. '{\"size\": 7}'",
    )
    parser.add_argument(
        "--frame-source",
        choices=("auto", "render", "obs", "none"),
        default="auto",
        help="where reward frames come from: the env's frame function or render(), the "
        "observation, or none (sparse only); default auto",
    )
    parser.add_argument(
        "--reward",
        default="sparse",
        metavar="sparse|reference|PROGRAM_DIR",
        help="the env's own sparse reward, the env's reference program, or a reward-program "
        "directory (program.json + one .py per sub-task); default: sparse",
    )
    parser.add_argument(
        "--timesteps", type=int, default=200_000, help="env steps per seed (default 200000)"
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0], metavar="S", help="seeds (default: 0)"
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        default=None,
        metavar="auto|ADDRESS",
        help="train each seed as a Ray task: auto (alone: the cluster RAY_ADDRESS or `ray start` "
        "names, else a local one) or a cluster address HOST:PORT (put it after the other flags "
        "or give auto)",
    )
    parser.add_argument("--n-envs", type=int, default=8, help="parallel envs (default 8)")
    parser.add_argument(
        "--observation",
        choices=("auto", "symbolic", "image", "native"),
        default="auto",
        help="policy input: auto (default: the env's symbolic encoding if it has one, e.g. "
        "MiniGrid's full grid, else its own observation), symbolic, native, or image (the RGB "
        "reward frame + CNN)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="output directory (default: runs/train-<env>-<reward>-<time>)",
    )
    parser.add_argument(
        "--isolation",
        choices=("strict", "process", "inprocess"),
        help="sandbox isolation for the checkers (default: the strongest this machine supports)",
    )
    parser.add_argument(
        "--failure-policy",
        default="continue",
        metavar="continue|raise|stop_after:N",
        help="what a checker failure does: count it and carry on (default), stop on the first, "
        "or stop after N",
    )
    parser.add_argument(
        "--eval-every", type=int, default=10_000, help="env steps between evaluations"
    )
    parser.add_argument(
        "--eval-episodes", type=int, default=20, help="episodes per evaluation (default 20)"
    )
    parser.add_argument(
        "--stochastic-eval",
        action="store_true",
        help="evaluate the sampled policy instead of the greedy one",
    )
    parser.add_argument(
        "--checker-timeout",
        type=float,
        default=5.0,
        help="seconds one checker may take over one batch (default 5)",
    )
    parser.add_argument(
        "--torch-threads", type=int, default=1, help="torch threads during training (default 1)"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (it only shows on a terminal)"
    )
    parser.add_argument(
        "--scheme",
        type=scheme_name,
        metavar="|".join(name.replace("_", "-") for name in SCHEMES),
        help="override the program's reward scheme: "
        + ", ".join(f"{n.replace('_', '-')} ({cls.summary})" for n, cls in SCHEME_CLASSES.items())
        + "; default: the program's",
    )
    parser.add_argument(
        "--bonus",
        type=positive_float,
        metavar="X",
        help="override the program's bonus per sub-task (a finite number > 0); default: the "
        "program's",
    )
    parser.add_argument(
        "--no-diagnosis",
        action="store_true",
        help="do not diagnose the code reward (completion rates, stall and flooding alarms, "
        "reward_report.md/.json/.png in each seed's directory)",
    )


def scheme_name(text: str) -> str:
    """``--scheme``'s type: a registered scheme name in any accepted spelling -> the registered one.

    Example:
        >>> scheme_name("any-order")
        'any_order'

    Raises:
        argparse.ArgumentTypeError: not a registered scheme (the message lists them).
    """
    from rl.schemes import SCHEMES, UnknownSchemeError, canonical_scheme
    from vlmcar.args import unknown_choice

    try:
        return canonical_scheme(text)
    except UnknownSchemeError:
        raise argparse.ArgumentTypeError(
            unknown_choice("scheme", text, SCHEMES) + " ('-' may stand for '_', e.g. any-order)"
        ) from None


def _fmt_steps(value: int | None, budget: int) -> str:
    return f"{value:,}" if value is not None else f"not reached within {budget:,}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text per-seed table of :class:`rl.training.TrainResult` dicts."""
    head = (
        "seed",
        "final success",
        "steps to 0.9",
        "steps/s",
        "wall s",
        "evaluate ms/step",
        "checker failures",
        "stopped",
    )
    body = []
    for r in rows:
        box = r.get("sandbox") or {}
        body.append(
            (
                str(r["config"]["seed"]),
                f"{r['final_success']:.2f}",
                _fmt_steps(r["steps_to_90"], r["timesteps"]),
                f"{r['steps_per_second']:,.0f}",
                f"{r['wall_seconds']:.1f}",
                f"{box['evaluate_ms']:.3f}" if box else "-",
                str(box.get("total_failures", 0)) if box else "-",
                "interrupted" if r.get("interrupted") else "yes" if r["stopped"] else "no",
            )
        )
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)) for b in body]
    return "\n".join(lines)


def format_alarms(rows: list[dict[str, Any]]) -> list[str]:
    """One line per reward-diagnosis alarm of each seed, and where each report is."""
    lines: list[str] = []
    for r in rows:
        diag = r.get("diagnosis")
        if not diag:
            continue
        seed = r["config"]["seed"]
        for a in diag.get("alarms", []):
            cleared = (
                f", cleared at step {a['cleared_step']:,}"
                if a.get("cleared_step") is not None
                else ""
            )
            what = f"{a['kind']} {a['subtask']} -> {a['next']}" if a.get("subtask") else a["kind"]
            lines.append(f"seed {seed}: {what} at step {a['step']:,}{cleared}")
        report = (diag.get("report") or {}).get("md")
        if report:
            count = len(diag.get("alarms", []))
            lines.append(f"seed {seed}: reward report ({count} alarm(s)): {report}")
    return lines


def format_paths(rows: list[dict[str, Any]]) -> list[str]:
    """One line per checker that ran on the interpreter instead of a JIT kernel, with why.

    The reward is the same on both paths; the interpreter is slower (the benchmark's table of
    ``benchmarks/results/realistic.md``). Said once, from the first run with code rewards.
    """
    for r in rows:
        program, box = r.get("program"), r.get("sandbox")
        if not program or not box or not box.get("jit_modes"):
            continue
        lines = []
        for name, (mode, reason) in zip(program["subtasks"], box["jit_modes"], strict=False):
            if mode != "jit":
                why = str(reason).splitlines()[0][:160] if reason else "no reason given"
                lines.append(f"checker {name}: on the interpreter (same reward, slower): {why}")
        return lines
    return []


def _error(message: str) -> int:
    print(f"vlmcar train: error: {message}", file=sys.stderr)
    return 2


def _config(
    args: argparse.Namespace,
    seed: int,
    reward: str,
    env_kwargs: dict[str, Any],
    out: Path | None,
) -> Any:
    from rl.training import TrainConfig

    return TrainConfig(
        env_id=args.env,
        reward=reward,
        timesteps=args.timesteps,
        seed=seed,
        n_envs=args.n_envs,
        observation=args.observation,
        env_kwargs=env_kwargs,
        frame_source=args.frame_source,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        eval_deterministic=not args.stochastic_eval,
        failure_policy=args.failure_policy,
        isolation=args.isolation,
        checker_timeout=args.checker_timeout,
        torch_threads=args.torch_threads,
        log_dir=out / f"seed{seed}" if out is not None else None,
        scheme=args.scheme,
        bonus=args.bonus,
        diagnosis=not args.no_diagnosis,
    )


def run(args: argparse.Namespace) -> int:
    """Train one run per seed, print the table, write the JSON; return the exit code."""
    from rl.program import ProgramError
    from rl.registry import EnvError, get_spec, parse_env_kwargs
    from rl.rewards import parse_failure_policy
    from rl.training import probe_config, resolve_reward, train
    from sandbox.errors import IsolationUnavailable, SandboxError

    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        return _error(f"--out {args.out!r} is an existing file; give a directory")
    try:
        env_kwargs = parse_env_kwargs(args.env_kwargs)
        get_spec(args.env)
    except ValueError as err:  # EnvError too
        return _error(str(err))
    for name in ("timesteps", "n_envs", "eval_every", "eval_episodes", "torch_threads"):
        if getattr(args, name) < 1:
            return _error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if any(s < 0 for s in args.seeds):
        return _error(f"--seeds must be >= 0, got {args.seeds}")
    if not (math.isfinite(args.checker_timeout) and args.checker_timeout > 0):
        return _error(f"--checker-timeout must be a positive number, got {args.checker_timeout}")
    try:
        parse_failure_policy(args.failure_policy)
    except ValueError as err:
        return _error(str(err))
    reward = str(args.reward)
    if reward == "sparse" and (args.scheme is not None or args.bonus is not None):
        flag = "--scheme" if args.scheme is not None else "--bonus"
        return _error(
            f"{flag} changes how a code reward pays, and --reward sparse has none; use --reward "
            "reference or a program directory, or drop it"
        )
    if reward not in ("sparse", "reference") and not Path(reward).is_dir():
        return _error(
            f"--reward {reward!r}: no such program directory (use 'sparse', 'reference' or a "
            "directory holding program.json and the checker files)"
        )
    try:
        resolve_reward(reward, args.env)  # fail fast (exit 2) before any training starts
    except ProgramError as err:
        return _error(f"cannot load the reward program: {err}")
    except EnvError as err:
        return _error(str(err))

    try:  # make and reset one env as training will: no frames, bad spaces -> exit 2 now
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # train() warns again, once
            probe_config(_config(args, args.seeds[0], reward, env_kwargs, None))
    except (ProgramError, IsolationUnavailable, ValueError) as err:
        return _error(str(err))

    label = "sparse" if reward == "sparse" else "reference" if reward == "reference" else "program"
    stem = re.sub(r"[^\w.-]+", "_", args.env)  # "ALE/Pong-v5", "pkg:Env-v0": one directory name
    out = (
        Path(args.out)
        if args.out
        else Path("runs") / f"train-{stem}-{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return _error(f"--out {str(out)!r}: {err}")

    rows: list[dict[str, Any]] = []
    code = 0
    if args.ray is not None:
        try:
            rows, code = _train_on_ray(args, reward, env_kwargs, out)
        except (IsolationUnavailable, ValueError) as err:  # no Ray, no cluster, a weaker node
            return _error(str(err))
    for seed in args.seeds if args.ray is None else ():
        config = _config(args, seed, reward, env_kwargs, out)
        try:
            result = train(config, progress=not args.no_progress)
        except (ProgramError, IsolationUnavailable, ValueError) as err:
            return _error(str(err))
        except SandboxError as err:
            return _error(f"the sandbox failed: {err}")
        except KeyboardInterrupt:  # outside learning (set-up, evaluation): nothing of it to save
            print(f"vlmcar train: interrupted while setting up seed {seed}", file=sys.stderr)
            code = 130
            break
        rows.append(result.to_dict())
        if len(rows) == 1 and rows[-1].get("frame_source"):
            print(f"reward frames: {rows[-1]['frame_source']}")
        if result.interrupted:
            print(f"vlmcar train: seed {seed} {result.stopped}; results written", file=sys.stderr)
            code = 130
            break
        if result.stopped is not None:
            print(f"vlmcar train: seed {seed} stopped: {result.stopped}", file=sys.stderr)
            code = 3
            break

    finals = [r["final_success"] for r in rows]
    reached = [r["steps_to_90"] for r in rows]
    summary = {
        "env_id": args.env,
        "reward": reward,
        "timesteps": args.timesteps,
        "seeds": [r["config"]["seed"] for r in rows],
        "final_success_mean": sum(finals) / len(finals) if finals else None,
        "steps_to_90": reached,
        "stopped_by_failure_policy": code == 3,
        "interrupted": code == 130,
        "env_kwargs": env_kwargs,
        "models": [r.get("model_path") for r in rows],
    }
    path = out / "train.json"
    path.write_text(json.dumps({"summary": summary, "runs": rows}, indent=2) + "\n", "utf-8")
    print(f"{args.env}, reward {reward}, {args.timesteps:,} steps per seed")
    if rows:
        print(format_table(rows))
    for line in format_alarms(rows) + format_paths(rows):
        print(line)
    for r in rows:
        if r.get("model_path"):
            print(f"model: {r['model_path']}")
    print(f"wrote {path}")
    return code


def _train_on_ray(
    args: argparse.Namespace, reward: str, env_kwargs: dict[str, Any], out: Path
) -> tuple[list[dict[str, Any]], int]:
    """Every seed as a Ray task; a line per finished run; the rows in seed order and the code."""
    from rl.training import RunFailure, TrainResult, run_jobs_on_ray

    configs = [_config(args, seed, reward, env_kwargs, out) for seed in args.seeds]
    finished: dict[int, TrainResult | RunFailure] = {}

    def done(i: int, result: TrainResult | RunFailure) -> None:
        finished[i] = result
        where = f"[{len(finished)}/{len(configs)}] seed {configs[i].seed}"
        if isinstance(result, RunFailure):
            print(f"{where}: failed: {result.error}: {result.message}", file=sys.stderr)
        else:
            state = f", {result.stopped}" if result.stopped else ""
            print(
                f"{where}: final success {result.final_success:.2f}, "
                f"{result.steps_per_second:,.0f} steps/s{state}",
                flush=True,
            )

    print(f"training {len(configs)} run(s) on Ray ({args.ray})", flush=True)
    code = 0
    try:
        run_jobs_on_ray(configs, address=args.ray, on_done=done)
    except KeyboardInterrupt:
        print("vlmcar train: interrupted; the finished runs are written", file=sys.stderr)
        code = 130
    rows = []
    for i in sorted(finished):
        result = finished[i]
        if isinstance(result, RunFailure):
            code = code or 3
            continue
        rows.append(result.to_dict())
        if result.stopped is not None and not result.interrupted:
            code = code or 3
    return rows, code


def main(argv: list[str] | None = None) -> int:
    """Run ``vlmcar train`` without the ``vlmcar`` dispatcher (``python -m rl.cli_train``)."""
    parser = argparse.ArgumentParser(
        prog="vlmcar train", description=(__doc__ or "").split("\n")[0]
    )
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
