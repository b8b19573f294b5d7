"""Reward programs: ordered sub-task checkers plus how to turn them into reward.

Provides:
    SubTask: one sub-task (name, description, checker source).
    RewardProgram: an environment's sub-tasks in order, the reward scheme and its parameters.
    load_program / save_program: the on-disk form, a directory with ``program.json`` and one
        ``<name>.py`` per sub-task (the synthesis pipeline writes the same layout, plus provenance).
    sign_program: write an HMAC-SHA256 signature of a program directory (``program.sig``).
    read_key: the signing key, from a key file or the ``VLMCAR_BUNDLE_KEY`` environment variable.
    reference_program: the hand-written reference program shipped for a built-in environment.

On disk::

    program.json   {"schema": 1, "env_id": ..., "task": ..., "scheme": "ordered", "bonus": 1.0,
                    "gamma": 0.99, "subtasks": [{"name", "description", "file", "sha256"}, ...],
                    "extra": {...}}
    key_picked.py  def check(frame, first): ...
    program.sig    (only when signed) {"algorithm": "hmac-sha256", "key_id": ..., "mac": ...}

Loading reads every file through :mod:`sandbox.safeio` (regular files only, no symbolic links,
size limits before reading, bounded JSON: no NaN, no huge integers, no deep nesting), checks the
manifest's schema (every field's presence and type; ``bonus`` and ``gamma`` finite), verifies every
checker's sha256 and audits every checker under the current policy; any problem refuses the whole
program with a :class:`ProgramError` naming the file, what is wrong and what to do.

**The sha256s only detect accidents** (a truncated copy, an editor's stray save): whoever can edit a
checker can edit its hash in ``program.json`` too, and such a program loads. Authenticity needs a
secret: with a signing key configured (``VLMCAR_BUNDLE_KEY``, or ``key=`` / ``--key-file``),
:func:`save_program` writes ``program.sig``, an HMAC-SHA256 over the canonical JSON of the manifest
and the bytes of every checker file, and :func:`load_program` refuses an unsigned program or one
whose signature does not match. Without a key nothing is signed or checked, and loading works (and
is as silent) as without this feature. The built-in reference programs ship with the package and
are loaded without a key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rl.schemes import SCHEMES as _SCHEMES
from sandbox import AuditError, FileRefused, audit, load_json, read_bytes

__all__ = [
    "KEY_ENV",
    "MIN_KEY_BYTES",
    "PROGRAM_SCHEMA",
    "SIGNATURE_FILE",
    "Key",
    "ProgramError",
    "RewardProgram",
    "Scheme",
    "SubTask",
    "load_program",
    "read_key",
    "reference_program",
    "save_program",
    "sign_program",
]

PROGRAM_SCHEMA = 1
Scheme = Literal["ordered", "any_order", "potential"]

#: The environment variable that holds the signing key (its UTF-8 bytes are the HMAC key).
KEY_ENV = "VLMCAR_BUNDLE_KEY"
#: The signature file written next to ``program.json`` when a key is configured.
SIGNATURE_FILE = "program.sig"
#: Shortest signing key accepted, in bytes (128 bits).
MIN_KEY_BYTES = 16
#: A signing key: the key's bytes, ``None`` for none, or ``"env"``: read :data:`KEY_ENV` now.
Key = bytes | None | Literal["env"]

_MANIFEST = "program.json"
_SIGNATURE_FORMAT = "vlm-car-program-signature"
_SIGNATURE_DOMAIN = b"vlm-car reward program signature v1"
_NAME_RE = re.compile(r"[a-z0-9_]{1,64}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_UNSIGNED_ADVICE = (
    f"without a key the sha256s only detect accidental edits; sign programs you trust by writing "
    f"them with the key set (vlmcar synth with {KEY_ENV} or --key-file), or unset {KEY_ENV} to "
    "load unsigned programs"
)


class ProgramError(ValueError):
    """A reward program on disk is missing, malformed, tampered with or rejected by the audit.

    Attributes:
        path: the file or directory involved.
        problem: what is wrong and what to do.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass(frozen=True)
class SubTask:
    """One sub-task of a reward program.

    Attributes:
        name: identifier (``[a-z0-9_]+``), also the checker's file stem.
        description: what the checker decides, in words.
        source: the checker's source (``def check(frame)`` or ``def check(frame, first)``).
    """

    name: str
    description: str
    source: str

    @property
    def sha256(self) -> str:
        """Hex digest of the source text."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RewardProgram:
    """Ordered sub-task checkers and the reward scheme that pays for them.

    Attributes:
        env_id: the environment the program was written for.
        task: the task in words.
        subtasks: sub-tasks in the order they should be completed.
        scheme: ``ordered`` (latch in order, one-time bonus each), ``any_order`` (latch in any
            order) or ``potential`` (F = gamma * Phi(s') - Phi(s), Phi = sub-tasks completed).
        bonus: reward per completed sub-task (the scale).
        gamma: discount used by the potential-based scheme.
        extra: free-form provenance (model, prompts, verification stats) kept with the program.
    """

    env_id: str
    task: str
    subtasks: tuple[SubTask, ...]
    scheme: Scheme = "ordered"
    bonus: float = 1.0
    gamma: float = 0.99
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.scheme not in _SCHEMES:
            raise ValueError(f"scheme={self.scheme!r}: choose one of {', '.join(_SCHEMES)}")
        if not self.subtasks:
            raise ValueError("a reward program needs at least one sub-task")
        names = [s.name for s in self.subtasks]
        if len(set(names)) != len(names):
            raise ValueError(f"sub-task names must be unique, got {names}")
        for name in names:
            if not _NAME_RE.fullmatch(name):
                raise ValueError(
                    f"sub-task name {name[:80]!r}: use 1-64 lowercase ASCII letters, digits and _"
                )
        if not _finite(self.bonus):
            raise ValueError(f"bonus={self.bonus!r}: must be a finite number")
        if not (_finite(self.gamma) and 0.0 <= self.gamma <= 1.0):
            raise ValueError(f"gamma={self.gamma!r}: must be a number in [0, 1]")

    @property
    def names(self) -> tuple[str, ...]:
        """Sub-task names in order."""
        return tuple(s.name for s in self.subtasks)

    @property
    def sources(self) -> tuple[str, ...]:
        """Checker sources in order."""
        return tuple(s.source for s in self.subtasks)


def _finite(value: object) -> bool:
    """True for an int or float (not a bool) that is finite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# ------------------------------------------------------------------------------------------------
# Keys and signatures
# ------------------------------------------------------------------------------------------------


def read_key(key_file: str | os.PathLike[str] | None = None) -> bytes | None:
    """The signing key: the key file's contents when given, else :data:`KEY_ENV`, else None.

    A key file is read as a regular file of at most 4 KiB, without trailing whitespace; the
    environment variable's value is used as UTF-8 bytes. Either must hold at least
    :data:`MIN_KEY_BYTES` bytes (generate one with ``python -c "import secrets;
    print(secrets.token_hex(32))"``).

    Args:
        key_file: a file holding the key, or None to use the environment.

    Returns:
        The key, or None when no key is configured (the variable is unset or empty).

    Raises:
        ProgramError: the key file cannot be read, or the key is too short.
    """
    if key_file is not None:
        where = os.fspath(key_file)
        try:
            key = read_bytes(key_file, kind="key", label="--key-file").rstrip()
        except FileRefused as err:
            raise ProgramError(
                where, f"cannot use the key file: {err.problem}; {err.advice}"
            ) from None
    else:
        where = f"${KEY_ENV}"
        value = os.environ.get(KEY_ENV, "")
        if not value:
            return None
        key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise ProgramError(
            where,
            f"the signing key is {len(key)} bytes; use at least {MIN_KEY_BYTES} random bytes, e.g. "
            'python -c "import secrets; print(secrets.token_hex(32))"',
        )
    return key


def _resolve_key(key: Key) -> bytes | None:
    if key == "env":
        return read_key()
    if key is not None and len(key) < MIN_KEY_BYTES:
        raise ProgramError("<key>", f"the signing key must be at least {MIN_KEY_BYTES} bytes")
    return key


def _key_id(key: bytes) -> str:
    """A short public name for a key (an HMAC of a constant: reveals nothing about the key)."""
    return hmac.new(key, b"vlm-car key id", hashlib.sha256).hexdigest()[:16]


def _mac(key: bytes, manifest: Mapping[str, Any], checkers: list[tuple[str, bytes]]) -> str:
    """HMAC-SHA256 over the canonical manifest and every checker file, each length-prefixed.

    The manifest is serialised canonically (sorted keys, no whitespace, UTF-8), so re-indenting
    ``program.json`` does not matter but any change of a value does; each checker contributes its
    file name and its exact bytes. Every part is prefixed with its length, so no two different
    programs serialise to the same bytes.
    """
    canonical = json.dumps(
        manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
    parts = [_SIGNATURE_DOMAIN, canonical]
    for name, data in checkers:
        parts += [name.encode("utf-8"), data]
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(len(part).to_bytes(8, "big"))
        mac.update(part)
    return mac.hexdigest()


def sign_program(directory: str | Path, key: bytes) -> Path:
    """Sign the program in ``directory`` with ``key``; return the signature file's path.

    The program is loaded first (schema, hashes, audit, no key) and exactly the bytes that were
    checked are signed, so only a program that loads is signed. Sign only programs you have
    reviewed: the signature says "this is the program I accepted", nothing about what it does.

    Raises:
        ProgramError: the program does not load, or the key is shorter than :data:`MIN_KEY_BYTES`.
    """
    root = Path(directory)
    checked = _resolve_key(key)
    if checked is None:
        raise ProgramError(str(root), "sign_program needs a key")
    _, data, checkers = _load(root, entry="check", key=None)  # sign exactly what was checked
    return _write_signature(root, checked, data, checkers)


def _write_signature(
    root: Path, key: bytes, manifest: Mapping[str, Any], checkers: list[tuple[str, bytes]]
) -> Path:
    signature = {
        "algorithm": "hmac-sha256",
        "format": _SIGNATURE_FORMAT,
        "key_id": _key_id(key),
        "mac": _mac(key, manifest, checkers),
        "version": 1,
    }
    path = root / SIGNATURE_FILE
    path.write_text(json.dumps(signature, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _verify_signature(
    root: Path, key: bytes, manifest: Mapping[str, Any], checkers: list[tuple[str, bytes]]
) -> None:
    path = root / SIGNATURE_FILE
    if not path.exists() and not path.is_symlink():
        raise ProgramError(
            str(root),
            f"is not signed (no {SIGNATURE_FILE}), and a signing key is configured, so unsigned "
            f"programs are refused; {_UNSIGNED_ADVICE}",
        )
    try:
        sig = load_json(path, max_bytes=4096, label="signature", follow_symlinks=False)
    except FileRefused as err:
        raise ProgramError(
            str(path), f"unusable signature file: {err.problem}; {err.advice}"
        ) from None
    if not (
        isinstance(sig, dict)
        and sig.get("format") == _SIGNATURE_FORMAT
        and sig.get("version") == 1
        and sig.get("algorithm") == "hmac-sha256"
        and isinstance(sig.get("mac"), str)
        and isinstance(sig.get("key_id"), str)
    ):
        raise ProgramError(
            str(path),
            f"not a {_SIGNATURE_FORMAT} version 1 file with an hmac-sha256 mac; re-sign the "
            "program with sign_program",
        )
    if not hmac.compare_digest(sig["key_id"], _key_id(key)):
        raise ProgramError(
            str(path),
            f"signed with another key (key id {sig['key_id'][:16]!r}, the configured key's is "
            f"{_key_id(key)!r}); use the key it was signed with, or re-sign a program you trust",
        )
    if not hmac.compare_digest(sig["mac"], _mac(key, manifest, checkers)):
        raise ProgramError(
            str(path),
            "the signature does not match the program: program.json or a checker file was "
            "changed after it was signed; do not use it (regenerate it, or re-sign it after "
            "reviewing every checker)",
        )


# ------------------------------------------------------------------------------------------------
# Writing and reading
# ------------------------------------------------------------------------------------------------


def save_program(program: RewardProgram, directory: str | Path, *, key: Key = "env") -> Path:
    """Write ``program`` to ``directory`` (created if needed); return the manifest's path.

    Args:
        program: the program.
        directory: where to write ``program.json`` and one ``<name>.py`` per sub-task.
        key: sign with this key (``"env"``: the :data:`KEY_ENV` variable, if set); with no key, a
            stale ``program.sig`` left in ``directory`` is removed.

    Raises:
        ProgramError: ``program.extra`` holds something JSON cannot store (NaN, infinity), or the
            key is too short.
    """
    out = Path(directory)
    signing_key = _resolve_key(key)
    manifest = {
        "schema": PROGRAM_SCHEMA,
        "env_id": program.env_id,
        "task": program.task,
        "scheme": program.scheme,
        "bonus": program.bonus,
        "gamma": program.gamma,
        "subtasks": [
            {
                "name": s.name,
                "description": s.description,
                "file": f"{s.name}.py",
                "sha256": s.sha256,
            }
            for s in program.subtasks
        ],
        "extra": program.extra,
    }
    path = out / _MANIFEST
    try:
        text = json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except ValueError as err:  # NaN or infinity in extra: the manifest could not be loaded back
        raise ProgramError(str(path), f"cannot write the manifest: {err}") from None
    out.mkdir(parents=True, exist_ok=True)
    for s in program.subtasks:
        (out / f"{s.name}.py").write_text(s.source, encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    if signing_key is not None:  # sign the manifest as a loader will parse it, and these bytes
        checkers = [(f"{s.name}.py", s.source.encode("utf-8")) for s in program.subtasks]
        _write_signature(out, signing_key, json.loads(text), checkers)
    else:
        (out / SIGNATURE_FILE).unlink(missing_ok=True)
    return path


def _describe(value: object) -> str:
    """``value (type)`` in JSON's words, bounded, for messages."""
    kind = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
        type(None): "null",
    }.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{text[:60] + '...' if len(text) > 60 else text} ({kind})"


def _check_keys(obj: Mapping[str, Any], where: str, required: set[str], known: set[str]) -> None:
    missing = sorted(required - set(obj))
    if missing:
        raise ValueError(f"{where} lacks {', '.join(map(repr, missing))}")
    unknown = sorted(set(obj) - known)
    if unknown:
        raise ValueError(
            f"{where} has unknown key(s) {', '.join(repr(k[:40]) for k in unknown[:5])} "
            f"(known: {', '.join(sorted(known))})"
        )


def _check_manifest(data: object) -> dict[str, Any]:
    """Check the manifest's schema; raise ValueError naming the first wrong field."""
    if not isinstance(data, dict):
        raise ValueError(f"the manifest must be a JSON object, got {_describe(data)}")
    schema = data.get("schema")
    if type(schema) is not int or schema != PROGRAM_SCHEMA:
        raise ValueError(f"schema {_describe(schema)} is not supported (expected {PROGRAM_SCHEMA})")
    known = {"schema", "env_id", "task", "scheme", "bonus", "gamma", "subtasks", "extra"}
    _check_keys(data, "the manifest", {"env_id", "subtasks"}, known)
    for name, check, wanted in (
        ("env_id", lambda v: isinstance(v, str) and 0 < len(v) <= 200, "a non-empty string"),
        ("task", lambda v: isinstance(v, str), "a string"),
        ("scheme", lambda v: v in _SCHEMES, f"one of {', '.join(_SCHEMES)}"),
        ("bonus", _finite, "a finite number"),
        ("gamma", lambda v: _finite(v) and 0 <= v <= 1, "a finite number in [0, 1]"),
        ("extra", lambda v: isinstance(v, dict), "an object"),
    ):
        if name in data and not check(data[name]):
            raise ValueError(f"{name} must be {wanted}, got {_describe(data[name])}")
    subtasks = data["subtasks"]
    if not isinstance(subtasks, list) or not subtasks:
        raise ValueError(f"subtasks must be a non-empty array, got {_describe(subtasks)}")
    item_keys = {"name", "description", "file", "sha256"}
    for i, item in enumerate(subtasks):
        where = f"subtasks[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object, got {_describe(item)}")
        _check_keys(item, where, {"name", "file", "sha256"}, item_keys)
        name, file, digest = item["name"], item["file"], item["sha256"]
        if not (isinstance(name, str) and _NAME_RE.fullmatch(name)):
            raise ValueError(
                f"{where}.name must be 1-64 lowercase letters, digits or _, got {_describe(name)}"
            )
        if not isinstance(item.get("description", ""), str):
            raise ValueError(
                f"{where}.description must be a string, got {_describe(item['description'])}"
            )
        if file != f"{name}.py":
            raise ValueError(f"{where}.file must be {name + '.py'!r}, got {_describe(file)}")
        if not (isinstance(digest, str) and _SHA256_RE.fullmatch(digest)):
            raise ValueError(
                f"{where}.sha256 must be 64 lowercase hex digits, got {_describe(digest)}"
            )
    return data


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / _MANIFEST
    if not path.exists() and not path.is_symlink():
        raise ProgramError(str(path), "no program.json here; is this a reward-program directory?")
    try:
        data = load_json(path, label="manifest", follow_symlinks=False)
    except FileRefused as err:
        raise ProgramError(str(path), f"unreadable manifest: {err.problem}; {err.advice}") from None
    try:
        return _check_manifest(data)
    except ValueError as err:
        raise ProgramError(
            str(path), f"malformed manifest: {err}; regenerate the program"
        ) from None


def _read_checker(root: Path, file: str) -> bytes:
    path = root / file
    try:
        return read_bytes(path, kind="checker", label="checker", follow_symlinks=False)
    except FileRefused as err:
        raise ProgramError(
            str(path), f"cannot read the checker: {err.problem}; {err.advice}"
        ) from None


def load_program(directory: str | Path, *, entry: str = "check", key: Key = "env") -> RewardProgram:
    """Load a reward program: files read safely, schema checked, signature, hashes, re-audit.

    Args:
        directory: the program's directory.
        entry: the checkers' entry function.
        key: the signing key (``"env"``: the :data:`KEY_ENV` variable, if set; ``None``: do not
            check signatures). With a key, a program without a valid ``program.sig`` is refused.

    Returns:
        The program.

    Raises:
        ProgramError: a missing, non-regular, oversized or malformed file; a manifest field that is
            missing, of the wrong type or not finite; an unsigned or mis-signed program when a key
            is configured; a hash mismatch; or a checker the current audit rejects. The message
            names the file and what to do.
    """
    program, _, _ = _load(Path(directory), entry=entry, key=key)
    return program


def _load(
    root: Path, *, entry: str, key: Key
) -> tuple[RewardProgram, dict[str, Any], list[tuple[str, bytes]]]:
    """Load and check a program; also return the manifest and checker bytes that were checked."""
    signing_key = _resolve_key(key)
    data = _read_manifest(root)
    checkers = [(item["file"], _read_checker(root, item["file"])) for item in data["subtasks"]]
    if signing_key is not None:
        _verify_signature(root, signing_key, data, checkers)
    subtasks = []
    for item, (file, raw) in zip(data["subtasks"], checkers, strict=True):
        path = root / file
        digest = hashlib.sha256(raw).hexdigest()
        if digest != item["sha256"]:
            raise ProgramError(
                str(path),
                f"sha256 {digest[:12]}... does not match the manifest's {item['sha256'][:12]}...: "
                "the file was changed after the program was written; regenerate or re-verify "
                "the program",
            )
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ProgramError(
                str(path), f"not UTF-8 text (byte {err.start}): {err.reason}"
            ) from None
        report = audit(source, path=str(path), entry=entry)
        if not report.ok:
            raise ProgramError(str(path), str(AuditError(str(path), report.findings)))
        subtasks.append(SubTask(item["name"], item.get("description", ""), source))
    try:
        program = RewardProgram(
            env_id=data["env_id"],
            task=data.get("task", ""),
            subtasks=tuple(subtasks),
            scheme=data.get("scheme", "ordered"),
            bonus=float(data.get("bonus", 1.0)),
            gamma=float(data.get("gamma", 0.99)),
            extra=dict(data.get("extra") or {}),
        )
    except ValueError as err:
        raise ProgramError(str(root / _MANIFEST), f"malformed manifest: {err}") from None
    return program, data, checkers


def reference_program(env_id: str) -> RewardProgram:
    """The hand-written reference program of an environment (see :mod:`rl.programs`).

    Built in memory from the family source its registry entry names, and audited.

    Raises:
        ProgramError: when no reference program exists for ``env_id``.
    """
    from rl.programs import reference_program as build

    return build(env_id)
