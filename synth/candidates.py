"""Several candidates per sub-task: what each one reached, and which one is kept.

Provides:
    Candidate: one sampled checker for a sub-task and the gate's verdict on it.
    rank_key: the order in which candidates are preferred (smallest first).
    candidates_json: every candidate of a run with its verdict, for the bundle's provenance.

``vlmcar synth --candidates N`` (``synthesize(candidates=N)``) asks the model for N checkers per
sub-task in each round, all at once (:func:`synth.vlm.complete_many`; each request carries
:data:`synth.prompts.CANDIDATE_NOTE` with its index, so a recording replays every candidate's own
reply), gates them together (:class:`synth.gate.GatePool`: a local process pool, or Ray tasks with
``--ray``), and keeps the best by :func:`rank_key`:

1. accepted before refused, and among refused ones the later gate stage first (a checker that
   failed verification is closer than one the audit refused);
2. the more expert trajectories it fires in (recall on experts);
3. the fewer random rollouts it fires in;
4. higher per-frame precision, then recall, against ground truth or labelled frames (where the
   environment has them);
5. the cheaper per frame, by decade of the fuzzer's median µs per frame (process hop included):
   only a candidate about ten times slower loses here. It is a measured time, so it stays out of
   ``program.json`` (whose bytes a replay repeats; ``candidates.json`` beside it has the times),
   and two candidates within a decade tie; a replay keeps the same choice unless a time crosses
   a decade;
6. the lower index (so the order is total).

When none is accepted, the next round refines the best one with its feedback. Every candidate,
kept or not, is recorded in the transcript and in ``extra.candidates`` (stage, summary, the
verification statistics and which one was kept).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from synth.gate import STAGES, Admission
from synth.prompts import CANDIDATE_NOTE, Feedback

__all__ = ["Candidate", "candidates_json", "rank_key"]


@dataclass(frozen=True)
class Candidate:
    """One sampled checker and what the gate made of it.

    Attributes:
        subtask: the sub-task's name.
        attempt: the round (1 for the first, 2.. for refinements).
        index: 1..N within its round.
        reply: the model's reply.
        source: the checker extracted from the reply, or None when the reply held no usable one.
        admission: the gate's verdict (None when the reply was unusable).
        reply_problem: why the reply was unusable, phrased for the model ("" when usable).
        error: the same in one line, for the transcript.
    """

    subtask: str
    attempt: int
    index: int
    reply: str
    source: str | None
    admission: Admission | None
    reply_problem: str = ""
    error: str = ""

    @property
    def stage(self) -> str:
        """The gate stage that refused it, or ``accepted``."""
        return self.admission.stage if self.admission is not None else "reply"

    @property
    def accepted(self) -> bool:
        """True when every stage passed."""
        return self.admission is not None and self.admission.accepted

    @property
    def feedback(self) -> Feedback:
        """What to tell the model when this candidate is refined."""
        if self.admission is None:
            return Feedback(reply_problem=self.reply_problem)
        return self.admission.feedback

    @property
    def summary(self) -> str:
        """One line for logs and the transcript."""
        if self.admission is None:
            return f"unusable: {self.error[:160]}"
        return self.admission.summary

    def to_json(self, *, chosen: bool, timing: bool = False) -> dict[str, Any]:
        """The candidate's verdict and statistics (the reply itself is in the transcript).

        ``timing=True`` adds the measured cost per frame (it differs run to run).
        """
        report = self.admission.report if self.admission is not None else None
        us = self.admission.us_per_frame if self.admission is not None else None
        out = {
            "attempt": self.attempt,
            "candidate": self.index,
            "chosen": chosen,
            "stage": self.stage,
            "summary": self.summary,
            "reply_sha256": hashlib.sha256(self.reply.encode()).hexdigest(),
            "source_sha256": (
                hashlib.sha256(self.source.encode()).hexdigest() if self.source else None
            ),
            "expert_fire_rate": report.expert_fire_rate if report else None,
            "random_fire_rate": report.random_fire_rate if report else None,
            "precision": report.precision if report else None,
            "recall": report.recall if report else None,
        }
        if timing:
            out["us_per_frame"] = round(us, 1) if us is not None and math.isfinite(us) else None
        return out


def rank_key(candidate: Candidate) -> tuple[float, ...]:
    """Sort key: the preferred candidate sorts first (see the module docstring for the order).

    Example:
        >>> from synth.prompts import Feedback
        >>> audit = Admission("a", "audit", Feedback(), summary="audit: M101")
        >>> fuzz = Admission("a", "fuzz", Feedback(), summary="fuzz: exception")
        >>> cs = [Candidate("a", 1, 1, "", "x", audit), Candidate("a", 1, 2, "", "y", fuzz)]
        >>> min(cs, key=rank_key).index
        2
    """
    report = candidate.admission.report if candidate.admission is not None else None
    us = candidate.admission.us_per_frame if candidate.admission is not None else None
    return (
        -float(STAGES.index(candidate.stage)),
        -(report.expert_fire_rate if report else 0.0),
        report.random_fire_rate if report else 1.0,
        -(report.precision if report and report.precision is not None else 0.0),
        -(report.recall if report and report.recall is not None else 0.0),
        float(math.floor(math.log10(max(us, 1.0))))
        if us is not None and math.isfinite(us)
        else 99.0,
        float(candidate.index),
    )


def candidates_json(
    n: int,
    drawn: Mapping[str, Sequence[Candidate]],
    chosen: Mapping[str, tuple[int, int]],
    *,
    timing: bool = False,
) -> dict[str, Any]:
    """``extra.candidates`` of a bundle: N, the note's hash, every candidate and which was kept.

    Args:
        n: candidates per round.
        drawn: sub-task -> its candidates, every round, in order.
        chosen: sub-task -> ``(attempt, index)`` of the best candidate of its last round.
        timing: add each candidate's measured cost per frame (not in ``program.json``).
    """
    return {
        "n": n,
        "note_sha256": hashlib.sha256(CANDIDATE_NOTE.encode()).hexdigest(),
        "ranking": "accepted, then later stage; more expert trajectories; fewer random "
        "rollouts; precision; recall; cheaper per frame (by decade); lower index",
        "subtasks": {
            name: [
                c.to_json(
                    chosen=(c.attempt, c.index) == chosen.get(name) and c.accepted, timing=timing
                )
                for c in cands
            ]
            for name, cands in drawn.items()
        },
    }
