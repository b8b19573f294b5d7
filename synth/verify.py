"""Verification of sub-task checkers on expert trajectories and random rollouts.

Provides:
    Thresholds: what a checker must reach to be accepted (documented defaults).
    SubtaskReport: per-sub-task statistics (fire rates, order, reset, first firing step,
        precision/recall where labels exist).
    VerificationReport: the reports for a whole program, with a Markdown table.
    CheckerRuns: every checker's per-frame results on every trajectory (for a contact sheet).
    collect_rollouts: expert demonstrations and fixed-length random rollouts of any environment.
    run_checkers: run checkers on rollouts (and labelled frames) in sandbox workers.
    summarise: :class:`CheckerRuns` -> :class:`VerificationReport`.
    verify_sources: both in one call.

Statistics are per sub-task, over expert trajectories and random rollouts **of a stated, fixed
length**: the paper's released rule (fires on >= 2 frames of an expert trajectory, <= 10 % of
random rollouts) rejects a correct DoorKey checker once random rollouts are longer than ~20 steps
(``research/paper.md`` §2.4), so this module reports the numbers instead of one verdict.

None of them needs privileged labels: how often a checker fires on expert and on random
trajectories (and on which share of frames), whether it fires on reset frames, whether it fires
before its predecessor, and the step at which it first fires on expert episodes. Precision and
recall are added where labels exist: from the environment's ground-truth labeller
(:mod:`rl.labels`, built-in environments), or from frames a person labelled
(:func:`rl.demos.load_labelled`, which takes precedence for the sub-tasks it labels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rl.demos import DemoSource, LabelledFrames, load_demos
from rl.envs import FrameSource
from rl.rollouts import Trajectory, rollouts
from sandbox import Sandbox

__all__ = [
    "CheckerRuns",
    "SubtaskReport",
    "Thresholds",
    "VerificationReport",
    "collect_rollouts",
    "run_checkers",
    "summarise",
    "verify_sources",
]


@dataclass(frozen=True)
class Thresholds:
    """Acceptance thresholds for one checker.

    Attributes:
        min_expert_fire_rate: fraction of successful expert trajectories in which it must fire.
        max_first_frame_rate: fraction of episodes in which it may fire on the reset frame (a
            sub-task is never done at the start).
        min_precision: per-frame precision against ground truth (when the label exists).
        min_recall: per-frame recall against ground truth (when the label exists).
        max_order_violations: fraction of expert trajectories in which it may fire before its
            predecessor first fires.
    """

    min_expert_fire_rate: float = 0.9
    max_first_frame_rate: float = 0.1
    min_precision: float = 0.9
    min_recall: float = 0.9
    max_order_violations: float = 0.1


@dataclass(frozen=True)
class SubtaskReport:
    """Statistics for one sub-task checker.

    Attributes:
        name: the sub-task.
        expert_fire_rate: fraction of expert trajectories in which it fired at least once.
        random_fire_rate: fraction of random rollouts in which it fired at least once.
        random_frame_rate: fraction of random-rollout frames on which it fired.
        first_frame_rate: fraction of episodes in which it fired on the reset frame.
        order_violations: fraction of expert trajectories where it fired before its predecessor.
        precision: per-frame precision vs the labels (None without labels).
        recall: per-frame recall vs the labels (None without labels).
        failures: frames on which the checker failed (any non-ok status), by status.
        problems: why it is not accepted (empty when accepted).
        order_problems: those of ``problems`` about firing before the previous sub-task (the
            refine prompt states them apart from the others).
        expert_frame_rate: fraction of expert frames on which it fired.
        first_fire_step: median step (frames after the reset frame) at which it first fired, over
            the expert episodes in which it fired; None when it never did.
        first_fire_fraction: the same, as a fraction of the episode's length (0 reset, 1 last
            frame); None when it never fired.
        truth: where precision and recall come from: ``ground truth``, ``labelled frames`` or
            None.
    """

    name: str
    expert_fire_rate: float
    random_fire_rate: float
    random_frame_rate: float
    first_frame_rate: float
    order_violations: float
    precision: float | None
    recall: float | None
    failures: dict[str, int] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    order_problems: tuple[str, ...] = ()
    expert_frame_rate: float = 0.0
    first_fire_step: float | None = None
    first_fire_fraction: float | None = None
    truth: str | None = None

    @property
    def accepted(self) -> bool:
        """True when no threshold was missed."""
        return not self.problems


@dataclass(frozen=True)
class VerificationReport:
    """Verification of a program's checkers.

    Attributes:
        env_id: the environment.
        n_expert: expert trajectories used.
        n_random: random rollouts used.
        random_length: frames per random rollout.
        subtasks: one report per checker, in program order.
        expert_source: where the expert trajectories came from.
        n_labelled: frames labelled by a person that precision/recall used (0: none).
    """

    env_id: str
    n_expert: int
    n_random: int
    random_length: int
    subtasks: tuple[SubtaskReport, ...]
    expert_source: str = "expert"
    n_labelled: int = 0

    @property
    def accepted(self) -> bool:
        """True when every checker was accepted."""
        return all(s.accepted for s in self.subtasks)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (floats rounded to 4 places so records are stable)."""

        def rounded(v: Any) -> Any:
            return round(v, 4) if isinstance(v, float) else v

        return {
            "env_id": self.env_id,
            "n_expert": self.n_expert,
            "n_random": self.n_random,
            "random_length": self.random_length,
            "expert_source": self.expert_source,
            "n_labelled": self.n_labelled,
            "subtasks": [
                {
                    k: rounded(v) if not isinstance(v, tuple) else list(v)
                    for k, v in asdict(s).items()
                }
                for s in self.subtasks
            ],
        }

    def markdown(self) -> str:
        """The per-sub-task table."""

        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.0%}" if v in (0.0, 1.0) else f"{v:.1%}"

        def step(s: SubtaskReport) -> str:
            if s.first_fire_step is None or s.first_fire_fraction is None:
                return "never"
            return f"{s.first_fire_step:g} ({s.first_fire_fraction:.0%})"

        labelled = f", {self.n_labelled} labelled frames" if self.n_labelled else ""
        lines = [
            f"Verification on {self.env_id}: {self.n_expert} expert trajectories "
            f"({self.expert_source}), {self.n_random} random rollouts of {self.random_length} "
            f"frames{labelled}.",
            "",
            "| sub-task | expert fires (episodes / frames) | random fires (rollouts / frames) "
            "| at reset | out of order | first fires at step (expert median) | precision "
            "| recall | verdict |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for s in self.subtasks:
            verdict = "accepted" if s.accepted else "rejected: " + "; ".join(s.problems)
            lines.append(
                f"| {s.name} | {pct(s.expert_fire_rate)} / {pct(s.expert_frame_rate)} | "
                f"{pct(s.random_fire_rate)} / {pct(s.random_frame_rate)} | "
                f"{pct(s.first_frame_rate)} | {pct(s.order_violations)} | {step(s)} | "
                f"{pct(s.precision)} | {pct(s.recall)} | {verdict} |"
            )
        sources = sorted({s.truth for s in self.subtasks if s.truth})
        lines += [
            "",
            "Precision and recall: "
            + (", ".join(sources) if sources else "n/a (no labels: pass labelled frames)")
            + ".",
        ]
        return "\n".join(lines) + "\n"


def collect_rollouts(
    env_id: str,
    *,
    n_expert: int = 8,
    n_random: int = 8,
    random_length: int = 50,
    seed: int = 0,
    demos: DemoSource | str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    frame_source: FrameSource = "auto",
) -> tuple[list[Trajectory], list[Trajectory]]:
    """Expert trajectories (one episode each) and random rollouts of exactly ``random_length``.

    Args:
        env_id: any environment id.
        n_expert: expert episodes (recorded sources give at most what they hold).
        n_random: random rollouts (``action_space.sample()``), seeds ``seed + 10000 ...``.
        random_length: frames per random rollout, reset frames included.
        seed: first seed of the expert episodes.
        demos: where expert demonstrations come from (:class:`rl.demos.DemoSource`); None: the
            entry's default (its scripted expert, else its declared demonstrations).
        env_kwargs: extra constructor arguments of the environment.
        frame_source: where reward frames come from (:func:`rl.envs.make_env`).

    Raises:
        DemoError: the demonstrations cannot be used, or there are none for this environment.
    """
    from rl.demos import DemoError
    from rl.registry import get_spec

    source = demos
    if source is None:
        spec = get_spec(env_id)
        source = "expert" if spec.expert is not None else spec.demos
        if source is None:
            raise DemoError(
                env_id,
                "this environment has no scripted expert: give expert demonstrations (--demos "
                "PATH.npz, a Minari dataset id, an SB3 PATH.zip or package.module:function)",
            )
    expert = load_demos(
        env_id,
        source,
        n=n_expert,
        seed=seed,
        env_kwargs=env_kwargs,
        frame_source=frame_source,
    )
    random = rollouts(
        env_id,
        n_random,
        "random",
        seed + 10_000,
        length=random_length,
        env_kwargs=env_kwargs,
        frame_source=frame_source,
    )
    return expert, random


_Run = tuple[np.ndarray, np.ndarray, list[str]]


@dataclass(frozen=True)
class CheckerRuns:
    """Every checker's per-frame results: ``(results (K, T), usable (K, T), statuses)`` each.

    Attributes:
        names: the sub-tasks, in program order.
        expert: one run per expert trajectory.
        random: one run per random rollout.
        labelled: the run on the labelled frames, or None.
    """

    names: tuple[str, ...]
    expert: tuple[_Run, ...]
    random: tuple[_Run, ...]
    labelled: _Run | None = None

    def __add__(self, other: CheckerRuns) -> CheckerRuns:
        """The runs of both sets of checkers on the same frames, ``self``'s first.

        Each checker runs in its own worker, so checkers run apart and joined here answer as
        they would have run together (the admission gate joins a cached predecessor's runs to a
        candidate's).
        """
        if len(self.expert) != len(other.expert) or len(self.random) != len(other.random):
            raise ValueError("CheckerRuns of different rollouts cannot be joined")
        if (self.labelled is None) != (other.labelled is None):
            raise ValueError("CheckerRuns with and without labelled frames cannot be joined")

        def join(a: _Run, b: _Run) -> _Run:
            return (np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]]), [*a[2], *b[2]])

        return CheckerRuns(
            (*self.names, *other.names),
            tuple(join(a, b) for a, b in zip(self.expert, other.expert, strict=True)),
            tuple(join(a, b) for a, b in zip(self.random, other.random, strict=True)),
            join(self.labelled, other.labelled)
            if self.labelled is not None and other.labelled is not None
            else None,
        )


def _evaluate(box: Sandbox, frames: np.ndarray, firsts: np.ndarray) -> _Run:
    r = box.evaluate(np.ascontiguousarray(frames), np.ascontiguousarray(firsts))
    return (r.results, r.usable(), [str(s) for s in r.statuses])


def run_checkers(
    names: Sequence[str],
    sources: Sequence[str],
    expert: Sequence[Trajectory],
    random: Sequence[Trajectory],
    *,
    labelled: LabelledFrames | None = None,
    isolation: str | None = None,
    sandbox: Sandbox | None = None,
) -> CheckerRuns:
    """Run checkers on every trajectory (and the labelled frames) inside sandbox workers.

    Args:
        names: sub-task names, in program order.
        sources: their checkers.
        expert: expert trajectories.
        random: random rollouts.
        labelled: frames a person labelled, or None.
        isolation: sandbox isolation level, when ``sandbox`` is not given.
        sandbox: a sandbox already running exactly these sources.
    """
    own = sandbox is None
    box = sandbox or Sandbox(list(sources), names=list(names), isolation=isolation, spare=False)  # type: ignore[arg-type]
    try:
        return CheckerRuns(
            tuple(names),
            tuple(_evaluate(box, t.frames, t.firsts) for t in expert),
            tuple(_evaluate(box, t.frames, t.firsts) for t in random),
            _evaluate(box, labelled.frames, labelled.firsts) if labelled is not None else None,
        )
    finally:
        if own:
            box.close()


def _starts(t: Trajectory) -> np.ndarray:
    return np.flatnonzero(np.r_[True, t.episode[1:] != t.episode[:-1]])


def summarise(
    env_id: str,
    runs: CheckerRuns,
    expert: Sequence[Trajectory],
    random: Sequence[Trajectory],
    *,
    labelled: LabelledFrames | None = None,
    thresholds: Thresholds | None = None,
) -> VerificationReport:
    """Compute the per-sub-task statistics of :func:`run_checkers`' results.

    Args:
        env_id: the environment the rollouts come from.
        runs: the checkers' results.
        expert: the expert trajectories they ran on.
        random: the random rollouts they ran on.
        labelled: the labelled frames they ran on, or None.
        thresholds: acceptance thresholds.
    """
    th = thresholds or Thresholds()
    names = runs.names
    reports = []
    for k, name in enumerate(names):
        problems: list[str] = []
        failures: dict[str, int] = {}
        fired_expert, violations, resets, reset_fires = 0, 0, 0, 0
        expert_hits = expert_total = 0
        first_steps: list[int] = []
        first_fractions: list[float] = []
        tp = fp = fn = 0
        human = labelled is not None and name in labelled.labels
        for t, (res, ok, statuses) in zip(expert, runs.expert, strict=True):
            row, valid = res[k] & ok[k], ok[k]
            if (~valid).any():
                failures[statuses[k]] = failures.get(statuses[k], 0) + int((~valid).sum())
            fired_expert += bool(row.any())
            expert_hits += int(row.sum())
            expert_total += len(row)
            starts = _starts(t)
            resets += len(starts)
            reset_fires += int(row[starts].sum())
            if row.any():
                first = int(np.argmax(row))
                first_steps.append(first)
                first_fractions.append(first / max(len(row) - 1, 1))
            if k > 0 and row.any():
                prev = res[k - 1] & ok[k - 1]
                first_mine = int(np.argmax(row))
                if not prev.any() or int(np.argmax(prev)) > first_mine:
                    violations += 1
            if not human and name in t.label_names:
                truth = t.label(name)
                tp += int((row & truth)[valid].sum())
                fp += int((row & ~truth)[valid].sum())
                fn += int((~row & truth)[valid].sum())
        random_hits, random_frames, random_total = 0, 0, 0
        for t, (res, ok, statuses) in zip(random, runs.random, strict=True):
            row, valid = res[k] & ok[k], ok[k]
            if (~valid).any():
                failures[statuses[k]] = failures.get(statuses[k], 0) + int((~valid).sum())
            random_hits += bool(row.any())
            random_frames += int(row.sum())
            random_total += len(row)
            starts = _starts(t)
            resets += len(starts)
            reset_fires += int(row[starts].sum())
            if not human and name in t.label_names:
                truth = t.label(name)
                tp += int((row & truth)[valid].sum())
                fp += int((row & ~truth)[valid].sum())
                fn += int((~row & truth)[valid].sum())
        truth_source: str | None = None
        if human:
            assert labelled is not None and runs.labelled is not None
            res, ok, statuses = runs.labelled
            row, valid = res[k] & ok[k], ok[k]
            if (~valid).any():
                failures[statuses[k]] = failures.get(statuses[k], 0) + int((~valid).sum())
            marks = labelled.labels[name]
            known = valid & (marks >= 0)
            truth = marks == 1
            tp = int((row & truth)[known].sum())
            fp = int((row & ~truth)[known].sum())
            fn = int((~row & truth)[known].sum())
            truth_source = "labelled frames"
        elif any(name in t.label_names for t in [*expert, *random]):
            truth_source = "ground truth"
        precision = (
            (tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)) if truth_source else None
        )
        recall = (tp / (tp + fn) if tp + fn else 1.0) if truth_source else None
        expert_rate = fired_expert / len(expert) if expert else 0.0
        order_rate = violations / len(expert) if expert and k > 0 else 0.0
        first_rate = reset_fires / resets if resets else 0.0
        if failures:
            problems.append(
                "failed on " + ", ".join(f"{n} frame(s): {s}" for s, n in sorted(failures.items()))
            )
        if expert_rate < th.min_expert_fire_rate:
            problems.append(
                f"fired in only {expert_rate:.0%} of expert trajectories "
                f"(needs {th.min_expert_fire_rate:.0%})"
            )
        if first_rate > th.max_first_frame_rate:
            problems.append(
                f"fires on {first_rate:.0%} of reset frames (the sub-task is not done yet)"
            )
        order_problems: list[str] = []
        if order_rate > th.max_order_violations:
            order_problems.append(
                f"fires before '{names[k - 1]}' in {order_rate:.0%} of expert trajectories"
            )
            problems.append(order_problems[-1])
        if precision is not None and precision < th.min_precision:
            problems.append(f"precision {precision:.2f} < {th.min_precision} (fires when not done)")
        if recall is not None and recall < th.min_recall:
            problems.append(
                f"recall {recall:.2f} < {th.min_recall} (misses frames where it is done)"
            )
        reports.append(
            SubtaskReport(
                name=name,
                expert_fire_rate=expert_rate,
                random_fire_rate=random_hits / len(random) if random else 0.0,
                random_frame_rate=random_frames / random_total if random_total else 0.0,
                first_frame_rate=first_rate,
                order_violations=order_rate,
                precision=precision,
                recall=recall,
                failures=failures,
                problems=tuple(problems),
                order_problems=tuple(order_problems),
                expert_frame_rate=expert_hits / expert_total if expert_total else 0.0,
                first_fire_step=float(np.median(first_steps)) if first_steps else None,
                first_fire_fraction=float(np.median(first_fractions)) if first_steps else None,
                truth=truth_source,
            )
        )
    n_random_len = len(random[0]) if random else 0
    source = expert[0].policy if expert else "expert"
    return VerificationReport(
        env_id,
        len(expert),
        len(random),
        n_random_len,
        tuple(reports),
        expert_source=source,
        n_labelled=len(labelled) if labelled is not None else 0,
    )


def verify_sources(
    env_id: str,
    names: Sequence[str],
    sources: Sequence[str],
    expert: Sequence[Trajectory],
    random: Sequence[Trajectory],
    *,
    thresholds: Thresholds | None = None,
    isolation: str | None = None,
    sandbox: Sandbox | None = None,
    labelled: LabelledFrames | None = None,
) -> VerificationReport:
    """Run checkers on rollouts inside sandbox workers and compute per-sub-task statistics.

    Args:
        env_id: the environment the rollouts come from.
        names: sub-task names, in program order (ground truth is looked up by name).
        sources: their checkers.
        expert: expert trajectories (one episode each).
        random: random rollouts of a fixed length.
        thresholds: acceptance thresholds.
        isolation: sandbox isolation level, when ``sandbox`` is not given.
        sandbox: a sandbox already running exactly these sources.
        labelled: frames a person labelled (precision/recall for the sub-tasks they label).

    Returns:
        The :class:`VerificationReport`.
    """
    runs = run_checkers(
        names, sources, expert, random, labelled=labelled, isolation=isolation, sandbox=sandbox
    )
    return summarise(env_id, runs, expert, random, labelled=labelled, thresholds=thresholds)
