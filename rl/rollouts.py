"""Expert and random rollouts with reward frames and ground-truth labels.

Provides:
    Trajectory: one rollout, frame-aligned (frames, labels, actions, rewards, flags, episodes).
    rollout: one expert or random rollout of a built-in environment.
    rollouts: ``n`` of them with consecutive seeds.
    DEFAULT_RANDOM_LENGTH: the length of a random rollout when none is given (50 frames).

Layout: every array is aligned with ``frames``; index ``i`` describes frame ``i``.

* Frame 0 is the reset frame of the first episode. Every later frame is produced either by one
  environment step (``actions[i]`` is the action taken, ``rewards[i]``, ``terminated[i]`` and
  ``truncated[i]`` are that step's) or, right after an episode ended, by a reset that starts the
  next one (``actions[i]`` is ``-1`` for MiniGrid, a row of NaN for PandaPush; reward 0, flags
  False). ``episode[i]`` numbers the episodes from 0, and :attr:`Trajectory.first_index` gives
  each frame's episode start, which is the ``first`` argument of ``check(frame, first)``.
* An **expert** rollout with ``length=None`` is exactly one episode: its reset frame and one frame
  per step until the environment terminates or truncates it (``T = steps + 1``).
* A **random** rollout (uniform actions: all 7 MiniGrid actions, PandaPush actions uniform in
  ``[-1, 1]^3``) is exactly ``length`` frames (default :data:`DEFAULT_RANDOM_LENGTH` = 50,
  reset frames included), continuing across episode ends by resetting the environment
  (without a new seed, so the whole rollout is determined by ``seed``). The frame count is fixed
  so that fire rates of different checkers and environments compare (``research/paper.md`` §2.4:
  the paper's verification verdict flips with the random rollout length). An expert rollout with
  an explicit ``length`` follows the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rl.envs import RewardFrames, make_env
from rl.experts import ExpertPolicy

__all__ = ["DEFAULT_RANDOM_LENGTH", "Policy", "Trajectory", "rollout", "rollouts"]

#: Frames in a random rollout when no length is given.
DEFAULT_RANDOM_LENGTH = 50

Policy = Literal["expert", "random"]


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One rollout; every array is aligned with ``frames`` (see the module docstring).

    Attributes:
        env_id: the environment.
        seed: the seed of the first reset (and of the random actions).
        policy: ``"expert"`` or ``"random"``.
        frames: ``(T, H, W, 3)`` uint8 reward frames.
        labels: ``(T, K)`` bool ground-truth labels, columns in ``label_names`` order.
        label_names: the K label names, in task order.
        actions: ``(T,)`` int64 for MiniGrid (``-1`` at reset frames), ``(T, 3)`` float32 for
            PandaPush (NaN at reset frames).
        rewards: ``(T,)`` float64 environment rewards of the step that produced each frame.
        terminated: ``(T,)`` bool, the step that produced the frame terminated its episode.
        truncated: ``(T,)`` bool, the step that produced the frame truncated its episode.
        episode: ``(T,)`` int64 episode number of each frame, from 0.
        success: whether any episode of the rollout succeeded (MiniGrid: terminated with a
            positive reward; PandaPush: ``info["is_success"]``).
    """

    env_id: str
    seed: int
    policy: str
    frames: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    episode: np.ndarray
    success: bool

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def first_index(self) -> np.ndarray:
        """``(T,)`` index of the first frame of each frame's episode."""
        starts = np.flatnonzero(np.r_[True, self.episode[1:] != self.episode[:-1]])
        return np.asarray(starts[self.episode - self.episode[0]], dtype=np.int64)

    @property
    def firsts(self) -> np.ndarray:
        """``(T, H, W, 3)``: each frame's episode-first frame (``first`` of a checker)."""
        return np.asarray(self.frames[self.first_index])

    @property
    def n_episodes(self) -> int:
        """Number of episodes the rollout touches."""
        return int(self.episode[-1] - self.episode[0] + 1) if len(self) else 0

    def label(self, name: str) -> np.ndarray:
        """``(T,)`` bool column of one label."""
        return np.asarray(self.labels[:, self.label_names.index(name)])


def _random_action(env: RewardFrames, rng: np.random.Generator) -> Any:
    space = env.action_space
    if hasattr(space, "n"):
        return int(rng.integers(0, int(space.n)))
    low = np.asarray(space.low, np.float64)  # type: ignore[attr-defined]
    high = np.asarray(space.high, np.float64)  # type: ignore[attr-defined]
    return rng.uniform(low, high).astype(np.float32)


def _run(
    env: RewardFrames, env_id: str, policy: Policy, seed: int, length: int | None
) -> Trajectory:
    if policy not in ("expert", "random"):
        raise ValueError(f"policy={policy!r}: choose 'expert' or 'random'")
    if length is None and policy == "random":
        length = DEFAULT_RANDOM_LENGTH
    if length is not None and (type(length) is not int or length < 1):
        raise ValueError(f"length={length!r}: must be a positive int or None")
    panda = env_id == "PandaPush-v3"
    rng = np.random.default_rng(seed)
    expert = ExpertPolicy(env) if policy == "expert" else None
    names = env.label_names
    no_action: Any = np.full(3, np.nan, np.float32) if panda else -1

    frames: list[np.ndarray] = []
    labels: list[list[bool]] = []
    actions: list[Any] = []
    rewards: list[float] = []
    terms: list[bool] = []
    truncs: list[bool] = []
    episodes: list[int] = []
    success = False

    def record(
        info: dict[str, Any], action: Any, reward: float, term: bool, trunc: bool, ep: int
    ) -> None:
        frames.append(info["frame"])
        labels.append([bool(info["labels"][k]) for k in names])
        actions.append(action)
        rewards.append(float(reward))
        terms.append(term)
        truncs.append(trunc)
        episodes.append(ep)

    _, info = env.reset(seed=seed)
    if expert is not None:
        expert.reset()
    ep = 0
    record(info, no_action, 0.0, False, False, ep)
    while length is None or len(frames) < length:
        if terms[-1] or truncs[-1]:
            if length is None:
                break
            _, info = env.reset()
            if expert is not None:
                expert.reset()
            ep += 1
            record(info, no_action, 0.0, False, False, ep)
            continue
        action = expert.act() if expert is not None else _random_action(env, rng)
        _, reward, term, trunc, info = env.step(action)
        if panda:
            success = success or bool(info.get("is_success", False))
        else:
            success = success or (bool(term) and float(reward) > 0)
        record(info, action, float(reward), bool(term), bool(trunc), ep)

    return Trajectory(
        env_id=env_id,
        seed=seed,
        policy=policy,
        frames=np.stack(frames).astype(np.uint8, copy=False),
        labels=np.asarray(labels, dtype=bool).reshape(len(frames), len(names)),
        label_names=tuple(names),
        actions=np.stack(actions).astype(np.float32) if panda else np.asarray(actions, np.int64),
        rewards=np.asarray(rewards, np.float64),
        terminated=np.asarray(terms, bool),
        truncated=np.asarray(truncs, bool),
        episode=np.asarray(episodes, np.int64),
        success=success,
    )


def rollout(
    env_id: str,
    *,
    policy: Policy = "expert",
    seed: int = 0,
    length: int | None = None,
    tile_size: int = 8,
    frame_size: int = 64,
    max_steps: int | None = None,
) -> Trajectory:
    """Roll out one expert or random trajectory (see the module docstring for the layout).

    Args:
        env_id: one of :data:`rl.envs.ENV_IDS`.
        policy: ``"expert"`` (the scripted :class:`rl.experts.ExpertPolicy`) or ``"random"``.
        seed: seed of the first reset and of the random actions.
        length: frames to record; ``None``: one full episode for the expert,
            :data:`DEFAULT_RANDOM_LENGTH` frames for the random policy.
        tile_size: MiniGrid pixels per cell.
        frame_size: PandaPush frame side.
        max_steps: episode step limit (``None``: the environment's default).

    Returns:
        The trajectory.

    Example:
        >>> t = rollout("MiniGrid-DoorKey-5x5-v0", policy="random", seed=0)
        >>> len(t), t.frames.shape[1:], t.labels.shape
        (50, (40, 40, 3), (50, 3))
    """
    env = make_env(
        env_id,
        tile_size=tile_size,
        frame_size=frame_size,
        max_steps=max_steps,
        observation="symbolic",
    )
    try:
        return _run(env, env_id, policy, seed, length)
    finally:
        env.close()


def rollouts(
    env_id: str,
    n: int,
    policy: Policy = "expert",
    seed: int = 0,
    *,
    length: int | None = None,
    tile_size: int = 8,
    frame_size: int = 64,
    max_steps: int | None = None,
) -> list[Trajectory]:
    """Roll out ``n`` trajectories with seeds ``seed, seed + 1, ..., seed + n - 1``.

    One environment is built and reused (arguments as in :func:`rollout`).
    """
    if type(n) is not int or n < 0:
        raise ValueError(f"n={n!r}: must be a non-negative int")
    env = make_env(
        env_id,
        tile_size=tile_size,
        frame_size=frame_size,
        max_steps=max_steps,
        observation="symbolic",
    )
    try:
        return [_run(env, env_id, policy, seed + i, length) for i in range(n)]
    finally:
        env.close()
