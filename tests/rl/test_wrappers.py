"""CodeReward (gymnasium.Wrapper) with a real Sandbox."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from rl.rewards import CheckerFailureError, RewardStats
from rl.wrappers import CodeReward
from sandbox.errors import FrameError
from sandbox.pool import Sandbox
from tests.rl.test_vec_env import CLEAN, FAULTY, FrameEnv, env_reward, make_program


@pytest.fixture(scope="module")
def clean_box():
    with Sandbox(list(CLEAN.values()), names=list(CLEAN)) as box:
        yield box


def episode(env: CodeReward, steps: int):
    env.reset(seed=0)
    return [env.step(0) for _ in range(steps)]


@pytest.mark.parametrize(
    ("obs", "source"), [("image", "obs"), ("image", "info"), ("symbolic", "auto")]
)
def test_rewards_infos_and_first_frame(clean_box, obs, source):
    env = CodeReward(
        FrameEnv(3, obs=obs), make_program(CLEAN), sandbox=clean_box, frame_source=source
    )
    for _ in range(2):  # two episodes: the first frame is re-recorded at reset
        steps = episode(env, 3)
        for t, (_, reward, terminated, truncated, info) in enumerate(steps, start=1):
            assert info["env_reward"] == pytest.approx(env_reward(t, 3))
            assert info["code_bonus"] == [1, 1, 2][t - 1]
            assert reward == pytest.approx(info["env_reward"] + info["code_bonus"])
            assert isinstance(reward, float)
            assert info["subtask_fired"]["first"] is True
            assert terminated is (t == 3) and truncated is False
        assert steps[-1][4]["code_reward_episode"]["subtasks"] == dict.fromkeys(CLEAN, True)
    assert env.frame_source == ("info" if source in ("info", "auto") else "obs")
    assert env.stats.steps == 6 and env.stats.frames == 6
    env.close()
    assert clean_box.evaluate(np.zeros((1, 4, 4, 3), np.uint8)).ok  # shared: left open


def test_potential_truncation_keeps_phi(clean_box):
    env = CodeReward(
        FrameEnv(3, truncate=True), make_program(CLEAN, "potential"), sandbox=clean_box, gamma=0.5
    )
    bonuses = [s[4]["code_bonus"] for s in episode(env, 3)]
    assert bonuses == [0.5, 0.0, 0.0]
    env.close()


def test_raise_policy_and_owned_sandbox():
    env = CodeReward(
        FrameEnv(5),
        list(FAULTY.values()),
        names=list(FAULTY),
        failure_policy="raise",
        isolation="process",
    )
    env.reset()
    env.step(0)
    env.step(0)
    with pytest.raises(CheckerFailureError, match=r"'err' failed on step 3 with status 'error'"):
        env.step(0)
    box = env.engine.sandbox
    env.close()
    with pytest.raises(Exception, match="closed"):
        box.evaluate(np.zeros((1, 4, 4, 3), np.uint8))


def test_bad_frames(clean_box):
    env = CodeReward(
        FrameEnv(3, obs="chw", info_frame=False), make_program(CLEAN), sandbox=clean_box
    )
    with pytest.raises(FrameError, match="info\\['frame'\\]"):
        env.reset()
    env = CodeReward(
        FrameEnv(3, obs="chw", info_frame=False),
        make_program(CLEAN),
        sandbox=clean_box,
        frame_source="obs",
    )
    with pytest.raises(FrameError, match=r"\(H, W, 3\) with dtype uint8"):
        env.reset()


def test_inside_dummy_vec_env_with_shared_sandbox(clean_box):
    program = make_program(CLEAN)
    venv = DummyVecEnv(
        [lambda n=n: CodeReward(FrameEnv(n), program, sandbox=clean_box) for n in (3, 4)]
    )
    venv.reset()
    for _ in range(4):
        _, _, done, infos = venv.step(np.zeros(2, dtype=np.int64))
    assert done.tolist() == [False, True]
    assert infos[1]["code_reward_episode"]["shaped_return"] == pytest.approx(
        sum(env_reward(t, 4) for t in range(1, 5)) + 4
    )
    parts = venv.get_attr("code_reward_stats")
    merged = RewardStats.merge(parts)
    assert merged.steps == 8 and merged.total_failures == 0
    venv.close()
