"""``vlmcar``: dispatch a sub-command to the package that implements it, and turn errors into exit codes.

Each sub-command lives in the package that owns it (``sandbox`` for ``audit``, ``check``,
``doctor``, ``fuzz``, ``bench``; ``synth`` for ``synth``, ``verify``, ``demo``; ``rl`` for ``train``,
``relabel``).
A command module provides ``configure(parser)`` and ``run(args) -> int`` (or
``configure_<name>``/``run_<name>`` when the table names ``module:name``); only the chosen command's
module is imported, so ``vlmcar audit`` never loads torch or litellm.

Arguments are validated by ``argparse`` (``type=`` validators from :mod:`vlmcar.args`) before a
command does any work. Errors a command does not handle itself are mapped to exit codes here, in one
place (:data:`ERROR_EXIT_CODES`): a user error prints one line, ``vlmcar CMD: error: ...``, and never
a traceback; an unexpected error (a bug) prints a short message saying how to report it, with the
traceback only when the environment sets ``VLMCAR_DEBUG=1``.

Exit codes (:data:`EXIT_CODES`):
    0: success.
    1: the work ran and the answer is no: an audit rejected a checker, fuzzing found a problem,
       verification missed a threshold, synthesis found no accepted checker, benchmark modes
       disagreed.
    2: usage error, refused before any work: a bad argument value, a missing, unreadable or
       malformed input file, an output path blocked by a file, an unknown environment, a refused
       bundle, an unavailable isolation level, a missing API key.
    3: run-time failure: a checker failed while running (timeout, crash, budget, contract, sandbox
       violation), a failure policy stopped training, a model call failed, a recording has no reply.
    4: internal error: a bug in vlm-car (please report it).
    130: interrupted (Ctrl-C); commands write what they finished first.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
import warnings
from collections.abc import Mapping, Sequence
from types import MappingProxyType, ModuleType
from typing import TextIO

__all__ = [
    "COMMANDS",
    "DEBUG_ENV",
    "ERROR_EXIT_CODES",
    "EXIT_CODES",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_RUNTIME",
    "EXIT_USAGE",
    "exit_code_for",
    "main",
]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_RUNTIME = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130

#: Every exit code ``vlmcar`` uses, and what it means (the README's table).
EXIT_CODES: Mapping[int, str] = MappingProxyType(
    {
        EXIT_OK: "success",
        EXIT_REJECTED: "the work ran and the answer is no (audit rejection, fuzz problem, "
        "verification below threshold, no accepted checker, benchmark modes disagree)",
        EXIT_USAGE: "usage error, refused before any work (bad argument, unusable input or output "
        "path, unknown environment, refused bundle, unavailable isolation, missing API key)",
        EXIT_RUNTIME: "run-time failure (a checker failed while running, a failure policy stopped "
        "training, a model call failed, a recording has no reply)",
        EXIT_INTERNAL: "internal error: a bug in vlm-car",
        EXIT_INTERRUPTED: "interrupted (Ctrl-C); finished results were written first",
    }
)

#: Set to 1 to print the traceback of every error (user errors included).
DEBUG_ENV = "VLMCAR_DEBUG"

#: ``(module, exception class, exit code)``, most specific first; the first class the error is an
#: instance of decides. A module that was never imported cannot have raised its exceptions, so the
#: lookup goes through ``sys.modules`` and imports nothing (``vlmcar audit`` stays free of torch).
ERROR_EXIT_CODES: tuple[tuple[str, str, int], ...] = (
    ("vlmcar.args", "UsageError", EXIT_USAGE),
    ("sandbox.errors", "FileRefused", EXIT_USAGE),
    ("sandbox.errors", "FrameError", EXIT_USAGE),
    ("sandbox.errors", "IsolationUnavailable", EXIT_USAGE),
    ("sandbox.errors", "AuditError", EXIT_REJECTED),
    ("sandbox.errors", "SandboxError", EXIT_RUNTIME),
    ("rl.program", "ProgramError", EXIT_USAGE),
    ("rl.registry", "EnvError", EXIT_USAGE),
    ("rl.demos", "DemoError", EXIT_USAGE),
    ("rl.errors", "RelabelError", EXIT_USAGE),
    ("rl.errors", "PartitionError", EXIT_RUNTIME),
    ("rl.errors", "RewardStackError", EXIT_USAGE),
    ("rl.errors", "CheckerFailureError", EXIT_RUNTIME),
    ("synth.errors", "CredentialsError", EXIT_USAGE),
    ("synth.errors", "UnknownModelError", EXIT_USAGE),
    ("synth.errors", "ReplayStoreError", EXIT_USAGE),
    ("synth.errors", "ReplayMiss", EXIT_RUNTIME),
    ("synth.errors", "ScriptExhausted", EXIT_RUNTIME),
    ("synth.errors", "VLMError", EXIT_RUNTIME),
    ("synth.errors", "SynthError", EXIT_REJECTED),
)

#: sub-command -> (module implementing it, one-line help)
COMMANDS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "audit": ("sandbox.cli_audit", "statically audit checker sources (text, JSON, SARIF)"),
        "check": ("sandbox.cli_check", "run a checker on frames inside the sandbox, print JSON"),
        "doctor": ("sandbox.cli_check:doctor", "show which isolation layers this machine supports"),
        "fuzz": ("sandbox.cli_fuzz", "fuzz checkers in the sandbox (exceptions, determinism, ...)"),
        "synth": ("synth.cli:synth", "synthesise a reward program with a VLM (or a recording)"),
        "verify": ("synth.cli:verify", "verify a reward-program bundle on fresh rollouts"),
        "refine": (
            "synth.cli:refine",
            "revise a reward program from a training run's reward report",
        ),
        "train": ("rl.cli_train", "train PPO with a code reward or the sparse reward"),
        "relabel": ("rl.cli_relabel", "relabel an offline dataset with a reward program (npz)"),
        "bench": ("sandbox.cli_bench", "measure reward throughput (raw, restricted, sandbox, JIT)"),
        "demo": ("synth.demo", "run the offline demo end to end (the README's main job)"),
    }
)


def exit_code_for(err: BaseException) -> int:
    """The exit code for an error that reached ``vlmcar`` (see :data:`ERROR_EXIT_CODES`).

    ``KeyboardInterrupt`` is 130; an ``OSError`` (a file that cannot be read or written) is a usage
    error; anything else not in the table is an internal error.

    Example:
        >>> from vlmcar.args import UsageError
        >>> exit_code_for(UsageError("no")), exit_code_for(KeyError("x"))
        (2, 4)
    """
    if isinstance(err, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    for module_name, class_name, code in ERROR_EXIT_CODES:
        module: ModuleType | None = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module is not None else None
        if isinstance(cls, type) and isinstance(err, cls):
            return code
    if isinstance(err, OSError):
        return EXIT_USAGE
    return EXIT_INTERNAL


def _debug() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")


def _report(prog: str, err: BaseException, stream: TextIO) -> int:
    code = exit_code_for(err)
    if _debug():
        traceback.print_exception(err, file=stream)
    if code == EXIT_INTERNAL:
        print(
            f"{prog}: internal error: {type(err).__name__}: {err}\n"
            f"  This is a bug in vlm-car, not a problem with your input. Please report it to the "
            f"vlm-car maintainers with the command line and the traceback that "
            f"`{DEBUG_ENV}=1 {prog} ...` prints.",
            file=stream,
        )
    else:
        text = str(err) or type(err).__name__
        if isinstance(err, OSError) and err.filename is not None and str(err.filename) not in text:
            text = f"{err.filename}: {text}"
        print(f"{prog}: error: {text}", file=stream)
    return code


def _exit_status(stop: SystemExit) -> int:
    if stop.code is None:
        return EXIT_OK
    if isinstance(stop.code, int):
        return stop.code
    print(stop.code, file=sys.stderr)
    return EXIT_USAGE


def _one_line_warnings(prog: str) -> None:
    """Show each distinct ``UserWarning`` once, as ``vlmcar CMD: warning: ...`` on stderr."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        print(f"{prog}: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show
    warnings.filterwarnings("once", category=UserWarning)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vlmcar`` with ``argv`` (defaults to ``sys.argv[1:]``) and return the exit code.

    Never raises for a user error or a bug: both become an exit code and a message on stderr (see
    the module docstring). ``argparse``'s own exits (``--help``, a bad value) are returned too.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    top = argparse.ArgumentParser(
        prog="vlmcar",
        description="Safe, fast code-as-reward: audit, sandbox, JIT and batch reward checkers.",
        epilog="exit codes: "
        + "; ".join(f"{code} {what.split(' (')[0]}" for code, what in EXIT_CODES.items()),
    )
    subs = top.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        subs.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        try:
            top.parse_args(argv or ["--help"])  # prints usage; exits 2 on unknown commands
        except SystemExit as stop:
            return _exit_status(stop) if argv else EXIT_USAGE
        return EXIT_USAGE
    prog = f"vlmcar {argv[0]}"
    target, help_text = COMMANDS[argv[0]]
    module_name, _, suffix = target.partition(":")
    with warnings.catch_warnings():
        _one_line_warnings(prog)
        try:
            module = importlib.import_module(module_name)
            configure = getattr(module, f"configure_{suffix}" if suffix else "configure")
            run = getattr(module, f"run_{suffix}" if suffix else "run")
            parser = argparse.ArgumentParser(prog=prog, description=help_text)
            configure(parser)
            try:
                args = parser.parse_args(argv[1:])
            except SystemExit as stop:
                return _exit_status(stop)
            code: int = run(args)
            return code
        except KeyboardInterrupt:
            print(f"\n{prog}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            _silence_stdout()
            return EXIT_OK
        except Exception as err:
            return _report(prog, err, sys.stderr)


def _silence_stdout() -> None:
    """After the reader of stdout went away (``vlmcar audit --rules | head``), drop further output."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main())
