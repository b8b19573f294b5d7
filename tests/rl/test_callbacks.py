"""CodeRewardCallback writes its keys through SB3's logger (CSV checked column by column)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from rl.callbacks import CodeRewardCallback
from rl.vec_env import CodeRewardVecEnv
from rl.wrappers import CodeReward
from sandbox.pool import Sandbox
from tests.rl.test_vec_env import CLEAN, FAULTY, FrameEnv, env_reward, make_program


@pytest.fixture(scope="module")
def clean_box():
    with Sandbox(list(CLEAN.values()), names=list(CLEAN)) as box:
        yield box


@pytest.fixture(scope="module")
def faulty_box():
    with Sandbox(list(FAULTY.values()), names=list(FAULTY)) as box:
        yield box


def train(venv, folder: Path, steps: int = 256) -> list[dict[str, str]]:
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.set_logger(configure(str(folder), ["csv", "json"]))
    model.learn(total_timesteps=steps, callback=CodeRewardCallback())
    with (folder / "progress.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def monitored(length: int, marker: int):
    return lambda: Monitor(FrameEnv(length, marker))


def test_csv_columns_and_values(clean_box, tmp_path):
    lengths = (3, 4, 5, 6)
    venv = CodeRewardVecEnv(
        DummyVecEnv([monitored(n, 50 * j) for j, n in enumerate(lengths)]),
        make_program(CLEAN),
        sandbox=clean_box,
    )
    rows = train(venv, tmp_path)
    venv.close()
    assert len(rows) == 2  # one dump per rollout of 4 envs x 32 steps
    columns = set(rows[0])
    expected = {
        "reward/shaped_return",
        "reward/env_return",
        "reward/episodes",
        "sandbox/failures",
        "sandbox/evaluate_ms",
        *(f"subtasks/{name}_rate" for name in CLEAN),
        *(
            f"sandbox/failures_{s}"
            for s in ("error", "violation", "budget", "contract", "timeout", "memory", "crash")
        ),
    }
    assert expected <= columns
    for row in rows:
        # Monitor sits inside the code reward: its ep_rew_mean is the env's own return
        assert float(row["reward/env_return"]) == pytest.approx(
            float(row["rollout/ep_rew_mean"]), abs=1e-3
        )
        # every episode completes all 4 sub-tasks: shaped = env + 4 x bonus, exactly
        assert float(row["reward/shaped_return"]) - float(
            row["reward/env_return"]
        ) == pytest.approx(4.0)
        assert all(float(row[f"subtasks/{name}_rate"]) == 1.0 for name in CLEAN)
        assert float(row["sandbox/failures"]) == 0
        assert float(row["sandbox/evaluate_ms"]) > 0
    returns = [sum(env_reward(t, n) for t in range(1, n + 1)) for n in lengths]
    assert min(returns) <= float(rows[-1]["reward/env_return"]) <= max(returns)


def test_failures_logged(faulty_box, tmp_path):
    venv = CodeRewardVecEnv(
        DummyVecEnv([monitored(5, 0), monitored(5, 50)]), make_program(FAULTY), sandbox=faulty_box
    )
    rows = train(venv, tmp_path, steps=128)
    venv.close()
    last = rows[-1]
    # 64 vec steps, frames of step 3 in episodes of 5: 13 failing steps, 2 checkers each
    assert float(last["sandbox/failures"]) == 26
    assert float(last["sandbox/failures_error"]) == 13
    assert float(last["sandbox/failures_contract"]) == 13
    assert float(last["sandbox/failures_crash"]) == 0
    assert float(last["subtasks/err_rate"]) == 1.0  # latched on step 4 instead


def test_gym_wrapper_stats_found_through_get_attr(clean_box, tmp_path):
    program = make_program(CLEAN)
    venv = DummyVecEnv(
        [lambda n=n: Monitor(CodeReward(FrameEnv(n), program, sandbox=clean_box)) for n in (3, 5)]
    )
    rows = train(venv, tmp_path, steps=128)
    venv.close()
    assert float(rows[-1]["sandbox/failures"]) == 0
    assert float(rows[-1]["sandbox/evaluate_ms"]) > 0
    # here Monitor is *outside* the code reward, so ep_rew_mean is the shaped return
    assert float(rows[-1]["reward/shaped_return"]) == pytest.approx(
        float(rows[-1]["rollout/ep_rew_mean"]), abs=1e-3
    )


def test_window_validation():
    with pytest.raises(ValueError, match="window"):
        CodeRewardCallback(window=0)
    assert np.isclose(CodeRewardCallback(window=5).window, 5)
