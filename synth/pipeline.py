"""The VLM-CaR pipeline: decompose, generate, admit, refine, and assemble a reward program.

Provides:
    Round: one model call and what became of its reply (the transcript's unit).
    SynthesisResult: the program (or why there is none), the transcript and the verification.
    synthesize: run the whole pipeline for any environment with any VLM client.

What the prompts state about the environment (its task, the notes on how its frames are drawn)
comes from its registry entry (:class:`rl.registry.EnvSpec`), or from the caller for environments
that do not state them. Expert demonstrations come from the entry's scripted expert or from the
caller (:mod:`rl.demos`); the start and goal images default to the first and last frame of the
first expert episode.

For each sub-task the model gets up to ``max_rounds`` attempts: the first from the checker prompt,
the others from the refine prompt carrying the gate's feedback (audit findings, the fuzzer's
shrunk counter-example, verification statistics, reply problems). Every round is logged. The
client decides where replies come from: a real model (:class:`synth.vlm.LiteLLMClient`), a
recording (:class:`synth.replay.ReplayClient`) or a script (:class:`synth.scripted.ScriptedClient`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rl.demos import DemoSource, LabelledFrames
from rl.envs import FrameSource
from rl.program import RewardProgram, SubTask
from synth.candidates import Candidate, candidates_json, rank_key
from synth.errors import ReplyError, SynthError
from synth.gate import GateContext, GatePool, admit, checker_runs
from synth.parse import extract_checker, parse_subtasks
from synth.prompts import (
    PROMPT_VERSIONS,
    Feedback,
    render_checker,
    render_decompose,
    render_refine,
    template_sha256,
    with_candidate,
)
from synth.verify import (
    Thresholds,
    VerificationReport,
    collect_rollouts,
    summarise,
    verify_sources,
)
from synth.vlm import Message, VLMClient, complete_many

__all__ = ["DecompositionPrompt", "Round", "SynthesisResult", "synthesize"]


@dataclass(frozen=True)
class Round:
    """One model call in the transcript.

    Attributes:
        subtask: the sub-task ("" for the decomposition).
        attempt: 1 for the first try, 2.. for refinements.
        purpose: ``decompose``, ``checker:<name>`` or ``refine:<name>``.
        prompt_version: the template version used.
        reply: the model's reply text.
        stage: the gate stage the reply reached (``accepted``, ``reply``, ``audit`` ...).
        summary: what happened, in one line.
        candidate: 1..N when several candidates were sampled per round, else 0.
    """

    subtask: str
    attempt: int
    purpose: str
    prompt_version: str
    reply: str
    stage: str
    summary: str
    candidate: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the reply is stored in full: the transcript is the provenance)."""
        out: dict[str, Any] = {
            "subtask": self.subtask,
            "attempt": self.attempt,
            "purpose": self.purpose,
            "prompt_version": self.prompt_version,
            "stage": self.stage,
            "summary": self.summary,
            "reply_sha256": hashlib.sha256(self.reply.encode()).hexdigest(),
            "reply": self.reply,
        }
        if self.candidate:
            out["candidate"] = self.candidate
        return out


@dataclass
class SynthesisResult:
    """What a synthesis run produced.

    Attributes:
        env_id: the environment.
        task: the task text given to the model.
        program: the reward program, or None when a sub-task never passed the gate.
        rounds: every model call, in order.
        verification: verification of the final program on fresh rollouts.
        failed: sub-tasks that exhausted their rounds.
        model: the model that answered.
        candidates: sub-task -> every candidate drawn for it (only with ``candidates > 1``).
        chosen: sub-task -> ``(attempt, index)`` of the best candidate of its last round.
    """

    env_id: str
    task: str
    program: RewardProgram | None
    rounds: list[Round] = field(default_factory=list)
    verification: VerificationReport | None = None
    failed: list[str] = field(default_factory=list)
    model: str = ""
    candidates: dict[str, list[Candidate]] = field(default_factory=dict)
    chosen: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every sub-task has an accepted checker."""
        return self.program is not None and not self.failed


def _mission(
    env_id: str, env_kwargs: Mapping[str, Any] | None, frame_source: FrameSource
) -> tuple[str, str]:
    """The environment's own task text (``mission``, or its entry's) and where its frames come from."""
    from rl.envs import make_env

    env = make_env(env_id, observation="native", env_kwargs=env_kwargs, frame_source=frame_source)
    try:
        env.reset(seed=0)
        mission = env.entry.task or str(getattr(env.unwrapped, "mission", "") or "")
        return mission, env.frame_description
    finally:
        env.close()


def _check_image(name: str, image: np.ndarray | None) -> None:
    if image is None:
        return
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"{name}: expected an H x W x 3 uint8 image, got {arr.dtype} {arr.shape}")


def synthesize(
    env_id: str,
    client: VLMClient,
    *,
    task_text: str | None = None,
    env_notes: str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    demos: DemoSource | str | None = None,
    start_frame: np.ndarray | None = None,
    goal_frame: np.ndarray | None = None,
    labelled: LabelledFrames | None = None,
    frame_source: FrameSource = "auto",
    max_rounds: int = 3,
    n_expert: int = 8,
    n_random: int = 8,
    random_length: int = 50,
    seed: int = 0,
    isolation: str | None = None,
    fuzz_examples: int = 60,
    thresholds: Thresholds | None = None,
    log: Callable[[str], None] = lambda _: None,
    decomposition: DecompositionPrompt | None = None,
    keep: Mapping[str, tuple[str, str]] | None = None,
    lineage: Mapping[str, Any] | None = None,
    candidates: int = 1,
    gate_pool: GatePool | None = None,
) -> SynthesisResult:
    """Synthesise a reward program for any environment.

    Args:
        env_id: any environment id (:func:`rl.registry.get_spec`).
        client: where replies come from (a model, a recording or a script).
        task_text: the task in words (default: the entry's task, else the environment's
            ``mission`` string; an environment with neither needs one).
        env_notes: what the prompts state about the frames (default: the entry's notes).
        env_kwargs: extra constructor arguments of the environment (recorded in the program).
        demos: where expert demonstrations come from (:class:`rl.demos.DemoSource`; default:
            the entry's scripted expert or declared demonstrations).
        start_frame: the start image shown to the model (default: the first frame of the
            first expert episode).
        goal_frame: the goal image (default: the last frame of the first expert episode).
        labelled: frames a person labelled, for precision/recall in the final verification.
        frame_source: where reward frames come from (:func:`rl.envs.make_env`).
        max_rounds: attempts per sub-task (first try plus refinements).
        n_expert: expert trajectories for verification.
        n_random: random rollouts for verification.
        random_length: frames per random rollout (stated and fixed).
        seed: seeds rollouts (so a replayed run reproduces its bundle exactly).
        isolation: sandbox isolation level.
        fuzz_examples: frames the fuzzer tries per candidate.
        thresholds: verification thresholds.
        log: called with one line per event (progress for the CLI).
        decomposition: ask for the sub-tasks with this prompt instead of the decompose prompt
            (refinement from training, :mod:`synth.refine`), given the same start and goal.
        keep: sub-task name -> ``(description, source)`` of checkers to keep: a sub-task the
            reply names with the same description starts from that source (admitted through
            the same gate, no model call) and goes to the model only if the gate refuses it.
        lineage: where this program comes from (parent bundle, run, report hash), stored in
            the provenance as ``extra.lineage``.
        candidates: checkers asked for per sub-task in each round, all at once; the best by
            :func:`synth.candidates.rank_key` is kept and all are recorded (``extra.candidates``).
        gate_pool: where candidates are gated together (:class:`synth.gate.GatePool`; default:
            this process, one after another).

    Returns:
        The :class:`SynthesisResult`; ``result.ok`` says whether a full program was produced.

    Raises:
        SynthError: the decomposition reply was unusable in every round.
        VLMError / ReplayMiss: the client could not answer.
        ValueError: no task text for an environment that states none, or a bad start/goal
            image; EnvError / DemoError (both ``ValueError``): the environment or the
            demonstrations cannot be used.
    """
    from rl.registry import get_spec

    if candidates < 1:
        raise ValueError(f"candidates must be >= 1, got {candidates}")
    spec = get_spec(env_id)
    _check_image("start_frame", start_frame)
    _check_image("goal_frame", goal_frame)
    own_task, frames = _mission(env_id, env_kwargs, frame_source)
    task = own_task if task_text is None else task_text
    if not task.strip():
        raise ValueError(
            f"{env_id} states no task: pass task_text (--task) saying what the agent must do"
        )
    notes = spec.notes if env_notes is None else env_notes
    demo_source = DemoSource.parse(demos) if isinstance(demos, str) else demos
    log(f"reward frames: {frames}")
    log(
        f"collecting {n_expert} expert trajectories "
        f"({demo_source.describe() if demo_source else 'the scripted expert'}) and {n_random} random "
        f"rollouts of {random_length} frames on {env_id}"
    )
    expert, random = collect_rollouts(
        env_id,
        n_expert=n_expert,
        n_random=n_random,
        random_length=random_length,
        seed=seed,
        demos=demo_source,
        env_kwargs=env_kwargs,
        frame_source=frame_source,
    )
    ctx = GateContext(env_id, expert, random, thresholds or Thresholds(), isolation, fuzz_examples)
    start = np.asarray(start_frame) if start_frame is not None else expert[0].frames[0]
    goal = np.asarray(goal_frame) if goal_frame is not None else expert[0].frames[-1]
    frame_shape = tuple(expert[0].frames.shape[1:])
    result = SynthesisResult(env_id, task, None, model=getattr(client, "model", ""))

    subtasks: list[tuple[str, str]] = []
    problem = ""
    purpose, version = "decompose", PROMPT_VERSIONS["decompose"]
    if decomposition is not None:
        purpose, version = decomposition.purpose, decomposition.version
    for attempt in range(1, max_rounds + 1):
        messages = (
            list(decomposition.render(start, goal))
            if decomposition is not None
            else render_decompose(task, start, goal, env_notes=notes)
        )
        completion = client.complete(messages, purpose=purpose)
        reply = completion.text
        result.model = completion.model or result.model  # a replay reports the recorded model
        try:
            subtasks = parse_subtasks(reply)
        except ReplyError as err:
            problem = str(err)
            result.rounds.append(
                Round("", attempt, purpose, version, reply, "reply", f"unusable: {str(err)[:160]}")
            )
            log(f"decomposition attempt {attempt}: unusable reply ({str(err)[:80]})")
            continue
        result.rounds.append(
            Round(
                "",
                attempt,
                purpose,
                version,
                reply,
                "accepted",
                " -> ".join(n for n, _ in subtasks),
            )
        )
        log(f"sub-tasks: {' -> '.join(n for n, _ in subtasks)}")
        break
    else:
        raise SynthError(
            f"{env_id}: no usable decomposition in {max_rounds} round(s); last problem: {problem}"
        )

    accepted: list[tuple[str, str]] = []
    subtask_objs = [_Sub(n, d) for n, d in subtasks]
    own_pool = gate_pool is None
    pool = GatePool() if gate_pool is None else gate_pool
    try:
        for sub in subtask_objs:
            chosen = _synthesize_subtask(
                sub,
                subtask_objs,
                client,
                ctx,
                pool,
                result,
                accepted,
                keep=keep,
                max_rounds=max_rounds,
                candidates=candidates,
                prompt=_CheckerPrompt(start, goal, frame_shape, task, notes),
                log=log,
            )
            if chosen is None:
                result.failed.append(sub.name)
            else:
                accepted.append((sub.name, chosen))
    finally:
        if own_pool:
            pool.close()
    if result.failed:
        log(f"no accepted checker for: {', '.join(result.failed)}")
        return result
    names = [n for n, _ in accepted]
    if labelled is None:  # every checker ran on these rollouts when it was admitted
        runs = functools.reduce(operator.add, (checker_runs(n, s, ctx) for n, s in accepted))
        result.verification = summarise(env_id, runs, expert, random, thresholds=ctx.thresholds)
    else:
        result.verification = verify_sources(
            env_id,
            names,
            [s for _, s in accepted],
            expert,
            random,
            thresholds=ctx.thresholds,
            isolation=isolation,
            labelled=labelled,
        )
    result.program = RewardProgram(
        env_id=env_id,
        task=task,
        subtasks=tuple(SubTask(n, d, s) for (n, s), (_, d) in zip(accepted, subtasks, strict=True)),
        scheme="ordered",
        extra=_provenance(
            result,
            seed,
            random_length,
            env_kwargs=dict(env_kwargs or {}),
            demos=demo_source.describe() if demo_source else "the scripted expert",
            frames=frames,
            images="given" if start_frame is not None or goal_frame is not None else "expert",
        ),
    )
    if candidates > 1:
        result.program = dataclasses.replace(
            result.program,
            extra={
                **result.program.extra,
                "candidates": candidates_json(candidates, result.candidates, result.chosen),
            },
        )
    if lineage is not None:
        result.program = dataclasses.replace(
            result.program, extra={**result.program.extra, "lineage": dict(lineage)}
        )
    return result


@dataclass(frozen=True)
class _CheckerPrompt:
    """What every checker and refine request of one run states."""

    start: np.ndarray
    goal: np.ndarray
    frame_shape: tuple[int, ...]
    task: str
    notes: str


def _synthesize_subtask(
    sub: _Sub,
    subtask_objs: Sequence[_Sub],
    client: VLMClient,
    ctx: GateContext,
    pool: GatePool,
    result: SynthesisResult,
    accepted: Sequence[tuple[str, str]],
    *,
    keep: Mapping[str, tuple[str, str]] | None,
    max_rounds: int,
    candidates: int,
    prompt: _CheckerPrompt,
    log: Callable[[str], None],
) -> str | None:
    """Rounds for one sub-task until a candidate is accepted; its source, or None."""
    source, feedback = "", Feedback()
    kept = (keep or {}).get(sub.name)
    if kept is not None and kept[0] == sub.description:
        source = kept[1]
        verdict = admit(sub.name, source, ctx, previous=accepted)
        result.rounds.append(
            Round(sub.name, 0, f"kept:{sub.name}", "", "", verdict.stage, verdict.summary)
        )
        log(f"{sub.name}: kept checker: {verdict.summary}")
        if verdict.accepted:
            return source
        feedback = verdict.feedback
    for attempt in range(1, max_rounds + 1):
        kind = "checker" if attempt == 1 and not source else "refine"
        if kind == "checker":
            messages = render_checker(
                sub,
                subtask_objs,
                prompt.start,
                prompt.goal,
                prompt.frame_shape,
                task_text=prompt.task,
                env_notes=prompt.notes,
            )
        else:
            messages = render_refine(
                sub,
                source,
                feedback,
                all_subtasks=subtask_objs,
                task_text=prompt.task,
                start_frame=prompt.start,
                goal_frame=prompt.goal,
                frame_shape=prompt.frame_shape,
                env_notes=prompt.notes,
            )
        purpose = f"{kind}:{sub.name}"
        if candidates == 1:
            replies = [client.complete(messages, purpose=purpose).text]
        else:
            requests = [
                (with_candidate(messages, k, candidates), f"{purpose}#{k}")
                for k in range(1, candidates + 1)
            ]
            replies = [c.text for c in complete_many(client, requests)]
        drawn = _gate_candidates(sub.name, attempt, replies, ctx, pool, accepted)
        best = min(drawn, key=rank_key)
        version = PROMPT_VERSIONS[kind]
        for c in drawn:
            label = f"{purpose}#{c.index}" if candidates > 1 else purpose
            result.rounds.append(
                Round(
                    sub.name,
                    attempt,
                    label,
                    version,
                    c.reply,
                    c.stage,
                    c.summary,
                    candidate=c.index if candidates > 1 else 0,
                )
            )
            which = f" candidate {c.index}/{candidates}" if candidates > 1 else ""
            log(f"{sub.name} attempt {attempt}{which}: {c.summary}")
        if candidates > 1:
            result.candidates.setdefault(sub.name, []).extend(drawn)
            result.chosen[sub.name] = (attempt, best.index)
            log(f"{sub.name} attempt {attempt}: best is candidate {best.index} ({best.stage})")
        if best.accepted:
            return best.source
        if best.source is not None:
            source = best.source
        feedback = best.feedback
    return None


def _gate_candidates(
    name: str,
    attempt: int,
    replies: Sequence[str],
    ctx: GateContext,
    pool: GatePool,
    accepted: Sequence[tuple[str, str]],
) -> list[Candidate]:
    """Parse every reply and gate the usable ones together (in ``pool``); in reply order."""
    parsed: list[tuple[str | None, ReplyError | None]] = []
    for reply in replies:
        try:
            parsed.append((extract_checker(reply), None))
        except ReplyError as problem:
            parsed.append((None, problem))
    usable = [s for s, _ in parsed if s is not None]
    verdicts = iter(pool.admit_all(name, usable, ctx, previous=accepted))
    out = []
    for k, (reply, (source, err)) in enumerate(zip(replies, parsed, strict=True), 1):
        if source is None and err is not None:
            out.append(Candidate(name, attempt, k, reply, None, None, err.feedback(), str(err)))
        else:
            out.append(Candidate(name, attempt, k, reply, source, next(verdicts)))
    return out


@dataclass(frozen=True)
class DecompositionPrompt:
    """A prompt that asks for the sub-tasks in place of the decompose prompt.

    Attributes:
        render: ``(start image, goal image) -> messages`` (called once the images are known).
        purpose: the call's purpose label (recordings and scripts are keyed on it).
        version: the template version, for the transcript.
    """

    render: Callable[[np.ndarray, np.ndarray], Sequence[Message]]
    purpose: str
    version: str


@dataclass(frozen=True)
class _Sub:
    name: str
    description: str


def _provenance(
    result: SynthesisResult,
    seed: int,
    random_length: int,
    *,
    env_kwargs: dict[str, Any],
    demos: str,
    frames: str,
    images: str,
) -> dict[str, Any]:
    from sandbox import __version__

    return {
        "env_kwargs": env_kwargs,
        "demonstrations": demos,
        "reward_frames": frames,
        "start_goal_images": images,
        "generator": f"vlm-car {__version__}",
        "model": result.model,
        "prompts": {
            k: {"version": v, "sha256": template_sha256(v)}
            for k, v in sorted(PROMPT_VERSIONS.items())
        },
        "seed": seed,
        "random_length": random_length,
        "transcript": [r.to_json() for r in result.rounds],
        "verification": result.verification.to_json() if result.verification else None,
    }
