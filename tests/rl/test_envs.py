"""rl.envs and rl.labels on the real environments: frames, labels, observations, terminal steps."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rl.envs import ENV_IDS, PANDA_CAMERA, RewardFrames, grid_shape, make_env, render_frame
from rl.experts import ExpertPolicy
from rl.labels import SUBTASKS, ground_truth, subtasks_for

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
    with pytest.raises(ValueError, match="unknown env id"):
        make_env("MiniGrid-Empty-5x5-v0")
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
