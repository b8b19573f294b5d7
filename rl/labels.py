"""Ground-truth sub-task labels read from privileged environment state.

Provides:
    SUBTASKS: env id -> the documented sub-task names, in task order.
    ground_truth: the labels of an environment's current state, ``{name: bool}``.
    episode_start: record what a label needs from the episode's first state (called on reset).
    subtasks_for: the label names of an environment object or env id.
    lock_door: the MiniGrid door that starts an episode locked.
    CUBE_MOVED_M, CUBE_AT_TARGET_M: the PandaPush thresholds, in metres.

Every label is a function of the state the *current frame* shows, so a checker that sees only
the frame (and the episode's first frame) can decide it exactly. Nothing carried by the agent is
drawn in a MiniGrid frame, which shapes the definitions:

``key_picked`` (DoorKey, Unlock, UnlockPickup, KeyCorridor)
    The agent carries the key **or** the door that started locked is unlocked. Once the door is
    unlocked this stays true even if the key is dropped again (an expert drops it to pick up the
    box/ball). Before that, dropping the key makes it false again, because the frame then shows
    the key on the floor: it is latched along expert trajectories, not along random ones.
``door_open``
    The door that started locked has been unlocked. MiniGrid opens a door in the same step it
    unlocks it and never locks it again, so this is latched on every trajectory; toggling the
    unlocked door shut again does not clear it. The frame shows it: the locked door's dark inner
    panel (0.45 x its colour) is gone for good.
``goal_reached`` (DoorKey)
    The agent stands on the green goal (the episode terminates on that step).
``box_picked`` (UnlockPickup) / ``ball_picked`` (KeyCorridor)
    The agent carries the task's object (``env.obj``); the episode terminates on that step.
    Blind spot of any frame-only checker: toggling a box in MiniGrid *destroys* it (the box is
    replaced by its empty content), which looks like a pick-up in the frame but is not one here.
``cube_moved`` (PandaPush)
    The cube's centre is more than :data:`CUBE_MOVED_M` (2 cm) from where it was at reset, in
    the table plane. Current state, not latched (the cube can be pushed back).
``cube_at_target`` (PandaPush)
    The environment's own success test: cube centre within :data:`CUBE_AT_TARGET_M` (5 cm) of
    the target's centre.

Labels are listed in :data:`SUBTASKS` in the order an expert completes them.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = [
    "CUBE_AT_TARGET_M",
    "CUBE_MOVED_M",
    "SUBTASKS",
    "episode_start",
    "ground_truth",
    "lock_door",
    "subtasks_for",
]

#: PandaPush: the cube counts as moved once its centre is this far (metres) from its start.
CUBE_MOVED_M = 0.02
#: PandaPush: the environment's success distance (metres), ``Push.distance_threshold``.
CUBE_AT_TARGET_M = 0.05

_DOORKEY = ("key_picked", "door_open", "goal_reached")

#: The label vocabulary per built-in environment, in task order.
SUBTASKS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "MiniGrid-DoorKey-5x5-v0": _DOORKEY,
        "MiniGrid-DoorKey-6x6-v0": _DOORKEY,
        "MiniGrid-DoorKey-8x8-v0": _DOORKEY,
        "MiniGrid-DoorKey-16x16-v0": _DOORKEY,
        "MiniGrid-Unlock-v0": ("key_picked", "door_open"),
        "MiniGrid-UnlockPickup-v0": ("key_picked", "door_open", "box_picked"),
        "MiniGrid-KeyCorridorS3R1-v0": ("key_picked", "door_open", "ball_picked"),
        "PandaPush-v3": ("cube_moved", "cube_at_target"),
    }
)

# Per-episode reference state (PandaPush: the cube's start position), keyed by the unwrapped env.
_START: weakref.WeakKeyDictionary[Any, np.ndarray] = weakref.WeakKeyDictionary()


def _kind(env: Any) -> str:
    """Which family of built-in task ``env`` (wrapped or not) belongs to."""
    u = env.unwrapped
    name = type(u).__name__
    kinds = {
        "DoorKeyEnv": "doorkey",
        "UnlockEnv": "unlock",
        "UnlockPickupEnv": "unlockpickup",
        "KeyCorridorEnv": "keycorridor",
        "PandaPushEnv": "pandapush",
    }
    if name not in kinds:
        raise ValueError(
            f"no ground-truth labels for {name}: built-in environments are {', '.join(SUBTASKS)}"
        )
    return kinds[name]


_NAMES_BY_KIND = {
    "doorkey": _DOORKEY,
    "unlock": SUBTASKS["MiniGrid-Unlock-v0"],
    "unlockpickup": SUBTASKS["MiniGrid-UnlockPickup-v0"],
    "keycorridor": SUBTASKS["MiniGrid-KeyCorridorS3R1-v0"],
    "pandapush": SUBTASKS["PandaPush-v3"],
}


def subtasks_for(env: Any) -> tuple[str, ...]:
    """Return the label names of an environment (wrapped or not) or of an env id.

    Raises:
        ValueError: for an environment without built-in labels.
    """
    if isinstance(env, str):
        if env not in SUBTASKS:
            raise ValueError(f"{env!r} has no built-in labels; known: {', '.join(SUBTASKS)}")
        return SUBTASKS[env]
    return _NAMES_BY_KIND[_kind(env)]


def lock_door(env: Any) -> Any:
    """Return the door that starts the episode locked (a ``minigrid`` ``Door``).

    Raises:
        ValueError: for an environment without such a door.
    """
    u = env.unwrapped
    kind = _kind(env)
    if kind == "doorkey":
        for obj in u.grid.grid:
            if obj is not None and obj.type == "door":
                return obj
    elif kind == "unlock":
        return u.door
    elif kind == "unlockpickup":
        return u.get_room(0, 0).doors[0]
    elif kind == "keycorridor":
        for j in range(u.num_rows):
            room = u.get_room(2, j)
            if room.locked:
                return room.doors[2]
    raise ValueError(f"{type(u).__name__} has no locked door")


def _carrying_key(u: Any) -> bool:
    return u.carrying is not None and u.carrying.type == "key"


def episode_start(env: Any) -> None:
    """Record the episode's reference state; call right after every ``reset``.

    Only PandaPush needs one (the cube's start position for ``cube_moved``); for MiniGrid this does
    nothing. :class:`rl.envs.RewardFrames` calls it for you.
    """
    if _kind(env) == "pandapush":
        u = env.unwrapped
        _START[u] = np.array(u.sim.get_base_position("object"), dtype=np.float64)


def ground_truth(env: Any) -> dict[str, bool]:
    """Return the sub-task labels of the environment's current state.

    Args:
        env: a built-in environment, wrapped or not (its ``unwrapped`` state is read).

    Returns:
        ``{name: bool}`` with the names of :data:`SUBTASKS` for this environment, in order.

    Raises:
        ValueError: for an environment without built-in labels.
    """
    u = env.unwrapped
    kind = _kind(env)
    if kind == "pandapush":
        cube = np.array(u.sim.get_base_position("object"), dtype=np.float64)
        start = _START.get(u)
        if start is None:  # first call of an episode that was reset without episode_start
            _START[u] = start = cube.copy()
        goal = np.asarray(u.task.get_goal(), dtype=np.float64)
        moved = float(np.linalg.norm(cube[:2] - start[:2])) > CUBE_MOVED_M
        at_target = float(np.linalg.norm(cube - goal)) < CUBE_AT_TARGET_M
        return {"cube_moved": bool(moved), "cube_at_target": bool(at_target)}

    door = lock_door(env)
    unlocked = not door.is_locked
    labels = {"key_picked": _carrying_key(u) or unlocked, "door_open": unlocked}
    if kind == "doorkey":
        cell = u.grid.get(*u.agent_pos)
        labels["goal_reached"] = cell is not None and cell.type == "goal"
    elif kind == "unlockpickup":
        labels["box_picked"] = u.carrying is not None and u.carrying is u.obj
    elif kind == "keycorridor":
        labels["ball_picked"] = u.carrying is not None and u.carrying is u.obj
    return labels
