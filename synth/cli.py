"""``vlmcar synth``, ``vlmcar refine`` and ``vlmcar verify``.

``vlmcar synth --env ID [--env-kwargs JSON] [--demos SOURCE] [--start PNG --goal PNG]
[--task TEXT] [--notes TEXT] [--model M | --replay FILE | --script FILE] [--record FILE] --out DIR``
runs the pipeline and writes a bundle; exit 0 when every sub-task got an accepted checker, 1 when
some did not (the transcript says why), 2 on usage errors, before any work (unknown environment,
with close matches; an env that cannot render RGB; unusable demonstrations or images; missing
replay; ``--out`` an existing file; no task text for an env that states none; a non-positive
count; a missing API key), 3 when a model call failed or a recording has no reply (see
:data:`vlmcar.cli.EXIT_CODES`). Every model call prints its tokens, cost and latency; the bundle's
provenance stores tokens and cost per call (``extra.usage``), ``usage.json`` beside it the same
with latencies (they differ run to run, so they stay out of ``program.json``). The defaults of
the numeric settings are the demo recording's (:data:`synth.demo.SYNTH_SETTINGS`).

``--candidates N`` asks for N checkers per sub-task in each round at once and keeps the best
(:mod:`synth.candidates`); they are gated in ``--workers K`` local processes or, with ``--ray
[auto|ADDRESS]``, as Ray tasks on nodes probed for the isolation level (exit 2 when Ray is missing,
nothing answers at ADDRESS, or a node lacks a layer).

``ID`` is any environment: built-in, any Gymnasium id, or ``module:EnvId``. ``--demos`` says where
expert demonstrations come from (an ``.npz`` of frames, a Minari dataset, an SB3 ``.zip``, a
``module:function`` policy; default: the env's scripted expert; see :mod:`rl.demos`). The start and
goal images default to the first and last frame of the first expert episode.

``vlmcar refine RUN_DIR [--demos SOURCE] [--notes TEXT] (--model M | --replay FILE | --script FILE)
--out DIR`` revises the program a training run used from its reward reports (:mod:`synth.refine`):
exit 0 with a new bundle (lineage in ``extra.lineage``, ``REFINEMENT.md`` beside it), 1 when some
sub-task got no accepted checker, 2 when the run directory holds no usable report or program
(before any model call), 3 when a model call failed.

``vlmcar verify BUNDLE [--env ID] [--env-kwargs JSON] [--demos SOURCE] [--labels JSON]
[--show PNG]`` loads a bundle (hashes, re-audit) and prints the per-sub-task verification table on
fresh rollouts; ``--labels`` adds precision and recall on frames a person labelled
(:func:`rl.demos.load_labelled`), ``--show`` writes a contact sheet of the frames where each
checker fired on random rollouts and where it missed on experts (:mod:`synth.sheet`). Exit 0 when
every checker meets the thresholds, 1 otherwise, 2 when the bundle or an input is refused.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from rl.demos import DemoSource, LabelledFrames
    from synth.gate import GatePool
    from synth.pipeline import SynthesisResult
    from synth.vlm import MeteredClient, VLMClient

__all__ = [
    "configure_refine",
    "configure_synth",
    "configure_verify",
    "make_client",
    "run_refine",
    "run_synth",
    "run_verify",
]


def configure_synth(parser: argparse.ArgumentParser) -> None:
    """Add the ``synth`` arguments to ``parser``."""
    parser.add_argument(
        "--env", required=True, help="any Gymnasium id or module:EnvId (built-in ones included)"
    )
    _add_env_arguments(parser)
    parser.add_argument(
        "--start", metavar="PNG", help="start image for the model (default: first expert frame)"
    )
    parser.add_argument(
        "--goal", metavar="PNG", help="goal image for the model (default: last expert frame)"
    )
    parser.add_argument("--task", help="the task in words (default: the env's own)")
    parser.add_argument("--notes", help="what the prompt states about the frames (default: env's)")
    parser.add_argument(
        "--labels", metavar="JSON", help="labelled frames for precision/recall (rl.demos format)"
    )
    _add_client_arguments(parser)
    _add_bundle_output(parser, "where to write the bundle")


def _add_bundle_output(parser: argparse.ArgumentParser, out_help: str) -> None:
    """--out, the pipeline settings, --isolation and --key-file (synth and refine)."""
    from vlmcar.args import output_dir

    parser.add_argument("--out", required=True, metavar="DIR", type=output_dir, help=out_help)
    _add_settings(parser)
    parser.add_argument("--isolation", choices=("strict", "process"))
    _add_key_file(parser, "sign the bundle with the key in FILE")
    _add_candidate_arguments(parser)


def _add_candidate_arguments(parser: argparse.ArgumentParser) -> None:
    """--candidates N, and where they are gated: --workers or --ray."""
    from vlmcar.args import positive_int

    parser.add_argument(
        "--candidates",
        type=positive_int,
        default=1,
        metavar="N",
        help="checkers asked for per sub-task in each round, all at once; the best by "
        "verification is kept and all N are recorded in the bundle (default 1)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=positive_int,
        metavar="K",
        help="local processes that gate candidates at once (default: N, at most the CPUs)",
    )
    where.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        default=None,
        metavar="auto|ADDRESS",
        help="gate candidates as Ray tasks: auto (alone: the cluster RAY_ADDRESS or `ray start` "
        "names, else a local one) or a cluster address HOST:PORT; every node must support the "
        "isolation level",
    )


def _bundle_flags_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with --out, --workers or --ray (``_add_bundle_output``'s flags), or None.

    ``--out`` must not be an existing file; --workers and --ray place candidates, so they need
    ``--candidates N`` with N > 1.
    """
    if Path(args.out).exists() and not Path(args.out).is_dir():
        return f"--out {args.out!r} is an existing file"
    if args.candidates == 1 and (args.ray is not None or args.workers is not None):
        flag = "--ray" if args.ray is not None else "--workers"
        return f"{flag} places candidates on workers: it needs --candidates N with N > 1"
    return None


def _pipeline_settings(
    args: argparse.Namespace, pool: GatePool, isolation: str | None
) -> dict[str, Any]:
    """The keyword arguments synth and refine both pass to :func:`synth.pipeline.synthesize`."""
    return {
        "max_rounds": args.rounds,
        "n_expert": args.expert,
        "n_random": args.random,
        "random_length": args.random_length,
        "seed": args.seed,
        "isolation": isolation,
        "fuzz_examples": args.fuzz_examples,
        "candidates": args.candidates,
        "gate_pool": pool,
        "log": lambda line: print(f"  {line}", flush=True),
    }


@contextlib.contextmanager
def _gate_pool(args: argparse.Namespace) -> Iterator[tuple[GatePool, str | None]]:
    """The pool that gates candidates, and the isolation level to ask for (fixed with --ray)."""
    from synth.gate import GatePool

    isolation = args.isolation
    if args.candidates == 1 or args.ray is None:
        workers = args.workers or min(args.candidates, os.cpu_count() or 1)
        with GatePool(workers if args.candidates > 1 else 1) as pool:
            yield pool, isolation
        return
    from rl.cluster import check_nodes, connect_ray
    from sandbox.pool import strongest_isolation

    # a node may lack layers this machine has: name the level, so a weaker node refuses to run
    isolation = isolation or strongest_isolation()[0]
    ray, started = connect_ray(args.ray, None)
    try:
        hosts = check_nodes(ray, isolation)
        print(f"  gating candidates on Ray ({len(hosts)} node(s), isolation {isolation})")
        with GatePool(ray=ray) as pool:
            yield pool, isolation
    finally:
        if started:
            ray.shutdown()


def _add_client_arguments(parser: argparse.ArgumentParser) -> None:
    """Where replies come from: --model, --replay or --script; --record."""
    from vlmcar.args import existing_file, output_file

    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a litellm model name, e.g. openai/gpt-4o (network!)")
    source.add_argument(
        "--replay",
        metavar="FILE",
        type=existing_file,
        help="answer from a recording (offline); replay with the settings it was recorded with",
    )
    source.add_argument(
        "--script",
        metavar="FILE",
        type=existing_file,
        help="a scripted stand-in: JSON mapping purpose -> list of replies",
    )
    parser.add_argument(
        "--record", metavar="FILE", type=output_file, help="record every reply into this store"
    )


def _add_settings(parser: argparse.ArgumentParser) -> None:
    """Rounds, rollout counts, seed and fuzzing: the demo recording's defaults."""
    from synth.demo import SYNTH_SETTINGS as DEFAULTS  # the demo recording's settings
    from vlmcar.args import non_negative_int, positive_int

    # Defaults are the demo recording's, so `vlmcar synth --replay synth/data/demo_replay.json`
    # replays it: the feedback sent to the model quotes these numbers, so other values miss.
    for flag, key, kind, what in (
        ("--rounds", "max_rounds", positive_int, "attempts per sub-task"),
        ("--expert", "n_expert", positive_int, "expert trajectories"),
        ("--random", "n_random", non_negative_int, "random rollouts"),
        ("--random-length", "random_length", positive_int, "frames per random rollout"),
        ("--seed", "seed", non_negative_int, "seed of the rollouts"),
        ("--fuzz-examples", "fuzz_examples", positive_int, "frames the fuzzer tries per candidate"),
    ):
        parser.add_argument(
            flag, type=kind, default=DEFAULTS[key], help=f"{what} (default {DEFAULTS[key]})"
        )


def _add_env_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env-kwargs",
        metavar="JSON",
        help="constructor keyword arguments of the env, a JSON object, e.g. '{\"size\": 7}'",
    )
    parser.add_argument(
        "--demos",
        metavar="SOURCE",
        help="expert demonstrations: PATH.npz, a Minari dataset id, an SB3 PATH.zip or "
        "package.module:function (default: the env's scripted expert)",
    )
    parser.add_argument(
        "--frame-source",
        choices=("auto", "render", "obs"),
        default="auto",
        help="where reward frames come from (default auto: the env's frame function or "
        "render(), else picture observations)",
    )


@dataclass(frozen=True)
class _Inputs:
    """The environment inputs of ``synth``/``verify``, read and checked before any work."""

    env_kwargs: dict[str, Any]
    demos: DemoSource | None
    start_frame: np.ndarray | None
    goal_frame: np.ndarray | None
    labelled: LabelledFrames | None
    frames: str


def _prepare(prog: str, args: argparse.Namespace, env_id: str) -> _Inputs | None:
    """Check the environment inputs before any work; None (after printing why) when refused."""
    from rl.demos import DemoError, DemoSource, load_labelled, read_png
    from rl.envs import make_env
    from rl.registry import parse_env_kwargs

    try:
        env_kwargs = parse_env_kwargs(args.env_kwargs)
        if env_kwargs == {} and getattr(args, "bundle_env_kwargs", None):
            env_kwargs = dict(args.bundle_env_kwargs)
        demos = DemoSource.parse(args.demos) if args.demos else None
        env = make_env(  # unknown id, no RGB frames, bad kwargs: refused here
            env_id, observation="native", env_kwargs=env_kwargs, frame_source=args.frame_source
        )
        try:
            env.reset(seed=0)  # draws the first frame: a render that gives no RGB fails here
            frames = env.frame_description
        finally:
            env.close()
        start = getattr(args, "start", None)
        goal = getattr(args, "goal", None)
        labels = getattr(args, "labels", None)
        return _Inputs(
            env_kwargs=env_kwargs,
            demos=demos,
            start_frame=read_png(start) if start else None,
            goal_frame=read_png(goal) if goal else None,
            labelled=load_labelled(labels) if labels else None,
            frames=frames,
        )
    except (DemoError, ValueError) as err:  # EnvError is a ValueError
        print(f"{prog}: error: {err}", file=sys.stderr)
        return None


def _add_key_file(parser: argparse.ArgumentParser, purpose: str) -> None:
    parser.add_argument(
        "--key-file",
        metavar="FILE",
        help=f"{purpose} (HMAC-SHA256; default: the VLMCAR_BUNDLE_KEY environment variable, if set)",
    )


def make_client(args: argparse.Namespace) -> VLMClient:
    """The VLM client the arguments ask for (wrapped to record when ``--record`` is given)."""
    from sandbox.safeio import load_json
    from synth.replay import RecordingClient, ReplayClient, ReplayStore
    from synth.scripted import ScriptedClient
    from synth.vlm import LiteLLMClient

    client: VLMClient
    if args.replay:
        if not Path(args.replay).exists():
            raise FileNotFoundError(f"--replay {args.replay}: no such recording")
        client = ReplayClient(ReplayStore(args.replay))
    elif args.script:
        client = ScriptedClient(load_json(args.script, label="--script"))
    else:
        client = LiteLLMClient(args.model)
        client.check_credentials()  # CredentialsError (exit 2) now, not after the rollouts
    if args.record:
        client = RecordingClient(client, ReplayStore(args.record))
    return client


def run_synth(args: argparse.Namespace) -> int:
    """Run the pipeline; return the exit code."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from rl.program import read_key
    from synth.errors import ReplayStoreError
    from synth.pipeline import synthesize
    from synth.vlm import MeteredClient

    problem = _bundle_flags_problem(args)
    if problem is not None:
        print(f"vlmcar synth: error: {problem}", file=sys.stderr)
        return 2
    prepared = _prepare("vlmcar synth", args, args.env)
    if prepared is None:
        return 2
    try:
        key = read_key(args.key_file)  # before any work: a bad key file is a usage error
        client = make_client(args)
    except (OSError, ValueError, ReplayStoreError) as err:  # ProgramError, FileRefused: ValueError
        print(f"vlmcar synth: error: {err}", file=sys.stderr)
        return 2
    # one line per model call (tokens, cost, latency); the totals also when synthesis fails
    metered = MeteredClient(client, on_call=lambda call: print(f"  {call.describe()}", flush=True))
    try:
        with _gate_pool(args) as (pool, isolation):
            result = synthesize(
                args.env,
                metered,
                **_pipeline_settings(args, pool, isolation),
                task_text=args.task,
                env_notes=args.notes,
                env_kwargs=prepared.env_kwargs,
                demos=prepared.demos,
                start_frame=prepared.start_frame,
                goal_frame=prepared.goal_frame,
                labelled=prepared.labelled,
                frame_source=args.frame_source,
            )
    except ValueError as err:  # no task text, unusable demonstrations (DemoError, EnvError)
        print(f"vlmcar synth: error: {err}", file=sys.stderr)
        return 2
    finally:  # a SynthError (model, recording, script) goes on to vlmcar's exit-code table
        print(f"  {metered.describe_totals()}", flush=True)
    path = _write_result("vlmcar synth", result, metered, args.out, key)
    if isinstance(path, int):
        return path
    if result.verification is not None:
        print(result.verification.markdown())
    print(f"bundle written to {path.parent}")
    return 0


def _write_result(
    prog: str, result: SynthesisResult, metered: MeteredClient, out: str, key: Any
) -> Path | int:
    """Write a successful result as a bundle (with usage); the manifest's path or an exit code."""
    from rl.program import ProgramError
    from synth.bundle import write_bundle

    if not result.ok:
        print(f"{prog}: no accepted checker for {', '.join(result.failed)}", file=sys.stderr)
        return 1
    if result.program is not None:  # tokens and cost per call (identical across replays)
        extra = {**result.program.extra, "usage": metered.to_json(timing=False)}
        result.program = dataclasses.replace(result.program, extra=extra)
    try:
        path = write_bundle(result, out, key=key)
    except ProgramError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    # latencies differ run to run, so they stay out of program.json (whose bytes a replay repeats)
    usage = path.parent / "usage.json"
    usage.write_text(json.dumps(metered.to_json(), indent=2) + "\n", encoding="utf-8")
    if result.candidates and result.program is not None:  # the same, with each one's cost
        from synth.candidates import candidates_json

        n = int(result.program.extra["candidates"]["n"])
        record = candidates_json(n, result.candidates, result.chosen, timing=True)
        (path.parent / "candidates.json").write_text(
            json.dumps(record, indent=2) + "\n", encoding="utf-8"
        )
    return path


def configure_refine(parser: argparse.ArgumentParser) -> None:
    """Add the ``refine`` arguments to ``parser``."""
    from vlmcar.args import existing_dir

    parser.add_argument(
        "run",
        metavar="RUN_DIR",
        type=existing_dir,
        help="a `vlmcar train --out` directory, or one seed's directory in it (holding "
        "reward_report.json and program/)",
    )
    parser.add_argument(
        "--demos",
        metavar="SOURCE",
        help="expert demonstrations for the gate (default: the env's scripted expert)",
    )
    parser.add_argument("--notes", help="what the prompt states about the frames (default: env's)")
    _add_client_arguments(parser)
    _add_bundle_output(parser, "where to write the new bundle")


def run_refine(args: argparse.Namespace) -> int:
    """One refinement round from a training run's reward report; return the exit code."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from rl.demos import DemoError, DemoSource
    from rl.program import ProgramError, read_key
    from synth.errors import ReplayStoreError
    from synth.refine import EvidenceError, describe_changes, load_evidence, refine_from_training
    from synth.vlm import MeteredClient

    prog = "vlmcar refine"
    problem = _bundle_flags_problem(args)
    if problem is not None:
        print(f"{prog}: error: {problem}", file=sys.stderr)
        return 2
    try:
        evidence, parent, _ = load_evidence(args.run)  # refused here, before any model call
        demos = DemoSource.parse(args.demos) if args.demos else None
        key = read_key(args.key_file)
        client = make_client(args)
    except (EvidenceError, ProgramError, DemoError, OSError, ValueError, ReplayStoreError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    print(f"refining {parent.env_id}: {' -> '.join(parent.names)}")
    print(evidence.text())
    if not evidence.stalled:
        print("  (no alarm was raised in this run: the model is asked anyway)")
    metered = MeteredClient(client, on_call=lambda call: print(f"  {call.describe()}", flush=True))
    try:
        with _gate_pool(args) as (pool, isolation):
            result, _ = refine_from_training(
                args.run,
                metered,
                env_notes=args.notes,
                demos=demos,
                **_pipeline_settings(args, pool, isolation),
            )
    except ValueError as err:  # unusable demonstrations, an env that no longer builds
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    finally:
        print(f"  {metered.describe_totals()}", flush=True)
    changes = describe_changes(parent.names, result)
    why = _stated_changes(result)
    path = _write_result(prog, result, metered, args.out, key)
    if isinstance(path, int):
        return path
    lines = [
        f"# Refinement of {parent.env_id}",
        "",
        f"Run: `{args.run}`. Before: {' -> '.join(parent.names)}. "
        f"After: {' -> '.join(result.program.names) if result.program else '?'}.",
        "",
        "## What training showed",
        "",
        evidence.text(),
        "",
        "## What changed",
        "",
        *(f"- {line}" for line in changes),
        *(["", f"The model's reason: {why}"] if why else []),
        "",
    ]
    if result.verification is not None:
        lines += ["## Verification", "", result.verification.markdown(), ""]
    (path.parent / "REFINEMENT.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(f"  {line}" for line in changes))
    if why:
        print(f"  the model's reason: {why}")
    if result.verification is not None:
        print(result.verification.markdown())
    print(f"bundle written to {path.parent} (REFINEMENT.md says what changed)")
    return 0


def _stated_changes(result: SynthesisResult) -> str:
    """The ``changes`` sentence of the accepted refine-from-training reply, if it gave one."""
    from synth.parse import decomposition_note

    for r in result.rounds:
        if r.purpose == "refine_training" and r.stage == "accepted":
            return decomposition_note(r.reply)
    return ""


def configure_verify(parser: argparse.ArgumentParser) -> None:
    """Add the ``verify`` arguments to ``parser``."""
    from vlmcar.args import non_negative_int, output_png, positive_int, program_dir

    parser.add_argument(
        "bundle",
        metavar="BUNDLE",
        type=program_dir,
        help="a bundle or reward-program directory (the one holding program.json)",
    )
    parser.add_argument("--env", help="environment to verify on (default: the bundle's)")
    _add_env_arguments(parser)
    parser.add_argument(
        "--labels", metavar="JSON", help="labelled frames for precision/recall (rl.demos format)"
    )
    parser.add_argument(
        "--show",
        metavar="PNG",
        type=output_png,
        help="write a contact sheet: first frames where each checker fired on random rollouts "
        "and where it missed on experts",
    )
    parser.add_argument(
        "--expert", type=positive_int, default=8, help="expert trajectories (default 8)"
    )
    parser.add_argument(
        "--random", type=non_negative_int, default=8, help="random rollouts (default 8)"
    )
    parser.add_argument(
        "--random-length", type=positive_int, default=50, help="frames per random rollout"
    )
    parser.add_argument("--seed", type=non_negative_int, default=100, help="rollout seed")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--isolation", choices=("strict", "process"))
    _add_key_file(parser, "refuse the bundle unless it is signed with the key in FILE")


def run_verify(args: argparse.Namespace) -> int:
    """Verify a bundle on fresh rollouts; return the exit code."""
    from rl.demos import DemoError
    from rl.program import ProgramError, read_key
    from synth.bundle import load_bundle
    from synth.sheet import write_contact_sheet
    from synth.verify import collect_rollouts, run_checkers, summarise

    if args.show and Path(args.show).is_dir():
        print(f"vlmcar verify: error: --show {args.show!r} is a directory", file=sys.stderr)
        return 2
    try:
        program, provenance = load_bundle(args.bundle, key=read_key(args.key_file))
    except ProgramError as err:
        print(f"vlmcar verify: error: refused: {err}", file=sys.stderr)
        return 2
    env_id = args.env or program.env_id
    recorded = provenance.get("env_kwargs")
    args.bundle_env_kwargs = recorded if isinstance(recorded, dict) and not args.env else None
    prepared = _prepare("vlmcar verify", args, env_id)
    if prepared is None:
        return 2
    labelled = prepared.labelled
    print(f"reward frames: {prepared.frames}", file=sys.stderr if args.json else sys.stdout)
    try:
        expert, random = collect_rollouts(
            env_id,
            n_expert=args.expert,
            n_random=args.random,
            random_length=args.random_length,
            seed=args.seed,
            demos=prepared.demos,
            env_kwargs=prepared.env_kwargs,
            frame_source=args.frame_source,
        )
    except (DemoError, ValueError) as err:
        print(f"vlmcar verify: error: {err}", file=sys.stderr)
        return 2
    runs = run_checkers(
        program.names, program.sources, expert, random, labelled=labelled, isolation=args.isolation
    )
    report = summarise(env_id, runs, expert, random, labelled=labelled)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.markdown())
    if args.show:
        path = write_contact_sheet(
            args.show, runs, expert, random, title=f"{env_id}: where the checkers fire"
        )
        print(f"contact sheet written to {path}", file=sys.stderr if args.json else sys.stdout)
    return 0 if report.accepted else 1
