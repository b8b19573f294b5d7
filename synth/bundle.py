"""Reward-program bundles: a synthesised program plus its provenance, on disk.

Provides:
    BUNDLE_SCHEMA: the provenance schema version.
    write_bundle: a :class:`synth.pipeline.SynthesisResult` -> a bundle directory.
    load_bundle: a bundle directory -> ``(RewardProgram, provenance)``; refuses tampering.

A bundle is a :mod:`rl.program` directory (``program.json`` plus one checker file per sub-task,
each with its sha256), whose manifest's ``extra`` holds the provenance: generator version, model,
prompt versions and template hashes, seed, the full transcript of model calls and the verification
statistics. Loading checks every hash and re-audits every checker under the *current* policy
(:func:`rl.program.load_program`); a bundle written by an older, laxer audit is refused rather than
trusted. Bundles contain no timestamps or timings, so a replayed run reproduces its bundle byte for
byte. The rl wrappers take the loaded program directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rl.program import ProgramError, RewardProgram, load_program, save_program
from synth.errors import SynthError

__all__ = ["BUNDLE_SCHEMA", "load_bundle", "write_bundle"]

BUNDLE_SCHEMA = 1


def write_bundle(result: Any, directory: str | Path) -> Path:
    """Write a successful synthesis result as a bundle; return the manifest's path.

    Raises:
        SynthError: when the result has no complete program.
    """
    program: RewardProgram | None = result.program
    if program is None or result.failed:
        raise SynthError(
            f"no bundle: no accepted checker for {', '.join(result.failed) or 'some sub-tasks'}"
        )
    extra = dict(program.extra)
    extra["bundle_schema"] = BUNDLE_SCHEMA
    stamped = RewardProgram(
        program.env_id,
        program.task,
        program.subtasks,
        program.scheme,
        program.bonus,
        program.gamma,
        extra,
    )
    return save_program(stamped, directory)


def load_bundle(directory: str | Path) -> tuple[RewardProgram, dict[str, Any]]:
    """Load a bundle, verifying hashes and re-auditing every checker.

    Returns:
        The program and its provenance (the manifest's ``extra``).

    Raises:
        ProgramError: missing or malformed files, a hash mismatch, or a checker the current audit
            rejects (the message names the file and what to do).
    """
    program = load_program(directory)
    provenance = dict(program.extra)
    if provenance.get("bundle_schema") not in (None, BUNDLE_SCHEMA):
        raise ProgramError(
            str(Path(directory) / "program.json"),
            f"bundle schema {provenance.get('bundle_schema')!r} is not supported "
            f"(expected {BUNDLE_SCHEMA})",
        )
    return program, provenance
