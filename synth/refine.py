"""Refinement from training: what a run showed about its reward program -> a revised program.

Provides:
    REFINE_TRAINING_VERSION: the template version of the refine-from-training prompt.
    TrainingEvidence: the reward report(s) of a training run, read and checked.
    load_evidence: a run directory -> :class:`TrainingEvidence` and the program it trained on.
    render_refine_training: a program + evidence -> messages asking for revised sub-tasks.
    refine_from_training: the whole loop: evidence, one model round for the decomposition,
        checkers kept or regenerated, the same gate, a new program with its lineage.

``vlmcar train`` writes, per seed, ``reward_report.json`` (:mod:`rl.diagnosis`: completion rate of
each sub-task per window of episodes, where episodes end, stall and flooding alarms) and
``program/`` (the program it trained on). This module turns that into a prompt: the program's
sub-tasks, the rates at the end of training, the first step each sub-task was completed, where the
episodes ended and the alarms, for every seed. The model answers with a revised, ordered list of
sub-tasks (the same JSON as the decompose prompt). A sub-task it keeps word for word keeps its
checker, which is admitted through the gate again on fresh rollouts; every new or changed one gets
a new checker from the checker prompt (and the refine prompt if the gate refuses it). The new
program records its lineage: the parent program's manifest hash and version, the run directory,
and the sha256 of every report it was shown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rl.program import RewardProgram, load_program
from synth.errors import SynthError
from synth.pipeline import DecompositionPrompt, SynthesisResult, synthesize
from synth.prompts import render_template
from synth.vlm import ImagePart, Message, VLMClient

__all__ = [
    "REFINE_TRAINING_VERSION",
    "EvidenceError",
    "SeedReport",
    "TrainingEvidence",
    "describe_changes",
    "load_evidence",
    "refine_from_training",
    "render_refine_training",
]

REFINE_TRAINING_VERSION = "refine_training_v1"
_REPORT = "reward_report.json"
_MAX_REPORT_BYTES = 16 * 2**20
_MAX_SEEDS = 16


class EvidenceError(SynthError, ValueError):
    """A run directory cannot be used for refinement (no report, no program, malformed JSON)."""


@dataclass(frozen=True)
class SeedReport:
    """What one training run (one seed) showed.

    Attributes:
        run: the seed's directory, as given.
        sha256: hex sha256 of its ``reward_report.json`` bytes.
        steps: training steps the report covers.
        episodes: finished episodes.
        rates: sub-task -> completion rate over the last full window (or over the whole run).
        success_rate: the env's own success over the same window.
        first_completed_at: sub-task -> training step of the first episode that completed it.
        ends: stage -> episodes that ended there (last sub-task done, ``success`` or ``(none)``).
        alarms: one line per alarm raised (stall or flooding), with where it stood at the end.
    """

    run: str
    sha256: str
    steps: int
    episodes: int
    rates: dict[str, float]
    success_rate: float
    first_completed_at: dict[str, int]
    ends: dict[str, int]
    alarms: tuple[str, ...]

    def lines(self, names: Sequence[str]) -> list[str]:
        """The report as prompt lines (rates in percent, one sub-task per line)."""
        total = max(1, sum(self.ends.values()))
        out = [
            f"- {self.steps:,} training steps, {self.episodes:,} episodes; success by the "
            f"environment's own criterion in {100 * self.success_rate:.0f} % of the last episodes."
        ]
        for name in names:
            first = self.first_completed_at.get(name)
            when = f"first at step {first:,}" if first is not None else "never completed"
            out.append(
                f"  - `{name}` completed in {100 * self.rates.get(name, 0.0):.0f} % ({when})"
            )
        ends = ", ".join(
            f"{stage} {100 * count / total:.0f} %" for stage, count in self.ends.items() if count
        )
        out.append(f"  - where episodes ended (last sub-task completed): {ends or 'no episodes'}")
        out.extend(f"  - alarm: {a}" for a in self.alarms)
        if not self.alarms:
            out.append("  - no stall or flooding alarm was raised")
        return out


@dataclass(frozen=True)
class TrainingEvidence:
    """The reports of one training run (one or more seeds) on one program.

    Attributes:
        run_dir: the directory given.
        names: the program's sub-task names, in order.
        seeds: one report per seed.
    """

    run_dir: str
    names: tuple[str, ...]
    seeds: tuple[SeedReport, ...]

    def text(self) -> str:
        """The evidence as prompt text, one block per seed."""
        out: list[str] = []
        for i, seed in enumerate(self.seeds, 1):
            out.append(f"Run {i} of {len(self.seeds)}:")
            out.extend(seed.lines(self.names))
        return "\n".join(out)

    @property
    def stalled(self) -> bool:
        """Whether any seed raised a stall or flooding alarm."""
        return any(s.alarms for s in self.seeds)


def _number(value: Any, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise EvidenceError(f"{where}: {what} must be a finite number, got {value!r:.60}")
    return float(value)


def _seed_dirs(run_dir: Path) -> list[Path]:
    if (run_dir / _REPORT).is_file():
        return [run_dir]
    seeds = sorted(p for p in run_dir.glob("seed*") if (p / _REPORT).is_file())
    return seeds[:_MAX_SEEDS]


def _read_report(path: Path, names: Sequence[str]) -> SeedReport:
    from sandbox.safeio import parse_json, read_bytes

    try:
        raw = read_bytes(path, kind="json", max_bytes=_MAX_REPORT_BYTES, label="reward report")
        data = parse_json(raw, source=str(path), label="reward report")
    except (OSError, ValueError) as err:  # FileRefused is a ValueError
        raise EvidenceError(f"{path}: cannot read the reward report ({err})") from None
    where = str(path)
    if not isinstance(data, dict) or data.get("schema") != 1:
        raise EvidenceError(f"{where}: not a reward report of schema 1 (see rl.diagnosis)")
    if list(data.get("names", [])) != list(names):
        raise EvidenceError(
            f"{where}: the report is for sub-tasks {data.get('names')!r:.120}, but the run's "
            f"program has {list(names)!r}; pass the directory of one training run"
        )
    windows = data.get("windows")
    if not isinstance(windows, list) or not all(isinstance(w, dict) for w in windows):
        raise EvidenceError(f"{where}: 'windows' must be a list of objects")
    full = [w for w in windows if not w.get("partial")] or windows
    last: dict[str, Any] = full[-1] if full else {}
    rates_raw = last.get("rates", {})
    if not isinstance(rates_raw, dict):
        raise EvidenceError(f"{where}: window 'rates' must be an object")
    rates = {n: _number(rates_raw.get(n, 0.0), where, f"rate of {n}") for n in names}
    first_raw = data.get("first_completed_at", {})
    ends_raw = data.get("ends", {})
    alarms_raw = data.get("alarms", [])
    if not isinstance(first_raw, dict) or not isinstance(ends_raw, dict):
        raise EvidenceError(f"{where}: 'first_completed_at' and 'ends' must be objects")
    if not isinstance(alarms_raw, list) or not all(isinstance(a, dict) for a in alarms_raw):
        raise EvidenceError(f"{where}: 'alarms' must be a list of objects")
    alarms = []
    for alarm in alarms_raw[:8]:
        message = str(alarm.get("message", alarm.get("kind", "alarm")))[:800]
        cleared = alarm.get("cleared_step")
        state = f" (cleared at step {int(cleared):,})" if isinstance(cleared, int) else " (active)"
        alarms.append(message + state)
    return SeedReport(
        run=str(path.parent),
        sha256=hashlib.sha256(raw).hexdigest(),
        steps=int(_number(data.get("steps", 0), where, "steps")),
        episodes=int(_number(data.get("episodes", 0), where, "episodes")),
        rates=rates,
        success_rate=_number(last.get("success_rate", 0.0), where, "success_rate"),
        first_completed_at={
            n: int(_number(v, where, f"first_completed_at.{n}"))
            for n, v in first_raw.items()
            if n in names and v is not None  # None: never completed
        },
        ends={str(k): int(_number(v, where, f"ends.{k}")) for k, v in ends_raw.items()},
        alarms=tuple(alarms),
    )


def load_evidence(run_dir: str | Path) -> tuple[TrainingEvidence, RewardProgram, Path]:
    """Read a training run: its reward report(s) and the program it trained on.

    Args:
        run_dir: a seed's directory of ``vlmcar train --out DIR`` (``DIR/seed<S>``, holding
            ``reward_report.json`` and ``program/``), or ``DIR`` itself (every seed in it).

    Returns:
        The evidence, the program (loaded and re-audited like any bundle) and its directory.

    Raises:
        EvidenceError: no report or no program there, reports for different programs, or a
            malformed report. ProgramError: the program fails to load.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise EvidenceError(f"{root}: not a directory; pass a `vlmcar train --out` directory")
    seeds = _seed_dirs(root)
    if not seeds:
        raise EvidenceError(
            f"{root}: no {_REPORT} here or in seed*/ (was it a sparse run, or trained with "
            "--no-diagnosis?); refinement needs a run of a code reward"
        )
    program_dir = seeds[0] / "program"
    if not (program_dir / "program.json").is_file():
        raise EvidenceError(f"{seeds[0]}: no program/program.json beside the reward report")
    program = load_program(program_dir)
    for other in seeds[1:]:
        manifest = other / "program" / "program.json"
        first = (program_dir / "program.json").read_bytes()
        if manifest.is_file() and manifest.read_bytes() != first:
            raise EvidenceError(
                f"{other}: trained on a different program than {seeds[0]}; refine one at a time"
            )
    reports = tuple(_read_report(s / _REPORT, program.names) for s in seeds)
    return TrainingEvidence(str(root), tuple(program.names), reports), program, program_dir


def render_refine_training(
    program: RewardProgram,
    evidence: TrainingEvidence,
    start_frame: np.ndarray | ImagePart,
    goal_frame: np.ndarray | ImagePart,
    *,
    task_text: str = "",
    env_notes: str = "",
    max_subtasks: int = 8,
) -> list[Message]:
    """Messages asking for revised sub-tasks, given the program and what training showed.

    Args:
        program: the program the agent trained with.
        evidence: its reward reports.
        start_frame: the start state image.
        goal_frame: the goal state image.
        task_text: the task in words (default: the program's).
        env_notes: facts about the rendering, "" for none.
        max_subtasks: the largest number of sub-tasks to ask for.

    Returns:
        A system and a user message (both images as PNG parts).
    """
    listing = "\n".join(
        f"{i}. `{s.name}`: {s.description}" for i, s in enumerate(program.subtasks, 1)
    )
    notes = env_notes.strip()
    return render_template(
        REFINE_TRAINING_VERSION,
        {
            "task_text": (task_text or program.task).strip() or "(see the sub-tasks)",
            "env_notes": f"About this environment's rendering:\n{notes}" if notes else "",
            "max_subtasks": str(int(max_subtasks)),
            "subtasks": listing,
            "evidence": evidence.text(),
        },
        {"start": _part(start_frame), "goal": _part(goal_frame)},
    )


def _part(frame: np.ndarray | ImagePart) -> ImagePart:
    return frame if isinstance(frame, ImagePart) else ImagePart.from_array(frame)


def refine_from_training(
    run_dir: str | Path,
    client: VLMClient,
    *,
    env_notes: str | None = None,
    demos: Any = None,
    start_frame: np.ndarray | None = None,
    goal_frame: np.ndarray | None = None,
    log: Callable[[str], None] = lambda _: None,
    **synth_options: Any,
) -> tuple[SynthesisResult, TrainingEvidence]:
    """Refine a trained-on program from its reward report(s): one round of the loop.

    The start and goal images default to the first and last frames of the first expert episode
    (as in synthesis); the environment, its constructor arguments and the task to the parent
    program's.

    Args:
        run_dir: see :func:`load_evidence`.
        client: where replies come from (a model, a recording or a script).
        env_notes: what the prompts state about the frames (default: the env's entry).
        demos: expert demonstrations for the gate (default: the env's).
        start_frame: the start image for the prompt (default: the first expert frame).
        goal_frame: the goal image (default: the last frame of the first expert episode).
        log: progress lines.
        **synth_options: passed to :func:`synth.pipeline.synthesize` (rounds, rollout counts,
            seed, isolation, thresholds ...).

    Returns:
        The synthesis result (its program carries ``extra.lineage``) and the evidence shown.
    """
    from rl.registry import get_spec

    evidence, parent, parent_dir = load_evidence(run_dir)
    extra = parent.extra if isinstance(parent.extra, Mapping) else {}
    recorded = extra.get("env_kwargs")
    env_kwargs = dict(recorded) if isinstance(recorded, Mapping) else {}
    notes = get_spec(parent.env_id).notes if env_notes is None else env_notes

    def render(start: np.ndarray, goal: np.ndarray) -> list[Message]:
        return render_refine_training(parent, evidence, start, goal, env_notes=notes)

    for seed in evidence.seeds:
        log(f"evidence: {seed.run} ({seed.steps:,} steps, {len(seed.alarms)} alarm(s))")
    manifest = parent_dir / "program.json"
    previous = extra.get("lineage")
    parent_version = previous.get("version", 1) if isinstance(previous, Mapping) else 1
    lineage = {
        "parent": str(parent_dir),
        "parent_manifest_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest(),
        "parent_subtasks": list(parent.names),
        "run": evidence.run_dir,
        "reports_sha256": [s.sha256 for s in evidence.seeds],
        "prompt": REFINE_TRAINING_VERSION,
        "version": int(parent_version) + 1 if isinstance(parent_version, int) else 2,
    }
    result = synthesize(
        parent.env_id,
        client,
        task_text=parent.task,
        env_notes=notes,
        env_kwargs=env_kwargs,
        demos=demos,
        start_frame=start_frame,
        goal_frame=goal_frame,
        log=log,
        decomposition=DecompositionPrompt(render, "refine_training", REFINE_TRAINING_VERSION),
        keep={s.name: (s.description, s.source) for s in parent.subtasks},
        lineage=lineage,
        **synth_options,
    )
    return result, evidence


def describe_changes(parent: Sequence[str], result: SynthesisResult) -> list[str]:
    """What the refinement changed, one line per sub-task (kept, new, dropped)."""
    lines: list[str] = []
    new = [s.name for s in result.program.subtasks] if result.program else []
    kept = {
        r.subtask for r in result.rounds if r.purpose.startswith("kept:") and r.stage == "accepted"
    }
    for name in new:
        lines.append(f"{'kept' if name in kept else 'new'}: {name}")
    lines.extend(f"dropped: {name}" for name in parent if name not in new)
    return lines
