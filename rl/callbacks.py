"""SB3 callback that logs code-reward statistics next to SB3's own.

Provides:
    CodeRewardCallback: records, through ``self.logger.record`` (so every SB3 output format works:
        stdout, CSV, JSON, TensorBoard):

        * ``reward/shaped_return``: mean shaped return (env reward + bonus) of the last ``window``
          finished episodes;
        * ``reward/env_return``: mean of the env's own return over the same episodes. With
          ``make_vec_env``, ``Monitor`` sits *inside* the code-reward wrapper and also logs the env's
          own reward, so this equals SB3's ``rollout/ep_rew_mean`` (both over the last 100 episodes
          by default) and the pair shows what the shaping adds;
        * ``reward/episodes``: finished episodes so far;
        * ``subtasks/<name>_rate``: fraction of the window's episodes that completed each sub-task;
        * ``sandbox/failures`` (total so far) and ``sandbox/failures_<status>`` for every failure
          status (stable CSV columns);
        * ``sandbox/evaluate_ms``: mean ``Sandbox.evaluate`` time per call (one call per VecEnv step
          for :class:`rl.vec_env.CodeRewardVecEnv`, one per env step for :class:`rl.wrappers.CodeReward`)
          since the previous record.

At the start of training it warns (:class:`rl.errors.RewardStackWarning`) when a ``potential``
program's ``gamma`` differs from the learner's: potential-based shaping leaves the optimal policy
unchanged only with the learner's discount.

Episode values come from ``info["code_reward_episode"]``, which both wrappers add when an
episode ends. Episode statistics are recorded on every step that ends an episode (the logger keeps the
last value before a dump, and the value is already a window mean), sandbox statistics at the end of
every rollout.
"""

from __future__ import annotations

import warnings
from collections import deque
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from rl.errors import RewardStackWarning
from rl.rewards import RewardStats, status_counts
from rl.vec_env import find_code_reward

__all__ = ["CodeRewardCallback"]


class CodeRewardCallback(BaseCallback):
    """Log shaped and env returns, sub-task completion rates and sandbox failures.

    Args:
        window: number of most recent finished episodes the means and rates are taken over
            (100 matches SB3's ``stats_window_size`` default).
        verbose: SB3 verbosity.

    Attributes:
        episodes: finished episodes seen so far.
    """

    def __init__(self, window: int = 100, verbose: int = 0) -> None:
        super().__init__(verbose)
        if window < 1:
            raise ValueError(f"window={window!r}: must be >= 1")
        self.window = window
        self._shaped: deque[float] = deque(maxlen=window)
        self._env: deque[float] = deque(maxlen=window)
        self._done: deque[dict[str, bool]] = deque(maxlen=window)
        self._names: list[str] = []
        self.episodes = 0
        self._last_steps = 0
        self._last_seconds = 0.0

    def _stats(self) -> RewardStats | None:
        env = self.training_env
        if env is None:
            return None
        wrapper = find_code_reward(env)
        if wrapper is not None:
            return wrapper.stats
        try:
            parts = env.get_attr("code_reward_stats")
        except AttributeError:
            return None
        found = [p for p in parts if isinstance(p, RewardStats)]
        return RewardStats.merge(found) if found else None

    def _on_training_start(self) -> None:
        env = self.training_env
        wrapper = find_code_reward(env) if env is not None else None
        gamma = getattr(self.model, "gamma", None)
        if wrapper is None or gamma is None or wrapper.engine.scheme != "potential":
            return
        if abs(float(gamma) - wrapper.engine.gamma) > 1e-9:
            warnings.warn(
                RewardStackWarning(
                    f"the reward program's potential shaping uses gamma={wrapper.engine.gamma} "
                    f"but the learner discounts with gamma={gamma}; shaping keeps the optimal "
                    "policy only with the learner's gamma: pass gamma= to the code-reward "
                    "wrapper or set the program's gamma"
                ),
                stacklevel=2,
            )

    def _on_step(self) -> bool:
        infos: list[dict[str, Any]] = self.locals.get("infos", [])
        dones = self.locals.get("dones")
        if dones is None:
            return True
        finished = False
        for i in np.flatnonzero(np.asarray(dones)).tolist():
            episode = infos[i].get("code_reward_episode")
            if episode is None:
                continue
            finished = True
            self.episodes += 1
            self._shaped.append(float(episode["shaped_return"]))
            self._env.append(float(episode["env_return"]))
            subtasks: dict[str, bool] = dict(episode["subtasks"])
            for name in subtasks:
                if name not in self._names:
                    self._names.append(name)
            self._done.append(subtasks)
        if finished:
            self.logger.record("reward/shaped_return", float(np.mean(self._shaped)))
            self.logger.record("reward/env_return", float(np.mean(self._env)))
            self.logger.record("reward/episodes", self.episodes)
            for name in self._names:
                rate = np.mean([bool(d.get(name, False)) for d in self._done])
                self.logger.record(f"subtasks/{name}_rate", float(rate))
        return True

    def _on_rollout_end(self) -> None:
        stats = self._stats()
        if stats is None:
            return
        self.logger.record("sandbox/failures", stats.total_failures)
        for status, count in status_counts(stats).items():
            self.logger.record(f"sandbox/failures_{status}", count)
        steps = stats.steps - self._last_steps
        seconds = stats.evaluate_seconds - self._last_seconds
        if steps > 0:
            self.logger.record("sandbox/evaluate_ms", 1000.0 * seconds / steps)
        self._last_steps, self._last_seconds = stats.steps, stats.evaluate_seconds
