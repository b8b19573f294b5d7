"""The admission gate: audit -> load in the sandbox -> fuzz -> verify, with feedback on failure.

Provides:
    Admission: the verdict for one checker candidate (stage reached, feedback for the model).
    GateContext: what the gate checks against (environment, rollouts, thresholds, sandbox level).
    admit: run one candidate through every stage.
    GatePool: run several candidates through the gate at once (this process, a local process
        pool, or Ray tasks), verdicts in candidate order.

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

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from rl.rollouts import Trajectory
from sandbox import AuditError, SandboxError, audit, fuzz_checker
from synth.prompts import AuditItem, Feedback, VerificationStats
from synth.verify import CheckerRuns, SubtaskReport, Thresholds, run_checkers, summarise

_V = TypeVar("_V")

__all__ = ["STAGES", "Admission", "GateContext", "GatePool", "admit", "checker_runs"]

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

    @functools.cached_property
    def rollouts_digest(self) -> str:
        """sha256 of every rollout's frames and labels (what verdicts and runs are keyed on)."""
        digest = hashlib.sha256()
        for t in [*self.expert, *self.random]:
            digest.update(t.frames.tobytes())
            digest.update(t.labels.tobytes())
        return digest.hexdigest()

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
        us_per_frame: the fuzzer's median cost per frame, when the candidate got past fuzzing.
    """

    name: str
    stage: str
    feedback: Feedback
    report: SubtaskReport | None = None
    summary: str = ""
    us_per_frame: float | None = None

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


_CACHE_SIZE = 256


class _Bounded(dict[str, _V]):
    """A dict that forgets its oldest entry past ``_CACHE_SIZE`` (the gate's per-process caches)."""

    def remember(self, key: str, value: _V) -> None:
        if key not in self and len(self) >= _CACHE_SIZE:
            self.pop(next(iter(self)))
        self[key] = value


_CACHE: _Bounded[Admission] = _Bounded()


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
        ctx.rollouts_digest,
    ):
        digest.update(part.encode("utf-8") + b"\0")
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
        _CACHE.remember(key, _admit(name, source, ctx, previous))
    return _CACHE[key]


class GatePool:
    """Gate several candidates at once; verdicts come back in candidate order.

    Each candidate is judged exactly as :func:`admit` judges it (same stages, same sandbox
    settings, cached the same way); only where the work runs changes:

    - ``ray`` given (a connected ``ray`` module): one Ray task per candidate, one CPU each, the
      context shipped once per context;
    - else ``workers > 1``: a local pool of that many processes (started with ``spawn`` on first
      use and kept until :meth:`close`), each driving its own sandbox workers;
    - else this process, one candidate after another.

    Use it as a context manager, or call :meth:`close`.

    Args:
        workers: local processes (1: gate in this process).
        ray: the ``ray`` module, connected (:func:`rl.cluster.connect_ray`), or None.
    """

    def __init__(self, workers: int = 1, *, ray: Any = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self._ray = ray
        self._pool: Any = None
        self._remote: Any = None
        self._shipped: tuple[GateContext, Any] | None = None

    def __repr__(self) -> str:
        where = "ray" if self._ray is not None else f"{self.workers} local process(es)"
        return f"GatePool({where})"

    def __enter__(self) -> GatePool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def where(self) -> str:
        """Where candidates are gated, in words (for logs)."""
        if self._ray is not None:
            return "Ray tasks"
        return "this process" if self.workers == 1 else f"{self.workers} local processes"

    def admit_all(
        self,
        name: str,
        sources: Sequence[str],
        ctx: GateContext,
        *,
        previous: Sequence[tuple[str, str]] = (),
    ) -> list[Admission]:
        """The verdict on each of ``sources`` (candidates for sub-task ``name``), in order."""
        keys = [_cache_key(name, s, ctx, previous) for s in sources]
        todo: dict[str, str] = {}
        for key, source in zip(keys, sources, strict=True):
            if key not in _CACHE:
                todo.setdefault(key, source)
        if len(todo) <= 1 or (self._ray is None and self.workers == 1):
            for key, source in todo.items():
                _CACHE.remember(key, _admit(name, source, ctx, list(previous)))
        else:
            verdicts = self._run(name, list(todo.values()), ctx, previous)
            for key, verdict in zip(todo, verdicts, strict=True):
                _CACHE.remember(key, verdict)
        return [_CACHE[k] for k in keys]

    def _run(
        self,
        name: str,
        sources: list[str],
        ctx: GateContext,
        previous: Sequence[tuple[str, str]],
    ) -> list[Admission]:
        if self._ray is not None:
            ray = self._ray
            if self._remote is None:
                self._remote = ray.remote(num_cpus=1)(_admit)
            if self._shipped is None or self._shipped[0] is not ctx:
                self._shipped = (ctx, ray.put(ctx))
            shipped = self._shipped[1]
            refs = [self._remote.remote(name, s, shipped, list(previous)) for s in sources]
            return list(ray.get(refs))
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        futures = [self._pool.submit(_admit, name, s, ctx, list(previous)) for s in sources]
        return [f.result() for f in futures]

    def close(self) -> None:
        """Stop the local processes (Ray tasks need nothing)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._shipped = None


def _admit(
    name: str,
    source: str,
    ctx: GateContext,
    previous: Sequence[tuple[str, str]],
) -> Admission:
    from sandbox.pool import Sandbox

    report = audit(source, path=f"{name}.py")
    if not report.ok:
        items = tuple(AuditItem.from_finding(f) for f in report.findings)
        return Admission(
            name,
            "audit",
            Feedback(audit=items),
            summary=f"audit: {', '.join(sorted({f.code for f in report.findings}))}",
        )
    path = f"{name}.py"
    try:
        # one set of workers for fuzzing and verification: the fuzzer leaves it open
        level: Any = ctx.isolation  # None (the strongest), "strict" or "process"
        with Sandbox([source], names=[path], isolation=level, spare=False, jit=True) as box:
            fuzz = fuzz_checker(
                source,
                path=path,
                examples=ctx.fuzz_examples,
                real_frames=ctx.real_frames(),
                isolation=ctx.isolation,
                max_us_per_frame=ctx.max_us_per_frame,
                sandbox=box,
            )
            if not fuzz.ok:
                lines = tuple(p.describe()[:300] for p in fuzz.problems)
                return Admission(
                    name,
                    "fuzz",
                    Feedback(counterexamples=lines),
                    summary=f"fuzz: {', '.join(p.kind for p in fuzz.problems)}",
                )
            runs = run_checkers([name], [source], ctx.expert, ctx.random, sandbox=box)
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
    _RUNS.remember(_runs_key(name, source, ctx), runs)
    for before in previous[-1:]:  # the predecessor's runs: cached when it was admitted here
        runs = checker_runs(*before, ctx) + runs
    verification = summarise(ctx.env_id, runs, ctx.expert, ctx.random, thresholds=ctx.thresholds)
    mine = verification.subtasks[-1]
    if not mine.accepted:
        return Admission(
            name,
            "verify",
            Feedback(stats=_stats(mine, ctx)),
            report=mine,
            summary="verify: " + "; ".join(mine.problems)[:200],
            us_per_frame=fuzz.us_per_frame,
        )
    return Admission(
        name,
        "accepted",
        Feedback(),
        report=mine,
        summary=f"accepted ({fuzz.jit.split(' (')[0]} path)",
        us_per_frame=fuzz.us_per_frame,
    )


_RUNS: _Bounded[CheckerRuns] = _Bounded()


def _runs_key(name: str, source: str, ctx: GateContext) -> str:
    digest = hashlib.sha256()
    for part in (name, source, str(ctx.isolation), ctx.rollouts_digest):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()


def checker_runs(name: str, source: str, ctx: GateContext) -> CheckerRuns:
    """One checker's runs on the context's rollouts (kept from its admission, else run now).

    The admission gate runs every candidate that passes fuzzing on every rollout, in the workers
    it fuzzed in; the next sub-task's candidates and the final verification reuse those runs
    instead of starting workers for the same checker again.
    """
    key = _runs_key(name, source, ctx)
    if key not in _RUNS:
        _RUNS.remember(
            key, run_checkers([name], [source], ctx.expert, ctx.random, isolation=ctx.isolation)
        )
    return _RUNS[key]
