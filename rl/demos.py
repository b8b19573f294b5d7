"""Expert demonstrations and labelled frames from the user.

Provides:
    DemoSource: where expert demonstrations come from, parsed from one string (``--demos``).
    load_demos: a source -> expert :class:`rl.rollouts.Trajectory` objects, one episode each.
    LabelledFrames: frames with per-sub-task labels (for precision and recall).
    load_labelled: read labelled frames from a JSON file of PNGs.
    read_png: a PNG file -> H x W x 3 uint8 (standard library only).
    DemoError: a source that cannot be used, with what to do about it.
    NPZ_KEYS: the keys of the ``.npz`` layout.

Sources (:meth:`DemoSource.parse`)
    ``expert``
        The scripted expert the environment's registry entry declares.
    ``PATH.npz``: recorded frames, with this layout (``numpy.savez``)
        ``frames``: ``(T, H, W, 3)`` uint8, every episode's frames one after another (each
        episode's first frame is its reset frame, its last the goal state); ``episode_starts``:
        the index of each episode's first frame, ``(E,)`` ints ``0 = s_0 < s_1 < ... < T``, or
        a ``(T,)`` bool mask that is True exactly at those frames (SB3's convention); optional
        ``actions``: ``(T, ...)`` aligned with ``frames`` (the row of a reset frame is ignored).
        Every episode needs at least two frames. Demonstrations are taken to be successful.
    ``minari:DATASET_ID``, ``DATASET_ID`` (``namespace/name-v0``) or a dataset directory
        A local `Minari <https://minari.farama.org>`_ dataset (``minari.load_dataset``; nothing
        is downloaded). Frames are ``infos["frame"]`` when the dataset recorded infos (collect
        with ``minari.DataCollector(rl.make_env(...), record_infos=True)``: the wrapper puts the
        reward frame there), else the observations when they are pictures. JPEG-encoded picture
        observations are lossy: a warning says so.
    ``PATH.zip``
        A stable-baselines3 model (PPO, A2C, DQN, SAC, TD3, DDPG), rolled out deterministically in
        the environment; its observation space must be one the environment offers (``native``,
        ``symbolic`` or ``image``). SB3 unpickles parts of the file: load only models you trust.
    ``package.module:function``
        A policy factory: ``function(env)`` (``env`` is the :class:`rl.envs.RewardFrames`
        environment) returns ``policy(obs) -> action``, with an optional ``reset()`` called at
        each episode start; ``rl.experts:MiniGridPlanner`` is one. The module is imported, so it
        runs with your privileges, like any code you install.

Every recorded frame must have the environment's reward-frame shape (checkers verified on one
shape run on another in training otherwise); a mismatch, a shape change inside an episode, an empty
or frame-less dataset and episode starts that do not add up are refused with a :class:`DemoError`.

Labelled frames (:func:`load_labelled`): a JSON file next to its PNGs::

    {"first": "start.png",
     "frames": [{"frame": "f012.png", "labels": {"key_picked": true, "door_open": false}},
                {"frame": "f040.png", "first": "other_start.png", "labels": {"door_open": true}}]}

``frame`` paths are relative to the JSON file; ``first`` (the episode's first frame, handed to
two-argument checkers) is per frame or top-level, defaulting to the frame itself; a sub-task missing
from ``labels`` is not labelled on that frame.
"""

from __future__ import annotations

import importlib
import json
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rl.envs import FrameSource
from rl.errors import RLError
from rl.rollouts import Trajectory, rollouts

__all__ = [
    "NPZ_KEYS",
    "DemoError",
    "DemoKind",
    "DemoSource",
    "LabelledFrames",
    "load_demos",
    "load_labelled",
    "read_png",
]

DemoKind = Literal["expert", "npz", "minari", "sb3", "policy"]

#: The ``.npz`` layout's keys: required, then optional.
NPZ_KEYS = ("frames", "episode_starts", "actions")

_POLICY_RE = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_MINARI_ID_RE = re.compile(r"([\w.-]+/)*[\w.-]+-v\d+")


class DemoError(RLError, ValueError):
    """Demonstrations (or labelled frames) that cannot be used.

    Attributes:
        source: the source as given.
        problem: what is wrong and what to do.
    """

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(source, problem)
        self.source = source
        self.problem = problem

    def __str__(self) -> str:
        return f"demonstrations {self.source!r}: {self.problem}"


@dataclass(frozen=True)
class DemoSource:
    """Where expert demonstrations come from (see the module docstring).

    Attributes:
        kind: ``expert``, ``npz``, ``minari``, ``sb3`` or ``policy``.
        target: the path, dataset id or ``module:function`` (empty for ``expert``).
    """

    kind: DemoKind
    target: str = ""

    @classmethod
    def parse(cls, text: str) -> DemoSource:
        """Parse ``--demos``.

        Raises:
            DemoError: the text is none of the forms, or a file it names does not exist.

        Example:
            >>> DemoSource.parse("rl.experts:MiniGridPlanner")
            DemoSource(kind='policy', target='rl.experts:MiniGridPlanner')
            >>> DemoSource.parse("minari:me/lava/expert-v0").kind
            'minari'
        """
        text = str(text).strip()
        if text in ("", "expert"):
            return cls("expert")
        if text.startswith("minari:"):
            return cls("minari", text.removeprefix("minari:"))
        path = Path(text)
        suffix = path.suffix.lower()
        if suffix in (".npz", ".zip"):
            if not path.is_file():
                raise DemoError(text, "no such file")
            return cls("npz" if suffix == ".npz" else "sb3", text)
        if path.is_dir():
            return cls("minari", text)
        if _POLICY_RE.fullmatch(text):
            return cls("policy", text)
        if _MINARI_ID_RE.fullmatch(text):
            return cls("minari", text)
        raise DemoError(
            text,
            "not a demonstration source: use 'expert', a PATH.npz of frames, a Minari dataset id "
            "(minari:namespace/name-v0), an SB3 model PATH.zip, or a policy factory "
            "package.module:function",
        )

    def describe(self) -> str:
        """One line for logs and provenance."""
        return "the scripted expert" if self.kind == "expert" else f"{self.kind}:{self.target}"


# ------------------------------------------------------------------------------------------------
# Recorded frames
# ------------------------------------------------------------------------------------------------


def _trajectory(
    env_id: str,
    name: str,
    frames: np.ndarray,
    *,
    actions: np.ndarray | None = None,
    rewards: np.ndarray | None = None,
    terminated: np.ndarray | None = None,
    truncated: np.ndarray | None = None,
    success: bool = True,
) -> Trajectory:
    n = len(frames)
    return Trajectory(
        env_id=env_id,
        seed=-1,
        policy=name,
        frames=np.ascontiguousarray(frames, dtype=np.uint8),
        labels=np.zeros((n, 0), bool),
        label_names=(),
        actions=actions,
        rewards=rewards if rewards is not None else np.zeros(n, np.float64),
        terminated=terminated if terminated is not None else np.zeros(n, bool),
        truncated=truncated if truncated is not None else np.zeros(n, bool),
        episode=np.zeros(n, np.int64),
        success=success,
    )


def _check_frames(source: str, frames: Any, where: str) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
        raise DemoError(
            source,
            f"{where} are {arr.dtype} with shape {arr.shape}, not (T, H, W, 3) uint8 RGB frames",
        )
    return arr


def _episode_bounds(source: str, starts: Any, total: int) -> list[tuple[int, int]]:
    arr = np.asarray(starts)
    if arr.dtype == bool:
        if arr.shape != (total,):
            raise DemoError(
                source,
                f"episode_starts is a bool mask of shape {arr.shape}, but there are {total} "
                f"frames: a mask needs one entry per frame",
            )
        if not arr[0]:
            raise DemoError(source, "episode_starts[0] is False: frame 0 must start an episode")
        idx = np.flatnonzero(arr)
    elif np.issubdtype(arr.dtype, np.integer) and arr.ndim == 1:
        idx = arr.astype(np.int64)
    else:
        raise DemoError(
            source,
            f"episode_starts is {arr.dtype} with shape {arr.shape}: give the (E,) int indices of "
            "each episode's first frame, or a (T,) bool mask",
        )
    if len(idx) == 0 or idx[0] != 0:
        raise DemoError(source, f"episode_starts {idx.tolist()[:8]} must begin with 0")
    if (np.diff(idx) <= 0).any():
        raise DemoError(source, f"episode_starts {idx.tolist()[:8]} must strictly increase")
    if idx[-1] >= total:
        raise DemoError(
            source,
            f"episode_starts do not add up: the last episode starts at frame {int(idx[-1])} but "
            f"there are only {total} frames",
        )
    bounds = list(zip(idx.tolist(), [*idx[1:].tolist(), total], strict=True))
    for e, (a, b) in enumerate(bounds):
        if b - a < 2:
            raise DemoError(
                source,
                f"episode {e} (frames {a}..{b - 1}) has {b - a} frame: an episode needs its reset "
                "frame and at least one step",
            )
    return bounds


def _load_npz(source: str, env_id: str) -> list[Trajectory]:
    try:
        with np.load(source, allow_pickle=False) as data:
            files = set(data.files)
            missing = [k for k in NPZ_KEYS[:2] if k not in files]
            if missing:
                raise DemoError(
                    source,
                    f"missing {', '.join(missing)} (has {', '.join(sorted(files)) or 'nothing'});"
                    " the layout is frames (T, H, W, 3) uint8 and episode_starts",
                )
            frames = _check_frames(source, data["frames"], "frames")
            starts = data["episode_starts"]
            actions = np.asarray(data["actions"]) if "actions" in files else None
    except DemoError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DemoError(source, f"cannot read it as an .npz ({err})") from None
    if len(frames) == 0:
        raise DemoError(source, "frames is empty: record at least one episode")
    if actions is not None and len(actions) != len(frames):
        raise DemoError(
            source, f"actions has {len(actions)} rows but there are {len(frames)} frames"
        )
    name = f"npz:{Path(source).name}"
    return [
        _trajectory(
            env_id, name, frames[a:b], actions=None if actions is None else actions[a:b].copy()
        )
        for a, b in _episode_bounds(source, starts, len(frames))
    ]


def _load_minari(source: str, env_id: str) -> list[Trajectory]:
    try:
        import minari
    except ImportError:
        raise DemoError(
            source, "Minari is not installed: pip install 'vlm-car[demos]' (or minari[hdf5])"
        ) from None
    try:
        path = Path(source)
        if path.is_dir():
            data = path / "data" if (path / "data" / "metadata.json").is_file() else path
            dataset = minari.MinariDataset(str(data))
        else:
            dataset = minari.load_dataset(source, download=False)
    except FileNotFoundError:
        raise DemoError(
            source,
            "no such local Minari dataset (nothing is downloaded): check `minari list local` and "
            "MINARI_DATASETS_PATH",
        ) from None
    except Exception as err:
        raise DemoError(
            source, f"cannot open the Minari dataset ({type(err).__name__}: {err})"
        ) from None
    if dataset.total_episodes == 0:
        raise DemoError(source, "the dataset has no episodes")
    from rl.envs import is_picture_space

    metadata = dict(dataset._data.metadata)
    obs_pictures = is_picture_space(dataset.observation_space)
    out: list[Trajectory] = []
    warned = False
    for ep in dataset.iterate_episodes():
        infos = ep.infos if isinstance(ep.infos, Mapping) else {}
        if "frame" in infos:
            frames, where = infos["frame"], f"episode {ep.id}'s infos['frame']"
        elif obs_pictures:
            frames, where = ep.observations, f"episode {ep.id}'s observations"
            if metadata.get("jpeg_encoding") and not warned:
                warnings.warn(
                    f"{source}: the frames are JPEG-encoded picture observations (lossy): "
                    "checkers that test exact colours may fail on them; collect with "
                    "DataCollector(..., jpeg_encoding=False) or record infos['frame']",
                    UserWarning,
                    stacklevel=3,
                )
                warned = True
        else:
            raise DemoError(
                source,
                f"the dataset holds no frames: its observations are {dataset.observation_space} "
                "(not H x W x 3 uint8 pictures) and it recorded no infos['frame']; collect it with "
                "minari.DataCollector(rl.make_env(ENV_ID), record_infos=True), which records the "
                "reward frame of every step in infos['frame']",
            )
        frames = _check_frames(source, frames, where)
        if len(frames) < 2:
            raise DemoError(source, f"episode {ep.id} has {len(frames)} frame(s)")
        n = len(frames)
        actions = np.asarray(ep.actions)
        rewards = np.r_[0.0, np.asarray(ep.rewards, np.float64)]
        terms = np.r_[False, np.asarray(ep.terminations, bool)]
        truncs = np.r_[False, np.asarray(ep.truncations, bool)]
        if len(rewards) != n:
            raise DemoError(source, f"episode {ep.id}: {n} frames but {len(rewards) - 1} steps")
        if actions.dtype.kind in "iub":
            pad = np.full((1, *actions.shape[1:]), -1, np.int64)
            acts = np.concatenate([pad, actions.astype(np.int64)])
        elif actions.dtype.kind == "f":
            acts = np.concatenate([np.full((1, *actions.shape[1:]), np.nan), actions]).astype(
                np.float32
            )
        else:
            acts = None
        success = bool(terms[-1] and rewards[-1] > 0) or bool(
            np.asarray(infos.get("is_success", [False]))[-1]
        )
        out.append(
            _trajectory(
                env_id,
                f"minari:{source}",
                frames,
                actions=acts,
                rewards=rewards,
                terminated=terms,
                truncated=truncs,
                success=success,
            )
        )
    return out


# ------------------------------------------------------------------------------------------------
# Policies rolled out in the environment
# ------------------------------------------------------------------------------------------------


def _load_factory(source: str) -> Callable[[Any], Any]:
    module_name, _, attr = source.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as err:
        raise DemoError(
            source, f"module {module_name!r} cannot be imported ({type(err).__name__}: {err})"
        ) from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise DemoError(source, f"{module_name} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise DemoError(source, f"{attr} is a {type(target).__name__}, not a policy factory")
    factory: Callable[[Any], Any] = target
    return factory


_SB3_ALGOS = (
    ("stable_baselines3.dqn", "DQN"),
    ("stable_baselines3.sac", "SAC"),
    ("stable_baselines3.td3", "TD3"),
    ("stable_baselines3.common", "PPO"),  # ActorCriticPolicy: PPO and A2C predict alike
    ("stable_baselines3.ppo", "PPO"),
    ("stable_baselines3.a2c", "A2C"),
)


def _sb3_algorithm(source: str) -> str:
    """The SB3 algorithm class that can load ``source``, from the policy class's module."""
    try:
        with zipfile.ZipFile(source) as zf:
            data = json.loads(zf.read("data").decode("utf-8"))
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DemoError(
            source, f"not a stable-baselines3 model file (no readable 'data' entry: {err})"
        ) from None
    policy = data.get("policy_class", {}) if isinstance(data, dict) else {}
    module = str(policy.get("__module__", "")) if isinstance(policy, dict) else ""
    for prefix, algo in _SB3_ALGOS:
        if module.startswith(prefix):
            return algo
    raise DemoError(
        source,
        f"cannot tell which SB3 algorithm wrote it (policy module {module!r}); supported: PPO, "
        "A2C, DQN, SAC, TD3, DDPG",
    )


class _SB3Policy:
    """``policy(obs) -> action`` from an SB3 model (deterministic)."""

    def __init__(self, model: Any, discrete: bool) -> None:
        self.model = model
        self.discrete = discrete

    def __call__(self, obs: Any) -> Any:
        action, _ = self.model.predict(obs, deterministic=True)
        return int(np.asarray(action).reshape(-1)[0]) if self.discrete else np.asarray(action)


def _spaces_match(model_space: Any, env_space: Any) -> bool:
    if model_space == env_space:
        return True
    from stable_baselines3.common.preprocessing import is_image_space
    from stable_baselines3.common.vec_env import VecTransposeImage

    if is_image_space(env_space):  # SB3 keeps the channels-first space it trained on
        return bool(VecTransposeImage.transpose_space(env_space) == model_space)
    return False


def _sb3_rollouts(
    source: str, env_id: str, n: int, seed: int, make_kwargs: Mapping[str, Any]
) -> list[Trajectory]:
    import stable_baselines3 as sb3
    from gymnasium import spaces

    from rl.envs import make_env
    from rl.rollouts import run_policy

    algo = _sb3_algorithm(source)
    try:
        model = getattr(sb3, algo).load(source, device="cpu")
    except Exception as err:
        raise DemoError(
            source, f"SB3 cannot load it as {algo} ({type(err).__name__}: {err})"
        ) from None
    offered: list[str] = []
    for observation in ("auto", "native", "symbolic", "image"):
        try:
            env = make_env(env_id, observation=observation, **make_kwargs)
        except ValueError:
            continue
        if _spaces_match(model.observation_space, env.observation_space):
            if model.action_space != env.action_space:
                env.close()
                raise DemoError(
                    source,
                    f"the model acts in {model.action_space} but {env_id} takes {env.action_space}",
                )
            try:
                discrete = isinstance(env.action_space, spaces.Discrete)
                policy = _SB3Policy(model, discrete)
                return [
                    run_policy(env, policy, seed=seed + i, length=None, name=f"sb3:{source}")
                    for i in range(n)
                ]
            finally:
                env.close()
        offered.append(f"{env.observation_kind} {env.observation_space}")
        env.close()
    raise DemoError(
        source,
        f"the model was trained on observations {model.observation_space}, which {env_id} does "
        f"not offer ({'; '.join(dict.fromkeys(offered))}): was it made for another environment?",
    )


# ------------------------------------------------------------------------------------------------
# load_demos
# ------------------------------------------------------------------------------------------------


def _env_frame_shape(env_id: str, make_kwargs: Mapping[str, Any]) -> tuple[int, int, int]:
    from rl.envs import make_env

    env = make_env(env_id, observation="image", **make_kwargs)
    try:
        assert env.frame_shape is not None
        return env.frame_shape
    finally:
        env.close()


def load_demos(
    env_id: str,
    source: DemoSource | str,
    *,
    n: int,
    seed: int = 0,
    tile_size: int = 8,
    frame_size: int = 64,
    max_steps: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    frame_source: FrameSource = "auto",
) -> list[Trajectory]:
    """Expert trajectories, one episode each, from ``source`` (see the module docstring).

    Args:
        env_id: the environment the demonstrations are for.
        source: a :class:`DemoSource` or its text.
        n: episodes wanted: rolled-out sources make exactly ``n`` (seeds ``seed ... seed + n - 1``);
            recorded ones give their first ``n`` (fewer when the file holds fewer).
        seed: first seed of rolled-out episodes.
        tile_size: MiniGrid pixels per cell.
        frame_size: PandaPush frame side.
        max_steps: episode step limit for rolled-out episodes.
        env_kwargs: extra constructor arguments of the environment.
        frame_source: where reward frames come from (:func:`rl.envs.make_env`).

    Returns:
        The trajectories.

    Raises:
        DemoError: the source cannot be used (see the module docstring).
        EnvError: the environment cannot be made.
    """
    src = source if isinstance(source, DemoSource) else DemoSource.parse(source)
    if type(n) is not int or n < 1:
        raise ValueError(f"n={n!r}: must be a positive int")
    make_kwargs: dict[str, Any] = {
        "tile_size": tile_size,
        "frame_size": frame_size,
        "max_steps": max_steps,
        "env_kwargs": env_kwargs,
        "frame_source": frame_source,
    }
    if src.kind == "expert":
        return rollouts(env_id, n, "expert", seed, **make_kwargs)
    if src.kind == "policy":
        factory = _load_factory(src.target)
        try:
            return rollouts(env_id, n, factory, seed, **make_kwargs)
        except TypeError as err:
            raise DemoError(src.target, f"the policy failed: {err}") from None
    if src.kind == "sb3":
        return _sb3_rollouts(src.target, env_id, n, seed, make_kwargs)
    trajectories = (
        _load_npz(src.target, env_id) if src.kind == "npz" else _load_minari(src.target, env_id)
    )[:n]
    want = _env_frame_shape(env_id, make_kwargs)
    for e, t in enumerate(trajectories):
        got = tuple(t.frames.shape[1:])
        if got != want:
            raise DemoError(
                src.target,
                f"episode {e} has {got[0]}x{got[1]}x3 frames but {env_id}'s reward frames are "
                f"{want[0]}x{want[1]}x3: checkers verified on one shape would run on another in "
                "training; record the frames with rl.make_env (info['frame']) or match the render "
                "size (--env-kwargs, --frame-source)",
            )
    return trajectories


# ------------------------------------------------------------------------------------------------
# Labelled frames and PNG files
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LabelledFrames:
    """Frames labelled by a person, for per-sub-task precision and recall.

    Attributes:
        frames: ``(N, H, W, 3)`` uint8.
        firsts: ``(N, H, W, 3)`` uint8, each frame's episode-first frame.
        labels: ``{sub-task: (N,) int8}``: 1 done, 0 not done, -1 not labelled.
        source: where they came from.
    """

    frames: np.ndarray
    firsts: np.ndarray
    labels: Mapping[str, np.ndarray]
    source: str

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def load_labelled(path: str | Path) -> LabelledFrames:
    """Read labelled frames from a JSON file of PNGs (format in the module docstring).

    Raises:
        DemoError: the file or a PNG cannot be read, or the entries do not fit the format.
    """
    source = str(path)
    root = Path(path).parent
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DemoError(source, f"cannot read the labelled frames ({err})") from None
    entries = data.get("frames") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise DemoError(source, 'expected {"frames": [{"frame": "x.png", "labels": {...}}, ...]}')
    default_first = data.get("first")
    frames: list[np.ndarray] = []
    firsts: list[np.ndarray] = []
    rows: list[dict[str, bool]] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("frame"), str):
            raise DemoError(source, f"frames[{i}] has no 'frame' PNG path")
        labels = entry.get("labels", {})
        if not isinstance(labels, dict) or not all(isinstance(v, bool) for v in labels.values()):
            raise DemoError(source, f"frames[{i}].labels must map sub-task names to true/false")
        frame = read_png(root / entry["frame"])
        first_name = entry.get("first", default_first)
        first = read_png(root / first_name) if isinstance(first_name, str) else frame
        if first.shape != frame.shape or (frames and frame.shape != frames[0].shape):
            raise DemoError(
                source,
                f"frames[{i}]: every frame and first frame needs one shape, got "
                f"{frame.shape} / {first.shape}",
            )
        frames.append(frame)
        firsts.append(first)
        rows.append(labels)
    names = sorted({k for r in rows for k in r})
    table = {k: np.array([int(r[k]) if k in r else -1 for r in rows], np.int8) for k in names}
    return LabelledFrames(np.stack(frames), np.stack(firsts), table, source)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _unfilter(raw: bytes, height: int, stride: int, bpp: int) -> np.ndarray:
    out = bytearray(height * stride)
    prev = bytearray(stride)
    pos = 0
    for y in range(height):
        kind = raw[pos]
        line = bytearray(raw[pos + 1 : pos + 1 + stride])
        pos += 1 + stride
        if kind == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 0xFF
        elif kind == 2:
            for x in range(stride):
                line[x] = (line[x] + prev[x]) & 0xFF
        elif kind == 3:
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 0xFF
        elif kind == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pred) & 0xFF
        elif kind != 0:
            raise ValueError(f"bad PNG filter type {kind} on row {y}")
        out[y * stride : (y + 1) * stride] = line
        prev = line
    return np.frombuffer(bytes(out), np.uint8).reshape(height, stride)


def read_png(path: str | Path) -> np.ndarray:
    """Read an 8-bit, non-interlaced PNG as an H x W x 3 uint8 RGB array (alpha dropped).

    Greyscale, palette, RGB and RGBA images are converted to RGB. Standard library only.

    Raises:
        DemoError: the file cannot be read or is a PNG this reader does not handle (16-bit,
            interlaced): re-save it as an 8-bit RGB PNG.

    Example:
        >>> import tempfile, os
        >>> from synth.vlm import encode_png
        >>> frame = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = os.path.join(d, "f.png")
        ...     _ = open(p, "wb").write(encode_png(frame))
        ...     bool((read_png(p) == frame).all())
        True
    """
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise DemoError(source, f"cannot read the PNG ({err.strerror or err})") from None
    try:
        if not data.startswith(_PNG_SIGNATURE):
            raise ValueError("not a PNG file")
        pos, idat, palette = 8, [], b""
        width = height = depth = colour = interlace = -1
        while pos + 8 <= len(data):
            length, tag = struct.unpack(">I4s", data[pos : pos + 8])
            body = data[pos + 8 : pos + 8 + length]
            pos += 12 + length
            if tag == b"IHDR":
                width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            elif tag == b"PLTE":
                palette = body
            elif tag == b"IDAT":
                idat.append(body)
            elif tag == b"IEND":
                break
        if depth != 8 or interlace != 0 or colour not in _CHANNELS:
            raise ValueError(
                f"bit depth {depth}, colour type {colour}, interlace {interlace} not supported"
            )
        channels = _CHANNELS[colour]
        rows = _unfilter(zlib.decompress(b"".join(idat)), height, width * channels, channels)
        pixels = rows.reshape(height, width, channels)
    except (ValueError, struct.error, zlib.error) as err:
        raise DemoError(source, f"unreadable PNG ({err}); re-save it as an 8-bit RGB PNG") from None
    if colour == 3:
        table = np.frombuffer(palette, np.uint8).reshape(-1, 3)
        return np.ascontiguousarray(table[pixels[..., 0]])
    if colour in (0, 4):
        return np.ascontiguousarray(np.repeat(pixels[..., :1], 3, axis=2))
    return np.ascontiguousarray(pixels[..., :3])
