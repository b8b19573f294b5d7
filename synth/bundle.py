"""Reward-program bundles: a synthesised program plus its provenance, on disk.

Provides:
    BUNDLE_SCHEMA: the provenance schema version.
    write_bundle: a :class:`synth.pipeline.SynthesisResult` -> a bundle directory.
    load_bundle: a bundle directory -> ``(RewardProgram, provenance)``; refuses tampering.

A bundle is a :mod:`rl.program` directory (``program.json`` plus one checker file per sub-task,
each with its sha256), whose manifest's ``extra`` holds the provenance: generator version, model,
prompt versions and template hashes, seed, the full transcript of model calls and the verification
statistics. Loading (:func:`rl.program.load_program`) reads every file through
:mod:`sandbox.safeio`, checks the manifest's schema, every hash, and re-audits every checker under
the *current* policy; a bundle written by an older, laxer audit is refused rather than trusted. The
provenance's known fields are type-checked too. Bundles contain no timestamps or timings, so a
replayed run reproduces its bundle byte for byte. The rl wrappers take the loaded program directly.

**Signing.** The sha256s detect accidental edits only: a checker edited together with its hash in
``program.json`` loads. With a signing key configured (the ``VLMCAR_BUNDLE_KEY`` environment
variable, ``--key-file`` on ``vlmcar synth``/``verify``, or ``key=``), :func:`write_bundle` also
writes ``program.sig`` (HMAC-SHA256 over the canonical manifest and every checker's bytes) and
:func:`load_bundle` refuses a bundle that is unsigned or whose signature does not match. Without a
key, bundles are written unsigned and load as before, silently.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rl.program import Key, ProgramError, RewardProgram, load_program, save_program
from synth.errors import SynthError

__all__ = ["BUNDLE_SCHEMA", "load_bundle", "write_bundle"]

BUNDLE_SCHEMA = 1


def write_bundle(result: Any, directory: str | Path, *, key: Key = "env") -> Path:
    """Write a successful synthesis result as a bundle; return the manifest's path.

    Args:
        result: a :class:`synth.pipeline.SynthesisResult`.
        directory: where to write it (created if needed).
        key: sign with this key (``"env"``: ``VLMCAR_BUNDLE_KEY``, if set; ``None``: unsigned).

    Raises:
        SynthError: when the result has no complete program.
        ProgramError: the signing key is too short, or the provenance cannot be stored as JSON.
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
    return save_program(stamped, directory, key=key)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: Provenance fields a bundle may hold, and what each must be (all optional: a plain reward-program
#: directory is a bundle without provenance).
_PROVENANCE: dict[str, tuple[Callable[[Any], bool], str]] = {
    "bundle_schema": (lambda v: _is_int(v) and v == BUNDLE_SCHEMA, f"the integer {BUNDLE_SCHEMA}"),
    "generator": (lambda v: isinstance(v, str), "a string"),
    "model": (lambda v: isinstance(v, str), "a string"),
    "origin": (lambda v: isinstance(v, str), "a string"),
    "prompts": (lambda v: isinstance(v, dict), "an object"),
    "seed": (_is_int, "an integer"),
    "random_length": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "transcript": (
        lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v),
        "an array of objects",
    ),
    "verification": (lambda v: v is None or isinstance(v, dict), "an object or null"),
    "lineage": (lambda v: isinstance(v, dict), "an object"),
    "candidates": (
        lambda v: isinstance(v, dict) and isinstance(v.get("subtasks"), dict),
        "an object with a 'subtasks' object",
    ),
}


def load_bundle(directory: str | Path, *, key: Key = "env") -> tuple[RewardProgram, dict[str, Any]]:
    """Load a bundle: files read safely, schema, signature (with a key), hashes, re-audit.

    Args:
        directory: the bundle (or any reward-program directory).
        key: the signing key (``"env"``: ``VLMCAR_BUNDLE_KEY``, if set; ``None``: do not check
            signatures). With a key, an unsigned or mis-signed bundle is refused.

    Returns:
        The program and its provenance (the manifest's ``extra``).

    Raises:
        ProgramError: a missing, non-regular, oversized or malformed file; a manifest or
            provenance field of the wrong type; NaN or infinity anywhere; an unsigned or
            mis-signed bundle when a key is configured; a hash mismatch; or a checker the current
            audit rejects (the message names the file and what to do).
    """
    program = load_program(directory, key=key)
    provenance = dict(program.extra)
    manifest = str(Path(directory) / "program.json")
    schema = provenance.get("bundle_schema")
    if schema is not None and not (_is_int(schema) and schema == BUNDLE_SCHEMA):
        raise ProgramError(
            manifest, f"bundle schema {schema!r} is not supported (expected {BUNDLE_SCHEMA})"
        )
    for name, (check, wanted) in _PROVENANCE.items():
        if name in provenance and not check(provenance[name]):
            value = repr(provenance[name])
            raise ProgramError(
                manifest,
                f"malformed provenance: extra.{name} must be {wanted}, got "
                f"{value[:60]} ({type(provenance[name]).__name__}); regenerate the bundle",
            )
    return program, provenance
