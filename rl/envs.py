"""Environments with reward frames (and, where declared, ground-truth labels) in ``info``.

Provides:
    BUILTIN_SPECS: the eight built-in environments, one :class:`rl.registry.EnvSpec` each.
    ENV_IDS: their ids.
    make_env: build any environment (built-in, any Gymnasium id, ``module:EnvId``), wrapped in
        :class:`RewardFrames`.
    RewardFrames: the wrapper that puts the reward frame and the labels into ``info`` and chooses
        the policy's observation.
    render_frame: the reward frame of an environment's current state.
    grid_shape: a MiniGrid env's grid size in cells, ``(height, width)``.
    is_picture_space: whether observations of a space are pictures (usable as reward frames).
    minigrid_spec / panda_push_spec: the family declarations the built-in entries are made of.
    PANDA_CAMERA: the PandaPush reward-frame camera.
    MIN_PICTURE_SIDE: the smallest side (pixels) of an observation taken as a picture.
    FrameSourceError, FrameShapeError: an env that gives no usable reward frames.

Reward frames (``frame_source``)
    The frame checkers see: an H x W x 3 ``uint8`` RGB array (HWC), a fresh array every call, of
    one shape for the whole life of the wrapper.

    * ``"auto"`` (default): the entry's own frame function when it declares one (below), else
      ``render()`` when the env was made with ``render_mode="rgb_array"``, else the observation
      when it is a picture (:func:`is_picture_space`), else :class:`FrameSourceError`.
    * ``"render"``: the entry's frame function or ``render()``; ``"obs"``: the observation;
      ``"none"``: no frames at all (sparse training of an env that cannot draw itself).

    :attr:`RewardFrames.frame_source` and :attr:`RewardFrames.frame_description` say which was
    chosen. RGBA renders lose their alpha channel; any other frame that is not H x W x 3 uint8, or
    whose shape changes, is refused with a message naming the episode and step.

    Built-in frame functions:

    * MiniGrid (every MiniGrid env, registered or not): the full grid, ``tile_size`` pixels per
      cell, drawn with ``highlight=False``. The default ``highlight=True`` blends every cell the
      agent can see 30 % toward white (the agent becomes (255, 76, 76)); with it off the agent is
      pure (255, 0, 0) and every object has MiniGrid's exact palette colour (anti-aliased edges
      are blends of one colour with black). Objects the agent carries are not drawn.
    * PandaPush: a ``frame_size`` x ``frame_size`` image from pybullet's software ``Tiny``
      renderer (headless; no display, EGL or GPU needed), from the fixed :data:`PANDA_CAMERA`:
      an oblique view from the front-left of the table (yaw 135, pitch -45), chosen among a few
      candidates because the arm hid the cube in the fewest expert frames (about 15 %; a top-down
      view lost it in about 35 %). The Tiny renderer ignores alpha, so the environment's
      translucent green target ghost would look exactly like the green cube: the wrapper
      recolours the ghost opaque red (``rgba (0.9, 0.1, 0.1, 1)``). The ghost has no collision
      shape, so physics and the environment's reward are unchanged.

``info`` on ``reset`` and on every ``step``
    ``info["frame"]``: the reward frame of the state just reached, and, for entries with a
    labeller, ``info["labels"]``: the ground truth of that state (``{name: bool}`` in task
    order, :mod:`rl.labels`). Both are computed inside ``step`` itself, so a vectorised env that
    auto-resets afterwards (SB3's ``DummyVecEnv``/``SubprocVecEnv``) still hands over the
    *terminal* frame and labels in that step's info.

Observations (``observation=``)
    ``"image"``: the reward frame itself, ``Box(0, 255, (H, W, 3), uint8)``, so a CNN policy sees
    exactly what the checkers see (SB3 transposes it to CHW later). ``"native"``: the env's own
    observation, unchanged. ``"symbolic"``: the entry's Markov symbolic encoding (below).
    ``"auto"``: symbolic when the entry has one, else native.

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
When the frame shape can only be learnt from a frame (``observation="image"``), the wrapper resets
the env once at construction, with the seed it was given.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rl.labels import FinalLabel, LockedDoorLabels, PandaPushLabels
from rl.registry import EnvError, EnvSpec, MakeSettings, SymbolicObservation, get_spec

if TYPE_CHECKING:
    from rl.program import RewardProgram

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # minigrid imports pygame
# Frames are drawn off-screen: without these, SDL looks for a display and a sound server and
# prints "error: XDG_RUNTIME_DIR is invalid" on a headless machine (classic-control envs).
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

__all__ = [
    "BUILTIN_SPECS",
    "ENV_IDS",
    "MINIGRID_NOTES",
    "MIN_PICTURE_SIDE",
    "PANDA_CAMERA",
    "FrameShapeError",
    "FrameSource",
    "FrameSourceError",
    "Observation",
    "RewardFrames",
    "grid_shape",
    "is_picture_space",
    "make_env",
    "minigrid_spec",
    "panda_push_spec",
    "render_frame",
]

Observation = Literal["auto", "image", "symbolic", "native"]
FrameSource = Literal["auto", "render", "obs", "none"]
_OBSERVATIONS = ("auto", "image", "symbolic", "native")
_FRAME_SOURCES = ("auto", "render", "obs", "none")

#: Observations with a side shorter than this are not taken for pictures: MiniGrid's 7 x 7 x 3
#: ``ImgObsWrapper`` grid is uint8 and HWC but holds object, colour and state indices.
MIN_PICTURE_SIDE = 16


class FrameSourceError(EnvError):
    """An environment gives no usable reward frames from the source asked for."""


class FrameShapeError(EnvError):
    """A reward frame is not H x W x 3 uint8, or its shape changed."""


def is_picture_space(space: Any) -> bool:
    """Whether observations of ``space`` are H x W x 3 uint8 pictures (usable as reward frames).

    Both sides must be at least :data:`MIN_PICTURE_SIDE` pixels: a 7 x 7 x 3 uint8 grid of
    symbolic indices only looks like an image.

    Example:
        >>> is_picture_space(spaces.Box(0, 255, (64, 64, 3), np.uint8))
        True
        >>> is_picture_space(spaces.Box(0, 255, (7, 7, 3), np.uint8))  # MiniGrid ImgObsWrapper
        False
    """
    return (
        isinstance(space, spaces.Box)
        and space.dtype == np.uint8
        and len(space.shape) == 3
        and space.shape[-1] == 3
        and min(space.shape[:2]) >= MIN_PICTURE_SIDE
    )


# ------------------------------------------------------------------------------------------------
# MiniGrid family
# ------------------------------------------------------------------------------------------------

#: What the prompt states about MiniGrid frames (every MiniGrid env).
MINIGRID_NOTES = (
    "Frames are MiniGrid full-grid renders, highlight off, tile size 8 px (a 5x5 grid is "
    "40x40 px). Exact colours: agent = red triangle (255, 0, 0); key, door and its outline = "
    "yellow (255, 255, 0) in DoorKey (other tasks may use other MiniGrid colours: green "
    "(0, 255, 0), blue (0, 0, 255), purple (112, 39, 195), grey (100, 100, 100)); goal = green "
    "(0, 255, 0) square; walls = grey (100, 100, 100); floor = black with grey grid lines. A "
    "closed door is a filled square with a handle, an open door only its outline. A carried "
    "key is not drawn. The first frame of the episode is passed as `first` if the checker "
    "takes two parameters."
)


def _make_minigrid(gym_id: str, settings: MakeSettings) -> gym.Env[Any, Any]:
    import minigrid  # noqa: F401  (registers the MiniGrid envs)

    kwargs: dict[str, Any] = {"highlight": False, "tile_size": settings.tile_size}
    if settings.max_steps is not None:
        kwargs["max_steps"] = settings.max_steps
    kwargs.update(settings.kwargs)
    return gym.make(gym_id, render_mode="rgb_array", **kwargs)


def _minigrid_frame(env: gym.Env[Any, Any], settings: MakeSettings) -> np.ndarray:
    u: Any = env.unwrapped
    return np.asarray(u.get_frame(highlight=False, tile_size=settings.tile_size, agent_pov=False))


def _minigrid_space(env: gym.Env[Any, Any]) -> spaces.Space[Any]:
    u: Any = env.unwrapped
    return spaces.Box(0, 255, (u.height * u.width * 3 + 2,), np.uint8)


def _minigrid_symbolic(env: gym.Env[Any, Any], obs: Any) -> np.ndarray:
    from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

    u: Any = env.unwrapped
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


_MINIGRID_SYMBOLIC = SymbolicObservation(
    space=_minigrid_space,
    encode=_minigrid_symbolic,
    describe="MiniGrid full-grid encoding (object, colour, state per cell) + carried object",
)


def _minigrid_expert(env: gym.Env[Any, Any]) -> Any:
    from rl.experts import MiniGridPlanner

    return MiniGridPlanner(env)


def _minigrid_reference(
    env_id: str, names: tuple[str, ...], task: str, room: tuple[int, int, int, int] | None
) -> RewardProgram:
    from rl.programs.reference import minigrid_program

    return minigrid_program(env_id, names=names, grid=grid_shape(env_id), task=task, room=room)


def minigrid_spec(
    env_id: str,
    *,
    gym_id: str | None = None,
    final: FinalLabel | Literal[False] | None = False,
    program_task: str | None = None,
    room: tuple[int, int, int, int] | None = None,
    builtin: bool = True,
) -> EnvSpec:
    """The declaration of one MiniGrid environment.

    Every MiniGrid env gets the highlight-free full-grid frame, the full-grid symbolic
    observation, :data:`MINIGRID_NOTES` and its ``mission`` string as the task. A key-and-locked-
    door task (``final`` not False) also gets the ground-truth labels, the BFS expert and, with
    ``program_task``, the reference program.

    Args:
        env_id: the id users pass.
        gym_id: the Gymnasium id (default ``env_id``).
        final: the last label of a key-and-locked-door task (``goal_reached``, ``box_picked``,
            ``ball_picked``, or None for Unlock); False: not such a task (no labels, no expert).
        program_task: the reference program's task text; None: no reference program.
        room: ``(x0, y0, x1, y1)`` cells of the room the task object is placed in (reference
            checkers of ``box_picked``/``ball_picked``).
        builtin: shipped with vlm-car.
    """
    gym_id = gym_id or env_id
    labelled = final is not False
    names = LockedDoorLabels(final or None).names if labelled else ()
    reference = None
    if labelled and program_task is not None:
        reference = functools.partial(_minigrid_reference, env_id, names, program_task, room)
    return EnvSpec(
        id=env_id,
        make=functools.partial(_make_minigrid, gym_id),
        frame=_minigrid_frame,
        frame_description="MiniGrid full-grid render, highlight off",
        symbolic=_MINIGRID_SYMBOLIC,
        task=None,
        notes=MINIGRID_NOTES,
        label_names=names,
        labeller=functools.partial(LockedDoorLabels, final or None) if labelled else None,
        expert=_minigrid_expert if labelled else None,
        reference=reference,
        family="minigrid",
        builtin=builtin,
        gym_id=gym_id,
    )


# ------------------------------------------------------------------------------------------------
# PandaPush
# ------------------------------------------------------------------------------------------------

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

_PANDA_NOTES = (
    "Frames are small RGB renders of a Franka arm pushing a cube on a table toward a target marker."
)


class _PandaFrames(gym.Wrapper[Any, Any, Any, Any]):
    """Recolour the target ghost opaque red; make episodes after a seeded reset repeat.

    panda-gym reseeds its task from OS entropy on every reset without a seed, so the episodes
    after a seeded one would not repeat; their seeds are derived from the last seed instead.
    """

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        sim = env.unwrapped.sim  # type: ignore[attr-defined]
        sim.physics_client.changeVisualShape(
            sim._bodies_idx["target"], -1, rgbaColor=list(_TARGET_RGBA)
        )
        self._episode_seeds: np.random.Generator | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if seed is not None:
            self._episode_seeds = np.random.default_rng(seed)
        elif self._episode_seeds is not None:
            seed = int(self._episode_seeds.integers(2**31 - 1))
        return self.env.reset(seed=seed, options=options)


@contextlib.contextmanager
def _quiet_native(*fds: int) -> Iterator[None]:
    """Send what C code writes to ``fds`` to /dev/null (pybullet prints its argv and build time)."""
    import ctypes
    import sys

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved: list[tuple[int, int]] = []
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        for fd in fds:
            with contextlib.suppress(OSError):
                saved.append((fd, os.dup(fd)))
                os.dup2(devnull, fd)
        yield
    finally:
        with contextlib.suppress(Exception):
            ctypes.CDLL(None).fflush(None)  # C stdio buffers, before the fds point back
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


def _make_panda(settings: MakeSettings) -> gym.Env[Any, Any]:
    with _quiet_native(1, 2):  # "pybullet build time: ..." when pybullet is first imported
        # registers the Panda envs and imports their entry point (and so pybullet) now
        import panda_gym.envs  # noqa: F401

    cam = dict(PANDA_CAMERA)
    cam["render_target_position"] = np.asarray(cam["render_target_position"], np.float64)
    kwargs: dict[str, Any] = {}
    if settings.max_steps is not None:
        kwargs["max_episode_steps"] = settings.max_steps
    kwargs.update(settings.kwargs)
    with _quiet_native(1):  # "argv[0]=--background_color_red=..." on every connection
        env = gym.make(
            "PandaPush-v3",
            render_mode="rgb_array",
            renderer="Tiny",
            render_width=settings.frame_size,
            render_height=settings.frame_size,
            **cam,
            **kwargs,
        )
    return _PandaFrames(env)


def _panda_frame(env: gym.Env[Any, Any], settings: MakeSettings) -> np.ndarray:
    return np.asarray(env.unwrapped.render())


def _panda_symbolic(env: gym.Env[Any, Any], obs: Mapping[str, np.ndarray]) -> np.ndarray:
    parts = [obs["observation"], obs["achieved_goal"], obs["desired_goal"]]
    return np.concatenate([np.asarray(p, np.float32).reshape(-1) for p in parts])


def _panda_expert(env: gym.Env[Any, Any]) -> Any:
    from rl.experts import PandaPushController

    return PandaPushController(env)


def _panda_reference() -> RewardProgram:
    from rl.programs.reference import panda_program

    return panda_program()


def panda_push_spec() -> EnvSpec:
    """The declaration of PandaPush-v3 (camera, labels, expert, reference program)."""
    return EnvSpec(
        id="PandaPush-v3",
        make=_make_panda,
        frame=_panda_frame,
        frame_description="pybullet Tiny render from rl.envs.PANDA_CAMERA, target recoloured red",
        symbolic=SymbolicObservation(
            space=lambda env: spaces.Box(-np.inf, np.inf, (24,), np.float32),
            encode=_panda_symbolic,
            describe="observation (18) + achieved_goal (3) + desired_goal (3)",
        ),
        task="push the green cube onto the red target",
        notes=_PANDA_NOTES,
        label_names=PandaPushLabels.names,
        labeller=PandaPushLabels,
        expert=_panda_expert,
        reference=_panda_reference,
        family="panda",
        builtin=True,
        gym_id="PandaPush-v3",
    )


# ------------------------------------------------------------------------------------------------
# The built-in environments: one declaration each
# ------------------------------------------------------------------------------------------------

_DOORKEY_TASK = "pick up the key, unlock the door with it, then walk to the green goal"

BUILTIN_SPECS: tuple[EnvSpec, ...] = (
    minigrid_spec("MiniGrid-DoorKey-5x5-v0", final="goal_reached", program_task=_DOORKEY_TASK),
    minigrid_spec("MiniGrid-DoorKey-6x6-v0", final="goal_reached", program_task=_DOORKEY_TASK),
    minigrid_spec("MiniGrid-DoorKey-8x8-v0", final="goal_reached", program_task=_DOORKEY_TASK),
    minigrid_spec("MiniGrid-DoorKey-16x16-v0", final="goal_reached", program_task=_DOORKEY_TASK),
    minigrid_spec(
        "MiniGrid-Unlock-v0",
        final=None,
        program_task="pick up the key and open the locked door with it",
    ),
    minigrid_spec(
        "MiniGrid-UnlockPickup-v0",
        final="box_picked",
        program_task="pick up the key, unlock the door, then pick up the box behind it",
        room=(6, 1, 9, 4),
    ),
    minigrid_spec(
        "MiniGrid-KeyCorridorS3R1-v0",
        final="ball_picked",
        program_task="fetch the key from the side room, unlock the door, then pick up the ball",
        room=(5, 1, 5, 1),
    ),
    panda_push_spec(),
)

#: The built-in environments' ids.
ENV_IDS: tuple[str, ...] = tuple(s.id for s in BUILTIN_SPECS)


def grid_shape(env_id: str) -> tuple[int, int]:
    """Return a MiniGrid environment's grid size in cells, ``(height, width)``.

    Raises:
        ValueError: for an id that is not a MiniGrid environment.
    """
    spec = get_spec(env_id)
    if spec.family != "minigrid":
        raise ValueError(f"{env_id!r} is not a MiniGrid env (family {spec.family!r})")
    env = spec.make(MakeSettings())
    try:
        u: Any = env.unwrapped
        return int(u.height), int(u.width)
    finally:
        env.close()


# ------------------------------------------------------------------------------------------------
# The wrapper
# ------------------------------------------------------------------------------------------------


class RewardFrames(gym.Wrapper[Any, Any, Any, Any]):
    """Put the reward frame (and labels) into ``info``; choose the policy's observation.

    See the module docstring for what the frames, the labels and the observations are.

    Args:
        env: the environment as its entry's ``make`` returns it.
        spec: its registry entry (default: looked up from ``env.spec.id``).
        settings: what it was made with (tile size for MiniGrid frames).
        observation: ``"auto"``, ``"image"``, ``"symbolic"`` or ``"native"``.
        frame_source: ``"auto"``, ``"render"``, ``"obs"`` or ``"none"``.
        seed: seed used by the first ``reset()`` that is called without one (also seeds the
            action space).

    Attributes:
        env_id: the entry's id.
        entry: the :class:`rl.registry.EnvSpec`.
        settings: the :class:`rl.registry.MakeSettings`.
        tile_size: MiniGrid pixels per cell.
        observation_kind: the observation chosen (``image``, ``symbolic`` or ``native``).
        frame_source: where frames come from (``render``, ``obs`` or ``none``).
        frame_description: the same, in words, with the frame shape once known.
        label_names: the label names, in task order (empty without a labeller).
        labeller: the ground-truth labeller, or None.
        frame_shape: ``(H, W, 3)`` of the reward frame, or None until the first frame.

    Raises:
        FrameSourceError: the env cannot give frames from the source asked for.
        ValueError: a bad ``observation`` or ``frame_source``, or an observation the entry
            does not offer.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        *,
        spec: EnvSpec | None = None,
        settings: MakeSettings | None = None,
        observation: Observation = "image",
        frame_source: FrameSource = "auto",
        seed: int | None = None,
    ) -> None:
        super().__init__(env)
        if observation not in _OBSERVATIONS:
            raise ValueError(
                f"observation={observation!r}: choose one of {', '.join(_OBSERVATIONS)}"
            )
        if frame_source not in _FRAME_SOURCES:
            raise ValueError(
                f"frame_source={frame_source!r}: choose one of {', '.join(_FRAME_SOURCES)}"
            )
        if spec is None:
            gym_spec = env.spec or env.unwrapped.spec
            if gym_spec is None:
                raise ValueError("RewardFrames needs spec= for an env made without gym.make")
            spec = get_spec(gym_spec.id)
        self.entry = spec
        self.env_id = spec.id
        self.settings = settings or MakeSettings()
        self.tile_size = self.settings.tile_size
        self.labeller = spec.labeller() if spec.labeller is not None else None
        self.label_names: tuple[str, ...] = self.labeller.names if self.labeller else ()
        self._pending_seed = seed
        self._last_obs: Any = None
        self._episode = -1
        self._step = 0
        self.frame_shape: tuple[int, int, int] | None = None
        self.frame_source, self.frame_description = self._choose_frames(frame_source)
        if observation == "auto":
            observation = "symbolic" if spec.symbolic is not None else "native"
        if observation == "symbolic" and spec.symbolic is None:
            raise ValueError(
                f"{spec.id!r} declares no symbolic observation; use observation='native' (the "
                "env's own) or 'image' (the reward frame)"
            )
        if observation == "image" and self.frame_source == "none":
            raise ValueError("observation='image' needs reward frames (frame_source is 'none')")
        self.observation_kind: Observation = observation
        if self.frame_source == "obs":
            h, w, _ = env.observation_space.shape or (0, 0, 0)
            self.frame_shape = (int(h), int(w), 3)
        if observation == "image":
            if self.frame_shape is None:  # learn the frame shape from one frame
                self._probe()
            assert self.frame_shape is not None
            self.observation_space = spaces.Box(0, 255, self.frame_shape, np.uint8)
        elif observation == "symbolic":
            assert spec.symbolic is not None
            self.observation_space = spec.symbolic.space(env)
        if seed is not None:
            self.action_space.seed(seed)

    # -- frames ------------------------------------------------------------------------------

    def _choose_frames(self, asked: FrameSource) -> tuple[str, str]:
        spec, env = self.entry, self.env
        if asked == "none":
            return "none", "no reward frames"
        if asked in ("auto", "render"):
            if spec.frame is not None:
                return "render", spec.frame_description or f"{spec.id}'s frame function"
            if env.render_mode == "rgb_array":
                return "render", "render() with render_mode='rgb_array'"
            if asked == "render":
                raise FrameSourceError(
                    spec.id,
                    f"cannot render RGB frames: it was made with render_mode={env.render_mode!r}"
                    f" and its metadata lists render_modes="
                    f"{list(env.metadata.get('render_modes', []))}; pass an env that supports "
                    "render_mode='rgb_array', or use frame_source='obs' with picture observations",
                )
        space = env.observation_space
        if is_picture_space(space):
            return "obs", "the observation (an H x W x 3 uint8 picture)"
        shape = getattr(space, "shape", None)
        looks = (
            isinstance(space, spaces.Box)
            and space.dtype == np.uint8
            and shape is not None
            and len(shape) == 3
            and shape[-1] == 3
        )
        why = (
            f"its observation is {'x'.join(map(str, shape or ()))} uint8, too small to be a "
            f"picture (sides < {MIN_PICTURE_SIDE} px): it looks like a symbolic grid (MiniGrid's "
            "ImgObsWrapper holds object, colour and state indices, not pixels)"
            if looks
            else f"its observation space is {space}, not an H x W x 3 uint8 picture"
        )
        if asked == "obs":
            raise FrameSourceError(spec.id, f"frame_source='obs' refused: {why}")
        raise FrameSourceError(
            spec.id,
            f"cannot render RGB frames: render_mode={env.render_mode!r} (metadata render_modes="
            f"{list(env.metadata.get('render_modes', []))}) and {why}; make it render with "
            "render_mode='rgb_array', or train with the sparse reward and frame_source='none'",
        )

    def _raw_frame(self) -> np.ndarray:
        if self.frame_source == "obs":
            return np.asarray(self._last_obs)
        if self.entry.frame is not None:
            return self.entry.frame(self.env, self.settings)
        frame = self.env.render()
        if frame is None:
            raise FrameSourceError(
                self.env_id, "render() returned None: the env does not draw rgb_array frames"
            )
        return np.asarray(frame)

    def frame(self) -> np.ndarray:
        """Return the reward frame of the current state (a new H x W x 3 uint8 array).

        Raises:
            FrameShapeError: the frame is not H x W x 3 uint8 or its shape changed.
        """
        frame = self._raw_frame()
        if frame.ndim == 3 and frame.shape[-1] == 4:
            frame = frame[..., :3]  # RGBA render: the checkers see RGB
        where = f"episode {max(self._episode, 0)}, step {self._step}"
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] != 3:
            raise FrameShapeError(
                self.env_id,
                f"the reward frame at {where} is {frame.dtype} with shape {frame.shape}, not "
                "H x W x 3 uint8; pass a frame_source that gives RGB pictures",
            )
        shape = (int(frame.shape[0]), int(frame.shape[1]), 3)
        if self.frame_shape is None:
            self.frame_shape = shape
            self.frame_description += f", {shape[0]}x{shape[1]}x3"
        elif shape != self.frame_shape:
            raise FrameShapeError(
                self.env_id,
                f"the reward frame at {where} is {shape[0]}x{shape[1]}x3 but the first was "
                f"{self.frame_shape[0]}x{self.frame_shape[1]}x3: checkers need one frame shape; "
                "fix the env's render size (e.g. with --env-kwargs)",
            )
        return np.ascontiguousarray(frame, dtype=np.uint8).copy()

    def _probe(self) -> None:
        obs, _ = self.env.reset(seed=self._pending_seed)
        self._last_obs = obs
        self.frame()

    # -- gym.Wrapper -------------------------------------------------------------------------

    def _finish(self, obs: Any, info: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        self._last_obs = obs
        info = dict(info)
        frame = None
        if self.frame_source != "none":
            frame = self.frame()
            info["frame"] = frame
        if self.labeller is not None:
            info["labels"] = self.labeller.labels(self.env)
        if self.observation_kind == "image":
            assert frame is not None
            return frame.copy(), info
        if self.observation_kind == "symbolic":
            assert self.entry.symbolic is not None
            return self.entry.symbolic.encode(self.env, obs), info
        return obs, info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset; ``info`` carries the first frame (and labels)."""
        if seed is None and self._pending_seed is not None:
            seed = self._pending_seed
        self._pending_seed = None
        obs, info = self.env.reset(seed=seed, options=options)
        self._episode += 1
        self._step = 0
        if self.labeller is not None:
            self.labeller.start(self.env)
        return self._finish(obs, info)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step; ``info`` carries the frame (and labels) of the state reached (before any reset)."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._step += 1
        out, info = self._finish(obs, info)
        return out, reward, bool(terminated), bool(truncated), info


def render_frame(env: gym.Env[Any, Any], *, tile_size: int = 8) -> np.ndarray:
    """Return the reward frame of an environment's current state (see the module docstring).

    Args:
        env: an environment, wrapped or not. Inside a :class:`RewardFrames` its own frame source
            answers; otherwise the env's entry's frame function, else ``render()``.
        tile_size: MiniGrid pixels per cell (when no :class:`RewardFrames` says otherwise).

    Returns:
        A new H x W x 3 uint8 array.
    """
    current: Any = env
    while current is not None:
        if isinstance(current, RewardFrames):
            if current.tile_size == tile_size or current.entry.frame is None:
                return current.frame()
            break
        current = getattr(current, "env", None)
    gym_spec = env.spec or env.unwrapped.spec
    spec = get_spec(gym_spec.id) if gym_spec is not None else None
    if spec is not None and spec.frame is not None:
        frame = spec.frame(env, MakeSettings(tile_size=tile_size))
    else:
        frame = np.asarray(env.render())
    return np.ascontiguousarray(frame, dtype=np.uint8).copy()


def make_env(
    env_id: str,
    *,
    seed: int | None = None,
    tile_size: int = 8,
    observation: Observation = "image",
    frame_size: int = 64,
    max_steps: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    frame_source: FrameSource = "auto",
) -> RewardFrames:
    """Build any environment wrapped in :class:`RewardFrames`.

    Args:
        env_id: a registered id (:data:`ENV_IDS` ...), any Gymnasium id, or ``module:EnvId``
            (see :func:`rl.registry.get_spec`).
        seed: seed of the first ``reset()`` called without a seed (and of the action space).
        tile_size: MiniGrid pixels per cell of the reward frame (8 gives 40 x 40 for DoorKey-5x5,
            64 x 64 for DoorKey-8x8, 48 x 88 for Unlock, 24 x 56 for KeyCorridorS3R1).
        observation: ``"image"`` (the reward frame), ``"symbolic"``, ``"native"`` or ``"auto"``
            (see the module docstring).
        frame_size: PandaPush frame side in pixels (ignored elsewhere).
        max_steps: episode step limit; ``None`` keeps the environment's default.
        env_kwargs: extra keyword arguments for the environment's constructor.
        frame_source: ``"auto"``, ``"render"``, ``"obs"`` or ``"none"``.

    Returns:
        The wrapped environment; call ``reset()`` before stepping.

    Raises:
        UnknownEnvError: for an unknown id (close matches named).
        FrameSourceError: the env gives no frames from ``frame_source``.
        ValueError: a bad argument.

    Example:
        >>> env = make_env("MiniGrid-DoorKey-5x5-v0", seed=0)
        >>> obs, info = env.reset()
        >>> obs.shape, info["frame"].dtype, sorted(info["labels"])
        ((40, 40, 3), dtype('uint8'), ['door_open', 'goal_reached', 'key_picked'])
        >>> env.frame_source, env.frame_description
        ('render', 'MiniGrid full-grid render, highlight off, 40x40x3')
    """
    spec = get_spec(env_id)
    settings = MakeSettings(
        tile_size=tile_size, frame_size=frame_size, max_steps=max_steps, kwargs=env_kwargs or {}
    )
    if observation not in _OBSERVATIONS:
        raise ValueError(f"observation={observation!r}: choose one of {', '.join(_OBSERVATIONS)}")
    try:
        env = spec.make(settings)
    except EnvError:
        raise
    except TypeError as err:
        raise EnvError(
            env_id, f"cannot be made with env kwargs {dict(settings.kwargs)!r}: {err}"
        ) from None
    try:
        return RewardFrames(
            env,
            spec=spec,
            settings=settings,
            observation=observation,
            frame_source=frame_source,
            seed=seed,
        )
    except BaseException:
        env.close()
        raise
