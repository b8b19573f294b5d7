"""Reward composition: turn per-frame sub-task checker results into a shaped reward.

Provides:
    RewardComposer: vectorised per-env latching of sub-tasks and the bonus each step pays
        (``ordered``, ``any_order`` or ``potential``).
    RewardEngine: program -> :class:`sandbox.pool.Sandbox` -> composer, with failure accounting;
        the shared core of :class:`rl.vec_env.CodeRewardVecEnv` and :class:`rl.wrappers.CodeReward`.
    RewardStats: failure counts per sub-task and status, evaluate time, steps.
    CheckerFailureError: raised when the failure policy says a checker failure stops training
        (defined in :mod:`rl.errors`, re-exported here).
    parse_failure_policy: ``"continue"``, ``"raise"`` or ``"stop_after:N"`` -> the failure budget.

Semantics (one env, one episode; sub-tasks ``0..K-1`` in the program's order; each scheme is one
class in :mod:`rl.schemes`, where its rules are spelled out):

* A sub-task *fires* on a step when its checker returned True on that step's frame and the checker
  did not fail (``valid``). Failed checkers never latch and never pay.
* ``ordered``: after a step, the latched sub-tasks are the longest prefix ``0..j`` in which every
  sub-task was either latched before or fires now. Several sub-tasks can therefore latch on the
  same step, as long as they fire in order (a frame that shows the key gone *and* the door open pays
  both); a sub-task that fires before its predecessors is ignored (it must fire again later).
* ``any_order``: a sub-task latches whenever it fires, whatever the others did.
* Both pay ``bonus`` once per sub-task, on the step it latches, never again in the episode (the
  released VLM-CaR code paid 0.5 on every frame after the key was taken; we do not).
* ``potential``: ``F = bonus * (gamma * Phi(s') - Phi(s))`` with ``Phi`` = number of sub-tasks
  latched (ordered latching). ``Phi`` of a *true terminal* next state is 0 (Ng et al. 1999: with
  ``Phi(terminal) = 0`` the discounted sum of ``F`` over an episode telescopes to ``-Phi(s_0) = 0``,
  so the optimal policy is unchanged). The last step of a successful episode therefore pays
  ``-bonus * Phi(s)``. A *truncated* episode (time limit) is not terminal: SB3 bootstraps its value
  from the last observation, so ``Phi(s')`` is kept there.
* ``Phi(s_0) = 0``: reset frames are not scored; a sub-task already true at reset latches (and pays)
  on the first step.
* Per-env state resets on ``done`` after the step's bonus has been computed from the terminal frame.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rl.errors import CheckerFailureError
from rl.program import RewardProgram, Scheme
from rl.schemes import SCHEMES, RewardScheme, make_scheme
from sandbox.errors import FrameError, Status
from sandbox.pool import FrameStage, Isolation, Sandbox

__all__ = [
    "FRAME_SOURCES",
    "SCHEMES",
    "CheckerFailureError",
    "EngineWrapperMixin",
    "FrameSource",
    "RewardComposer",
    "RewardEngine",
    "RewardStats",
    "check_frame_source",
    "is_image_space",
    "parse_failure_policy",
    "status_counts",
]

#: where the wrappers take reward frames from (see :mod:`rl.vec_env`)
FrameSource = Literal["auto", "obs", "info"]
FRAME_SOURCES: tuple[str, ...] = get_args(FrameSource)
_STATUSES: tuple[str, ...] = get_args(Status)


class RewardComposer:
    """Per-env sub-task latching and the bonus it pays, vectorised over envs.

    Example:
        >>> import numpy as np
        >>> c = RewardComposer(1, 2, scheme="ordered", bonus=1.0)
        >>> ok = np.ones((1, 2), bool)
        >>> no = np.zeros(1, bool)
        >>> c.step(np.array([[False, True]]), ok, no)[0].tolist()  # 1 before 0: ignored
        [0.0]
        >>> c.step(np.array([[True, True]]), ok, no)[0].tolist()  # both, in order, same step
        [2.0]
        >>> c.step(np.array([[True, True]]), ok, no)[0].tolist()  # one-time: nothing more
        [0.0]

    Args:
        n_envs: number of envs.
        n_subtasks: number of sub-tasks (K).
        scheme: a name registered in :data:`rl.schemes.SCHEME_CLASSES` (``ordered``,
            ``any_order`` or ``potential``; see the module docstring).
        bonus: reward per latched sub-task (the scale of ``F`` for ``potential``).
        gamma: discount of the potential-based scheme; use the learner's gamma.

    Attributes:
        completed: (n_envs, K) bool, what each env's current episode has latched so far.
        rule: the :class:`rl.schemes.RewardScheme` that decides latches and bonuses.

    Raises:
        ValueError: a bad count, bonus or gamma; :class:`rl.schemes.UnknownSchemeError` (a
            ``ValueError``) for an unregistered scheme.
    """

    def __init__(
        self,
        n_envs: int,
        n_subtasks: int,
        *,
        scheme: Scheme | str = "ordered",
        bonus: float = 1.0,
        gamma: float = 0.99,
    ) -> None:
        if n_envs < 1 or n_subtasks < 1:
            raise ValueError(f"need n_envs >= 1 and n_subtasks >= 1, got {n_envs}, {n_subtasks}")
        rule = make_scheme(scheme)  # UnknownSchemeError (a ValueError) for unknown names
        if not np.isfinite(bonus):
            raise ValueError(f"bonus={bonus!r}: must be a finite number")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma={gamma!r}: must be in [0, 1]")
        self.n_envs = n_envs
        self.n_subtasks = n_subtasks
        self.scheme = scheme
        self.rule: RewardScheme = rule
        self.bonus = float(bonus)
        self.gamma = float(gamma)
        self.completed: NDArray[np.bool_] = np.zeros((n_envs, n_subtasks), dtype=np.bool_)

    def reset(self, env_indices: Iterable[int] | NDArray[np.integer[Any]] | None = None) -> None:
        """Forget what the given envs (default: all) have latched; they start a new episode."""
        if env_indices is None:
            self.completed[:] = False
        else:
            self.completed[np.asarray(list(env_indices), dtype=np.intp)] = False

    def _as(self, x: ArrayLike, shape: tuple[int, ...], what: str) -> NDArray[np.bool_]:
        arr = np.asarray(x, dtype=np.bool_)
        if arr.shape != shape:
            raise ValueError(f"{what}: expected shape {shape}, got {arr.shape}")
        return arr

    def step(
        self,
        flags: ArrayLike,
        valid: ArrayLike,
        dones: ArrayLike,
        terminated: ArrayLike | None = None,
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """Latch what fired on this step's frames and return the bonus.

        Args:
            flags: (n_envs, K) bool, each checker's answer on each env's new frame.
            valid: (n_envs, K) bool, False where the checker failed (its flag is ignored).
            dones: (n_envs,) bool, envs whose episode ended on this step; their state is reset
                after the bonus is computed (from the terminal frame's flags).
            terminated: (n_envs,) bool, the subset of ``dones`` that are true terminal states
                (not time-limit truncations); only ``potential`` uses it. Default: ``dones``.

        Returns:
            ``(bonus, completed)``: (n_envs,) float32 bonus of this step, and (n_envs, K) bool of
            what was latched at the end of this step (before the reset of done envs).
        """
        n, k = self.n_envs, self.n_subtasks
        fired = self._as(flags, (n, k), "flags") & self._as(valid, (n, k), "valid")
        done = self._as(dones, (n,), "dones")
        term = done if terminated is None else self._as(terminated, (n,), "terminated") & done
        prev = self.completed
        new = self.rule.latch(prev, fired)
        bonus = self.rule.pay(prev, new, term, bonus=self.bonus, gamma=self.gamma)
        completed = new.copy()
        new[done] = False
        self.completed = new
        return bonus.astype(np.float32), completed


def parse_failure_policy(policy: str) -> int | None:
    """Return how many checker failures are tolerated before training stops (None: unlimited).

    Example:
        >>> parse_failure_policy("continue"), parse_failure_policy("raise")
        (None, 1)
        >>> parse_failure_policy("stop_after:25")
        25

    Raises:
        ValueError: for anything but ``continue``, ``raise`` or ``stop_after:N`` with N >= 1.
    """
    if policy == "continue":
        return None
    if policy == "raise":
        return 1
    if isinstance(policy, str) and policy.startswith("stop_after:"):
        try:
            n = int(policy.split(":", 1)[1])
        except ValueError:
            n = 0
        if n >= 1:
            return n
    raise ValueError(
        f"failure_policy={policy!r}: choose 'continue', 'raise' or 'stop_after:N' (N >= 1)"
    )


@dataclass
class RewardStats:
    """Counters of a code-reward wrapper.

    Attributes:
        names: sub-task names in order.
        steps: evaluate calls (one per wrapper step; a vectorised step is one call).
        frames: frames evaluated (steps x envs).
        evaluate_seconds: wall time spent in ``Sandbox.evaluate``.
        failures: ``{name: {status: count}}``, one count per checker per failed call.
        last_failure: ``(name, status, detail)`` of the most recent failure, or None.
    """

    names: tuple[str, ...]
    steps: int = 0
    frames: int = 0
    evaluate_seconds: float = 0.0
    failures: dict[str, dict[str, int]] = field(default_factory=dict)
    last_failure: tuple[str, str, str] | None = None

    @property
    def total_failures(self) -> int:
        """All checker failures, every sub-task and status."""
        return sum(sum(d.values()) for d in self.failures.values())

    @property
    def failures_by_status(self) -> dict[str, int]:
        """Failures per status, over all sub-tasks (statuses with no failure are left out)."""
        out: dict[str, int] = {}
        for per in self.failures.values():
            for status, count in per.items():
                out[status] = out.get(status, 0) + count
        return out

    @property
    def evaluate_ms(self) -> float:
        """Mean milliseconds per evaluate call (0.0 before the first step)."""
        return 1000.0 * self.evaluate_seconds / self.steps if self.steps else 0.0

    def record_failure(self, name: str, status: str, detail: str) -> None:
        """Count one failure of ``name`` with ``status``."""
        per = self.failures.setdefault(name, {})
        per[status] = per.get(status, 0) + 1
        self.last_failure = (name, status, detail)

    @classmethod
    def merge(cls, parts: Sequence[RewardStats]) -> RewardStats:
        """Sum the counters of several wrappers (e.g. one :class:`CodeReward` per env)."""
        names: tuple[str, ...] = parts[0].names if parts else ()
        out = cls(names=names)
        for p in parts:
            out.steps += p.steps
            out.frames += p.frames
            out.evaluate_seconds += p.evaluate_seconds
            for name, per in p.failures.items():
                for status, count in per.items():
                    dst = out.failures.setdefault(name, {})
                    dst[status] = dst.get(status, 0) + count
            if p.last_failure is not None:
                out.last_failure = p.last_failure
        return out


def _uses_first(source: str, entry: str) -> bool:
    """Whether the module-level ``entry`` function takes a second (``first``) argument."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return True
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry:
            args = node.args
            return len(args.posonlyargs) + len(args.args) >= 2
    return True


class RewardEngine:
    """Evaluate a reward program on frame batches and compose the shaped reward.

    One :meth:`step` is one ``Sandbox.evaluate`` call for every env and sub-task. The engine keeps
    each env's first frame of the current episode (the ``first`` argument of
    ``check(frame, first)``), per-episode returns, and failure counters.

    Args:
        n_envs: number of envs the engine serves.
        program: a :class:`RewardProgram`, or checker sources (named ``subtask0``, ... unless
            ``names`` is given; scheme ``ordered``, bonus 1, gamma 0.99 unless overridden).
        sandbox: a running :class:`Sandbox` over exactly the program's sources (not closed by the
            engine); None starts one, owned and closed by :meth:`close`.
        isolation: isolation level of a sandbox the engine starts (None: strongest available).
        timeout: per-checker, per-batch deadline (seconds) of a sandbox the engine starts.
        failure_policy: ``continue`` (count failures, never stop), ``raise`` (stop on the first) or
            ``stop_after:N`` (stop once N failures have been counted).
        bonus: override of the program's bonus.
        scheme: override of the program's scheme.
        gamma: override of the program's gamma.
        names: sub-task names when ``program`` is a list of sources.
        owner: the wrapper's class name, used in error messages.
    """

    def __init__(
        self,
        n_envs: int,
        program: RewardProgram | Sequence[str],
        *,
        sandbox: Sandbox | None = None,
        isolation: Isolation | None = None,
        timeout: float = 5.0,
        failure_policy: str = "continue",
        bonus: float | None = None,
        scheme: Scheme | str | None = None,
        gamma: float | None = None,
        names: Sequence[str] | None = None,
        owner: str = "RewardEngine",
    ) -> None:
        self.owner = owner
        self.failure_policy = failure_policy
        self.failure_budget = parse_failure_policy(failure_policy)
        if isinstance(program, RewardProgram):
            sources = list(program.sources)
            self.names: tuple[str, ...] = program.names
            if names is not None and tuple(names) != self.names:
                raise ValueError(
                    f"names={list(names)} differ from the program's {list(self.names)}"
                )
            p_scheme, p_bonus, p_gamma = program.scheme, program.bonus, program.gamma
        else:
            if isinstance(program, str):
                raise TypeError("program must be a RewardProgram or a list of sources, not one str")
            sources = list(program)
            if not sources:
                raise ValueError("a reward program needs at least one checker")
            self.names = (
                tuple(names)
                if names is not None
                else tuple(f"subtask{i}" for i in range(len(sources)))
            )
            if len(self.names) != len(sources):
                raise ValueError(f"names has {len(self.names)} entries for {len(sources)} sources")
            p_scheme, p_bonus, p_gamma = "ordered", 1.0, 0.99
        self.scheme = scheme if scheme is not None else p_scheme
        self.bonus = float(bonus if bonus is not None else p_bonus)
        self.gamma = float(gamma if gamma is not None else p_gamma)
        self.composer = RewardComposer(
            n_envs, len(sources), scheme=self.scheme, bonus=self.bonus, gamma=self.gamma
        )
        self.n_envs = n_envs
        if sandbox is not None:
            if list(sandbox.sources) != sources:
                raise ValueError(
                    f"{owner}: the given sandbox runs different checkers than the program; build "
                    "it from the same sources, in the same order"
                )
            self.sandbox = sandbox
            self.owns_sandbox = False
        else:
            self.sandbox = Sandbox(sources, names=self.names, isolation=isolation, timeout=timeout)
            self.owns_sandbox = True
        self.needs_first = any(_uses_first(s, self.sandbox.entry) for s in sources)
        self.stats = RewardStats(names=self.names)
        self.frame_shape: tuple[int, ...] | None = None
        self.firsts: NDArray[np.uint8] | None = None
        self.shaped_return = np.zeros(n_envs, dtype=np.float64)
        self.env_return = np.zeros(n_envs, dtype=np.float64)
        self.length = np.zeros(n_envs, dtype=np.int64)
        self._stage: FrameStage | None = None
        self._closed = False

    # -- frames ----------------------------------------------------------------------------------

    def check_frames(self, frames: Any, where: str) -> NDArray[np.uint8]:
        """Return ``frames`` as an (N, H, W, 3) uint8 array, or raise a :class:`FrameError`.

        Args:
            frames: the batch (N, H, W, 3).
            where: where the frames came from, for the message (e.g. ``"info['frame']"``).
        """
        arr = np.asarray(frames)
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
            raise FrameError(
                where,
                f"{self.owner} needs RGB reward frames shaped (H, W, 3) with dtype uint8, got "
                f"frames of shape {arr.shape[1:]} and dtype {arr.dtype}. Put the wrapper innermost "
                "(directly on the DummyVecEnv/SubprocVecEnv, before VecTransposeImage, "
                "VecFrameStack or VecNormalize), or use frame_source='info' with an env that puts "
                "the reward frame in info['frame']",
            )
        if self.frame_shape is not None and arr.shape[1:] != self.frame_shape:
            raise FrameError(
                where,
                f"frame shape {arr.shape[1:]} differs from the episode's first frame "
                f"{self.frame_shape}; every frame of a run must have the same shape",
            )
        return arr

    def begin_episodes(self, env_indices: Sequence[int], frames: Any, where: str) -> None:
        """Start new episodes in ``env_indices`` whose first frames are ``frames`` (len, H, W, 3)."""
        idx = np.asarray(env_indices, dtype=np.intp)
        arr = self.check_frames(frames, where)
        if self.firsts is None or self.frame_shape is None:
            if len(idx) != self.n_envs:
                raise RuntimeError(f"{self.owner}: reset every env before stepping")
            self.frame_shape = tuple(arr.shape[1:])
            self.firsts = np.empty((self.n_envs, *self.frame_shape), dtype=np.uint8)
        self.firsts[idx] = arr
        stage = self._stage
        if stage is not None and stage.firsts is not None and stage.current:
            stage.firsts[idx] = arr  # the sandbox's copy changes only when an episode starts
        self.composer.reset(idx)
        self.shaped_return[idx] = 0.0
        self.env_return[idx] = 0.0
        self.length[idx] = 0

    def frame_slots(self) -> NDArray[np.uint8]:
        """Where the next step's frames go: (n_envs, H, W, 3) uint8, writable, for :meth:`step`.

        Frames written here and passed to :meth:`step` as this very array are evaluated where
        they lie (in the sandbox's shared memory when a batch fits, :meth:`Sandbox.stage`): no
        stack, no copy, no second check, and the episodes' first frames stay in the shared
        memory between resets. The caller checks each frame's dtype and shape as it writes it
        (:meth:`check_frames` says what is wrong). Call after the first :meth:`begin_episodes`.
        """
        if self.firsts is None or self.frame_shape is None:
            raise RuntimeError(f"{self.owner}: call reset() before step()")
        stage = self._stage
        if stage is None or not stage.current:
            h, w = self.frame_shape[0], self.frame_shape[1]
            stage = self.sandbox.stage(self.n_envs, (h, w), firsts=self.needs_first)
            if stage.firsts is not None:
                stage.firsts[...] = self.firsts  # a new stage: the first frames once, in full
            self._stage = stage
        return stage.frames

    # -- stepping --------------------------------------------------------------------------------

    def step(
        self,
        frames: Any,
        env_rewards: ArrayLike,
        dones: ArrayLike,
        terminated: ArrayLike,
        infos: Sequence[dict[str, Any]],
        where: str = "frames",
    ) -> NDArray[np.float32]:
        """Score one step of every env and annotate its info dict.

        Args:
            frames: (n_envs, H, W, 3) uint8, each env's new frame (the terminal frame for done envs).
            env_rewards: (n_envs,) the envs' own rewards.
            dones: (n_envs,) episode ended on this step.
            terminated: (n_envs,) ended in a true terminal state (not a time-limit truncation).
            infos: one dict per env, annotated in place with ``env_reward``, ``code_bonus``,
                ``subtasks``, ``subtask_fired``, ``checker_status`` (only when a checker failed)
                and, on done, ``code_reward_episode``.
            where: where the frames came from, for error messages.

        Returns:
            (n_envs,) float32: env reward + bonus.

        Raises:
            CheckerFailureError: when the failure policy's budget is used up.
        """
        if self.firsts is None:
            raise RuntimeError(f"{self.owner}: call reset() before step()")
        stage = self._stage
        staged = stage is not None and frames is stage.frames and stage.current
        arr = frames if staged else self.check_frames(frames, where)
        env_r = np.asarray(env_rewards, dtype=np.float32).reshape(self.n_envs)
        done = np.asarray(dones, dtype=np.bool_).reshape(self.n_envs)
        term = np.asarray(terminated, dtype=np.bool_).reshape(self.n_envs)
        t0 = time.perf_counter()
        if staged:
            assert stage is not None
            result = self.sandbox.evaluate_stage(stage)
        else:
            result = self.sandbox.evaluate(arr, self.firsts if self.needs_first else None)
        self.stats.evaluate_seconds += time.perf_counter() - t0
        self.stats.steps += 1
        self.stats.frames += self.n_envs
        ok = np.array([s == "ok" for s in result.statuses], dtype=np.bool_)
        failed = [
            (self.names[k], result.statuses[k], result.details[k])
            for k in np.flatnonzero(~ok).tolist()
        ]
        for name, status, detail in failed:
            self.stats.record_failure(name, status, detail)
        flags = result.results.T
        valid = result.usable().T  # a checker failing on one env's frame still answers for others
        bonus, completed = self.composer.step(flags, valid, done, term)
        reward = env_r + bonus
        self.shaped_return += reward
        self.env_return += env_r
        self.length += 1
        fired = flags & valid
        # plain Python values once for the whole batch (this runs on every step of training)
        names = self.names
        env_list = env_r.tolist()
        bonus_list = bonus.tolist()
        completed_list = completed.tolist()
        fired_list = fired.tolist()
        invalid = [] if valid.all() else np.flatnonzero(~valid.all(axis=1)).tolist()
        for i, info in enumerate(infos):
            info["env_reward"] = env_list[i]
            info["code_bonus"] = bonus_list[i]
            info["subtasks"] = dict(zip(names, completed_list[i], strict=True))
            info["subtask_fired"] = dict(zip(names, fired_list[i], strict=True))
            if done[i]:
                info["code_reward_episode"] = {
                    "shaped_return": float(self.shaped_return[i]),
                    "env_return": float(self.env_return[i]),
                    "length": int(self.length[i]),
                    "subtasks": dict(info["subtasks"]),
                }
        for i in invalid:
            infos[i]["checker_status"] = {
                name: status
                for k, (name, status) in enumerate(zip(names, result.statuses, strict=True))
                if not valid[i, k]
            }
        if self.failure_budget is not None and failed:
            total = self.stats.total_failures
            if total >= self.failure_budget:
                name, status, detail = failed[0]
                raise CheckerFailureError(
                    name,
                    status,
                    detail,
                    step=self.stats.steps,
                    failures=total,
                    policy=self.failure_policy,
                )
        return reward.astype(np.float32)

    def close(self) -> None:
        """Close the sandbox if the engine started it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.owns_sandbox:
            self.sandbox.close()


def status_counts(stats: RewardStats) -> Mapping[str, int]:
    """Failures per status for every known status (zeros included), in a stable order."""
    by = stats.failures_by_status
    return {s: by.get(s, 0) for s in _STATUSES if s != "ok"}


# ------------------------------------------------------------------------------------------------
# What the VecEnv wrapper and the Gymnasium wrapper share
# ------------------------------------------------------------------------------------------------


def check_frame_source(frame_source: str) -> None:
    """Raise ``ValueError`` unless ``frame_source`` is one of :data:`FRAME_SOURCES`."""
    if frame_source not in FRAME_SOURCES:
        raise ValueError(f"frame_source={frame_source!r}: choose one of {', '.join(FRAME_SOURCES)}")


def is_image_space(space: Any) -> bool:
    """Whether observations of ``space`` are (H, W, 3) uint8 pictures (usable as reward frames).

    Sides shorter than :data:`rl.envs.MIN_PICTURE_SIDE` are refused: MiniGrid's 7 x 7 x 3
    ``ImgObsWrapper`` grid is uint8 HWC but holds symbolic indices, not pixels.
    """
    from rl.envs import is_picture_space

    return is_picture_space(space)


class EngineWrapperMixin:
    """Read-only views of a wrapper's :class:`RewardEngine` (``self.engine``)."""

    engine: RewardEngine

    @property
    def names(self) -> tuple[str, ...]:
        """Sub-task names in order."""
        return self.engine.names

    @property
    def stats(self) -> RewardStats:
        """Failure counts, evaluate time and steps."""
        return self.engine.stats

    @property
    def code_reward_stats(self) -> RewardStats:
        """Alias of :attr:`stats`, the name the callback looks up (``VecEnv.get_attr`` too)."""
        return self.engine.stats
