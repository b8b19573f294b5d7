"""Verification of sub-task checkers on expert trajectories and random rollouts.

Provides:
    Thresholds: what a checker must reach to be accepted (documented defaults).
    SubtaskReport: per-sub-task statistics (fire rates, order, precision/recall vs ground truth).
    VerificationReport: the reports for a whole program, with a Markdown table.
    collect_rollouts: expert and fixed-length random rollouts of a built-in environment.
    verify_sources: run checkers on rollouts (in sandbox workers) and compute the statistics.

Statistics are per sub-task, over expert trajectories and random rollouts **of a stated, fixed
length**: the paper's released rule (fires on >= 2 frames of an expert trajectory, <= 10 % of
random rollouts) rejects a correct DoorKey checker once random rollouts are longer than ~20 steps
(``research/paper.md`` §2.4), so this module reports the numbers and judges per-frame precision and
recall against privileged ground truth wherever the environment provides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rl.rollouts import Trajectory, rollouts
from sandbox import Sandbox

__all__ = [
    "SubtaskReport",
    "Thresholds",
    "VerificationReport",
    "collect_rollouts",
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
        precision: per-frame precision vs ground truth (None without a label).
        recall: per-frame recall vs ground truth (None without a label).
        failures: frames on which the checker failed (any non-ok status), by status.
        problems: why it is not accepted (empty when accepted).
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
    """

    env_id: str
    n_expert: int
    n_random: int
    random_length: int
    subtasks: tuple[SubtaskReport, ...]

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

        lines = [
            f"Verification on {self.env_id}: {self.n_expert} expert trajectories, {self.n_random} "
            f"random rollouts of {self.random_length} frames.",
            "",
            "| sub-task | expert fires | random fires (rollouts / frames) | at reset | out of order "
            "| precision | recall | verdict |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for s in self.subtasks:
            verdict = "accepted" if s.accepted else "rejected: " + "; ".join(s.problems)
            lines.append(
                f"| {s.name} | {pct(s.expert_fire_rate)} | {pct(s.random_fire_rate)} / "
                f"{pct(s.random_frame_rate)} | {pct(s.first_frame_rate)} | "
                f"{pct(s.order_violations)} | {pct(s.precision)} | {pct(s.recall)} | {verdict} |"
            )
        return "\n".join(lines) + "\n"


def collect_rollouts(
    env_id: str, *, n_expert: int = 8, n_random: int = 8, random_length: int = 50, seed: int = 0
) -> tuple[list[Trajectory], list[Trajectory]]:
    """Expert trajectories (one episode each) and random rollouts of exactly ``random_length``."""
    expert = rollouts(env_id, n_expert, "expert", seed)
    random = rollouts(env_id, n_random, "random", seed + 10_000, length=random_length)
    return expert, random


_Run = tuple[np.ndarray, np.ndarray, list[str]]


def _evaluate(box: Sandbox, trajectories: Sequence[Trajectory]) -> list[_Run]:
    out: list[_Run] = []
    for t in trajectories:
        r = box.evaluate(np.ascontiguousarray(t.frames), np.ascontiguousarray(t.firsts))
        out.append((r.results, r.usable(), [str(s) for s in r.statuses]))
    return out


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

    Returns:
        The :class:`VerificationReport`.
    """
    th = thresholds or Thresholds()
    own = sandbox is None
    box = sandbox or Sandbox(list(sources), names=list(names), isolation=isolation, spare=False)  # type: ignore[arg-type]
    try:
        expert_runs = _evaluate(box, expert)
        random_runs = _evaluate(box, random)
    finally:
        if own:
            box.close()
    reports = []
    for k, name in enumerate(names):
        problems: list[str] = []
        failures: dict[str, int] = {}
        fired_expert, violations, resets, reset_fires = 0, 0, 0, 0
        tp = fp = fn = 0
        for t, (res, ok, statuses) in zip(expert, expert_runs, strict=True):
            row, valid = res[k] & ok[k], ok[k]
            if (~valid).any():
                failures[statuses[k]] = failures.get(statuses[k], 0) + int((~valid).sum())
            fired_expert += bool(row.any())
            starts = np.flatnonzero(np.r_[True, t.episode[1:] != t.episode[:-1]])
            resets += len(starts)
            reset_fires += int(row[starts].sum())
            if k > 0 and row.any():
                prev = res[k - 1] & ok[k - 1]
                first_mine = int(np.argmax(row))
                if not prev.any() or int(np.argmax(prev)) > first_mine:
                    violations += 1
            if name in t.label_names:
                truth = t.label(name)
                tp += int((row & truth)[valid].sum())
                fp += int((row & ~truth)[valid].sum())
                fn += int((~row & truth)[valid].sum())
        random_hits, random_frames, random_total = 0, 0, 0
        for t, (res, ok, statuses) in zip(random, random_runs, strict=True):
            row, valid = res[k] & ok[k], ok[k]
            if (~valid).any():
                failures[statuses[k]] = failures.get(statuses[k], 0) + int((~valid).sum())
            random_hits += bool(row.any())
            random_frames += int(row.sum())
            random_total += len(row)
            starts = np.flatnonzero(np.r_[True, t.episode[1:] != t.episode[:-1]])
            resets += len(starts)
            reset_fires += int(row[starts].sum())
            if name in t.label_names:
                truth = t.label(name)
                tp += int((row & truth)[valid].sum())
                fp += int((row & ~truth)[valid].sum())
                fn += int((~row & truth)[valid].sum())
        has_truth = any(name in t.label_names for t in [*expert, *random])
        precision = (
            (tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)) if has_truth else None
        )
        recall = (tp / (tp + fn) if tp + fn else 1.0) if has_truth else None
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
        if order_rate > th.max_order_violations:
            problems.append(
                f"fires before '{names[k - 1]}' in {order_rate:.0%} of expert trajectories"
            )
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
            )
        )
    n_random_len = len(random[0]) if random else 0
    return VerificationReport(env_id, len(expert), len(random), n_random_len, tuple(reports))
