"""Expert and random rollouts with reward frames (and ground-truth labels where declared).

Provides:
    Trajectory: one rollout, frame-aligned (frames, labels, actions, rewards, flags, episodes).
    rollout: one rollout of any environment with its scripted expert, a random policy or any
        policy factory.
    rollouts: ``n`` of them with consecutive seeds.
    run_policy: one rollout of an already built :class:`rl.envs.RewardFrames` env.
    DEFAULT_RANDOM_LENGTH: the length of a random rollout when none is given (50 frames).

Layout: every array is aligned with ``frames``; index ``i`` describes frame ``i``.

* Frame 0 is the reset frame of the first episode. Every later frame is produced either by one
  environment step (``actions[i]`` is the action taken, ``rewards[i]``, ``terminated[i]`` and
  ``truncated[i]`` are that step's) or, right after an episode ended, by a reset that starts the
  next one (``actions[i]`` is ``-1`` for discrete actions, a row of NaN for continuous ones;
  reward 0, flags False). ``episode[i]`` numbers the episodes from 0, and
  :attr:`Trajectory.first_index` gives each frame's episode start, which is the ``first``
  argument of ``check(frame, first)``.
* An **expert** rollout with ``length=None`` is exactly one episode: its reset frame and one frame
  per step until the environment terminates or truncates it (``T = steps + 1``). The expert is
  the one the environment's registry entry declares (:class:`rl.experts.ExpertPolicy`), or any
  policy factory passed as ``policy`` (``factory(env)`` returns ``policy(obs) -> action``, with an
  optional ``reset()`` called at every episode start; see :mod:`rl.demos` for recorded
  demonstrations).
* A **random** rollout takes ``action_space.sample()`` actions (the space seeded with ``seed``) for
  exactly ``length`` frames (default :data:`DEFAULT_RANDOM_LENGTH` = 50, reset frames included),
  continuing across episode ends by resetting the environment (without a new seed, so the whole
  rollout is determined by ``seed``). The frame count is fixed so that fire rates of different
  checkers and environments compare (``research/paper.md`` §2.4: the paper's verification verdict
  flips with the random rollout length). An expert rollout with an explicit ``length`` follows the
  same rule.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces

from rl.envs import FrameSource, Observation, RewardFrames, make_env

__all__ = [
    "DEFAULT_RANDOM_LENGTH",
    "Policy",
    "PolicyFactory",
    "Trajectory",
    "rollout",
    "rollouts",
    "run_policy",
]

#: Frames in a random rollout when no length is given.
DEFAULT_RANDOM_LENGTH = 50

Policy = Literal["expert", "random"]
#: ``factory(env) -> policy``; ``policy(obs) -> action``, optionally with ``reset()``.
PolicyFactory = Callable[[Any], Callable[[Any], Any]]


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One rollout; every array is aligned with ``frames`` (see the module docstring).

    Attributes:
        env_id: the environment.
        seed: the seed of the first reset (and of the random actions); -1 for recorded data.
        policy: ``"expert"``, ``"random"``, or where the demonstration came from
            (``"npz:demos.npz"``, ``"minari:ns/name-v0"``, ``"sb3:model.zip"``, ``"pkg.mod:fn"``).
        frames: ``(T, H, W, 3)`` uint8 reward frames.
        labels: ``(T, K)`` bool ground-truth labels, columns in ``label_names`` order (K = 0 for
            environments without a labeller).
        label_names: the K label names, in task order.
        actions: ``(T,)`` int64 for discrete actions (``-1`` at reset frames), ``(T, ...)``
            float32 for continuous ones (NaN at reset frames); None when the source recorded no
            actions (a frames-only ``.npz``) or the action space is not an array space.
        rewards: ``(T,)`` float64 environment rewards of the step that produced each frame (0 for
            recorded data without rewards).
        terminated: ``(T,)`` bool, the step that produced the frame terminated its episode.
        truncated: ``(T,)`` bool, the step that produced the frame truncated its episode.
        episode: ``(T,)`` int64 episode number of each frame, from 0.
        success: whether any episode of the rollout succeeded by the entry's
            :attr:`rl.registry.EnvSpec.is_success` (recorded demonstrations without rewards are
            taken to be successful).
    """

    env_id: str
    seed: int
    policy: str
    frames: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    actions: np.ndarray | None
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


def _no_action(space: Any) -> Any:
    """What ``actions`` holds at a reset frame, or None when actions are not recorded."""
    if isinstance(space, spaces.Discrete):
        return -1
    if isinstance(space, spaces.Box):
        if np.issubdtype(space.dtype, np.floating):
            return np.full(space.shape, np.nan, np.float32)
        return np.full(space.shape, -1, np.int64)
    if isinstance(space, spaces.MultiDiscrete | spaces.MultiBinary):
        return np.full(space.shape, -1, np.int64)
    return None


def _stack_actions(actions: list[Any], no_action: Any) -> np.ndarray | None:
    if no_action is None:
        return None
    if isinstance(no_action, int):
        return np.asarray(actions, np.int64)
    dtype = np.float32 if no_action.dtype == np.float32 else np.int64
    return np.stack([np.asarray(a) for a in actions]).astype(dtype)


def run_policy(
    env: RewardFrames,
    act: Callable[[Any], Any] | None,
    *,
    seed: int,
    length: int | None,
    name: str,
) -> Trajectory:
    """Roll out ``act`` (None: ``action_space.sample()``) on ``env`` (see the module docstring).

    Args:
        env: the wrapped environment; it is reset with ``seed`` first.
        act: ``policy(obs) -> action`` (its ``reset()``, if any, is called at each episode start),
            or None for uniformly random actions from the action space seeded with ``seed``.
        seed: seed of the first reset and of the random actions.
        length: frames to record; None: one episode.
        name: the trajectory's ``policy`` field.

    Raises:
        ValueError: ``length`` is not a positive int or None; the env has no reward frames.
    """
    if length is not None and (type(length) is not int or length < 1):
        raise ValueError(f"length={length!r}: must be a positive int or None")
    if env.frame_source == "none":
        raise ValueError(f"{env.env_id}: rollouts record reward frames; frame_source is 'none'")
    space = copy.deepcopy(env.action_space)
    space.seed(seed)
    reset = getattr(act, "reset", None) if act is not None else None
    names = env.label_names
    no_action = _no_action(env.action_space)
    is_success = env.entry.is_success

    frames: list[np.ndarray] = []
    labels: list[list[bool]] = []
    actions: list[Any] = []
    rewards: list[float] = []
    terms: list[bool] = []
    truncs: list[bool] = []
    episodes: list[int] = []
    success = False

    def record(info: dict[str, Any], action: Any, reward: float, term: bool, trunc: bool) -> None:
        frames.append(info["frame"])
        got = info.get("labels", {})
        labels.append([bool(got[k]) for k in names])
        actions.append(action)
        rewards.append(float(reward))
        terms.append(term)
        truncs.append(trunc)
        episodes.append(ep)

    obs, info = env.reset(seed=seed)
    if callable(reset):
        reset()
    ep = 0
    record(info, no_action, 0.0, False, False)
    while length is None or len(frames) < length:
        if terms[-1] or truncs[-1]:
            if length is None:
                break
            obs, info = env.reset()
            if callable(reset):
                reset()
            ep += 1
            record(info, no_action, 0.0, False, False)
            continue
        action = act(obs) if act is not None else space.sample()
        obs, reward, term, trunc, info = env.step(action)
        success = success or bool(is_success(float(reward), bool(term), info))
        record(info, action, float(reward), bool(term), bool(trunc))

    return Trajectory(
        env_id=env.env_id,
        seed=seed,
        policy=name,
        frames=np.stack(frames).astype(np.uint8, copy=False),
        labels=np.asarray(labels, dtype=bool).reshape(len(frames), len(names)),
        label_names=tuple(names),
        actions=_stack_actions(actions, no_action),
        rewards=np.asarray(rewards, np.float64),
        terminated=np.asarray(terms, bool),
        truncated=np.asarray(truncs, bool),
        episode=np.asarray(episodes, np.int64),
        success=success,
    )


def _policy_fn(env: RewardFrames, policy: Policy | PolicyFactory) -> Callable[[Any], Any] | None:
    if policy == "random":
        return None
    if policy == "expert":
        from rl.experts import ExpertPolicy

        return ExpertPolicy(env)
    if callable(policy):
        made = policy(env)
        if not callable(made):
            raise ValueError(
                f"the policy factory {policy!r} returned {type(made).__name__}, not a callable "
                "policy(obs) -> action"
            )
        return made
    raise ValueError(f"policy={policy!r}: choose 'expert', 'random' or a policy factory")


def _name(policy: Policy | PolicyFactory) -> str:
    if isinstance(policy, str):
        return policy
    return f"{getattr(policy, '__module__', '?')}:{getattr(policy, '__qualname__', '?')}"


def rollouts(
    env_id: str,
    n: int,
    policy: Policy | PolicyFactory = "expert",
    seed: int = 0,
    *,
    length: int | None = None,
    tile_size: int = 8,
    frame_size: int = 64,
    max_steps: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    observation: Observation = "auto",
    frame_source: FrameSource = "auto",
) -> list[Trajectory]:
    """Roll out ``n`` trajectories with seeds ``seed, seed + 1, ..., seed + n - 1``.

    One environment is built and reused (arguments as in :func:`rollout`).
    """
    if type(n) is not int or n < 0:
        raise ValueError(f"n={n!r}: must be a non-negative int")
    if isinstance(policy, str) and policy not in ("expert", "random"):
        raise ValueError(f"policy={policy!r}: choose 'expert', 'random' or a policy factory")
    if length is None and policy == "random":
        length = DEFAULT_RANDOM_LENGTH
    if length is not None and (type(length) is not int or length < 1):
        raise ValueError(f"length={length!r}: must be a positive int or None")
    env = make_env(
        env_id,
        tile_size=tile_size,
        frame_size=frame_size,
        max_steps=max_steps,
        env_kwargs=env_kwargs,
        observation=observation,
        frame_source=frame_source,
    )
    try:
        act = _policy_fn(env, policy)
        return [
            run_policy(env, act, seed=seed + i, length=length, name=_name(policy)) for i in range(n)
        ]
    finally:
        env.close()


def rollout(
    env_id: str,
    *,
    policy: Policy | PolicyFactory = "expert",
    seed: int = 0,
    length: int | None = None,
    tile_size: int = 8,
    frame_size: int = 64,
    max_steps: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    observation: Observation = "auto",
    frame_source: FrameSource = "auto",
) -> Trajectory:
    """Roll out one trajectory (see the module docstring for the layout).

    Args:
        env_id: any environment id (:func:`rl.registry.get_spec`).
        policy: ``"expert"`` (the entry's scripted :class:`rl.experts.ExpertPolicy`),
            ``"random"``, or a policy factory ``factory(env) -> policy(obs) -> action``.
        seed: seed of the first reset and of the random actions.
        length: frames to record; ``None``: one full episode for the expert,
            :data:`DEFAULT_RANDOM_LENGTH` frames for the random policy.
        tile_size: MiniGrid pixels per cell.
        frame_size: PandaPush frame side.
        max_steps: episode step limit (``None``: the environment's default).
        env_kwargs: extra constructor arguments of the environment.
        observation: what the policy is handed (:func:`rl.envs.make_env`).
        frame_source: where reward frames come from (:func:`rl.envs.make_env`).

    Returns:
        The trajectory.

    Example:
        >>> t = rollout("MiniGrid-DoorKey-5x5-v0", policy="random", seed=0)
        >>> len(t), t.frames.shape[1:], t.labels.shape
        (50, (40, 40, 3), (50, 3))
    """
    return rollouts(
        env_id,
        1,
        policy,
        seed,
        length=length,
        tile_size=tile_size,
        frame_size=frame_size,
        max_steps=max_steps,
        env_kwargs=env_kwargs,
        observation=observation,
        frame_source=frame_source,
    )[0]
