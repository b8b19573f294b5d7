"""Reward programs: ordered sub-task checkers plus how to turn them into reward.

Provides:
    SubTask: one sub-task (name, description, checker source).
    RewardProgram: an environment's sub-tasks in order, the reward scheme and its parameters.
    load_program / save_program: the on-disk form, a directory with ``program.json`` and one
        ``<name>.py`` per sub-task (the synthesis pipeline writes the same layout, plus provenance).
    reference_program: the hand-written reference program shipped for a built-in environment.

On disk::

    program.json   {"schema": 1, "env_id": ..., "task": ..., "scheme": "ordered", "bonus": 1.0,
                    "gamma": 0.99, "subtasks": [{"name", "description", "file", "sha256"}, ...]}
    key_picked.py  def check(frame, first): ...

Loading verifies every file's sha256 and audits every checker under the current policy; a mismatch
or a rejection refuses the whole program with a message naming the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from sandbox import AuditError, audit

__all__ = [
    "PROGRAM_SCHEMA",
    "ProgramError",
    "RewardProgram",
    "Scheme",
    "SubTask",
    "load_program",
    "reference_program",
    "save_program",
]

PROGRAM_SCHEMA = 1
Scheme = Literal["ordered", "any_order", "potential"]
_SCHEMES = ("ordered", "any_order", "potential")


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
            if not name or not all(c.islower() or c.isdigit() or c == "_" for c in name):
                raise ValueError(f"sub-task name {name!r}: use lowercase letters, digits and _")

    @property
    def names(self) -> tuple[str, ...]:
        """Sub-task names in order."""
        return tuple(s.name for s in self.subtasks)

    @property
    def sources(self) -> tuple[str, ...]:
        """Checker sources in order."""
        return tuple(s.source for s in self.subtasks)


def save_program(program: RewardProgram, directory: str | Path) -> Path:
    """Write ``program`` to ``directory`` (created if needed); return the manifest's path."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
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
    for s in program.subtasks:
        (out / f"{s.name}.py").write_text(s.source, encoding="utf-8")
    path = out / "program.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / "program.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProgramError(
            str(path), "no program.json here; is this a reward-program directory?"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProgramError(str(path), f"unreadable manifest: {err}") from None
    if not isinstance(data, dict) or data.get("schema") != PROGRAM_SCHEMA:
        raise ProgramError(
            str(path),
            f"schema {data.get('schema') if isinstance(data, dict) else None!r} is not "
            f"supported (expected {PROGRAM_SCHEMA})",
        )
    return data


def load_program(directory: str | Path, *, entry: str = "check") -> RewardProgram:
    """Load a reward program, verifying hashes and re-auditing every checker.

    Args:
        directory: the program's directory.
        entry: the checkers' entry function.

    Returns:
        The program.

    Raises:
        ProgramError: missing or malformed files, a hash mismatch (tampering), or a checker the
            current audit rejects; the message names the file.
    """
    root = Path(directory)
    data = _read_manifest(root)
    subtasks = []
    try:
        entries: Sequence[dict[str, Any]] = data["subtasks"]
        for item in entries:
            file = root / str(item["file"])
            if file.resolve().parent != root.resolve():
                raise ProgramError(str(file), "sub-task files must live in the program directory")
            try:
                source = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise ProgramError(str(file), f"cannot read: {err}") from None
            digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
            if digest != item["sha256"]:
                raise ProgramError(
                    str(file),
                    f"sha256 {digest[:12]}... does not match the manifest's "
                    f"{str(item['sha256'])[:12]}...: the file was changed after the program was "
                    "written; regenerate or re-verify the program",
                )
            report = audit(source, path=str(file), entry=entry)
            if not report.ok:
                raise ProgramError(str(file), str(AuditError(str(file), report.findings)))
            subtasks.append(SubTask(str(item["name"]), str(item.get("description", "")), source))
        return RewardProgram(
            env_id=str(data["env_id"]),
            task=str(data.get("task", "")),
            subtasks=tuple(subtasks),
            scheme=data.get("scheme", "ordered"),
            bonus=float(data.get("bonus", 1.0)),
            gamma=float(data.get("gamma", 0.99)),
            extra=dict(data.get("extra") or {}),
        )
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, ProgramError):
            raise
        raise ProgramError(str(root / "program.json"), f"malformed manifest: {err!r}") from None


def reference_program(env_id: str) -> RewardProgram:
    """Load the hand-written reference program shipped for a built-in environment.

    Raises:
        ProgramError: when no reference program exists for ``env_id``.
    """
    name = env_id.replace("MiniGrid-", "").replace("-v0", "").replace("-v3", "").lower()
    name = name.replace("-", "_")
    base = resources.files("rl") / "programs" / name
    if not base.is_dir():
        raise ProgramError(str(base), f"no reference program for {env_id!r}")
    return load_program(Path(str(base)))
