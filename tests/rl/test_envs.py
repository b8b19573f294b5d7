"""rl.envs and rl.labels on the real environments: frames, labels, observations, terminal steps."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rl.envs import (
    ENV_IDS,
    PANDA_CAMERA,
    FrameShapeError,
    FrameSourceError,
    RewardFrames,
    grid_shape,
    is_picture_space,
    make_env,
    render_frame,
)
from rl.experts import ExpertPolicy
from rl.labels import SUBTASKS, ground_truth, subtasks_for
from rl.registry import EnvError
from tests.rl import custom_env  # registers the VlmcarTest envs

MINIGRID = [e for e in ENV_IDS if e.startswith("MiniGrid-")]
COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (112, 39, 195), (255, 255, 0), (100, 100, 100))


def allowed_colours() -> set[tuple[int, int, int]]:
    """Every colour a highlight-free MiniGrid tile can hold: a 3x3-supersampled mix of one palette
    colour, its locked-door shade (0.45 x, truncated), the grey grid line and black."""
    out = set()
    grid = np.full(3, 100.0)
    for c in COLOURS:
        full = np.array(c, np.float64)
        dark = np.floor(0.45 * full)
        for a in range(10):
            for b in range(10 - a):
                for g in range(10 - a - b):
                    mix = (a * full + b * dark + g * grid) / 9
                    out.add(tuple(int(v) for v in np.floor(mix)))
    return out


ALLOWED = allowed_colours()


def test_env_ids_and_vocabulary():
    assert len(ENV_IDS) == 8 and set(SUBTASKS) == set(ENV_IDS)
    assert SUBTASKS["MiniGrid-DoorKey-8x8-v0"] == ("key_picked", "door_open", "goal_reached")
    assert SUBTASKS["MiniGrid-UnlockPickup-v0"][-1] == "box_picked"
    assert SUBTASKS["MiniGrid-KeyCorridorS3R1-v0"][-1] == "ball_picked"
    assert SUBTASKS["PandaPush-v3"] == ("cube_moved", "cube_at_target")
    assert subtasks_for("MiniGrid-Unlock-v0") == ("key_picked", "door_open")
    with pytest.raises(ValueError, match=r"unknown env id 'MiniGrid-DorKey-5x5-v0'.*did you mean"):
        make_env("MiniGrid-DorKey-5x5-v0")
    with pytest.raises(ValueError, match="observation"):
        make_env("MiniGrid-DoorKey-5x5-v0", observation="pixels")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_steps"):
        make_env("MiniGrid-DoorKey-5x5-v0", max_steps=0)


@pytest.mark.parametrize("env_id", MINIGRID)
def test_minigrid_frames_labels_and_observations(env_id):
    gh, gw = grid_shape(env_id)
    for tile in (8, 16):
        env = make_env(env_id, seed=3, tile_size=tile)
        assert isinstance(env, RewardFrames)
        obs, info = env.reset()
        frame = info["frame"]
        assert frame.dtype == np.uint8 and frame.shape == (gh * tile, gw * tile, 3)
        assert frame.flags.c_contiguous
        assert env.observation_space.shape == frame.shape
        np.testing.assert_array_equal(obs, frame)  # the policy sees what the checkers see
        assert obs is not frame
        assert list(info["labels"]) == list(SUBTASKS[env_id])
        assert not any(info["labels"].values())
        # highlight off: the agent is pure red, visible floor stays black, no highlight blend
        u = env.unwrapped
        pixels = {tuple(int(v) for v in p) for p in frame.reshape(-1, 3)}
        assert (255, 0, 0) in pixels and (0, 0, 0) in pixels
        assert (255, 76, 76) not in pixels and (76, 76, 76) not in pixels
        assert pixels <= ALLOWED, sorted(pixels - ALLOWED)[:5]
        highlighted = u.get_frame(highlight=True, tile_size=tile)
        assert not np.array_equal(highlighted, frame)
        for _ in range(5):
            obs, _, _, _, info = env.step(env.action_space.sample())
            assert set(info) >= {"frame", "labels"}
            np.testing.assert_array_equal(obs, info["frame"])
            np.testing.assert_array_equal(info["frame"], render_frame(env, tile_size=tile))
            assert info["labels"] == ground_truth(env)
        env.close()


@pytest.mark.parametrize("env_id", MINIGRID)
def test_symbolic_observation_is_full_grid_plus_carrying(env_id):
    env = make_env(env_id, seed=0, observation="symbolic")
    obs, info = env.reset()
    gh, gw = grid_shape(env_id)
    assert obs.dtype == np.uint8 and obs.shape == (gh * gw * 3 + 2,)
    assert env.observation_space.contains(obs)
    u = env.unwrapped
    grid = obs[:-2].reshape(gh, gw, 3)
    x, y = u.agent_pos
    assert tuple(grid[y, x]) == (10, 0, u.agent_dir)  # agent, red, direction
    assert tuple(obs[-2:]) == (1, 0)  # carrying nothing
    assert info["frame"].shape == (gh * 8, gw * 8, 3)  # the reward frame is still rendered
    env.close()


def test_env_reward_and_dynamics_unchanged():
    env_id = "MiniGrid-DoorKey-6x6-v0"
    wrapped = make_env(env_id, seed=11)
    plain = gym.make(env_id)
    wrapped.reset()
    plain.reset(seed=11)
    expert = ExpertPolicy(wrapped)
    while True:
        action = expert.act()
        _, r1, t1, tr1, _ = wrapped.step(action)
        _, r2, t2, tr2, _ = plain.step(action)
        assert (r1, t1, tr1) == (r2, t2, tr2)
        if t1 or tr1:
            break
    assert r1 > 0 and t1
    assert r1 == pytest.approx(1 - 0.9 * wrapped.unwrapped.step_count / wrapped.unwrapped.max_steps)


def test_max_steps_truncates():
    env = make_env("MiniGrid-DoorKey-5x5-v0", seed=0, max_steps=4)
    env.reset()
    flags = [env.step(0)[3] for _ in range(4)]  # turn left four times
    assert flags == [False, False, False, True]


def test_terminal_frame_survives_vec_env_autoreset():
    """SB3 resets a done env inside step_wait: the info still holds the terminal frame."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv([lambda: make_env("MiniGrid-DoorKey-5x5-v0", seed=5)])
    obs = venv.reset()
    expert = ExpertPolicy(venv.envs[0])
    for _ in range(100):
        obs, _, dones, infos = venv.step(np.array([expert.act()]))
        if dones[0]:
            break
    assert dones[0]
    info = infos[0]
    assert info["labels"] == {"key_picked": True, "door_open": True, "goal_reached": True}
    frame = info["frame"]
    # the terminal frame shows the agent on the goal; the returned obs is the next episode's start
    green = np.all(frame == (0, 255, 0), axis=-1)
    red = np.all(frame == (255, 0, 0), axis=-1)
    ys, xs = np.nonzero(green)
    ry, rx = np.nonzero(red)
    assert ys.min() <= ry.mean() <= ys.max() and xs.min() <= rx.mean() <= xs.max()
    np.testing.assert_array_equal(info["terminal_observation"], frame)
    assert not np.array_equal(obs[0], frame)
    venv.close()


def test_labels_follow_the_state():
    env = make_env("MiniGrid-UnlockPickup-v0", seed=2)
    env.reset()
    expert = ExpertPolicy(env)
    seen = []
    while True:
        _, _, terminated, truncated, info = env.step(expert.act())
        seen.append(tuple(info["labels"].values()))
        if terminated or truncated:
            break
    # key first, then the door, then the box; the key counts as picked after it is dropped
    assert seen[-1] == (True, True, True)
    firsts = [next(i for i, s in enumerate(seen) if s[k]) for k in range(3)]
    assert firsts[0] < firsts[1] < firsts[2] == len(seen) - 1
    assert env.unwrapped.carrying is env.unwrapped.obj


def test_panda_frames_headless():
    env = make_env("PandaPush-v3", seed=0, frame_size=48)
    obs, info = env.reset()
    frame = info["frame"]
    assert frame.shape == (48, 48, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(obs, frame)
    f = frame.astype(int)
    green = (f[..., 1] > 60) & (f[..., 1] > 2 * f[..., 0]) & (f[..., 1] > 2 * f[..., 2])
    red = (f[..., 0] > 60) & (f[..., 0] > 2 * f[..., 1]) & (f[..., 0] > 2 * f[..., 2])
    assert green.sum() >= 2 and red.sum() >= 2  # the cube, and the recoloured target
    assert info["labels"] == {"cube_moved": False, "cube_at_target": bool(info["is_success"])}
    _, reward, _, _, info = env.step(np.zeros(3, np.float32))
    assert reward in (-1.0, 0.0) and set(info) >= {"frame", "labels", "is_success"}
    env.close()
    sym = make_env("PandaPush-v3", seed=0, observation="symbolic")
    obs, _ = sym.reset()
    assert obs.shape == (24,) and obs.dtype == np.float32
    np.testing.assert_allclose(obs[18:21], sym.unwrapped.task.get_achieved_goal(), atol=1e-6)
    sym.close()
    assert PANDA_CAMERA["render_yaw"] == 135.0


def test_panda_episodes_after_a_seeded_reset_repeat():
    # panda-gym draws a fresh OS-entropy seed on every reset without one; the wrapper derives
    # the later episodes' seeds from the seeded one, so seeded runs (and rollouts) repeat
    def layouts(seed: int) -> list[np.ndarray]:
        env = make_env("PandaPush-v3", seed=seed, frame_size=32)
        out = []
        for _ in range(3):
            env.reset()
            task = env.unwrapped.task
            out.append(np.concatenate([task.get_achieved_goal(), task.goal]))
        env.close()
        return out

    first, again, other = layouts(5), layouts(5), layouts(6)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[1], first[2])  # later episodes still differ from each other
    assert not np.allclose(first[1], other[1])


# ------------------------------------------------------------------------------------------------
# Any environment: frame sources, observations, bad input
# ------------------------------------------------------------------------------------------------


def test_any_gymnasium_env_gets_render_frames_and_its_own_observation():
    env = make_env(custom_env.DOT, seed=4, observation="auto", env_kwargs={"size": 40})
    assert env.frame_source == "render" and env.observation_kind == "native"
    assert env.label_names == () and env.labeller is None
    obs, info = env.reset()
    assert obs.shape == (4,) and "labels" not in info
    assert info["frame"].shape == (40, 40, 3) and info["frame"].dtype == np.uint8
    assert env.frame_description == "render() with render_mode='rgb_array', 40x40x3"
    np.testing.assert_array_equal(info["frame"], env.unwrapped.render())
    _, _, _, _, info = env.step(1)
    assert info["frame"].shape == (40, 40, 3)
    image = make_env(custom_env.DOT, seed=4, observation="image")
    obs, info = image.reset()
    assert image.observation_space.shape == (32, 32, 3)
    np.testing.assert_array_equal(obs, info["frame"])
    with pytest.raises(ValueError, match="declares no symbolic observation"):
        make_env(custom_env.DOT, observation="symbolic")


def test_unregistered_minigrid_env_gets_the_family_frames_and_symbolic_grid():
    env = make_env("MiniGrid-LavaCrossingS9N1-v0", observation="auto", tile_size=8)
    obs, info = env.reset(seed=0)
    assert env.observation_kind == "symbolic" and obs.shape == (9 * 9 * 3 + 2,)
    frame = info["frame"]
    assert frame.shape == (72, 72, 3)
    pixels = {tuple(int(v) for v in p) for p in frame.reshape(-1, 3)}
    assert (255, 0, 0) in pixels and (255, 76, 76) not in pixels  # highlight off
    assert env.frame_description.startswith("MiniGrid full-grid render, highlight off")


def _register_symbolic_image_env() -> str:
    from minigrid.wrappers import ImgObsWrapper

    env_id = "VlmcarTest/SymbolicImage-v0"
    if env_id not in gym.registry:
        gym.register(
            env_id, entry_point=lambda **kw: ImgObsWrapper(gym.make("MiniGrid-Empty-5x5-v0"))
        )
    return env_id


def test_a_7x7x3_symbolic_grid_is_not_taken_for_a_picture():
    env_id = _register_symbolic_image_env()
    assert not is_picture_space(gym.spaces.Box(0, 255, (7, 7, 3), np.uint8))
    assert is_picture_space(gym.spaces.Box(0, 255, (16, 16, 3), np.uint8))
    with pytest.raises(FrameSourceError, match="7x7x3 uint8, too small to be a picture"):
        make_env(env_id, observation="native", frame_source="obs")
    with pytest.raises(FrameSourceError, match=r"cannot render RGB frames.*symbolic grid"):
        make_env(env_id, observation="native")  # auto: no render mode, and no picture


def test_env_that_cannot_render_rgb_is_refused_unless_frames_are_off():
    env_id = "tests.rl.custom_env:VlmcarTest/NoRender-v0"
    with pytest.raises(FrameSourceError, match="cannot render RGB frames") as info:
        make_env(env_id, observation="native")
    assert "render_modes=[]" in str(info.value)
    with pytest.raises(FrameSourceError, match="render_mode=None"):
        make_env(env_id, observation="native", frame_source="render")
    env = make_env(env_id, observation="native", frame_source="none")
    _, info = env.reset(seed=0)
    assert "frame" not in info and env.frame_source == "none"
    with pytest.raises(ValueError, match="needs reward frames"):
        make_env(env_id, observation="image", frame_source="none")


def test_frames_that_change_shape_mid_episode_are_refused():
    env = make_env("tests.rl.custom_env:VlmcarTest/Resizing-v0", observation="native")
    env.reset(seed=0)
    env.step(0)
    env.step(0)
    with pytest.raises(
        FrameShapeError, match=r"episode 0, step 3 is 40x40x3 but the first was 32x32x3"
    ):
        env.step(0)


def test_bad_env_kwargs_are_a_clear_error():
    with pytest.raises(EnvError, match="cannot be made with env kwargs"):
        make_env(custom_env.DOT, env_kwargs={"no_such_argument": 1})
    with pytest.raises(ValueError, match="frame_source"):
        make_env(custom_env.DOT, frame_source="screen")  # type: ignore[arg-type]


def test_code_reward_auto_frame_source_refuses_a_symbolic_7x7x3_grid():
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from rl.vec_env import CodeRewardVecEnv
    from sandbox.errors import FrameError

    env_id = _register_symbolic_image_env()
    venv = CodeRewardVecEnv(
        DummyVecEnv([lambda: Monitor(gym.make(env_id))]),
        ["def check(frame):\n    return False\n"],
        isolation="process",
    )
    with pytest.raises(FrameError, match="not an \\(H, W, 3\\) uint8"):
        venv.reset()
    venv.close()
