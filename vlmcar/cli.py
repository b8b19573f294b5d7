"""``vlmcar``: dispatch a sub-command to the package that implements it.

Each sub-command lives in the package that owns it (``sandbox`` for ``audit``, ``check``,
``doctor``; later ``rl`` and ``synth`` for training and synthesis). A command module provides
``configure(parser)`` and ``run(args) -> int`` (or ``configure_<name>``/``run_<name>`` when the table
names ``module:name``); only the chosen command's module is imported, so
``vlmcar audit`` never loads torch or litellm.

Exit codes: 0 success, 1 findings / rejection, 2 usage or internal error, 3 run-time violation.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping, Sequence
from types import MappingProxyType

__all__ = ["COMMANDS", "main"]

#: sub-command -> (module implementing it, one-line help)
COMMANDS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "audit": ("sandbox.cli_audit", "statically audit checker sources (text, JSON, SARIF)"),
        "check": ("sandbox.cli_check", "run a checker on frames inside the sandbox, print JSON"),
        "doctor": ("sandbox.cli_check:doctor", "show which isolation layers this machine supports"),
        "fuzz": ("sandbox.cli_fuzz", "fuzz checkers in the sandbox (exceptions, determinism, ...)"),
        "synth": ("synth.cli:synth", "synthesise a reward program with a VLM (or a recording)"),
        "verify": ("synth.cli:verify", "verify a reward-program bundle on fresh rollouts"),
        "train": ("rl.cli_train", "train PPO with a code reward or the sparse reward"),
        "bench": ("sandbox.cli_bench", "measure reward throughput (raw, restricted, sandbox, JIT)"),
        "demo": ("synth.demo", "run the offline demo end to end (the README's main job)"),
    }
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vlmcar`` with ``argv`` (defaults to ``sys.argv[1:]``) and return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = argparse.ArgumentParser(
        prog="vlmcar",
        description="Safe, fast code-as-reward: audit, sandbox, JIT and batch reward checkers.",
    )
    subs = top.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        subs.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        top.parse_args(argv or ["--help"])  # prints usage; exits 2 on unknown commands
        return 2
    target, help_text = COMMANDS[argv[0]]
    module_name, _, suffix = target.partition(":")
    module = importlib.import_module(module_name)
    configure = getattr(module, f"configure_{suffix}" if suffix else "configure")
    run = getattr(module, f"run_{suffix}" if suffix else "run")
    parser = argparse.ArgumentParser(prog=f"vlmcar {argv[0]}", description=help_text)
    configure(parser)
    args = parser.parse_args(argv[1:])
    code: int = run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
