"""Scripted experts for the built-in environments, acting from privileged state.

Provides:
    ExpertPolicy: the scripted expert an environment's registry entry declares
        (:attr:`rl.registry.EnvSpec.expert`): ``expert.act()`` (or ``expert(obs)``, which ignores
        ``obs``) returns the next action; call ``reset()`` at every episode start.
    MiniGridPlanner: breadth-first-search planner for MiniGrid tasks made of a locked door, its
        key, a task object (``env.obj``) and a goal square (DoorKey, Unlock, UnlockPickup,
        KeyCorridor; also goal-only tasks such as LavaCrossing or Empty).
    PandaPushController: scripted end-effector controller for PandaPush.

Both read the *unwrapped* environment's state (positions, doors, what the agent carries), not the
observation, so they work with any observation the wrapper produces. Both are policy factories in
the sense of :mod:`rl.demos` (``factory(env)`` returns a callable ``policy(obs) -> action`` with a
``reset()``), so ``--demos rl.experts:MiniGridPlanner`` rolls the planner out on any MiniGrid env.

MiniGrid planner
    Every call replans from scratch, so it is stateless and recovers from any state (a random
    prefix, a dropped key, a door toggled shut). The next sub-goal is read from the state:

    1. a door still locked: if the agent carries the key, face the door and ``toggle``; if it
       carries something else, drop it first; otherwise face the key and ``pickup``;
    2. no door locked: with a task object (``env.obj``, UnlockPickup's box, KeyCorridor's ball),
       face it and ``pickup``, first dropping the key on a free cell from which the object is
       still reachable (the agent holds one object at a time; in KeyCorridorS3R1 the only such
       cell is the one the key came from); otherwise walk onto the goal square if there is one
       (DoorKey, LavaCrossing), else ``done`` (Unlock ended when its door opened).

    "Face cell c" is a BFS over ``(x, y, direction)`` with the actions left, right and forward;
    forward enters empty cells, open doors and the goal, and a closed unlocked door is entered
    after a ``toggle``. The first action of a shortest path is returned. Objects in the way (a
    box behind the door, a key in a one-cell room) are walls to the BFS; when nothing reaches the
    sub-goal, the planner picks up the first object on a path that ignores objects and drops it
    elsewhere (the same rule as above), so blocking objects are cleared. Lava is never entered.

PandaPush controller
    Pushes the cube along the straight line to the target with the gripper's closed fingers:
    while the end-effector is not low and right behind the cube on that line, it rises to 9 cm,
    flies to 5 cm behind the cube and descends to 2.5 cm; then it advances along the line at
    0.6-2 cm per step (slower as the cube nears the target, because the cube slides on after a
    push) while steering back onto the line. It re-plans the approach whenever the cube turns or
    slips off the line. Measured success: see ``benchmarks/results/reference_accuracy.md``.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["ExpertPolicy", "MiniGridPlanner", "PandaPushController"]

# MiniGrid actions (minigrid.core.actions.Actions)
LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE, DONE = range(7)
_DIRS = ((1, 0), (0, 1), (-1, 0), (0, -1))

State = tuple[int, int, int]  # x, y, direction
Pos = tuple[int, int]


def _instance_of(env: Any, module: str, name: str) -> bool:
    """Whether ``env.unwrapped`` is an instance of ``module.name`` (only if already imported)."""
    cls = getattr(sys.modules.get(module), name, None)
    return isinstance(cls, type) and isinstance(env.unwrapped, cls)


class MiniGridPlanner:
    """BFS planner for MiniGrid door/key/object/goal tasks (see the module docstring).

    Args:
        env: a MiniGrid environment, wrapped or not; its ``unwrapped`` state is read on every call.

    Raises:
        ValueError: ``env`` is not a MiniGrid environment.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        if not _instance_of(env, "minigrid.minigrid_env", "MiniGridEnv"):
            raise ValueError(f"no MiniGrid planner for {type(env.unwrapped).__name__}")

    # ---------------------------------------------------------------- grid queries

    @property
    def _u(self) -> Any:
        return self.env.unwrapped

    def _cell(self, pos: Pos) -> Any:
        u = self._u
        x, y = pos
        if not (0 <= x < u.width and 0 <= y < u.height):
            return None
        return u.grid.get(x, y)

    def _find(self, pred: Callable[[Any], bool]) -> Pos | None:
        u = self._u
        for j in range(u.height):
            for i in range(u.width):
                obj = u.grid.get(i, j)
                if obj is not None and pred(obj):
                    return (i, j)
        return None

    def _walkable(self, pos: Pos, ignore_objects: bool, extra: frozenset[Pos]) -> bool:
        u = self._u
        x, y = pos
        if not (0 <= x < u.width and 0 <= y < u.height) or pos in extra:
            return False
        obj = u.grid.get(x, y)
        if obj is None:
            return True
        if obj.type == "lava":
            return False
        if obj.type == "door":
            return obj.is_open or not obj.is_locked  # a closed unlocked door opens on toggle
        if ignore_objects and obj.type in ("key", "ball", "box"):
            return True
        return bool(obj.can_overlap())

    def _start(self) -> State:
        u = self._u
        return (int(u.agent_pos[0]), int(u.agent_pos[1]), int(u.agent_dir))

    @staticmethod
    def _front(s: State) -> Pos:
        dx, dy = _DIRS[s[2]]
        return (s[0] + dx, s[1] + dy)

    def _search(
        self, start: State, *, ignore_objects: bool = False, extra: frozenset[Pos] = frozenset()
    ) -> Iterator[tuple[State, list[int]]]:
        """Yield every reachable state with one shortest action path to it, nearest first."""
        paths: dict[State, list[int]] = {start: []}
        queue: deque[State] = deque([start])
        while queue:
            s = queue.popleft()
            yield s, paths[s]
            x, y, d = s
            front = self._front(s)
            nexts = [((x, y, (d - 1) % 4), LEFT), ((x, y, (d + 1) % 4), RIGHT)]
            if self._walkable(front, ignore_objects, extra):
                nexts.append(((front[0], front[1], d), FORWARD))
            for t, a in nexts:
                if t not in paths:
                    paths[t] = [*paths[s], a]
                    queue.append(t)

    def _first_action(self, path: list[int], start: State) -> int:
        """The action to emit now for ``path``: toggle a closed door before walking into it."""
        if path and path[0] == FORWARD:
            obj = self._cell(self._front(start))
            if obj is not None and obj.type == "door" and not obj.is_open:
                return TOGGLE
        return path[0]

    # ---------------------------------------------------------------- sub-goals

    def _path_to(
        self,
        goal: Callable[[State], bool],
        *,
        ignore_objects: bool = False,
        extra: frozenset[Pos] = frozenset(),
        start: State | None = None,
    ) -> list[int] | None:
        for s, path in self._search(
            start or self._start(), ignore_objects=ignore_objects, extra=extra
        ):
            if goal(s):
                return path
        return None

    def _interact(self, target: Pos, action: int) -> int:
        """Face ``target`` and do ``action`` (pickup/toggle), clearing blockers on the way."""
        start = self._start()
        if self._front(start) == target:
            return action
        path = self._path_to(lambda s: self._front(s) == target)
        if path is not None:
            return self._first_action(path, start)
        return self._clear_blocker(lambda s: self._front(s) == target, target)

    def _walk_onto(self, target: Pos) -> int:
        start = self._start()
        path = self._path_to(lambda s: (s[0], s[1]) == target)
        if path is None:
            return self._clear_blocker(lambda s: (s[0], s[1]) == target, target)
        return self._first_action(path, start) if path else DONE

    def _clear_blocker(self, goal: Callable[[State], bool], target: Pos) -> int:
        """Nothing reaches ``goal``: pick up the first object on an object-ignoring path."""
        start = self._start()
        path = self._path_to(goal, ignore_objects=True)
        if path is None:
            return DONE  # unreachable even through objects: nothing sensible to do
        s = start
        for a in path:
            if a == FORWARD:
                nxt = self._front(s)
                obj = self._cell(nxt)
                if obj is not None and obj.type in ("key", "ball", "box") and nxt != target:
                    if self._u.carrying is not None:
                        return self._drop_keeping(target)
                    return self._interact(nxt, PICKUP)
                s = (nxt[0], nxt[1], s[2])
            else:
                s = (s[0], s[1], (s[2] + (1 if a == RIGHT else -1)) % 4)
        return DONE

    def _drop_keeping(self, keep: Pos) -> int:
        """Drop what the agent carries on a free cell from which ``keep`` stays reachable."""
        start = self._start()
        for tried, (s, path) in enumerate(self._search(start)):
            if tried > 400:
                break
            cell = self._front(s)
            if cell == keep or self._cell(cell) is not None or not self._in_grid(cell):
                continue
            after = self._path_to(
                lambda t: self._front(t) == keep or (t[0], t[1]) == keep,
                extra=frozenset({cell}),
                start=s,
            )
            if after is not None:
                return DROP if not path else self._first_action(path, start)
        return DONE

    def _in_grid(self, pos: Pos) -> bool:
        u = self._u
        return bool(0 <= pos[0] < u.width and 0 <= pos[1] < u.height)

    # ---------------------------------------------------------------- policy

    def reset(self) -> None:
        """Start a new episode (nothing to do: the planner is stateless)."""

    def __call__(self, obs: Any = None) -> int:
        """Return the next action; ``obs`` is ignored (the planner reads the env state)."""
        return self.act()

    def act(self) -> int:
        """Return the next action for the environment's current state."""
        u = self._u
        carrying = u.carrying
        door_pos = self._find(lambda o: o.type == "door" and o.is_locked)
        if door_pos is not None:
            door = u.grid.get(*door_pos)
            if carrying is not None and carrying.type == "key" and carrying.color == door.color:
                return self._interact(door_pos, TOGGLE)
            key_pos = self._find(lambda o: o.type == "key" and o.color == door.color)
            if key_pos is None:
                return DONE  # the key is gone (cannot happen in these envs)
            if carrying is not None:
                return self._drop_keeping(key_pos)
            return self._interact(key_pos, PICKUP)
        target = getattr(u, "obj", None)
        if target is None:
            goal = self._find(lambda o: o.type == "goal")
            # DoorKey, LavaCrossing: walk onto the goal; Unlock: the episode ended at the door
            return self._walk_onto(goal) if goal is not None else DONE
        if carrying is not None and carrying is target:
            return DONE
        obj_pos = self._find(lambda o: o is target)
        if obj_pos is None:
            return DONE  # the box was destroyed by a toggle: the task cannot be completed
        if carrying is not None:
            return self._drop_keeping(obj_pos)
        return self._interact(obj_pos, PICKUP)


class PandaPushController:
    """Scripted pusher for PandaPush (see the module docstring).

    Args:
        env: the environment, wrapped or not; its ``unwrapped`` state is read on every call.
    """

    LOW_Z = 0.025
    HIGH_Z = 0.09
    BEHIND = 0.05

    def __init__(self, env: Any) -> None:
        self.env = env
        if not _instance_of(env, "panda_gym.envs.panda_tasks", "PandaPushEnv"):
            raise ValueError(f"no Panda controller for {type(env.unwrapped).__name__}")
        self.phase = "approach"

    def reset(self) -> None:
        """Start a new episode."""
        self.phase = "approach"

    def __call__(self, obs: Any = None) -> np.ndarray:
        """Return the next action; ``obs`` is ignored (the controller reads the env state)."""
        return self.act()

    def act(self) -> np.ndarray:
        """Return the next end-effector displacement action in ``[-1, 1]^3``."""
        u = self.env.unwrapped
        obj = np.asarray(u.sim.get_base_position("object"), np.float64)
        goal = np.asarray(u.task.get_goal(), np.float64)
        ee = np.asarray(u.robot.get_ee_position(), np.float64)
        d = goal[:2] - obj[:2]
        dist = float(np.linalg.norm(d))
        line = d / max(dist, 1e-6)
        rel = ee[:2] - obj[:2]
        along = float(rel @ line)
        lateral = rel - along * line
        off = float(np.linalg.norm(lateral))
        behind = obj[:2] - line * self.BEHIND
        if self.phase == "push" and not (off < 0.02 and -0.09 < along < -0.015):
            self.phase = "approach"
        if (
            self.phase == "approach"
            and off < 0.01
            and -0.075 < along < -0.03
            and ee[2] < self.LOW_Z + 0.015
        ):
            self.phase = "push"
        if self.phase == "push":
            speed = float(np.clip(0.5 * dist, 0.006, 0.02))
            target = np.array([*(ee[:2] + line * speed - lateral), self.LOW_Z])
            gain = 1.0
        else:
            gain = 0.6
            if np.linalg.norm(ee[:2] - behind) < 0.012:
                target = np.array([*behind, self.LOW_Z])
            elif ee[2] < self.HIGH_Z - 0.02 and np.linalg.norm(rel) < 0.08:
                target = np.array([ee[0], ee[1], self.HIGH_Z])  # rise before flying over
            else:
                target = np.array([*behind, self.HIGH_Z])
        action = np.clip(gain * (target - ee) / 0.05, -1.0, 1.0)
        return action.astype(np.float32)


class ExpertPolicy:
    """The scripted expert an environment's registry entry declares.

    The entry is found from :attr:`rl.envs.RewardFrames.env_id` when ``env`` is wrapped in one,
    else from Gymnasium's ``env.spec.id``.

    Args:
        env: the environment (wrapped or not); the expert reads its ``unwrapped`` state.

    Raises:
        ValueError: the environment's entry declares no scripted expert (give demonstrations
            instead: :mod:`rl.demos`).

    Example:
        >>> from rl.envs import make_env
        >>> env = make_env("MiniGrid-DoorKey-5x5-v0", seed=3)
        >>> _ = env.reset()
        >>> expert = ExpertPolicy(env)
        >>> done = False
        >>> while not done:
        ...     _, reward, terminated, truncated, info = env.step(expert.act())
        ...     done = terminated or truncated
        >>> info["labels"]["goal_reached"], reward > 0
        (True, True)
    """

    def __init__(self, env: Any) -> None:
        from rl.registry import get_spec

        self.env = env
        env_id = _env_id(env)
        spec = get_spec(env_id)
        if spec.expert is None:
            raise ValueError(
                f"no scripted expert for {env_id!r}: give expert demonstrations instead (a "
                "Minari dataset, an .npz of frames, an SB3 .zip or a module:function policy; "
                "see rl.demos)"
            )
        self._impl: Any = spec.expert(env)

    def reset(self) -> None:
        """Start a new episode (the MiniGrid planner is stateless; this resets Panda's phase)."""
        reset = getattr(self._impl, "reset", None)
        if callable(reset):
            reset()

    def act(self) -> Any:
        """Return the next action (an ``int`` for MiniGrid, a float32 array for PandaPush)."""
        return self._impl.act() if hasattr(self._impl, "act") else self._impl(None)

    def __call__(self, obs: Any = None) -> Any:
        """Return the next action; ``obs`` is ignored (the expert reads the env state)."""
        return self.act()


def _env_id(env: Any) -> str:
    current = env
    while current is not None:
        env_id = current.__dict__.get("env_id") if hasattr(current, "__dict__") else None
        if isinstance(env_id, str):
            return env_id
        current = getattr(current, "env", None)
    gym_spec = getattr(env, "spec", None) or getattr(env.unwrapped, "spec", None)
    if gym_spec is None:
        raise ValueError(f"{type(env.unwrapped).__name__} has no env id: cannot find its expert")
    return str(gym_spec.id)
