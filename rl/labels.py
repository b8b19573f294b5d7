"""Ground-truth sub-task labels read from privileged environment state.

Provides:
    LockedDoorLabels: the MiniGrid key-and-locked-door family (DoorKey, Unlock, UnlockPickup,
        KeyCorridor): ``key_picked``, ``door_open`` and an optional final label.
    PandaPushLabels: ``cube_moved`` and ``cube_at_target``.
    SUBTASKS: built-in env id -> the documented sub-task names, in task order (from the registry).
    ground_truth: the labels of an environment's current state, ``{name: bool}``.
    subtasks_for: the label names of an environment object or env id.
    CUBE_MOVED_M, CUBE_AT_TARGET_M: the PandaPush thresholds, in metres.

Labellers are declared per environment in its :class:`rl.registry.EnvSpec` (``labeller``), never
recognised by class name; environments without one (any Gymnasium id that is not built in) have
no ground truth, and verification falls back to fire rates and user-labelled frames
(:mod:`synth.verify`).

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

"The door that started locked" is the one locked door of the grid at reset (each of these tasks
has exactly one), recorded by :meth:`LockedDoorLabels.start`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

import numpy as np

__all__ = [
    "CUBE_AT_TARGET_M",
    "CUBE_MOVED_M",
    "SUBTASKS",
    "LockedDoorLabels",
    "PandaPushLabels",
    "ground_truth",
    "subtasks_for",
]

#: PandaPush: the cube counts as moved once its centre is this far (metres) from its start.
CUBE_MOVED_M = 0.02
#: PandaPush: the environment's success distance (metres), ``Push.distance_threshold``.
CUBE_AT_TARGET_M = 0.05

FinalLabel = Literal["goal_reached", "box_picked", "ball_picked"]


def _locked_door(u: Any) -> Any:
    """The first locked door of the grid (row-major), or None."""
    for obj in u.grid.grid:
        if obj is not None and obj.type == "door" and obj.is_locked:
            return obj
    return None


class LockedDoorLabels:
    """Labels of the MiniGrid key-and-locked-door tasks (see the module docstring).

    Args:
        final: the last label (``goal_reached``, ``box_picked``, ``ball_picked``), or None
            (Unlock ends when the door opens).

    Attributes:
        names: ``key_picked``, ``door_open`` and the final label, in task order.
    """

    def __init__(self, final: FinalLabel | None = None) -> None:
        if final not in (None, "goal_reached", "box_picked", "ball_picked"):
            raise ValueError(
                f"final={final!r}: choose goal_reached, box_picked, ball_picked or None"
            )
        self.final = final
        self.names: tuple[str, ...] = ("key_picked", "door_open", *((final,) if final else ()))
        self._door: Any = None

    def start(self, env: Any) -> None:
        """Remember the door that is locked at the episode's start."""
        self._door = _locked_door(env.unwrapped)
        if self._door is None:
            raise ValueError(
                f"{type(env.unwrapped).__name__} starts with no locked door: these labels are for "
                "MiniGrid's key-and-locked-door tasks"
            )

    def labels(self, env: Any) -> dict[str, bool]:
        """The labels of the current state, in :attr:`names` order."""
        u = env.unwrapped
        if self._door is None or not any(obj is self._door for obj in u.grid.grid):
            self.start(env)  # first call of an episode reset without start(), or a new grid
        unlocked = not self._door.is_locked
        carrying = u.carrying
        key = carrying is not None and carrying.type == "key"
        out = {"key_picked": key or unlocked, "door_open": unlocked}
        if self.final == "goal_reached":
            cell = u.grid.get(*u.agent_pos)
            out["goal_reached"] = cell is not None and cell.type == "goal"
        elif self.final is not None:
            out[self.final] = carrying is not None and carrying is u.obj
        return out


class PandaPushLabels:
    """Labels of PandaPush: ``cube_moved`` and ``cube_at_target`` (see the module docstring).

    Attributes:
        names: ``("cube_moved", "cube_at_target")``.
    """

    names: tuple[str, ...] = ("cube_moved", "cube_at_target")

    def __init__(self) -> None:
        self._start: np.ndarray | None = None

    @staticmethod
    def _cube(env: Any) -> np.ndarray:
        return np.array(env.unwrapped.sim.get_base_position("object"), dtype=np.float64)

    def start(self, env: Any) -> None:
        """Remember the cube's position at the episode's start."""
        self._start = self._cube(env)

    def labels(self, env: Any) -> dict[str, bool]:
        """The labels of the current state."""
        cube = self._cube(env)
        if self._start is None:  # first call of an episode that was reset without start()
            self._start = cube.copy()
        goal = np.asarray(env.unwrapped.task.get_goal(), dtype=np.float64)
        moved = float(np.linalg.norm(cube[:2] - self._start[:2])) > CUBE_MOVED_M
        at_target = float(np.linalg.norm(cube - goal)) < CUBE_AT_TARGET_M
        return {"cube_moved": bool(moved), "cube_at_target": bool(at_target)}


def _reward_frames(env: Any) -> Any:
    """The :class:`rl.envs.RewardFrames` in ``env``'s wrapper chain, or None."""
    from rl.envs import RewardFrames

    current = env
    while current is not None:
        if isinstance(current, RewardFrames):
            return current
        current = getattr(current, "env", None)
    return None


def _spec_of(env: Any) -> Any:
    from rl.registry import get_spec

    gym_spec = getattr(env.unwrapped, "spec", None) or getattr(env, "spec", None)
    env_id = getattr(gym_spec, "id", None)
    if env_id is None:
        raise ValueError(f"{type(env.unwrapped).__name__} has no env id: cannot find its labels")
    return get_spec(str(env_id))


def subtasks_for(env: Any) -> tuple[str, ...]:
    """Return the label names of an environment (wrapped or not) or of an env id.

    Raises:
        ValueError: for an environment without a ground-truth labeller.
    """
    spec = _spec_of_id(env) if isinstance(env, str) else None
    if spec is None:
        frames = _reward_frames(env)
        if frames is not None:
            if not frames.label_names:
                raise ValueError(f"{frames.env_id!r} has no ground-truth labels")
            return tuple(frames.label_names)
        spec = _spec_of(env)
    if not spec.label_names:
        raise ValueError(f"{spec.id!r} has no ground-truth labels; built-in: {', '.join(SUBTASKS)}")
    return tuple(spec.label_names)


def _spec_of_id(env_id: str) -> Any:
    from rl.registry import get_spec

    return get_spec(env_id)


def ground_truth(env: Any) -> dict[str, bool]:
    """Return the sub-task labels of the environment's current state.

    Args:
        env: an environment with a labeller, wrapped or not. Inside :class:`rl.envs.RewardFrames`
            its own labeller (which saw the episode start) answers; otherwise a fresh one of the
            env's registry spec (PandaPush then measures ``cube_moved`` from the current state).

    Returns:
        ``{name: bool}`` in task order.

    Raises:
        ValueError: for an environment without a ground-truth labeller.
    """
    frames = _reward_frames(env)
    if frames is not None and frames.labeller is not None:
        return dict(frames.labeller.labels(frames.env))
    spec = _spec_of(env)
    if spec.labeller is None:
        raise ValueError(f"{spec.id!r} has no ground-truth labels")
    return dict(spec.labeller().labels(env))


class _BuiltinSubtasks(Mapping[str, tuple[str, ...]]):
    """Built-in env id -> label names, read from :data:`rl.envs.BUILTIN_SPECS` on first use."""

    def _table(self) -> Mapping[str, tuple[str, ...]]:
        from rl.envs import BUILTIN_SPECS  # imported late: rl.envs imports this module

        return {s.id: s.label_names for s in BUILTIN_SPECS if s.label_names}

    def __getitem__(self, key: str) -> tuple[str, ...]:
        return self._table()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __repr__(self) -> str:
        return f"SUBTASKS({dict(self._table())!r})"


#: The label vocabulary per built-in environment, in task order (from each registry entry).
SUBTASKS: Mapping[str, tuple[str, ...]] = _BuiltinSubtasks()
