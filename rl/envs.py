"""Built-in environments with reward frames and ground-truth labels in ``info``.

Provides:
    ENV_IDS: the built-in environment ids.
    make_env: build one of them, wrapped in :class:`RewardFrames`.
    RewardFrames: the wrapper that puts the reward frame and the labels into ``info``.
    render_frame: the reward frame of an environment's current state.
    grid_shape: a MiniGrid env id's grid size in cells, ``(height, width)``.
    PANDA_CAMERA: the PandaPush reward-frame camera.

Reward frames
    The frame checkers see: an H x W x 3 ``uint8`` RGB array (HWC), a fresh array every call.

    * MiniGrid: the full grid, ``tile_size`` pixels per cell, drawn with ``highlight=False``. The
      default ``highlight=True`` blends every cell the agent can see 30 % toward white (the agent
      becomes (255, 76, 76)); with it off the agent is pure (255, 0, 0) and every object has
      MiniGrid's exact palette colour (anti-aliased edges are blends of one colour with black).
      Objects the agent carries are not drawn (MiniGrid draws only the grid and the agent).
    * PandaPush: a ``frame_size`` x ``frame_size`` image from pybullet's software ``Tiny``
      renderer (headless; no display, EGL or GPU needed), from the fixed :data:`PANDA_CAMERA`:
      an oblique view from the front-left of the table (yaw 135, pitch -45), chosen among a few
      candidates because the arm hid the cube in the fewest expert frames (about 15 %; a top-down
      view lost it in about 35 %). The Tiny renderer ignores alpha, so
      the environment's translucent green target ghost would look exactly like the green cube:
      the wrapper recolours the ghost opaque red (``rgba (0.9, 0.1, 0.1, 1)``). The ghost has no
      collision shape, so physics and the environment's reward are unchanged.

``info`` on ``reset`` and on every ``step``
    ``info["frame"]``: the reward frame of the state just reached, and ``info["labels"]``:
    :func:`rl.labels.ground_truth` of that state (``{name: bool}`` in :data:`rl.labels.SUBTASKS`
    order). Both are computed inside ``step`` itself, so a vectorised env that auto-resets
    afterwards (SB3's ``DummyVecEnv``/``SubprocVecEnv``) still hands over the *terminal* frame and
    labels in that step's info.

Observations (``observation=``)
    ``"image"`` (default): the reward frame itself, ``Box(0, 255, (H, W, 3), uint8)``, so a CNN
    policy sees exactly what the checkers see (SB3 transposes it to CHW later).

    ``"symbolic"``, MiniGrid: MiniGrid's compact encoding of the **full** grid (not the 7 x 7
    egocentric view), made Markov: ``grid.encode()`` (one ``(object index, colour index, state)``
    triple per cell, MiniGrid's ``OBJECT_TO_IDX``/``COLOR_TO_IDX``/door states 0 open, 1 closed,
    2 locked) with the agent's cell overwritten by ``(10 "agent", 0 "red", direction 0-3)`` as
    MiniGrid's ``FullyObsWrapper`` does, transposed to row-major ``(height, width, 3)``, flattened,
    followed by the carried object's ``(object index, colour index)`` (``(1, 0)`` when nothing is
    carried): ``Box(0, 255, (H * W * 3 + 2,), uint8)``.

    ``"symbolic"``, PandaPush: the concatenation of the environment's dict observation,
    ``observation`` (18: end-effector position and velocity, cube position, rotation, velocity and
    angular velocity), ``achieved_goal`` (3: cube position) and ``desired_goal`` (3: target),
    ``Box(-inf, inf, (24,), float32)``.

Rewards, termination and truncation are the environment's own, unchanged (MiniGrid: sparse
``1 - 0.9 * steps / max_steps`` on success; PandaPush: ``-1`` per step until success, 50 steps).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rl import labels as _labels

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # minigrid imports pygame

__all__ = [
    "ENV_IDS",
    "PANDA_CAMERA",
    "Observation",
    "RewardFrames",
    "grid_shape",
    "make_env",
    "render_frame",
]

#: The built-in environments.
ENV_IDS: tuple[str, ...] = (
    "MiniGrid-DoorKey-5x5-v0",
    "MiniGrid-DoorKey-6x6-v0",
    "MiniGrid-DoorKey-8x8-v0",
    "MiniGrid-DoorKey-16x16-v0",
    "MiniGrid-Unlock-v0",
    "MiniGrid-UnlockPickup-v0",
    "MiniGrid-KeyCorridorS3R1-v0",
    "PandaPush-v3",
)

Observation = Literal["image", "symbolic"]

#: PandaPush reward-frame camera (pybullet yaw/pitch/roll camera, degrees and metres).
PANDA_CAMERA: Mapping[str, Any] = MappingProxyType(
    {
        "render_target_position": (0.0, 0.0, 0.0),
        "render_distance": 0.6,
        "render_yaw": 135.0,
        "render_pitch": -45.0,
        "render_roll": 0.0,
    }
)

_TARGET_RGBA = (0.9, 0.1, 0.1, 1.0)

_GRID_SHAPES = {  # (height, width) in cells
    "MiniGrid-DoorKey-5x5-v0": (5, 5),
    "MiniGrid-DoorKey-6x6-v0": (6, 6),
    "MiniGrid-DoorKey-8x8-v0": (8, 8),
    "MiniGrid-DoorKey-16x16-v0": (16, 16),
    "MiniGrid-Unlock-v0": (6, 11),
    "MiniGrid-UnlockPickup-v0": (6, 11),
    "MiniGrid-KeyCorridorS3R1-v0": (3, 7),
}


def grid_shape(env_id: str) -> tuple[int, int]:
    """Return a built-in MiniGrid environment's grid size in cells, ``(height, width)``.

    Raises:
        ValueError: for an id that is not a built-in MiniGrid environment.
    """
    if env_id not in _GRID_SHAPES:
        raise ValueError(
            f"{env_id!r} is not a built-in MiniGrid env; known: {sorted(_GRID_SHAPES)}"
        )
    return _GRID_SHAPES[env_id]


def _is_panda(env: gym.Env[Any, Any]) -> bool:
    return type(env.unwrapped).__name__ == "PandaPushEnv"


def render_frame(env: gym.Env[Any, Any], *, tile_size: int = 8) -> np.ndarray:
    """Return the reward frame of an environment's current state (see the module docstring).

    Args:
        env: a built-in environment, wrapped or not; PandaPush must have been made with
            ``render_mode="rgb_array"`` (as :func:`make_env` does).
        tile_size: MiniGrid pixels per cell (ignored for PandaPush, whose size was fixed at
            construction).

    Returns:
        A new H x W x 3 uint8 array.
    """
    u: Any = env.unwrapped
    if _is_panda(env):
        frame = u.render()
    else:
        frame = u.get_frame(highlight=False, tile_size=tile_size, agent_pov=False)
    return np.ascontiguousarray(frame, dtype=np.uint8).copy()


def _symbolic_minigrid(u: Any) -> np.ndarray:
    from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

    grid = u.grid.encode()  # (width, height, 3)
    x, y = int(u.agent_pos[0]), int(u.agent_pos[1])
    grid[x, y] = (OBJECT_TO_IDX["agent"], COLOR_TO_IDX["red"], int(u.agent_dir))
    carry = (
        (OBJECT_TO_IDX[u.carrying.type], COLOR_TO_IDX[u.carrying.color])
        if u.carrying is not None
        else (OBJECT_TO_IDX["empty"], 0)
    )
    flat = np.transpose(grid, (1, 0, 2)).reshape(-1)
    return np.concatenate([flat, np.asarray(carry, np.uint8)]).astype(np.uint8)


def _symbolic_panda(obs: Mapping[str, np.ndarray]) -> np.ndarray:
    parts = [obs["observation"], obs["achieved_goal"], obs["desired_goal"]]
    return np.concatenate([np.asarray(p, np.float32).reshape(-1) for p in parts])


class RewardFrames(gym.Wrapper[np.ndarray, Any, Any, Any]):
    """Put the reward frame and the ground-truth labels into ``info``; choose the observation.

    See the module docstring for what the frame, the labels and the observations are.

    Args:
        env: a built-in environment (as ``gym.make`` returns it).
        tile_size: MiniGrid pixels per cell of the reward frame.
        observation: ``"image"`` (the reward frame) or ``"symbolic"``.
        seed: seed used by the first ``reset()`` that is called without one (also seeds the
            action space).

    Attributes:
        tile_size: MiniGrid pixels per cell.
        observation_kind: ``"image"`` or ``"symbolic"``.
        label_names: the label names, in task order.
        frame_shape: ``(H, W, 3)`` of the reward frame.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        *,
        tile_size: int = 8,
        observation: Observation = "image",
        seed: int | None = None,
    ) -> None:
        super().__init__(env)
        if observation not in ("image", "symbolic"):
            raise ValueError(f"observation={observation!r}: choose 'image' or 'symbolic'")
        if type(tile_size) is not int or tile_size < 1:
            raise ValueError(f"tile_size={tile_size!r}: must be a positive int")
        self.tile_size = tile_size
        self.observation_kind: Observation = observation
        self.label_names = _labels.subtasks_for(env)
        self._pending_seed = seed
        self._episode_seeds: np.random.Generator | None = None
        u: Any = env.unwrapped
        self._panda = _is_panda(env)
        if self._panda:
            sim = u.sim
            sim.physics_client.changeVisualShape(
                sim._bodies_idx["target"], -1, rgbaColor=list(_TARGET_RGBA)
            )
            self.frame_shape: tuple[int, int, int] = (int(u.render_height), int(u.render_width), 3)
        else:
            self.frame_shape = (u.height * tile_size, u.width * tile_size, 3)
        space: spaces.Box
        if observation == "image":
            space = spaces.Box(0, 255, self.frame_shape, np.uint8)
        elif self._panda:
            space = spaces.Box(-np.inf, np.inf, (24,), np.float32)
        else:
            space = spaces.Box(0, 255, (u.height * u.width * 3 + 2,), np.uint8)
        self.observation_space = space
        if seed is not None:
            self.action_space.seed(seed)

    def frame(self) -> np.ndarray:
        """Return the reward frame of the current state (a new array)."""
        return render_frame(self.env, tile_size=self.tile_size)

    def _finish(self, obs: Any, info: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        frame = self.frame()
        info = dict(info)
        info["frame"] = frame
        info["labels"] = _labels.ground_truth(self.env)
        if self.observation_kind == "image":
            return frame.copy(), info
        if self._panda:
            return _symbolic_panda(obs), info
        return _symbolic_minigrid(self.env.unwrapped), info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset; ``info`` carries the first frame and labels."""
        if seed is None and self._pending_seed is not None:
            seed = self._pending_seed
        self._pending_seed = None
        if self._panda:
            # panda-gym reseeds its task from OS entropy on every reset without a seed, so the
            # episodes after a seeded one would not repeat; derive their seeds from the last seed
            if seed is not None:
                self._episode_seeds = np.random.default_rng(seed)
            elif self._episode_seeds is not None:
                seed = int(self._episode_seeds.integers(2**31 - 1))
        obs, info = self.env.reset(seed=seed, options=options)
        _labels.episode_start(self.env)
        return self._finish(obs, info)

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step; ``info`` carries the frame and labels of the state reached (before any reset)."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        out, info = self._finish(obs, info)
        return out, reward, bool(terminated), bool(truncated), info


def make_env(
    env_id: str,
    *,
    seed: int | None = None,
    tile_size: int = 8,
    observation: Observation = "image",
    frame_size: int = 64,
    max_steps: int | None = None,
) -> RewardFrames:
    """Build a built-in environment wrapped in :class:`RewardFrames`.

    Args:
        env_id: one of :data:`ENV_IDS`.
        seed: seed of the first ``reset()`` called without a seed (and of the action space).
        tile_size: MiniGrid pixels per cell of the reward frame (8 gives 40 x 40 for DoorKey-5x5,
            64 x 64 for DoorKey-8x8, 48 x 88 for Unlock, 24 x 56 for KeyCorridorS3R1).
        observation: ``"image"`` (the reward frame) or ``"symbolic"`` (see the module docstring).
        frame_size: PandaPush frame side in pixels (ignored for MiniGrid).
        max_steps: episode step limit; ``None`` keeps the environment's default (MiniGrid's
            per-env ``max_steps``, PandaPush's 50).

    Returns:
        The wrapped environment; call ``reset()`` before stepping.

    Raises:
        ValueError: for an unknown id or a bad argument.

    Example:
        >>> env = make_env("MiniGrid-DoorKey-5x5-v0", seed=0)
        >>> obs, info = env.reset()
        >>> obs.shape, info["frame"].dtype, sorted(info["labels"])
        ((40, 40, 3), dtype('uint8'), ['door_open', 'goal_reached', 'key_picked'])
    """
    if env_id not in ENV_IDS:
        raise ValueError(f"unknown env id {env_id!r}; built-in: {', '.join(ENV_IDS)}")
    if max_steps is not None and (type(max_steps) is not int or max_steps < 1):
        raise ValueError(f"max_steps={max_steps!r}: must be a positive int or None")
    if env_id == "PandaPush-v3":
        import panda_gym  # noqa: F401  (registers the Panda envs)

        if type(frame_size) is not int or frame_size < 8:
            raise ValueError(f"frame_size={frame_size!r}: must be an int >= 8")
        cam = dict(PANDA_CAMERA)
        cam["render_target_position"] = np.asarray(cam["render_target_position"], np.float64)
        kwargs: dict[str, Any] = {}
        if max_steps is not None:
            kwargs["max_episode_steps"] = max_steps
        env = gym.make(
            env_id,
            render_mode="rgb_array",
            renderer="Tiny",
            render_width=frame_size,
            render_height=frame_size,
            **cam,
            **kwargs,
        )
    else:
        import minigrid  # noqa: F401  (registers the MiniGrid envs)

        kwargs = {"max_steps": max_steps} if max_steps is not None else {}
        env = gym.make(
            env_id, render_mode="rgb_array", highlight=False, tile_size=tile_size, **kwargs
        )
    return RewardFrames(env, tile_size=tile_size, observation=observation, seed=seed)
