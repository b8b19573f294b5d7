"""CodeRewardVecEnv on a real DummyVecEnv, with a real Sandbox and real worker processes.

``FrameEnv`` emits frames that encode the step (red channel), the episode (green channel, a per-env
marker plus the episode count) and termination (blue channel 255 only on the terminal frame), so a
checker can tell a terminal frame from the reset frame SB3 returns in its place, and a
``check(frame, first)`` checker can tell whether ``first`` belongs to the current episode.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import DummyVecEnv, VecTransposeImage

import sandbox
from rl.program import RewardProgram, SubTask
from rl.rewards import CheckerFailureError
from rl.vec_env import CodeRewardVecEnv, find_code_reward
from sandbox.errors import FrameError
from sandbox.pool import Sandbox

SIDE = 16

A = "def check(frame):\n    return bool(frame[0, 0, 0] >= 1)\n"
B = "def check(frame):\n    return bool(frame[0, 0, 0] >= 2)\n"
TERM = "def check(frame):\n    return bool(frame[0, 0, 2] == 255)\n"
FIRST = (
    "def check(frame, first):\n"
    "    return bool(first[0, 0, 1] == frame[0, 0, 1] and first[0, 0, 0] == 0)\n"
)
CLEAN = {"a": A, "b": B, "term": TERM, "first": FIRST}

# fail at run time on frames of step 3 (in the batch: the whole checker row fails that step)
ERR = (
    "def check(frame):\n    t = int(frame[0, 0, 0])\n    if t == 3:\n"
    "        return bool(1 // (t - 3))\n    return t >= 3\n"
)
CONTRACT = (
    "def check(frame):\n    t = int(frame[0, 0, 0])\n    if t == 3:\n"
    "        return t\n    return bool(t >= 3)\n"
)
FAULTY = {"a": A, "err": ERR, "contract": CONTRACT}


class FrameEnv(gym.Env[Any, int]):
    """A scripted env whose frames say which step, episode and whether terminal they are.

    Args:
        length: steps per episode.
        marker: per-env offset of the episode code in the green channel.
        truncate: end episodes by truncation (time limit) instead of termination.
        obs: ``image`` (HWC uint8 frame), ``symbolic`` (float32 [t, episode]), ``chw`` (the frame
            transposed) or ``float`` (the frame as float32).
        info_frame: also put the frame in ``info["frame"]``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        length: int = 3,
        marker: int = 0,
        *,
        truncate: bool = False,
        obs: str = "image",
        info_frame: bool = True,
    ) -> None:
        self.length, self.marker, self.truncate, self.obs, self.info_frame = (
            length,
            marker,
            truncate,
            obs,
            info_frame,
        )
        shapes = {"image": (SIDE, SIDE, 3), "chw": (3, SIDE, SIDE), "float": (SIDE, SIDE, 3)}
        if obs == "symbolic":
            self.observation_space = gym.spaces.Box(0, 1e6, (2,), np.float32)
        elif obs == "float":
            self.observation_space = gym.spaces.Box(0, 255, shapes[obs], np.float32)
        else:
            self.observation_space = gym.spaces.Box(0, 255, shapes[obs], np.uint8)
        self.action_space = gym.spaces.Discrete(2)
        self.episode = -1
        self.t = 0

    def frame(self, terminal: bool = False) -> np.ndarray:
        f = np.zeros((SIDE, SIDE, 3), np.uint8)
        f[..., 0] = self.t
        f[..., 1] = (self.marker + self.episode) % 256
        if terminal:
            f[..., 2] = 255
        return f

    def _out(self, frame: np.ndarray) -> tuple[Any, dict[str, Any]]:
        info = {"frame": frame} if self.info_frame else {}
        if self.obs == "symbolic":
            return np.array([self.t, self.episode], np.float32), info
        if self.obs == "chw":
            return np.ascontiguousarray(frame.transpose(2, 0, 1)), info
        if self.obs == "float":
            return frame.astype(np.float32), info
        return frame, info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.t = 0
        self.episode += 1
        return self._out(self.frame())

    def step(self, action: int):
        self.t += 1
        end = self.t >= self.length
        obs, info = self._out(self.frame(end))
        reward = 0.1 * self.t + (1.0 if end else 0.0)
        return obs, reward, end and not self.truncate, end and self.truncate, info

    def render(self) -> np.ndarray:
        return self.frame()


def env_reward(t: int, length: int) -> float:
    return 0.1 * t + (1.0 if t == length else 0.0)


def make_program(sources: dict[str, str], scheme: str = "ordered") -> RewardProgram:
    return RewardProgram(
        env_id="FrameEnv",
        task="test",
        subtasks=tuple(SubTask(n, n, s) for n, s in sources.items()),
        scheme=scheme,  # type: ignore[arg-type]
    )


def make_venv(*lengths: int, **kwargs: Any) -> DummyVecEnv:
    fns = [lambda n=n, j=j: FrameEnv(n, 50 * j, **kwargs) for j, n in enumerate(lengths)]
    return DummyVecEnv(fns)


@pytest.fixture(scope="module")
def clean_box():
    with Sandbox(list(CLEAN.values()), names=list(CLEAN)) as box:
        yield box


@pytest.fixture(scope="module")
def faulty_box():
    with Sandbox(list(FAULTY.values()), names=list(FAULTY)) as box:
        yield box


def rollout(venv: CodeRewardVecEnv, steps: int):
    venv.reset()
    out = []
    for _ in range(steps):
        obs, rew, done, infos = venv.step(np.zeros(venv.num_envs, dtype=np.int64))
        out.append((obs, rew, done, infos))
    return out


# -- reward arithmetic, terminal frames, firsts ----------------------------------------------


@pytest.mark.parametrize("frame_source", ["obs", "info"])
def test_ordered_bonus_terminal_frames_and_firsts(clean_box, frame_source):
    venv = CodeRewardVecEnv(
        make_venv(3, 5), make_program(CLEAN), sandbox=clean_box, frame_source=frame_source
    )
    steps = rollout(venv, 12)
    assert venv.frame_source == frame_source
    # per env: a at t=1, b at t=2, term (+ first, which latches after it in order) at the end
    expected_bonus = {0: [1, 1, 2] * 4, 1: [1, 1, 0, 0, 2] * 2 + [1, 1]}
    for i, length in ((0, 3), (1, 5)):
        t = 0
        for k, (obs, rew, done, infos) in enumerate(steps):
            t += 1
            info = infos[i]
            assert info["env_reward"] == pytest.approx(env_reward(t, length))
            assert info["code_bonus"] == expected_bonus[i][k]
            assert rew[i] == pytest.approx(info["env_reward"] + info["code_bonus"])
            assert rew.dtype == np.float32
            assert set(info["subtasks"]) == set(CLEAN) == set(info["subtask_fired"])
            assert "checker_status" not in info
            # first is checked against the current episode's first frame, every step, every episode
            assert info["subtask_fired"]["first"] is True
            assert info["subtask_fired"]["term"] is bool(done[i])
            if done[i]:
                # the checker saw the terminal frame, while the returned obs is the reset frame
                assert obs[i, 0, 0, 2] == 0 and obs[i, 0, 0, 0] == 0
                assert info["subtasks"] == dict.fromkeys(CLEAN, True)
                episode = info["code_reward_episode"]
                assert episode["length"] == length
                assert episode["shaped_return"] - episode["env_return"] == pytest.approx(4.0)
                assert episode["env_return"] == pytest.approx(
                    sum(env_reward(s, length) for s in range(1, length + 1))
                )
                t = 0
            else:
                assert "code_reward_episode" not in info
    assert venv.stats.steps == 12 and venv.stats.frames == 24 and venv.stats.total_failures == 0
    assert venv.stats.evaluate_seconds > 0
    venv.close()


def test_any_order_pays_each_subtask_once(clean_box):
    venv = CodeRewardVecEnv(
        make_venv(3, 4), make_program(CLEAN), sandbox=clean_box, scheme="any_order"
    )
    steps = rollout(venv, 8)
    bonuses = np.array([s[3][i]["code_bonus"] for s in steps for i in range(2)]).reshape(8, 2)
    # a and first at t=1, b at t=2, term at the end
    assert bonuses[:, 0].tolist() == [2, 1, 1, 2, 1, 1, 2, 1]
    assert bonuses[:, 1].tolist() == [2, 1, 0, 1, 2, 1, 0, 1]
    venv.close()


def test_potential_terminal_vs_truncated(clean_box):
    venv = CodeRewardVecEnv(
        DummyVecEnv([lambda: FrameEnv(3), lambda: FrameEnv(3, 50, truncate=True)]),
        make_program(CLEAN, "potential"),
        sandbox=clean_box,
        gamma=0.5,
    )
    steps = rollout(venv, 3)
    bonuses = [[s[3][i]["code_bonus"] for s in steps] for i in range(2)]
    # Phi: 1, 2, then 4 on the last frame; a true terminal counts as Phi = 0
    assert bonuses[0] == [0.5, 0.0, -2.0]
    assert bonuses[1] == [0.5, 0.0, 0.0]
    assert steps[-1][3][1]["TimeLimit.truncated"] is True
    venv.close()


def test_per_env_state_resets_only_for_done_envs(clean_box):
    venv = CodeRewardVecEnv(make_venv(2, 6), make_program(CLEAN), sandbox=clean_box)
    venv.reset()
    for _ in range(2):
        _, _, done, infos = venv.step(np.zeros(2, dtype=np.int64))
    assert done.tolist() == [True, False]
    assert venv.completed.tolist() == [[False] * 4, [True, True, False, False]]
    _, _, _, infos = venv.step(np.zeros(2, dtype=np.int64))
    assert infos[0]["subtasks"] == {"a": True, "b": False, "term": False, "first": False}
    assert infos[1]["subtasks"] == {"a": True, "b": True, "term": False, "first": False}
    venv.close()


def test_symbolic_observation_with_info_frames(clean_box):
    venv = CodeRewardVecEnv(make_venv(3, 4, obs="symbolic"), make_program(CLEAN), sandbox=clean_box)
    steps = rollout(venv, 8)
    assert venv.frame_source == "info"
    assert steps[0][0].shape == (2, 2)
    for _, _, done, infos in steps:
        for i in range(2):
            assert infos[i]["subtask_fired"]["term"] is bool(done[i])
            assert infos[i]["subtask_fired"]["first"] is True
    venv.close()


def test_auto_prefers_info_frames(clean_box):
    venv = CodeRewardVecEnv(make_venv(3), make_program(CLEAN), sandbox=clean_box)
    venv.reset()
    assert venv.frame_source == "info"
    venv.close()
    venv = CodeRewardVecEnv(make_venv(3, info_frame=False), make_program(CLEAN), sandbox=clean_box)
    venv.reset()
    assert venv.frame_source == "obs"
    venv.close()


# -- failures -----------------------------------------------------------------------------------


def test_runtime_failures_are_counted_and_training_continues(faulty_box):
    venv = CodeRewardVecEnv(make_venv(5, 5), make_program(FAULTY), sandbox=faulty_box)
    steps = rollout(venv, 10)
    assert venv.stats.failures == {"err": {"error": 2}, "contract": {"contract": 2}}
    assert venv.stats.total_failures == 4
    assert venv.stats.failures_by_status == {"error": 2, "contract": 2}
    name, status, detail = venv.stats.last_failure
    assert name == "contract" and status == "contract" and detail
    for k, (_, rew, _, infos) in enumerate(steps):
        t = k % 5 + 1
        for info in infos:
            if t == 3:
                assert info["checker_status"] == {"err": "error", "contract": "contract"}
                assert info["subtask_fired"] == {"a": True, "err": False, "contract": False}
            else:
                assert "checker_status" not in info
        # failed checkers neither latch nor pay on step 3; they latch on step 4 instead
        assert rew.tolist() == pytest.approx(
            [env_reward(t, 5) + {1: 1, 2: 0, 3: 0, 4: 2, 5: 0}[t]] * 2
        )
    venv.close()


def test_raise_policy_names_checker_status_and_detail(faulty_box):
    venv = CodeRewardVecEnv(
        make_venv(5), make_program(FAULTY), sandbox=faulty_box, failure_policy="raise"
    )
    venv.reset()
    venv.step(np.zeros(1, dtype=np.int64))
    venv.step(np.zeros(1, dtype=np.int64))
    with pytest.raises(CheckerFailureError) as caught:
        venv.step(np.zeros(1, dtype=np.int64))
    err = caught.value
    assert (err.checker, err.status, err.step) == ("err", "error", 3)
    text = str(err)
    assert "'err'" in text and "'error'" in text and "ZeroDivisionError" in text
    assert "failure_policy='raise'" in text
    venv.close()


def test_stop_after_n_failures(faulty_box):
    venv = CodeRewardVecEnv(
        make_venv(5), make_program(FAULTY), sandbox=faulty_box, failure_policy="stop_after:3"
    )
    venv.reset()
    for _ in range(7):  # the failing step 3 costs two failures: under the budget
        venv.step(np.zeros(1, dtype=np.int64))
    with pytest.raises(CheckerFailureError, match="4 checker failure"):
        venv.step(np.zeros(1, dtype=np.int64))
    assert venv.stats.steps == 8
    venv.close()


# -- the frame path: frames written in place in the sandbox's shared memory ----------------------


def test_frames_are_staged_in_shared_memory_and_firsts_written_only_on_reset(clean_box):
    venv = CodeRewardVecEnv(make_venv(3, 5), make_program(CLEAN), sandbox=clean_box)
    rollout(venv, 1)
    engine = venv.engine
    stage = engine._stage
    assert stage is not None and stage.shared and stage.current and stage.firsts is not None
    assert np.array_equal(stage.firsts, engine.firsts)
    # the engine's own copy is not sent again each step: the workers read the staged firsts
    real = engine.firsts[1].copy()
    engine.firsts[1] = 99
    _, _, done, infos = venv.step(np.zeros(2, dtype=np.int64))
    assert not done[1] and infos[1]["subtask_fired"]["first"] is True
    # a shared sandbox used for something else between steps: the stage goes stale and the
    # next step stages again, with every first frame, and still answers right
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (2, SIDE, SIDE, 3), dtype=np.uint8)
    clean_box.evaluate(noise, noise)
    assert not stage.current
    engine.firsts[1] = real  # undo the tampering above (the next stage copies every first frame)
    for _ in range(6):
        _, _, done, infos = venv.step(np.zeros(2, dtype=np.int64))
        assert all(info["subtask_fired"]["first"] for info in infos)
    assert engine._stage is not stage and engine._stage.current
    assert np.array_equal(engine._stage.firsts, engine.firsts)
    venv.close()


class BadStepFrame(FrameEnv):
    """Puts a float frame in info['frame'] from the second step on."""

    def step(self, action: int):
        obs, reward, term, trunc, info = super().step(action)
        if self.t >= 2:
            info["frame"] = info["frame"].astype(np.float32)
        return obs, reward, term, trunc, info


def test_a_bad_info_frame_at_a_step_names_the_env(clean_box):
    venv = CodeRewardVecEnv(
        DummyVecEnv([lambda: FrameEnv(9), lambda: BadStepFrame(9)]),
        make_program(CLEAN),
        sandbox=clean_box,
        frame_source="info",
    )
    venv.reset()
    venv.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(FrameError, match=r"info\['frame'\] of env 1.*dtype float32"):
        venv.step(np.zeros(2, dtype=np.int64))
    venv.close()


# -- frames and construction errors -------------------------------------------------------------


@pytest.mark.parametrize("obs", ["chw", "float"])
def test_bad_frame_shape_or_dtype_raises_at_reset(clean_box, obs):
    venv = CodeRewardVecEnv(
        make_venv(3, obs=obs, info_frame=False),
        make_program(CLEAN),
        sandbox=clean_box,
        frame_source="obs",
    )
    with pytest.raises(FrameError, match=r"\(H, W, 3\) with dtype uint8.*innermost"):
        venv.reset()
    venv.close()


def test_wrapping_outside_transpose_is_refused(clean_box):
    inner = VecTransposeImage(make_venv(3, info_frame=False))
    venv = CodeRewardVecEnv(inner, make_program(CLEAN), sandbox=clean_box)
    with pytest.raises(FrameError):
        venv.reset()
    venv.close()


def test_no_frames_anywhere(clean_box):
    venv = CodeRewardVecEnv(
        make_venv(3, obs="symbolic", info_frame=False), make_program(CLEAN), sandbox=clean_box
    )
    with pytest.raises(FrameError, match="info\\['frame'\\]"):
        venv.reset()
    venv.close()
    venv = CodeRewardVecEnv(
        make_venv(3, info_frame=False), make_program(CLEAN), sandbox=clean_box, frame_source="info"
    )
    with pytest.raises(FrameError, match="no 'frame'"):
        venv.reset()
    venv.close()


def test_sandbox_must_match_program(clean_box):
    with pytest.raises(ValueError, match="different checkers"):
        CodeRewardVecEnv(make_venv(3), [A], sandbox=clean_box)
    with pytest.raises(ValueError, match="frame_source"):
        CodeRewardVecEnv(make_venv(3), [A], sandbox=clean_box, frame_source="pixels")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="failure_policy"):
        CodeRewardVecEnv(
            make_venv(3), make_program(CLEAN), sandbox=clean_box, failure_policy="stop"
        )


def test_owned_sandbox_closed_shared_sandbox_kept(clean_box):
    venv = CodeRewardVecEnv(make_venv(3), [A, TERM], names=["a", "term"], isolation="process")
    assert venv.engine.owns_sandbox and venv.names == ("a", "term")
    steps = rollout(venv, 3)
    assert steps[-1][3][0]["subtasks"] == {"a": True, "term": True}
    box = venv.sandbox
    venv.close()
    with pytest.raises(Exception, match="closed"):
        box.evaluate(np.zeros((1, 4, 4, 3), np.uint8))
    shared = CodeRewardVecEnv(make_venv(3), make_program(CLEAN), sandbox=clean_box)
    shared.close()
    assert clean_box.evaluate(np.zeros((1, 4, 4, 3), np.uint8)).ok


# -- end to end ---------------------------------------------------------------------------------


def test_ppo_learns_end_to_end(clean_box):
    venv = CodeRewardVecEnv(make_venv(3, 4, 5, 6), make_program(CLEAN), sandbox=clean_box)
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.set_logger(Logger(None, []))  # SB3 would make an empty directory under /tmp
    model.learn(total_timesteps=256)
    # SB3 put VecTransposeImage outside; the code reward saw HWC frames, innermost
    assert isinstance(model.get_env(), VecTransposeImage)
    assert find_code_reward(model.get_env()) is venv
    assert venv.stats.steps == 64 and venv.stats.total_failures == 0
    venv.close()


def test_minigrid_integration():
    """Real MiniGrid frames (highlight=False), 3 checkers, auto-reset on a short time limit."""
    importlib.import_module("minigrid")
    from minigrid.wrappers import RGBImgObsWrapper

    agent = "def check(frame):\n    r = frame[..., 0] == 255\n    return bool((r & (frame[..., 1] == 0)).any())\n"
    moved = "def check(frame, first):\n    return bool((frame != first).any())\n"
    goal = "def check(frame):\n    g = (frame[..., 1] == 255) & (frame[..., 0] == 0)\n    return bool(g.any())\n"

    def make() -> gym.Env[Any, Any]:
        env = gym.make("MiniGrid-DoorKey-5x5-v0", max_steps=6, highlight=False)
        return _ImageOnly(RGBImgObsWrapper(env, tile_size=8))

    venv = CodeRewardVecEnv(
        DummyVecEnv([make, make]),
        [agent, moved, goal],
        names=["agent", "moved", "goal"],
        isolation="process",
    )
    venv.seed(0)
    obs = venv.reset()
    assert obs.shape == (2, 40, 40, 3) and venv.frame_source == "obs"
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(14):
        _, rew, done, infos = venv.step(rng.integers(0, 3, size=2))
        for i, info in enumerate(infos):
            assert info["subtask_fired"]["agent"] and info["subtask_fired"]["goal"]
            assert rew[i] == pytest.approx(info["env_reward"] + info["code_bonus"])
            if done[i]:
                ends += 1
                assert info["TimeLimit.truncated"] and info["code_reward_episode"]["length"] == 6
    assert ends == 4
    assert venv.stats.total_failures == 0
    venv.close()


class _ImageOnly(gym.ObservationWrapper[Any, Any, Any]):
    """Keep only the RGB image of MiniGrid's dict observation."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.observation_space = env.observation_space["image"]  # type: ignore[index]

    def observation(self, observation: Any) -> Any:
        return observation["image"]


def test_make_env_symbolic_observation_integration():
    """rl.envs.make_env: symbolic policy observation, reward frames from info['frame']."""
    envs = importlib.import_module("rl.envs")
    examples = Path(sandbox.__file__).parent / "examples"
    sources = [
        (examples / "key_picked_up.py").read_text(),
        "def check(frame):\n    return bool(count_color(frame, (114, 114, 0), 10) == 0)\n",
        (examples / "agent_at_goal.py").read_text(),
    ]
    names = ["key_picked", "door_open", "goal_reached"]
    fns = [
        lambda i=i: envs.make_env(
            "MiniGrid-DoorKey-5x5-v0", seed=i, observation="symbolic", max_steps=7
        )
        for i in range(3)
    ]
    venv = CodeRewardVecEnv(DummyVecEnv(fns), sources, names=names, isolation="process")
    obs = venv.reset()
    assert obs.ndim == 2 and venv.frame_source == "info"
    assert venv.engine.frame_shape == (40, 40, 3)
    rng = np.random.default_rng(1)
    ends = 0
    for _ in range(15):
        _, rew, done, infos = venv.step(rng.integers(0, 6, size=3))
        for i, info in enumerate(infos):
            assert "labels" in info and "frame" in info  # the env's own keys are kept
            assert set(info["subtasks"]) == set(names)
            assert rew[i] == pytest.approx(info["env_reward"] + info["code_bonus"])
            ends += bool(done[i])
            if done[i]:
                assert info["code_reward_episode"]["length"] <= 7
    assert ends >= 3
    assert venv.stats.total_failures == 0 and venv.stats.frames == 45
    venv.close()
