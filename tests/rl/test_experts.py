"""rl.experts: the BFS planner solves every MiniGrid task; the Panda controller pushes."""

from __future__ import annotations

import importlib

import gymnasium as gym
import numpy as np
import pytest

from rl.envs import ENV_IDS, make_env
from rl.experts import ExpertPolicy, MiniGridPlanner, PandaPushController

MINIGRID = [e for e in ENV_IDS if e.startswith("MiniGrid-")]


def solve(env, expert, limit=2000):
    for _ in range(limit):
        _, reward, terminated, truncated, info = env.step(expert.act())
        if terminated or truncated:
            return bool(terminated and reward > 0), info
    return False, None


@pytest.mark.parametrize("env_id", MINIGRID)
def test_planner_solves_20_seeds(env_id):
    env = make_env(env_id, observation="symbolic")
    solved = 0
    for seed in range(20):
        env.reset(seed=seed)
        ok, info = solve(env, ExpertPolicy(env))
        solved += ok
        assert all(info["labels"].values())  # every sub-task done on the terminal step
    assert solved == 20
    env.close()


@pytest.mark.parametrize("env_id", MINIGRID)
def test_planner_recovers_from_a_random_prefix(env_id):
    """Stateless replanning: after random actions (key dropped, doors toggled) it still solves."""
    env = make_env(env_id, observation="symbolic")
    rng = np.random.default_rng(7)
    tried = solved = 0
    for seed in range(100, 110):
        env.reset(seed=seed)
        ended = False
        for _ in range(int(rng.integers(5, 60))):
            _, _, terminated, truncated, _ = env.step(int(rng.integers(0, 7)))
            if terminated or truncated:
                ended = True
                break
        if ended:
            continue
        tried += 1
        solved += solve(env, ExpertPolicy(env))[0]
    assert tried >= 5 and solved == tried
    env.close()


def test_planner_drops_the_key_where_it_does_not_block():
    """KeyCorridorS3R1: the only free cell for the key is where it came from."""
    env = make_env("MiniGrid-KeyCorridorS3R1-v0", observation="symbolic")
    env.reset(seed=0)
    expert = ExpertPolicy(env)
    actions = []
    while True:
        a = expert.act()
        actions.append(a)
        _, reward, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            break
    assert reward > 0 and actions.count(4) == 1  # exactly one drop
    u = env.unwrapped
    assert u.grid.get(1, 1) is not None and u.grid.get(1, 1).type == "key"


def test_expert_rejects_unknown_envs_and_ignores_obs():
    env = gym.make("MiniGrid-Empty-5x5-v0")
    with pytest.raises(ValueError, match="no scripted expert for 'MiniGrid-Empty-5x5-v0'"):
        ExpertPolicy(env)  # its registry entry (resolved from Gymnasium) declares none
    with pytest.raises(ValueError, match="no Panda controller"):
        PandaPushController(env)
    with pytest.raises(ValueError, match="no MiniGrid planner for CartPoleEnv"):
        MiniGridPlanner(gym.make("CartPole-v1"))
    dk = make_env("MiniGrid-DoorKey-5x5-v0", seed=0)
    obs, _ = dk.reset()
    expert = ExpertPolicy(dk)
    assert expert(obs) == expert() == MiniGridPlanner(dk).act()


@pytest.mark.parametrize("env_id", ["MiniGrid-LavaCrossingS9N1-v0", "MiniGrid-Empty-8x8-v0"])
def test_planner_walks_to_the_goal_in_goal_only_tasks(env_id):
    """No locked door, no task object: the planner walks onto the goal and never into lava."""
    env = make_env(env_id, observation="symbolic")
    for seed in range(5):
        env.reset(seed=seed)
        planner = MiniGridPlanner(env)
        ok, _ = solve(env, planner)
        assert ok, seed
    env.close()


def test_panda_controller_pushes_the_cube_to_the_target():
    importlib.import_module("panda_gym")  # registers PandaPush-v3
    env = gym.make("PandaPush-v3")  # physics only (no frames): the controller reads the state
    solved = 0
    expert = ExpertPolicy(env)
    for seed in range(8):
        env.reset(seed=seed)
        expert.reset()
        for _ in range(50):
            action = expert.act()
            assert action.shape == (3,) and action.dtype == np.float32
            assert np.all(np.abs(action) <= 1)
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        solved += bool(info["is_success"])
    assert solved >= 6  # measured 38/40 over seeds 0-39; >= 50 % is the bar
    env.close()
