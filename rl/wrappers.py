"""Gymnasium wrapper that adds a sandboxed code reward to a single env.

Provides:
    CodeReward: ``gymnasium.Wrapper``; one ``Sandbox.evaluate`` call per step for every sub-task,
        the same composition and info keys as :class:`rl.vec_env.CodeRewardVecEnv`.

For vectorised training prefer :class:`rl.vec_env.CodeRewardVecEnv` (one batched call for all envs
and one sandbox in all); ``CodeReward`` starts one sandbox per env unless you pass a shared one, and a
shared :class:`sandbox.pool.Sandbox` cannot cross into ``SubprocVecEnv`` workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, SupportsFloat

import gymnasium as gym
import numpy as np

from rl.program import RewardProgram, Scheme
from rl.rewards import (
    EngineWrapperMixin,
    FrameSource,
    RewardEngine,
    check_frame_source,
    is_image_space,
)
from sandbox.errors import FrameError
from sandbox.pool import Isolation, Sandbox

__all__ = ["CodeReward"]


class CodeReward(EngineWrapperMixin, gym.Wrapper[Any, Any, Any, Any]):
    """Add the bonus of a reward program to a Gymnasium env's reward.

    The frame of each step is ``info["frame"]`` (``frame_source="info"``; the project's envs put
    the reward frame there) or the observation when it is an (H, W, 3) uint8 image
    (``frame_source="obs"``); ``auto`` prefers ``info["frame"]``. The first frame of the episode,
    recorded at :meth:`reset`, is the ``first`` argument of ``check(frame, first)``.

    Example:
        >>> import gymnasium as gym, numpy as np
        >>> class Flat(gym.Env):
        ...     observation_space = gym.spaces.Box(0, 255, (16, 16, 3), np.uint8)
        ...     action_space = gym.spaces.Discrete(2)
        ...     def reset(self, *, seed=None, options=None):
        ...         return np.zeros((16, 16, 3), np.uint8), {}
        ...     def step(self, action):
        ...         return np.full((16, 16, 3), 200 * action, np.uint8), 0.5, False, False, {}
        >>> src = "def check(frame):\\n    return bool(frame.mean() > 100)\\n"
        >>> env = CodeReward(Flat(), [src], isolation="process")
        >>> _ = env.reset()
        >>> _, r, _, _, info = env.step(1)
        >>> r, info["env_reward"], info["subtasks"]
        (1.5, 0.5, {'subtask0': True})
        >>> env.close()

    Args:
        env: the env to wrap.
        program: a :class:`rl.program.RewardProgram` or checker sources.
        sandbox: a running Sandbox over the same sources (not closed here); None starts one,
            closed in :meth:`close`.
        isolation: isolation of the sandbox this wrapper starts (None: strongest available).
        timeout: per-checker deadline, seconds, of the sandbox this wrapper starts.
        frame_source: ``auto``, ``obs`` or ``info``.
        failure_policy: ``continue``, ``raise`` or ``stop_after:N``.
        bonus: override of the program's bonus.
        scheme: override of the program's scheme.
        gamma: override of the program's gamma.
        names: sub-task names when ``program`` is a list of sources.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        program: RewardProgram | Sequence[str],
        *,
        sandbox: Sandbox | None = None,
        isolation: Isolation | None = None,
        timeout: float = 5.0,
        frame_source: FrameSource = "auto",
        failure_policy: str = "continue",
        bonus: float | None = None,
        scheme: Scheme | None = None,
        gamma: float | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        check_frame_source(frame_source)
        super().__init__(env)
        self.engine = RewardEngine(
            1,
            program,
            sandbox=sandbox,
            isolation=isolation,
            timeout=timeout,
            failure_policy=failure_policy,
            bonus=bonus,
            scheme=scheme,
            gamma=gamma,
            names=names,
            owner=type(self).__name__,
        )
        self.requested_frame_source = frame_source
        self.frame_source: Literal["obs", "info"] | None = None
        self._closed = False

    def _frame(self, obs: Any, info: dict[str, Any]) -> Any:
        if self.frame_source is None:
            image = is_image_space(self.env.observation_space)
            if self.requested_frame_source == "info" or (
                self.requested_frame_source == "auto" and ("frame" in info or not image)
            ):
                self.frame_source = "info"
            else:
                self.frame_source = "obs"
        if self.frame_source == "obs":
            return np.asarray(obs)[None]
        if "frame" not in info:
            raise FrameError(
                "info['frame']",
                "the env's info has no 'frame' and its observation is not an (H, W, 3) uint8 "
                "image; wrap the env so that it puts the reward frame in info['frame'] on reset "
                "and every step (rl.envs.make_env does), or use frame_source='obs'",
            )
        return np.asarray(info["frame"])[None]

    def _where(self) -> str:
        return "info['frame']" if self.frame_source == "info" else "observation"

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the env, record the episode's first frame and clear the latches."""
        obs, info = self.env.reset(seed=seed, options=options)
        frame = self._frame(obs, info)
        self.engine.begin_episodes([0], frame, self._where())
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env, evaluate every checker on the new frame and add the bonus."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        frame = self._frame(obs, info)
        shaped = self.engine.step(
            frame,
            [float(reward)],
            [terminated or truncated],
            [terminated],
            [info],
            self._where(),
        )
        return obs, float(shaped[0]), terminated, truncated, info

    def close(self) -> None:
        """Close the env and the sandbox this wrapper started (not a shared one)."""
        if self._closed:
            return
        self._closed = True
        try:
            super().close()
        finally:
            self.engine.close()
