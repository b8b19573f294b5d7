"""The admission gate: audit -> load in the sandbox -> fuzz -> verify, with feedback on failure.

Provides:
    Admission: the verdict for one checker candidate (stage reached, feedback for the model).
    GateContext: what the gate checks against (environment, rollouts, thresholds, sandbox level).
    admit: run one candidate through every stage.

Stages, in order; the first that fails stops the candidate and fills :class:`synth.prompts.Feedback`:

1. ``reply``: the model's reply held one usable ``def check`` block (:mod:`synth.parse`);
2. ``audit``: the static audit (L1) accepts it; findings become feedback with line and hint;
3. ``load``: it compiles and loads in a sandbox worker (RestrictedPython, facades);
4. ``fuzz``: Hypothesis in the sandbox (L6) on synthetic and real frames: no exception,
   deterministic, not constant-true, JIT == interpreter, cheap enough; the shrunk counter-example
   becomes feedback;
5. ``verify``: per-sub-task statistics on expert and fixed-length random rollouts against ground
   truth (:mod:`synth.verify`).

Nothing a model wrote ever runs outside sandbox workers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rl.rollouts import Trajectory
from sandbox import AuditError, SandboxError, audit, fuzz_checker
from synth.prompts import AuditItem, Feedback, VerificationStats
from synth.verify import SubtaskReport, Thresholds, verify_sources

__all__ = ["STAGES", "Admission", "GateContext", "admit"]

STAGES = ("reply", "audit", "load", "fuzz", "verify", "accepted")


@dataclass(frozen=True)
class GateContext:
    """What candidates are checked against.

    Attributes:
        env_id: the environment.
        expert: expert trajectories (one episode each).
        random: random rollouts of a fixed length.
        thresholds: verification thresholds.
        isolation: sandbox isolation level (None: the strongest available).
        fuzz_examples: frames Hypothesis tries per candidate.
        max_us_per_frame: the cost above which a checker is rejected as too slow.
    """

    env_id: str
    expert: Sequence[Trajectory]
    random: Sequence[Trajectory]
    thresholds: Thresholds = field(default_factory=Thresholds)
    isolation: str | None = None
    fuzz_examples: int = 60
    max_us_per_frame: float = 20_000.0

    def real_frames(self, limit: int = 256) -> np.ndarray:
        """A sample of rollout frames to seed fuzzing with."""
        frames = np.concatenate([t.frames for t in [*self.expert, *self.random]])
        step = max(1, len(frames) // limit)
        return np.ascontiguousarray(frames[::step][:limit])


@dataclass(frozen=True)
class Admission:
    """The verdict on one candidate.

    Attributes:
        name: the sub-task.
        stage: the stage that failed, or ``accepted``.
        feedback: what went wrong, ready for the refine prompt (empty when accepted).
        report: the verification report, when the candidate got that far.
        summary: one line for logs and transcripts.
    """

    name: str
    stage: str
    feedback: Feedback
    report: SubtaskReport | None = None
    summary: str = ""

    @property
    def accepted(self) -> bool:
        """True when every stage passed."""
        return self.stage == "accepted"


def _stats(report: SubtaskReport, ctx: GateContext) -> VerificationStats:
    return VerificationStats(
        expert_fire_rate=report.expert_fire_rate,
        random_fire_rate=report.random_fire_rate,
        precision=report.precision,
        recall=report.recall,
        n_expert=len(ctx.expert),
        n_random=len(ctx.random),
        random_length=len(ctx.random[0]) if ctx.random else 0,
        first_frame_fire_rate=report.first_frame_rate,
        order_problems=report.order_problems,
        notes=tuple(p for p in report.problems if p not in report.order_problems),
    )


_CACHE: dict[str, Admission] = {}
_CACHE_SIZE = 256


def _cache_key(
    name: str, source: str, ctx: GateContext, previous: Sequence[tuple[str, str]]
) -> str:
    digest = hashlib.sha256()
    for part in (
        name,
        source,
        ctx.env_id,
        repr(ctx.thresholds),
        str(ctx.isolation),
        str(ctx.fuzz_examples),
        str(ctx.max_us_per_frame),
        repr(list(previous[-1:])),
    ):
        digest.update(part.encode("utf-8") + b"\0")
    for t in [*ctx.expert, *ctx.random]:
        digest.update(t.frames.tobytes())
        digest.update(t.labels.tobytes())
    return digest.hexdigest()


def admit(
    name: str,
    source: str,
    ctx: GateContext,
    *,
    previous: Sequence[tuple[str, str]] = (),
) -> Admission:
    """Run one candidate through the gate.

    Every stage is deterministic, so an identical candidate in an identical context is judged once
    per process (the verdict is cached).

    Args:
        name: the sub-task's name (ground truth is looked up by it).
        source: the candidate checker.
        ctx: rollouts, thresholds and sandbox settings.
        previous: already accepted ``(name, source)`` pairs of the earlier sub-tasks.

    Returns:
        The :class:`Admission`.
    """
    key = _cache_key(name, source, ctx, previous)
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _admit(name, source, ctx, previous)
    return _CACHE[key]


def _admit(
    name: str,
    source: str,
    ctx: GateContext,
    previous: Sequence[tuple[str, str]],
) -> Admission:
    report = audit(source, path=f"{name}.py")
    if not report.ok:
        items = tuple(AuditItem.from_finding(f) for f in report.findings)
        return Admission(
            name,
            "audit",
            Feedback(audit=items),
            summary=f"audit: {', '.join(sorted({f.code for f in report.findings}))}",
        )
    try:
        fuzz = fuzz_checker(
            source,
            path=f"{name}.py",
            examples=ctx.fuzz_examples,
            real_frames=ctx.real_frames(),
            isolation=ctx.isolation,
            max_us_per_frame=ctx.max_us_per_frame,
        )
    except AuditError as err:  # pragma: no cover - audited above
        items = tuple(AuditItem.from_finding(f) for f in err.findings)
        return Admission(name, "audit", Feedback(audit=items), summary="audit")
    except SandboxError as err:
        return Admission(
            name,
            "load",
            Feedback(runtime_errors=(str(err)[:600],)),
            summary=f"load: {str(err)[:120]}",
        )
    if not fuzz.ok:
        lines = tuple(p.describe()[:300] for p in fuzz.problems)
        return Admission(
            name,
            "fuzz",
            Feedback(counterexamples=lines),
            summary=f"fuzz: {', '.join(p.kind for p in fuzz.problems)}",
        )
    names = [n for n, _ in previous[-1:]] + [name]
    sources = [s for _, s in previous[-1:]] + [source]
    verification = verify_sources(
        ctx.env_id,
        names,
        sources,
        ctx.expert,
        ctx.random,
        thresholds=ctx.thresholds,
        isolation=ctx.isolation,
    )
    mine = verification.subtasks[-1]
    if not mine.accepted:
        return Admission(
            name,
            "verify",
            Feedback(stats=_stats(mine, ctx)),
            report=mine,
            summary="verify: " + "; ".join(mine.problems)[:200],
        )
    return Admission(
        name,
        "accepted",
        Feedback(),
        report=mine,
        summary=f"accepted ({fuzz.jit.split(' (')[0]} path)",
    )
