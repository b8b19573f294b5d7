"""rl.rollouts: fixed-length random rollouts, one-episode expert rollouts, aligned arrays."""

from __future__ import annotations

import numpy as np
import pytest

from rl.envs import ENV_IDS
from rl.labels import SUBTASKS
from rl.rollouts import DEFAULT_RANDOM_LENGTH, Trajectory, rollout, rollouts

MINIGRID = [e for e in ENV_IDS if e.startswith("MiniGrid-")]


def check_aligned(t: Trajectory) -> None:
    n = len(t)
    assert t.frames.shape[0] == n and t.frames.dtype == np.uint8 and t.frames.shape[-1] == 3
    assert t.labels.shape == (n, len(t.label_names)) and t.labels.dtype == bool
    for arr in (t.rewards, t.terminated, t.truncated, t.episode):
        assert arr.shape == (n,)
    assert t.label_names == SUBTASKS[t.env_id]
    resets = t.first_index == np.arange(n)
    assert resets[0]
    # reset frames follow an episode end and carry no action, reward or flags
    assert np.array_equal(resets[1:], (t.terminated | t.truncated)[:-1])
    if t.actions.ndim == 1:
        assert np.array_equal(t.actions == -1, resets)
    else:
        assert np.array_equal(np.isnan(t.actions).all(axis=1), resets)
    assert not t.rewards[resets].any() and not (t.terminated | t.truncated)[resets].any()


@pytest.mark.parametrize("env_id", MINIGRID)
def test_random_rollouts_have_exactly_the_stated_length(env_id):
    t = rollout(env_id, policy="random", seed=1)
    assert len(t) == DEFAULT_RANDOM_LENGTH == 50
    check_aligned(t)
    assert t.policy == "random" and t.seed == 1
    long = rollout(env_id, policy="random", seed=2, length=400, max_steps=60)
    assert len(long) == 400 and long.n_episodes >= 6  # continues across episode ends
    check_aligned(long)
    firsts = long.firsts
    assert firsts.shape == long.frames.shape
    np.testing.assert_array_equal(firsts[-1], long.frames[long.first_index[-1]])


@pytest.mark.parametrize("env_id", MINIGRID)
def test_expert_rollout_is_one_successful_episode_with_monotone_labels(env_id):
    for seed in range(3):
        t = rollout(env_id, policy="expert", seed=seed)
        check_aligned(t)
        assert t.success and t.n_episodes == 1 and t.terminated[-1]
        assert len(t) == int(np.count_nonzero(t.actions >= 0)) + 1
        assert t.labels[-1].all() and not t.labels[0].any()
        # every MiniGrid label is latched along expert trajectories
        assert (np.diff(t.labels.astype(int), axis=0) >= 0).all()
        # and completed in the documented order
        firsts = [int(np.argmax(t.labels[:, k])) for k in range(t.labels.shape[1])]
        assert firsts == sorted(firsts)


def test_door_open_is_latched_on_random_rollouts_too():
    for env_id in ("MiniGrid-DoorKey-5x5-v0", "MiniGrid-KeyCorridorS3R1-v0"):
        for t in rollouts(env_id, 4, "random", seed=30, length=300):
            door = t.label("door_open")
            for ep in np.unique(t.episode):
                d = door[t.episode == ep].astype(int)
                assert (np.diff(d) >= 0).all()


def test_rollouts_are_deterministic_and_seeded():
    a = rollouts("MiniGrid-Unlock-v0", 2, "random", seed=5)
    b = [rollout("MiniGrid-Unlock-v0", policy="random", seed=s) for s in (5, 6)]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.frames, y.frames)
        np.testing.assert_array_equal(x.actions, y.actions)
    assert not np.array_equal(a[0].frames, a[1].frames)
    t16 = rollout("MiniGrid-Unlock-v0", policy="expert", seed=5, tile_size=16)
    assert t16.frames.shape[1:] == (96, 176, 3)
    with pytest.raises(ValueError, match="policy"):
        rollout("MiniGrid-Unlock-v0", policy="greedy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="length"):
        rollout("MiniGrid-Unlock-v0", policy="random", length=0)


def test_panda_rollouts():
    t = rollout("PandaPush-v3", policy="random", seed=0, length=6, frame_size=32)
    assert len(t) == 6 and t.frames.shape == (6, 32, 32, 3) and t.actions.shape == (6, 3)
    check_aligned(t)
    e = rollout("PandaPush-v3", policy="expert", seed=2, frame_size=32)
    check_aligned(e)
    assert e.success and e.labels[-1, 1] and e.label("cube_moved").any()
