"""Demonstration policies for the environments outside the built-in set (``--demos module:function``).

Each function is a policy factory in the sense of :mod:`rl.demos`: ``factory(env)`` gets the
:class:`rl.envs.RewardFrames` environment and returns ``policy(obs) -> action``.

* :func:`freeway_up`: Atari Freeway (``ale_py:ALE/Freeway-v5``): always ``UP`` (action 1). The
  chicken walks up through the traffic; a car that hits it pushes it back a lane, it keeps
  walking, and it reaches the far sidewalk (one point) about 45 steps after the reset.
* :func:`lunar_heuristic`: gymnasium's ``LunarLander-v3`` (Box2D): gymnasium's own scripted
  controller, :func:`gymnasium.envs.box2d.lunar_lander.heuristic`, which reads the 8-number state
  observation and lands between the flags (seeds 0-5: every episode ends with the +100 landing
  bonus, after 150-230 steps).

The MiniGrid task uses the project's planner, ``rl.experts:MiniGridPlanner``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["FREEWAY_UP", "freeway_up", "lunar_heuristic"]

#: Freeway's action meanings are NOOP, UP, DOWN.
FREEWAY_UP = 1


def freeway_up(env: Any) -> Callable[[Any], int]:
    """Freeway's trivial expert: press ``UP`` on every step, whatever the frame shows."""
    meanings = env.unwrapped.get_action_meanings()
    if meanings[FREEWAY_UP] != "UP":
        raise ValueError(f"freeway_up: action {FREEWAY_UP} is {meanings[FREEWAY_UP]!r}, not 'UP'")
    return lambda obs: FREEWAY_UP


def lunar_heuristic(env: Any) -> Callable[[Any], Any]:
    """gymnasium's scripted LunarLander controller on the state observation."""
    from gymnasium.envs.box2d.lunar_lander import heuristic

    lander = env.unwrapped

    def act(obs: Any) -> Any:
        action = heuristic(lander, np.asarray(obs, dtype=np.float64))
        return action if lander.continuous else int(action)

    return act
