"""The SB3 stacking rules of the code-reward wrappers: refused, warned, and the trap they close.

Real ``DummyVecEnv``, ``VecNormalize``, ``Monitor``, ``evaluate_policy`` and sandbox workers; the
env is a tiny scripted one whose own reward is always 0, so any non-zero "return" is the bonus.
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor, VecNormalize

from rl.callbacks import CodeRewardCallback
from rl.envs import make_env
from rl.errors import RewardStackError, RewardStackWarning
from rl.vec_env import CodeRewardVecEnv, check_stack
from sandbox.pool import Sandbox

ALWAYS = "def check(frame):\n    return bool(frame[0, 0, 0] == 0)\n"


class Flat(gym.Env[np.ndarray, int]):
    """Black 16x16 frames, reward 0, episodes of 3 steps."""

    observation_space = gym.spaces.Box(0, 255, (16, 16, 3), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros((16, 16, 3), np.uint8), {}

    def step(self, action: int) -> Any:
        self.t += 1
        return np.zeros((16, 16, 3), np.uint8), 0.0, self.t >= 3, False, {}


class Zero:
    """A policy for evaluate_policy: always action 0."""

    def predict(
        self, obs: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True
    ) -> Any:
        return np.zeros(len(obs), dtype=np.int64), None


@pytest.fixture(scope="module")
def box() -> Any:
    with Sandbox([ALWAYS], names=["dark"], isolation="process") as sandbox:
        yield sandbox


def test_vecnormalize_below_is_refused_before_a_worker_starts() -> None:
    inner = VecNormalize(DummyVecEnv([lambda: Monitor(Flat())]))
    # no sandbox= is given: a worker would start if the check came after the engine
    with pytest.raises(
        RewardStackError, match=r"VecNormalize\(CodeRewardVecEnv\(venv, program\)\)"
    ):
        CodeRewardVecEnv(inner, [ALWAYS], isolation="process")


def test_a_second_code_reward_is_refused(box: Sandbox) -> None:
    venv = CodeRewardVecEnv(
        DummyVecEnv([lambda: Monitor(Flat())]), [ALWAYS], names=["dark"], sandbox=box
    )
    with pytest.raises(RewardStackError, match="paid twice"):
        CodeRewardVecEnv(venv, [ALWAYS], names=["dark"], sandbox=box)
    venv.close()


def test_vecnormalize_outside_works(box: Sandbox) -> None:
    inner = CodeRewardVecEnv(
        DummyVecEnv([lambda: Monitor(Flat())]), [ALWAYS], names=["dark"], sandbox=box
    )
    venv = VecNormalize(inner)
    venv.reset()
    venv.step(np.zeros(1, dtype=np.int64))
    venv.close()


@pytest.mark.parametrize(
    ("make", "warns"),
    [
        (lambda: DummyVecEnv([Flat]), True),
        (lambda: DummyVecEnv([lambda: Monitor(Flat())]), False),
        (lambda: VecMonitor(DummyVecEnv([Flat])), False),
        (lambda: DummyVecEnv([lambda: make_env("MiniGrid-DoorKey-5x5-v0")]), True),
        (lambda: make_vec_env(lambda: make_env("MiniGrid-DoorKey-5x5-v0"), n_envs=1), False),
    ],
    ids=["no-monitor", "monitor", "vecmonitor", "bare-make_env", "make_vec_env"],
)
def test_missing_monitor_warns(make: Any, warns: bool) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_stack(make())
    assert any(issubclass(w.category, RewardStackWarning) for w in caught) is warns


def test_evaluate_policy_reports_the_env_return_only_with_a_monitor(box: Sandbox) -> None:
    """The trap: without a Monitor inside, SB3 calls the shaped return the env's."""
    with pytest.warns(RewardStackWarning):
        bare = CodeRewardVecEnv(DummyVecEnv([Flat]), [ALWAYS], names=["dark"], sandbox=box)
    shaped, _ = evaluate_policy(Zero(), bare, n_eval_episodes=4, warn=False)
    bare.close()
    monitored = CodeRewardVecEnv(
        DummyVecEnv([lambda: Monitor(Flat())]), [ALWAYS], names=["dark"], sandbox=box
    )
    true, _ = evaluate_policy(Zero(), monitored, n_eval_episodes=4)
    monitored.close()
    assert shaped == pytest.approx(1.0)  # the bonus, paid once per episode
    assert true == pytest.approx(0.0)  # the env's own reward


def test_potential_gamma_different_from_the_learner_warns(box: Sandbox) -> None:
    venv = CodeRewardVecEnv(
        DummyVecEnv([lambda: Monitor(Flat())]),
        [ALWAYS],
        names=["dark"],
        sandbox=box,
        scheme="potential",
        gamma=0.9,
    )
    model = PPO("MlpPolicy", venv, n_steps=8, batch_size=8, n_epochs=1, gamma=0.99, device="cpu")
    model.set_logger(Logger(None, []))  # SB3 would make an empty directory under /tmp
    with pytest.warns(RewardStackWarning, match="gamma=0.9"):
        model.learn(8, callback=CodeRewardCallback())
    venv.close()
