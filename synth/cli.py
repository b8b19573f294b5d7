"""``vlmcar synth`` and ``vlmcar verify``.

``vlmcar synth --env ID [--model M | --replay FILE | --script FILE] [--record FILE] --out DIR``
runs the pipeline and writes a bundle; exit 0 when every sub-task got an accepted checker, 1 when
some did not (the transcript says why), 2 on usage errors (unknown environment, missing replay).

``vlmcar verify BUNDLE [--env ID]`` loads a bundle (hashes, re-audit) and prints the per-sub-task
verification table on fresh rollouts; exit 0 when every checker meets the thresholds, 1 otherwise,
2 when the bundle is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synth.vlm import VLMClient

__all__ = ["configure_synth", "configure_verify", "make_client", "run_synth", "run_verify"]


def configure_synth(parser: argparse.ArgumentParser) -> None:
    """Add the ``synth`` arguments to ``parser``."""
    parser.add_argument("--env", required=True, help="a built-in environment id")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a litellm model name, e.g. openai/gpt-4o (network!)")
    source.add_argument("--replay", metavar="FILE", help="answer from a recording (offline)")
    source.add_argument(
        "--script",
        metavar="FILE",
        help="a scripted stand-in: JSON mapping purpose -> list of replies",
    )
    parser.add_argument("--record", metavar="FILE", help="record every reply into this store")
    parser.add_argument("--out", required=True, metavar="DIR", help="where to write the bundle")
    parser.add_argument("--rounds", type=int, default=3, help="attempts per sub-task (default 3)")
    parser.add_argument("--expert", type=int, default=8, help="expert trajectories (default 8)")
    parser.add_argument("--random", type=int, default=8, help="random rollouts (default 8)")
    parser.add_argument(
        "--random-length", type=int, default=50, help="frames per random rollout (default 50)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fuzz-examples", type=int, default=60)
    parser.add_argument("--isolation", choices=("strict", "process"))


def make_client(args: argparse.Namespace) -> VLMClient:
    """The VLM client the arguments ask for (wrapped to record when ``--record`` is given)."""
    from synth.replay import RecordingClient, ReplayClient, ReplayStore
    from synth.scripted import ScriptedClient
    from synth.vlm import LiteLLMClient

    client: VLMClient
    if args.replay:
        if not Path(args.replay).exists():
            raise FileNotFoundError(f"--replay {args.replay}: no such recording")
        client = ReplayClient(ReplayStore(args.replay))
    elif args.script:
        client = ScriptedClient(json.loads(Path(args.script).read_text(encoding="utf-8")))
    else:
        client = LiteLLMClient(args.model)
    if args.record:
        client = RecordingClient(client, ReplayStore(args.record))
    return client


def run_synth(args: argparse.Namespace) -> int:
    """Run the pipeline; return the exit code."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from rl.envs import ENV_IDS
    from synth.bundle import write_bundle
    from synth.errors import SynthError
    from synth.pipeline import synthesize

    if args.env not in ENV_IDS:
        print(
            f"vlmcar synth: error: unknown environment {args.env!r}; choose one of "
            f"{', '.join(ENV_IDS)}",
            file=sys.stderr,
        )
        return 2
    try:
        client = make_client(args)
    except (OSError, ValueError) as err:
        print(f"vlmcar synth: error: {err}", file=sys.stderr)
        return 2
    try:
        result = synthesize(
            args.env,
            client,
            max_rounds=args.rounds,
            n_expert=args.expert,
            n_random=args.random,
            random_length=args.random_length,
            seed=args.seed,
            isolation=args.isolation,
            fuzz_examples=args.fuzz_examples,
            log=lambda line: print(f"  {line}", flush=True),
        )
    except SynthError as err:
        print(f"vlmcar synth: {err}", file=sys.stderr)
        return 1
    if not result.ok:
        print(f"vlmcar synth: no accepted checker for {', '.join(result.failed)}", file=sys.stderr)
        return 1
    path = write_bundle(result, args.out)
    if result.verification is not None:
        print(result.verification.markdown())
    print(f"bundle written to {path.parent}")
    return 0


def configure_verify(parser: argparse.ArgumentParser) -> None:
    """Add the ``verify`` arguments to ``parser``."""
    parser.add_argument("bundle", metavar="BUNDLE", help="a bundle or reward-program directory")
    parser.add_argument("--env", help="environment to verify on (default: the bundle's)")
    parser.add_argument("--expert", type=int, default=8)
    parser.add_argument("--random", type=int, default=8)
    parser.add_argument("--random-length", type=int, default=50)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--isolation", choices=("strict", "process"))


def run_verify(args: argparse.Namespace) -> int:
    """Verify a bundle on fresh rollouts; return the exit code."""
    from rl.envs import ENV_IDS
    from rl.program import ProgramError
    from synth.bundle import load_bundle
    from synth.verify import collect_rollouts, verify_sources

    try:
        program, _ = load_bundle(args.bundle)
    except ProgramError as err:
        print(f"vlmcar verify: refused: {err}", file=sys.stderr)
        return 2
    env_id = args.env or program.env_id
    if env_id not in ENV_IDS:
        print(f"vlmcar verify: error: unknown environment {env_id!r}", file=sys.stderr)
        return 2
    expert, random = collect_rollouts(
        env_id,
        n_expert=args.expert,
        n_random=args.random,
        random_length=args.random_length,
        seed=args.seed,
    )
    report = verify_sources(
        env_id, program.names, program.sources, expert, random, isolation=args.isolation
    )
    print(json.dumps(report.to_json(), indent=2) if args.json else report.markdown())
    return 0 if report.accepted else 1
