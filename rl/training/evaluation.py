"""Evaluation on the env's own success criterion, and the evaluation/progress callback.

Provides:
    evaluate: deterministic (or sampled) evaluation of a policy on fixed evaluation seeds.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rl.training.config import (
    EVAL_SEED_OFFSET,
    TrainConfig,
    describe_reward,
)
from rl.training.results import EvalPoint, ReturnPoint

__all__ = ["evaluate"]


def evaluate(
    model: Any, venv: Any, episodes: int, *, seed: int | None = None, deterministic: bool = True
) -> tuple[float, float, float, int]:
    """Run ``episodes`` episodes and score them by the env's own criterion.

    Episodes are spread evenly over the VecEnv's envs (as SB3's ``evaluate_policy`` does). An
    episode succeeds when its last info says ``is_success`` (when the env reports it) or else
    when its env return is positive (MiniGrid's sparse success reward).

    Args:
        model: anything with SB3's ``predict(obs, deterministic=True)``.
        venv: the evaluation VecEnv (no code reward).
        episodes: number of episodes.
        seed: reseed the envs first (env ``i`` resets with ``seed + i``), so that every evaluation
            sees the same layouts.
        deterministic: the greedy policy (True) or the sampled one.

    Returns:
        ``(success_rate, mean_return, mean_length, episodes)``.
    """
    n = venv.num_envs
    targets = [(episodes + i) // n for i in range(n)]
    counts = [0] * n
    ret = np.zeros(n, dtype=np.float64)
    length = np.zeros(n, dtype=np.int64)
    successes: list[bool] = []
    returns: list[float] = []
    lengths: list[int] = []
    if seed is not None:
        venv.seed(seed)
    obs = venv.reset()
    while any(c < t for c, t in zip(counts, targets, strict=True)):
        actions, _ = model.predict(obs, deterministic=deterministic)
        obs, rewards, dones, infos = venv.step(actions)
        ret += rewards
        length += 1
        for i in np.flatnonzero(dones).tolist():
            if counts[i] < targets[i]:
                info = infos[i]
                success = bool(info["is_success"]) if "is_success" in info else bool(ret[i] > 0.0)
                successes.append(success)
                returns.append(float(ret[i]))
                lengths.append(int(length[i]))
                counts[i] += 1
            ret[i] = 0.0
            length[i] = 0
    total = len(successes)
    return (
        float(np.mean(successes)) if total else 0.0,
        float(np.mean(returns)) if total else 0.0,
        float(np.mean(lengths)) if total else 0.0,
        total,
    )


def _make_callback(
    config: TrainConfig, eval_env: Any, progress: bool, csv_path: Path | None
) -> Any:

    from stable_baselines3.common.callbacks import BaseCallback

    class _EvalCallback(BaseCallback):
        """Evaluate every ``eval_every`` steps, collect training returns, drive the progress bar."""

        def __init__(self) -> None:
            super().__init__(verbose=0)
            self.curve: list[EvalPoint] = []
            self.returns: list[ReturnPoint] = []
            self.eval_seconds = 0.0
            self.next_eval = config.eval_every
            self._env_r: list[float] = []
            self._shaped_r: list[float] = []
            self._subtasks: list[dict[str, bool]] = []
            self._success: list[bool] = []
            self._bar: Any = None
            self._csv: Any = None
            self._writer: Any = None

        def _on_training_start(self) -> None:
            enabled = progress and sys.stderr.isatty()
            if enabled:
                from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

                self._bar = tqdm(
                    total=config.timesteps,
                    unit="step",
                    desc=f"{config.env_id} {describe_reward(config.reward)} s{config.seed}",
                    dynamic_ncols=True,
                    leave=False,
                )
            if csv_path is not None:
                self._csv = csv_path.open("w", newline="", encoding="utf-8")
                self._writer = csv.writer(self._csv)
                self._writer.writerow(
                    [
                        "steps",
                        "success_rate",
                        "mean_return",
                        "mean_length",
                        "episodes",
                        "train_env_return",
                        "train_shaped_return",
                        "train_success_rate",
                        "seconds",
                    ]
                )

        def _on_step(self) -> bool:
            infos: list[dict[str, Any]] = self.locals.get("infos", [])
            dones = self.locals.get("dones")
            if dones is not None:
                for i in np.flatnonzero(np.asarray(dones)).tolist():
                    info = infos[i]
                    episode = info.get("code_reward_episode")
                    if episode is not None:
                        env_r = float(episode["env_return"])
                        self._shaped_r.append(float(episode["shaped_return"]))
                        self._subtasks.append(dict(episode["subtasks"]))
                    elif "episode" in info:
                        env_r = float(info["episode"]["r"])
                        self._shaped_r.append(env_r)
                    else:
                        continue
                    self._env_r.append(env_r)
                    self._success.append(
                        bool(info["is_success"]) if "is_success" in info else env_r > 0.0
                    )
            if self._bar is not None:
                self._bar.update(self.training_env.num_envs)
            if self.num_timesteps >= self.next_eval:
                self.run_eval()
                while self.next_eval <= self.num_timesteps:
                    self.next_eval += config.eval_every
            return True

        def run_eval(self) -> None:
            if self.curve and self.curve[-1].steps == self.num_timesteps:
                return
            t0 = time.perf_counter()
            rate, mean_r, mean_l, n = evaluate(
                self.model,
                eval_env,
                config.eval_episodes,
                seed=config.seed + EVAL_SEED_OFFSET,
                deterministic=config.eval_deterministic,
            )
            self.eval_seconds += time.perf_counter() - t0
            point = EvalPoint(self.num_timesteps, rate, mean_r, mean_l, n)
            self.curve.append(point)
            names = sorted({k for d in self._subtasks for k in d})
            ret = ReturnPoint(
                steps=self.num_timesteps,
                episodes=len(self._env_r),
                env_return=float(np.mean(self._env_r)) if self._env_r else math.nan,
                shaped_return=float(np.mean(self._shaped_r)) if self._shaped_r else math.nan,
                success_rate=float(np.mean(self._success)) if self._success else math.nan,
                subtask_rates={
                    k: float(np.mean([bool(d.get(k, False)) for d in self._subtasks]))
                    for k in names
                },
            )
            self.returns.append(ret)
            self._env_r, self._shaped_r, self._subtasks, self._success = [], [], [], []
            self.logger.record("eval/success_rate", rate)
            self.logger.record("eval/mean_return", mean_r)
            self.logger.record("eval/mean_length", mean_l)
            if self._writer is not None:
                self._writer.writerow(
                    [
                        point.steps,
                        f"{rate:.6g}",
                        f"{mean_r:.6g}",
                        f"{mean_l:.6g}",
                        n,
                        f"{ret.env_return:.6g}",
                        f"{ret.shaped_return:.6g}",
                        f"{ret.success_rate:.6g}",
                        f"{self.eval_seconds:.3f}",
                    ]
                )
                self._csv.flush()
            if self._bar is not None:
                self._bar.set_postfix(success=f"{rate:.2f}", refresh=False)

        def close(self) -> None:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            if self._csv is not None:
                self._csv.close()
                self._csv = None

    return _EvalCallback()


# ------------------------------------------------------------------------------------------------
# train
# ------------------------------------------------------------------------------------------------
