"""SB3 callbacks that log code-reward statistics next to SB3's own and diagnose the reward.

Provides:
    RewardDiagnosisCallback: feeds :class:`rl.diagnosis.RewardDiagnosis` from the code-reward
        wrapper's infos: per sub-task completion rates and first-completion steps, stall and
        flooding alarms (``diagnosis/*`` keys, :class:`rl.diagnosis.RewardDiagnosisWarning`), and
        the reward report at the end of training (see :mod:`rl.diagnosis` for the definitions).
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

import math
import warnings
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from rl.diagnosis import (
    Alarm,
    DiagnosisConfig,
    EpisodeRecord,
    RewardDiagnosis,
    RewardDiagnosisWarning,
    write_report,
)
from rl.errors import RewardStackWarning
from rl.rewards import RewardStats, status_counts
from rl.vec_env import find_code_reward

__all__ = ["CodeRewardCallback", "RewardDiagnosisCallback"]


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


class RewardDiagnosisCallback(BaseCallback):
    """Diagnose a code reward while PPO trains: completion over time, stall and flooding alarms.

    Reads what the code-reward wrapper (:class:`rl.vec_env.CodeRewardVecEnv`, or
    :class:`rl.wrappers.CodeReward` inside each env) puts in every step's info: ``subtasks`` (what
    is latched so far, to find the step within the episode at which each sub-task latched) and,
    when an episode ends, ``code_reward_episode``; the env's own return comes from ``Monitor``'s
    ``info["episode"]`` where there is one, success from ``info["is_success"]`` (else env
    return > 0). The records go to a :class:`rl.diagnosis.RewardDiagnosis`.

    At the end of every rollout it records, through ``self.logger.record`` (CSV, TensorBoard, ...),
    over the last ``window_episodes`` episodes: ``diagnosis/<name>_rate``,
    ``diagnosis/<name>_first_step`` (training step of the first episode that latched it; NaN
    before), ``diagnosis/success_rate``, ``diagnosis/bonus_return`` (code bonus per episode),
    ``diagnosis/episodes``, ``diagnosis/stall`` (stall alarms active), ``diagnosis/flooding`` (1
    while a flooding alarm is active) and ``diagnosis/alarms`` (raised so far). Each alarm raised
    is also warned once (:class:`rl.diagnosis.RewardDiagnosisWarning`, one line). At the end of
    training (or when :meth:`write_report` is called, e.g. after an interruption) it writes the
    reward report into ``report_dir``.

    Args:
        config: windows and thresholds (:class:`rl.diagnosis.DiagnosisConfig` defaults if None).
        report_dir: where the report goes at the end of training; None: only on
            :meth:`write_report`.
        title: what the run is, for the report's headings.
        warn: warn for every alarm raised.
        verbose: SB3 verbosity; >= 1 also prints each alarm.

    Attributes:
        diagnosis: the :class:`rl.diagnosis.RewardDiagnosis`, once the sub-task names are known
            (at the start of training from the wrapper, else from the first step's info).
        report: kind -> path of the report files written (empty before).
    """

    def __init__(
        self,
        config: DiagnosisConfig | None = None,
        *,
        report_dir: str | Path | None = None,
        title: str = "training",
        warn: bool = True,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        self.config = config if config is not None else DiagnosisConfig()
        self.report_dir = Path(report_dir) if report_dir is not None else None
        self.title = title
        self.warn = warn
        self.diagnosis: RewardDiagnosis | None = None
        self.report: dict[str, Path] = {}
        self._length: np.ndarray | None = None
        self._latch_steps: list[list[int | None]] = []

    def _start(self, names: Sequence[str], bonus: float = 1.0) -> None:
        self.diagnosis = RewardDiagnosis(tuple(names), self.config, bonus=bonus)

    def _on_training_start(self) -> None:
        env = self.training_env
        if env is None or self.diagnosis is not None:
            return
        wrapper = find_code_reward(env)
        if wrapper is not None:
            self._start(wrapper.names, abs(wrapper.engine.bonus) or 1.0)
            return
        try:
            parts = env.get_attr("code_reward_stats")
        except AttributeError:
            return
        found = [p for p in parts if isinstance(p, RewardStats)]
        if found:
            self._start(found[0].names)

    def _announce(self, alarm: Alarm) -> None:
        if self.warn:
            warnings.warn(RewardDiagnosisWarning(alarm.message), stacklevel=2)
        if self.verbose >= 1:
            print(alarm.message)

    def _on_step(self) -> bool:
        infos: list[dict[str, Any]] = self.locals.get("infos") or []
        dones = self.locals.get("dones")
        if dones is None or not infos:
            return True
        done = np.asarray(dones, dtype=np.bool_).reshape(len(infos))
        if self._length is None or len(self._length) != len(infos):
            self._length = np.zeros(len(infos), dtype=np.int64)
            self._latch_steps = []
        self._length += 1
        for i, info in enumerate(infos):
            latched = info.get("subtasks")
            if latched is None:
                continue
            if self.diagnosis is None:
                self._start(list(latched))
            names = self.diagnosis.names if self.diagnosis is not None else ()
            while len(self._latch_steps) <= i:
                self._latch_steps.append([None] * len(names))
            row = self._latch_steps[i]
            for k, name in enumerate(names):
                if row[k] is None and latched.get(name, False):
                    row[k] = int(self._length[i])
            if done[i]:
                self._end_episode(i, info, row)
        for i in np.flatnonzero(done).tolist():
            self._length[i] = 0
            if i < len(self._latch_steps):
                self._latch_steps[i] = [None] * len(self._latch_steps[i])
        return True

    def _end_episode(self, i: int, info: dict[str, Any], row: list[int | None]) -> None:
        episode = info.get("code_reward_episode")
        if episode is None or self.diagnosis is None:
            return
        names = self.diagnosis.names
        code_env = float(episode["env_return"])
        bonus = float(episode["shaped_return"]) - code_env
        monitor = info.get("episode")
        env_return = float(monitor["r"]) if isinstance(monitor, dict) else code_env
        success = bool(info["is_success"]) if "is_success" in info else env_return > 0.0
        subtasks = episode["subtasks"]
        record = EpisodeRecord(
            step=int(self.num_timesteps),
            latched=tuple(bool(subtasks.get(n, False)) for n in names),
            shaped_return=env_return + bonus,
            env_return=env_return,
            success=success,
            length=int(episode.get("length", 0)),
            latch_steps=tuple(row),
        )
        for alarm in self.diagnosis.add(record):
            self._announce(alarm)

    def _on_rollout_end(self) -> None:
        diag = self.diagnosis
        if diag is None:
            return
        recent = diag.recent()
        nan = math.nan
        self.logger.record("diagnosis/episodes", diag.episodes)
        for name in diag.names:
            first = diag.first_completed_at[name]
            self.logger.record(f"diagnosis/{name}_rate", recent.rates[name] if recent else nan)
            self.logger.record(
                f"diagnosis/{name}_first_step", float(first) if first is not None else nan
            )
        self.logger.record("diagnosis/success_rate", recent.success_rate if recent else nan)
        self.logger.record("diagnosis/bonus_return", recent.bonus_return if recent else nan)
        active = diag.active
        self.logger.record("diagnosis/stall", sum(a.kind == "stall" for a in active))
        self.logger.record("diagnosis/flooding", int(any(a.kind == "flooding" for a in active)))
        self.logger.record("diagnosis/alarms", len(diag.alarms))

    def _on_training_end(self) -> None:
        if self.report_dir is not None:
            self.write_report()

    def write_report(self, directory: str | Path | None = None) -> dict[str, Path]:
        """Write the reward report (:func:`rl.diagnosis.write_report`); return the paths.

        Args:
            directory: where; default ``report_dir``.

        Raises:
            ValueError: neither ``directory`` nor ``report_dir`` is set.
        """
        target = Path(directory) if directory is not None else self.report_dir
        if target is None:
            raise ValueError(
                "RewardDiagnosisCallback.write_report: no directory; pass one or set report_dir"
            )
        if self.diagnosis is None:  # no code-reward step was ever seen
            return {}
        self.report = write_report(self.diagnosis, target, title=self.title)
        return self.report
