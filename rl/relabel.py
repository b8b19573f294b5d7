"""Relabel an offline dataset with a reward program: per-frame sub-task flags and the shaped reward.

Provides:
    relabel: run a :class:`rl.program.RewardProgram` over every frame of a Minari dataset or an
        ``.npz`` of frames, partition by partition, each partition in its own
        :class:`sandbox.Sandbox` (serially here, or as Ray tasks), resumably; write one ``.npz``
        and a JSON sidecar.
    RelabelResult: what a run wrote and counted.
    open_dataset / OfflineDataset: an offline dataset's episodes, read one partition at a time.
    plan_partitions / Partition: episodes grouped into partitions of about ``N`` frames.
    relabel_partition / PartitionJob: one partition's work (what a worker runs).
    compose_episodes: per-frame checker answers -> the shaped reward and latched sub-tasks, with
        :class:`rl.rewards.RewardComposer`'s semantics, one episode after another.
    load_relabel_program / program_sha256: the program argument, and the hash runs are matched by.
    OUTPUT_KEYS: the output's arrays, and what each holds.

Semantics (frame ``t`` of episode ``e``, sub-tasks ``0..K-1`` in the program's order; the same as
training with :class:`rl.vec_env.CodeRewardVecEnv` on the same frames):

* Every frame, reset frames included, is checked; ``check(frame, first)`` gets the episode's first
  frame as ``first``. A checker that fails on a frame (raises, breaks the result contract, runs
  out of budget, times out, crashes its worker) has ``valid`` False and ``flags`` False there, and
  the frame is counted in ``failures[e, k]``: a failure is never a silent False.
* The composer latches per episode and starts afresh at each episode start. The reset frame is not
  scored (``shaped_reward`` 0, nothing latched, as in training: ``Phi(s_0) = 0``); each later
  frame is the step that produced it, scored by the program's ``scheme``, ``bonus`` and ``gamma``
  (:mod:`rl.rewards`). An episode's last frame ends it; it is a true terminal state (for the
  ``potential`` scheme, ``Phi`` of it is 0) when the dataset says it terminated: Minari's
  ``terminations``, an ``.npz``'s optional ``terminated`` array, else (an ``.npz`` of
  demonstrations, taken to end in the goal state, as :mod:`rl.demos` does) yes.
* Checkers are never disabled after failures by default (``max_failures=None``): every batch
  runs every checker, so ``failures`` counts exactly the frames on which a checker itself failed.
  With ``max_failures=N`` a checker's sandbox disables it after N failures (as in training), and
  every later frame of that partition counts as failed.

Inputs:
    ``FILE.npz``: ``frames`` (T, H, W, 3) uint8 and ``episode_starts`` (the :mod:`rl.demos`
    layout: (E,) int indices or a (T,) bool mask); optional ``rewards`` (T,) (the reward of the
    step that produced each frame, 0 at reset frames), ``terminated`` (T,) bool. The arrays are
    read into memory once.
    ``MINARI_ID``, ``minari:MINARI_ID`` or a dataset directory: a local Minari dataset, frames in
    ``infos["frame"]`` (collect with ``minari.DataCollector(rl.make_env(ENV_ID),
    record_infos=True)``) or picture observations; read one partition at a time. Rewards and
    terminations come with it.

Output ``OUT.npz`` (``numpy.load(OUT, allow_pickle=False)``; index ``t`` describes frame ``t`` of
the dataset, episodes one after another, as in :class:`rl.rollouts.Trajectory`):

    ``flags``            (T, K) bool     checker k's answer on frame t (False where it failed)
    ``valid``            (T, K) bool     checker k answered on frame t (False: it failed there)
    ``completed``        (T, K) bool     sub-task k latched in frame t's episode after its step
    ``shaped_reward``    (T,) float32    the program's reward for the step that produced frame t
                                         (0 at reset frames); train on ``original_rewards + it``
    ``episode_starts``   (E,) int64      index of each episode's first frame
    ``failures``         (E, K) int64    frames of episode e on which checker k failed
    ``terminated``       (T,) bool       frame t ended its episode in a true terminal state
    ``subtasks``         (K,) str        the sub-task names, in the program's order
    ``original_rewards`` (T,) float64    the dataset's rewards, aligned the same way (only when
                                         the dataset has them)

and ``OUT.json`` next to it (``OUT`` with the suffix ``.json``): the program (its hash, sub-tasks,
scheme), the dataset (source, identity, counts), per sub-task counts (frames fired, episodes
latched, frames failed by status, episodes with failures), how the run went (executor, workers,
isolation, partitions computed and resumed, per-partition node and timings, frames/s).

Partitions and resuming: episodes are grouped into partitions of about ``partition_frames``
frames (whole episodes; the grouping depends on the dataset only, never on the number of
workers, so serial and Ray runs give identical outputs). Each finished partition is written
atomically (a temporary file, then ``os.replace``) to ``OUT.parts/partNNNN.npz`` (``OUT`` with
the suffix ``.parts``), with the program hash, the dataset identity and its episode range. A
crash loses only the partitions in progress; ``resume=True`` keeps every partition already on
disk (refusing, with what differs, one made by another program, another dataset or another
partitioning) and computes the rest; the final ``OUT.npz`` is assembled from the partitions.
The folder is removed afterwards unless ``keep_parts=True``.

With Ray (``ray="auto"`` or an address; the optional extra ``vlm-car[ray]``), each partition is a
Ray task (``num_cpus=1``) that builds its own Sandbox on whatever node runs it; the driver reads
the partitions' frames and ships them as task arguments (so nodes need vlm-car installed, but no
shared file system), keeps at most ``workers`` tasks in flight, and writes each partition as it
comes back. With ``isolation="strict"`` (the default where the driver supports it) every node is
probed first and one that lacks a layer refuses the run, named; a Sandbox on a node that loses a
layer later refuses the same way.

Example:
    >>> import numpy as np, tempfile, os
    >>> from rl.program import RewardProgram, SubTask
    >>> program = RewardProgram("any", "bright", (SubTask("bright", "", "def check(frame):\\n"
    ...     "    return bool(frame.mean() > 100)\\n"),))
    >>> frames = np.zeros((6, 4, 4, 3), np.uint8); frames[[2, 5]] = 200
    >>> with tempfile.TemporaryDirectory() as d:
    ...     np.savez(os.path.join(d, "data.npz"), frames=frames, episode_starts=np.array([0, 3]))
    ...     result = relabel(program, os.path.join(d, "data.npz"), os.path.join(d, "out.npz"),
    ...                      isolation="process")
    ...     out = np.load(result.out)
    ...     out["flags"][:, 0].tolist(), out["shaped_reward"].tolist()
    ([False, False, True, False, False, True], [0.0, 0.0, 1.0, 0.0, 0.0, 1.0])
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from rl.cluster import check_nodes, connect_ray, import_ray, missing_layers
from rl.errors import (
    NodeIsolationError,
    PartitionError,
    RelabelError,
    RelabelInterrupted,
)
from rl.program import ProgramError, RewardProgram, load_program
from sandbox.errors import IsolationUnavailable, SandboxError

__all__ = [
    "DEFAULT_BATCH_FRAMES",
    "DEFAULT_PARTITION_BYTES",
    "DEFAULT_PARTITION_FRAMES",
    "OUTPUT_KEYS",
    "RELABEL_FORMAT",
    "RELABEL_VERSION",
    "OfflineDataset",
    "Partition",
    "PartitionJob",
    "RelabelResult",
    "compose_episodes",
    "connect_ray",
    "default_partition_frames",
    "load_relabel_program",
    "open_dataset",
    "plan_partitions",
    "program_sha256",
    "relabel",
    "relabel_partition",
]

RELABEL_FORMAT = "vlm-car-relabel"
RELABEL_VERSION = 1
#: Frames per partition when none is given (fewer when frames are large, see below).
DEFAULT_PARTITION_FRAMES = 20_000
#: A partition's frames stay under this many bytes by default (they travel to a worker at once).
DEFAULT_PARTITION_BYTES = 256 * 2**20
#: Frames per ``Sandbox.evaluate`` call.
DEFAULT_BATCH_FRAMES = 1024

#: The output's arrays and what each holds (the module docstring has the full layout).
OUTPUT_KEYS: Mapping[str, str] = {
    "flags": "(T, K) bool: checker k's answer on frame t (False where it failed)",
    "valid": "(T, K) bool: checker k answered on frame t",
    "completed": "(T, K) bool: sub-task k latched in frame t's episode after its step",
    "shaped_reward": "(T,) float32: the program's reward of the step that produced frame t",
    "episode_starts": "(E,) int64: index of each episode's first frame",
    "failures": "(E, K) int64: frames of episode e on which checker k failed",
    "terminated": "(T,) bool: frame t ended its episode in a true terminal state",
    "subtasks": "(K,) str: sub-task names in the program's order",
    "original_rewards": "(T,) float64: the dataset's rewards (only when it has them)",
}

Isolation = Literal["strict", "process"]
_PART_ARRAYS = ("flags", "valid", "completed", "shaped_reward", "failures", "terminated")


# ------------------------------------------------------------------------------------------------
# The program
# ------------------------------------------------------------------------------------------------


def load_relabel_program(spec: str | os.PathLike[str] | RewardProgram) -> RewardProgram:
    """The reward program a relabelling run uses.

    Args:
        spec: a :class:`RewardProgram`; a program or bundle directory (``program.json`` plus one
            checker file per sub-task, loaded with :func:`rl.program.load_program`, as
            ``vlmcar train --reward DIR`` does: schema, hashes, signature when a key is set,
            audit); the path of its ``program.json``; or ``reference:ENV_ID`` for a built-in
            environment's reference program.

    Raises:
        ProgramError: no such program, or one that is malformed, tampered with or rejected.
    """
    if isinstance(spec, RewardProgram):
        return spec
    text = os.fspath(spec)
    if text.startswith("reference:"):
        from rl.programs import reference_program

        return reference_program(text.removeprefix("reference:"))
    path = Path(text)
    if path.name == "program.json" and path.is_file():
        path = path.parent
    if not path.exists():
        raise ProgramError(
            text,
            "no such program: give a reward-program or bundle directory (program.json plus one "
            ".py per sub-task), its program.json, or reference:ENV_ID",
        )
    if not path.is_dir():
        raise ProgramError(
            text, "is a file, not a program directory: give the directory holding program.json"
        )
    return load_program(path)


def program_sha256(program: RewardProgram) -> str:
    """The hash that identifies what a program computes: sub-task names, sources, scheme, scale.

    Provenance (``extra``), the task text and descriptions are left out: they change no reward.

    Example:
        >>> from rl.program import SubTask
        >>> a = RewardProgram("e", "t", (SubTask("s", "", "def check(frame):\\n    return True\\n"),))
        >>> b = RewardProgram("e", "other words", a.subtasks, extra={"model": "x"})
        >>> program_sha256(a) == program_sha256(b)
        True
    """
    canonical = {
        "scheme": program.scheme,
        "bonus": program.bonus,
        "gamma": program.gamma,
        "subtasks": [[s.name, s.sha256] for s in program.subtasks],
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------------------------------
# Datasets
# ------------------------------------------------------------------------------------------------

_HOW_TO_RECORD = (
    "relabelling runs the checkers on pictures: save the reward frames as an .npz with "
    "frames (T, H, W, 3) uint8 and episode_starts (rl.make_env(ENV_ID) puts each step's reward "
    "frame in info['frame']), or record a Minari dataset with "
    "minari.DataCollector(rl.make_env(ENV_ID), record_infos=True)"
)


@dataclass
class _Block:
    """The frames of consecutive episodes, and what the dataset says about their steps."""

    frames: NDArray[np.uint8]
    starts: NDArray[np.int64]  # local, from 0
    terminated: NDArray[np.bool_]
    rewards: NDArray[np.float64] | None


class OfflineDataset:
    """An offline dataset's episodes, read a range of episodes at a time.

    Use :func:`open_dataset`; the constructor takes the pieces it found.

    Attributes:
        source: the source as given.
        kind: ``"npz"`` or ``"minari"``.
        lengths: (E,) frames per episode.
        frame_shape: (H, W, 3).
        has_rewards: whether the dataset records rewards.
        identity: what identifies the dataset's content, wherever it lies (kind, counts, frame
            shape, a content hash: the sha256 of an .npz, of a Minari dataset's metadata plus
            its data size); a resumed run must see the same.
        location: where it was found (provenance only).
    """

    def __init__(
        self,
        source: str,
        kind: Literal["npz", "minari"],
        lengths: NDArray[np.int64],
        frame_shape: tuple[int, ...],
        has_rewards: bool,
        identity: dict[str, Any],
        reader: Callable[[int, int], _Block],
        *,
        location: str = "",
    ) -> None:
        self.source = source
        self.kind = kind
        self.lengths = lengths
        self.frame_shape = frame_shape
        self.has_rewards = has_rewards
        self.identity = identity
        self.location = location
        self._reader = reader

    @property
    def n_episodes(self) -> int:
        """Number of episodes."""
        return len(self.lengths)

    @property
    def n_frames(self) -> int:
        """Number of frames, reset frames included."""
        return int(self.lengths.sum())

    @property
    def episode_starts(self) -> NDArray[np.int64]:
        """(E,) index of each episode's first frame."""
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    def read(self, first: int, stop: int) -> _Block:
        """Episodes ``first .. stop - 1``: their frames, local starts, terminal flags, rewards."""
        return self._reader(first, stop)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open_npz(source: str) -> OfflineDataset:
    import zipfile

    from rl.demos import DemoError, _check_frames, _episode_bounds

    try:
        with np.load(source, allow_pickle=False) as data:
            files = set(data.files)
            if "frames" not in files:
                raise DemoError(
                    source,
                    f"the dataset has no frames (it holds {', '.join(sorted(files)) or 'nothing'}"
                    f"); {_HOW_TO_RECORD}",
                )
            if "episode_starts" not in files:
                raise DemoError(
                    source,
                    "missing episode_starts: give the (E,) int indices of each episode's first "
                    "frame, or a (T,) bool mask, next to frames",
                )
            frames = _check_frames(source, data["frames"], "frames")
            starts = data["episode_starts"]
            rewards = np.asarray(data["rewards"], np.float64) if "rewards" in files else None
            terminated = np.asarray(data["terminated"], bool) if "terminated" in files else None
    except DemoError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DemoError(source, f"cannot read it as an .npz ({err})") from None
    if len(frames) == 0:
        raise DemoError(source, "frames is empty: record at least one episode")
    for name, arr in (("rewards", rewards), ("terminated", terminated)):
        if arr is not None and arr.shape != (len(frames),):
            raise DemoError(
                source, f"{name} has shape {arr.shape}; give one entry per frame ({len(frames)},)"
            )
    bounds = _episode_bounds(source, starts, len(frames))
    lengths = np.array([b - a for a, b in bounds], np.int64)
    offsets = np.r_[0, np.cumsum(lengths)]
    if terminated is None:  # demonstrations end in the goal state (rl.demos)
        terminated = np.zeros(len(frames), bool)
        terminated[offsets[1:] - 1] = True

    def read(first: int, stop: int) -> _Block:
        a, b = int(offsets[first]), int(offsets[stop])
        return _Block(
            frames=frames[a:b],
            starts=(offsets[first:stop] - a).astype(np.int64),
            terminated=terminated[a:b],
            rewards=None if rewards is None else rewards[a:b],
        )

    path = Path(source)
    identity = {
        "kind": "npz",
        "episodes": len(lengths),
        "frames": len(frames),
        "frame_shape": list(frames.shape[1:]),
        "sha256": _sha256_file(path),
    }
    return OfflineDataset(
        source,
        "npz",
        lengths,
        tuple(frames.shape[1:]),
        rewards is not None,
        identity,
        read,
        location=str(path.resolve()),
    )


def _minari_frames(source: str, dataset: Any, ep: Any) -> NDArray[np.uint8]:
    from rl.demos import DemoError, _check_frames
    from rl.envs import is_picture_space

    infos = ep.infos if isinstance(ep.infos, Mapping) else {}
    if "frame" in infos:
        return _check_frames(source, infos["frame"], f"episode {ep.id}'s infos['frame']")
    if is_picture_space(dataset.observation_space):
        return _check_frames(source, ep.observations, f"episode {ep.id}'s observations")
    raise DemoError(
        source,
        f"the dataset holds no frames: its observations are {dataset.observation_space} (not "
        f"H x W x 3 uint8 pictures) and it recorded no infos['frame']; {_HOW_TO_RECORD}",
    )


def _open_minari(source: str) -> OfflineDataset:
    from rl.demos import DemoError

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
    indices = [int(i) for i in dataset.episode_indices]
    if not indices:
        raise DemoError(source, "the dataset has no episodes")
    meta = list(dataset.storage.get_episode_metadata(indices))
    lengths = np.array([int(m["total_steps"]) + 1 for m in meta], np.int64)
    first_ep = next(iter(dataset.iterate_episodes([indices[0]])))
    probe_frames = _minari_frames(source, dataset, first_ep)  # no frames: refused before any work
    frame_shape = tuple(int(n) for n in probe_frames.shape[1:])

    def read(first: int, stop: int) -> _Block:
        frames, terms, rewards, starts = [], [], [], []
        at = 0
        episodes = dataset.iterate_episodes(indices[first:stop])
        for e, ep in zip(range(first, stop), episodes, strict=True):
            got = _minari_frames(source, dataset, ep)
            if len(got) != lengths[e] or tuple(got.shape[1:]) != frame_shape:
                raise DemoError(
                    source,
                    f"episode {ep.id} has {len(got)} frames of shape {got.shape[1:]}; its "
                    f"metadata says {int(lengths[e])} of {frame_shape}: every episode needs one "
                    "frame per step plus its reset frame, all of one shape",
                )
            frames.append(got)
            starts.append(at)
            at += len(got)
            terms.append(np.r_[False, np.asarray(ep.terminations, bool)])
            rewards.append(np.r_[0.0, np.asarray(ep.rewards, np.float64)])
        return _Block(
            frames=np.ascontiguousarray(np.concatenate(frames), dtype=np.uint8),
            starts=np.asarray(starts, np.int64),
            terminated=np.concatenate(terms),
            rewards=np.concatenate(rewards),
        )

    storage_path = Path(str(dataset.storage.data_path))
    meta_file = storage_path / "metadata.json"
    identity = {
        "kind": "minari",
        "dataset_id": str(getattr(dataset, "id", "") or ""),
        "episodes": len(lengths),
        "frames": int(lengths.sum()),
        "frame_shape": list(frame_shape),
        "metadata_sha256": _sha256_file(meta_file) if meta_file.is_file() else "",
        "data_bytes": sum(p.stat().st_size for p in sorted(storage_path.glob("*")) if p.is_file()),
    }
    location = str(path.resolve()) if path.is_dir() else str(storage_path.parent)
    return OfflineDataset(
        source, "minari", lengths, frame_shape, True, identity, read, location=location
    )


def open_dataset(source: str | os.PathLike[str]) -> OfflineDataset:
    """Open an offline dataset: ``FILE.npz``, ``MINARI_ID``, ``minari:MINARI_ID`` or a directory.

    Only the episode lengths (and, for Minari, the first episode, to see that it has frames) are
    read here; frames are read per partition.

    Raises:
        DemoError: no such dataset, no frames in it (with how to record them), or a layout that
            does not add up.
    """
    from rl.demos import DemoError, DemoSource

    text = os.fspath(source)
    try:
        src = DemoSource.parse(text)
    except DemoError:
        if text.endswith(".npz") or text.startswith("minari:") or os.path.isdir(text):
            raise  # a dataset that is missing or unreadable: its own message says which
        src = None  # the parse error lists the sources of `synth --demos`, not datasets
    if src is not None and src.kind == "npz":
        return _open_npz(src.target)
    if src is not None and src.kind == "minari":
        return _open_minari(src.target)
    raise DemoError(
        text,
        "not an offline dataset: give FILE.npz (frames and episode_starts), a local Minari "
        "dataset id (minari:namespace/name-v0) or a Minari dataset directory",
    )


# ------------------------------------------------------------------------------------------------
# Partitions
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    """Consecutive whole episodes that one worker relabels.

    Attributes:
        index: position in the run, from 0.
        episodes: ``(first, stop)`` episode indices.
        frames: ``(first, stop)`` frame indices.
    """

    index: int
    episodes: tuple[int, int]
    frames: tuple[int, int]

    @property
    def n_frames(self) -> int:
        """Frames in the partition."""
        return self.frames[1] - self.frames[0]


def plan_partitions(
    lengths: Sequence[int] | NDArray[np.integer[Any]], frames: int
) -> list[Partition]:
    """Group episodes, in order, into partitions of at least ``frames`` frames (the last: fewer).

    Example:
        >>> [p.episodes for p in plan_partitions([5, 5, 5, 30, 5], 10)]
        [(0, 2), (2, 4), (4, 5)]
    """
    if frames < 1:
        raise ValueError(f"frames={frames!r}: must be >= 1")
    out: list[Partition] = []
    first = at = start_frame = 0
    count = 0
    for e, n in enumerate(int(x) for x in lengths):
        count += n
        at += n
        if count >= frames:
            out.append(Partition(len(out), (first, e + 1), (start_frame, at)))
            first, start_frame, count = e + 1, at, 0
    if count:
        out.append(Partition(len(out), (first, len(lengths)), (start_frame, at)))
    return out


def default_partition_frames(frame_shape: Sequence[int]) -> int:
    """:data:`DEFAULT_PARTITION_FRAMES`, or fewer so a partition stays under 256 MiB of frames."""
    per = max(1, math.prod(int(n) for n in frame_shape))
    return max(1, min(DEFAULT_PARTITION_FRAMES, DEFAULT_PARTITION_BYTES // per))


# ------------------------------------------------------------------------------------------------
# One partition
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionJob:
    """Everything a worker needs for one partition (picklable; frames travel with it).

    Attributes:
        index: the partition's index.
        names / sources: the sub-tasks' names and checker sources, in order.
        scheme / bonus / gamma: the program's reward scheme.
        frames: (N, H, W, 3) uint8.
        starts: (E,) local index of each episode's first frame (from 0).
        terminated: (N,) bool, the frame ends its episode in a true terminal state.
        isolation: the Sandbox's isolation level.
        timeout: seconds one checker may take over one batch.
        max_failures: disable a checker after this many failures (None: never).
        batch_frames: frames per ``Sandbox.evaluate`` call.
    """

    index: int
    names: tuple[str, ...]
    sources: tuple[str, ...]
    scheme: str
    bonus: float
    gamma: float
    frames: NDArray[np.uint8]
    starts: NDArray[np.int64]
    terminated: NDArray[np.bool_]
    isolation: Isolation = "strict"
    timeout: float = 5.0
    max_failures: int | None = None
    batch_frames: int = DEFAULT_BATCH_FRAMES


def compose_episodes(
    flags: NDArray[np.bool_],
    valid: NDArray[np.bool_],
    starts: NDArray[np.int64],
    terminated: NDArray[np.bool_],
    *,
    scheme: str = "ordered",
    bonus: float = 1.0,
    gamma: float = 0.99,
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """The shaped reward and latched sub-tasks of consecutive episodes.

    Runs :class:`rl.rewards.RewardComposer` with one "env" per episode, all episodes stepping
    together (frame 1 of every episode, then frame 2 ...): each episode's reset frame starts it
    (not scored), each later frame is one step, its last frame ends it (``terminated`` says
    whether as a true terminal state).

    Args:
        flags: (T, K) bool checker answers.
        valid: (T, K) bool, False where the checker failed (never latches, never pays).
        starts: (E,) index of each episode's first frame.
        terminated: (T,) bool.
        scheme: ``ordered``, ``any_order`` or ``potential`` (:class:`rl.program.RewardProgram`).
        bonus: reward per latched sub-task.
        gamma: discount of the ``potential`` scheme.

    Returns:
        ``(shaped_reward (T,) float32, completed (T, K) bool)``.

    Example:
        >>> f = np.array([[0], [1], [1], [0], [1]], bool)
        >>> r, c = compose_episodes(f, np.ones_like(f), np.array([0, 3]), np.zeros(5, bool))
        >>> r.tolist(), c[:, 0].tolist()
        ([0.0, 1.0, 0.0, 0.0, 1.0], [False, True, True, False, True])
    """
    from rl.rewards import RewardComposer

    total, k = flags.shape
    starts = np.asarray(starts, np.int64)
    lengths = np.diff(np.r_[starts, total])
    shaped = np.zeros(total, np.float32)
    completed = np.zeros((total, k), np.bool_)
    if total == 0 or len(starts) == 0:
        return shaped, completed
    composer = RewardComposer(len(starts), k, scheme=scheme, bonus=bonus, gamma=gamma)
    fired = np.zeros((len(starts), k), np.bool_)
    ok = np.zeros((len(starts), k), np.bool_)
    for t in range(1, int(lengths.max())):
        active = lengths > t
        rows = starts[active] + t
        fired[:] = False
        ok[:] = False
        fired[active] = flags[rows]
        ok[active] = valid[rows]
        done = active & (lengths - 1 == t)
        term = np.zeros(len(starts), np.bool_)
        term[active] = terminated[rows]
        step_bonus, latched = composer.step(fired, ok, done, term & done)
        shaped[rows] = step_bonus[active]
        completed[rows] = latched[active]
    return shaped, completed


def relabel_partition(
    job: PartitionJob, on_batch: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Relabel one partition in a Sandbox of its own; return its arrays and ``meta``.

    Args:
        job: the partition.
        on_batch: called with the number of frames after every evaluate call (progress).

    Returns:
        ``flags``, ``valid``, ``completed``, ``shaped_reward``, ``failures``, ``terminated`` (the
        arrays of the output layout, for this partition's frames and episodes) and ``meta``: a
        dict with ``hostname``, ``isolation``, ``layers``, ``jit_modes``, per-checker
        ``failure_statuses`` (failed frames by status) and timings.

    Raises:
        NodeIsolationError: this machine cannot provide ``job.isolation`` (names the host).
        SandboxError: the checkers' workers cannot be started at all.
    """
    from rl.rewards import _uses_first
    from sandbox.pool import Sandbox

    t0 = time.perf_counter()
    host = socket.gethostname()
    frames = job.frames
    total, k = len(frames), len(job.sources)
    flags = np.zeros((total, k), np.bool_)
    valid = np.zeros((total, k), np.bool_)
    statuses: list[dict[str, int]] = [{} for _ in range(k)]
    lengths = np.diff(np.r_[job.starts, total])
    first_index = np.repeat(job.starts, lengths)
    evaluate_seconds = 0.0
    try:
        box = Sandbox(
            list(job.sources),
            names=list(job.names),
            isolation=job.isolation,
            timeout=job.timeout,
            max_failures=job.max_failures if job.max_failures is not None else sys.maxsize,
        )
    except IsolationUnavailable as err:
        raise NodeIsolationError(host, err.level, err.missing) from None
    started = time.perf_counter() - t0
    try:
        with box:
            needs_first = any(_uses_first(s, box.entry) for s in job.sources)
            for a in range(0, total, job.batch_frames):
                b = min(total, a + job.batch_frames)
                part = frames[a:b]
                firsts = frames[first_index[a:b]] if needs_first else None
                t1 = time.perf_counter()
                result = box.evaluate(part, firsts)
                evaluate_seconds += time.perf_counter() - t1
                usable = result.usable()
                flags[a:b] = (result.results & usable).T
                valid[a:b] = usable.T
                for i in np.flatnonzero(~usable.all(axis=1)).tolist():
                    status = result.statuses[i] if result.statuses[i] != "ok" else "error"
                    per = statuses[i]
                    per[status] = per.get(status, 0) + int((~usable[i]).sum())
                if on_batch is not None:
                    on_batch(b - a)
            layers = [r.name for r in box.layers if r.available]
            jit_modes = [list(m) for m in box.jit_modes]
            isolation = box.isolation
    except IsolationUnavailable as err:  # a replacement worker could not isolate itself
        raise NodeIsolationError(host, err.level, err.missing) from None
    shaped, completed = compose_episodes(
        flags,
        valid,
        job.starts,
        job.terminated,
        scheme=job.scheme,
        bonus=job.bonus,
        gamma=job.gamma,
    )
    failures = (
        np.add.reduceat((~valid).astype(np.int64), job.starts, axis=0)
        if total
        else np.zeros((0, k), np.int64)
    )
    meta = {
        "hostname": host,
        "pid": os.getpid(),
        "isolation": isolation,
        "layers": layers,
        "jit_modes": jit_modes,
        "failure_statuses": {n: s for n, s in zip(job.names, statuses, strict=True) if s},
        "seconds": time.perf_counter() - t0,
        "sandbox_start_seconds": started,
        "evaluate_seconds": evaluate_seconds,
    }
    return {
        "flags": flags,
        "valid": valid,
        "completed": completed,
        "shaped_reward": shaped,
        "failures": failures,
        "terminated": np.asarray(job.terminated, np.bool_),
        "meta": meta,
    }


def _ray_partition(job: PartitionJob) -> dict[str, Any]:
    """:func:`relabel_partition` as a Ray task runs it (no progress callback)."""
    return relabel_partition(job)


# ------------------------------------------------------------------------------------------------
# Part files
# ------------------------------------------------------------------------------------------------


def _write_atomically(path: Path, write: Callable[[Any], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with tmp.open("wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _part_path(parts: Path, index: int) -> Path:
    return parts / f"part{index:04d}.npz"


def _save_part(path: Path, arrays: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
    payload: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
    payload["meta"] = np.array(json.dumps(meta, sort_keys=True))
    _write_atomically(path, lambda f: np.savez(f, **payload))


def _load_part(path: Path) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files if k != "meta"}
            meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError) as err:
        raise RelabelError(
            str(path),
            f"unreadable partition file ({type(err).__name__}: {err}); delete it and rerun with "
            "--resume to compute that partition again",
        ) from None
    if not isinstance(meta, dict):
        raise RelabelError(str(path), "not a partition file of vlm-car relabel; delete it")
    return arrays, meta


def _check_part(path: Path, meta: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Refuse a partition file made by another program, dataset or partitioning."""
    for key, what in (
        ("format", "file format"),
        ("program_sha256", "reward program"),
        ("dataset", "dataset"),
        ("episodes", "episode range"),
        ("frames", "frame range"),
        ("batch_frames", "batch size (--batch-frames)"),
        ("max_failures", "--max-failures"),
        ("subtasks", "sub-tasks"),
    ):
        if meta.get(key) != expected[key]:
            got = json.dumps(meta.get(key), sort_keys=True)[:160]
            want = json.dumps(expected[key], sort_keys=True)[:160]
            raise RelabelError(
                str(path),
                f"was made with another {what} ({got}; this run: {want}), so it cannot be "
                f"resumed: rerun with the same program, dataset and options, or delete "
                f"{path.parent} (or choose another --out) to start afresh",
            )


# ------------------------------------------------------------------------------------------------
# Ray
# ------------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------


@dataclass
class RelabelResult:
    """What a relabelling run wrote and counted.

    Attributes:
        out: the ``.npz``.
        sidecar: the JSON provenance file.
        episodes / frames / partitions: sizes of the run.
        computed: indices of the partitions this run computed.
        resumed: indices of the partitions taken from an earlier run.
        seconds: wall time.
        summary: the sidecar's content.
    """

    out: Path
    sidecar: Path
    episodes: int
    frames: int
    partitions: int
    computed: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)
    seconds: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def frames_per_second(self) -> float:
        """Frames of the computed partitions per second of wall time."""
        return self.summary.get("run", {}).get("frames_per_second", 0.0)  # type: ignore[no-any-return]


def _paths(out: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    path = Path(out)
    if path.suffix != ".npz":
        raise RelabelError(str(out), "--out must be a file name ending in .npz")
    return path, path.with_suffix(".json"), path.with_suffix(".parts")


def _progress_bar(enabled: bool, total: int, initial: int) -> Any:
    from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

    return tqdm(
        total=total,
        initial=initial,
        unit="frame",
        unit_scale=True,
        desc="relabel",
        file=sys.stderr,
        disable=None if enabled else True,  # None: only on a terminal
        dynamic_ncols=True,
    )


def relabel(
    program: str | os.PathLike[str] | RewardProgram,
    dataset: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    ray: str | None = None,
    workers: int | None = None,
    isolation: Isolation | None = None,
    resume: bool = False,
    partition_frames: int | None = None,
    batch_frames: int = DEFAULT_BATCH_FRAMES,
    checker_timeout: float = 5.0,
    max_failures: int | None = None,
    keep_parts: bool = False,
    progress: bool = False,
) -> RelabelResult:
    """Relabel every frame of ``dataset`` with ``program``; write ``out`` (see the module docstring).

    Everything that can be refused is refused before any checker runs: the output path, the
    program, Ray, the dataset, the isolation level (every Ray node is probed), the partitions of
    an earlier run.

    Args:
        program: a program, its directory or ``program.json``, or ``reference:ENV_ID``.
        dataset: ``FILE.npz``, a local Minari dataset id or directory.
        out: the output ``.npz`` (``.json`` sidecar and ``.parts`` folder next to it).
        ray: None (serial, in this process), ``"auto"`` or a Ray cluster address.
        workers: Ray tasks in flight at once (default: the cluster's CPUs); serial runs use one.
        isolation: ``strict`` or ``process`` (default: the strongest this machine supports; with
            Ray, every node must then support it too).
        resume: keep the partitions an earlier run of the same program, dataset and options
            finished (and allow ``out`` to exist already).
        partition_frames: frames per partition (default :data:`DEFAULT_PARTITION_FRAMES`, fewer
            for large frames).
        batch_frames: frames per ``Sandbox.evaluate`` call.
        checker_timeout: seconds one checker may take over one batch.
        max_failures: disable a checker after this many failures (None: never; see the module
            docstring).
        keep_parts: keep the partition files after the output is assembled.
        progress: show a progress bar on stderr (on a terminal).

    Returns:
        A :class:`RelabelResult`.

    Raises:
        RelabelError: ``out`` is not an ``.npz``, already exists (without ``resume``), or an
            earlier run's partitions are in the way or do not match (RayUnavailableError: no Ray).
        ProgramError: the program is missing or refused.
        DemoError: the dataset is missing, has no frames, or does not add up.
        NodeIsolationError: a machine cannot provide the isolation level.
        PartitionError: a partition failed while it ran (the finished ones are kept).
        RelabelInterrupted: Ctrl-C (the finished partitions are kept).
    """
    t_start = time.perf_counter()
    out_path, sidecar, parts = _paths(out)
    if out_path.is_dir():
        raise RelabelError(str(out_path), "is a directory; give a file name ending in .npz")
    if out_path.exists() and not resume:
        raise RelabelError(
            str(out_path),
            "already exists; choose another --out, delete it, or pass --resume to finish (and "
            "overwrite) it",
        )
    for name, value in (("batch_frames", batch_frames), ("workers", workers or 1)):
        if value < 1:
            raise RelabelError(f"--{name.replace('_', '-')}", f"must be >= 1, got {value}")
    if not (math.isfinite(checker_timeout) and checker_timeout > 0):
        raise RelabelError("--checker-timeout", f"must be a positive number, got {checker_timeout}")
    if max_failures is not None and max_failures < 1:
        raise RelabelError("--max-failures", f"must be >= 1, got {max_failures}")
    if isolation is not None and isolation not in ("strict", "process"):
        raise RelabelError(
            "--isolation",
            f"{isolation!r}: choose strict or process (checker code never runs unisolated)",
        )
    if workers is not None and workers > 1 and ray is None:
        raise RelabelError("--workers", "more than one worker needs --ray (auto or an address)")
    prog = load_relabel_program(program)
    if ray is not None:
        import_ray()  # not installed: refused before the dataset is read
    data = open_dataset(dataset)
    if partition_frames is not None and partition_frames < 1:
        raise RelabelError("--partition-frames", f"must be >= 1, got {partition_frames}")
    per_part = partition_frames or default_partition_frames(data.frame_shape)
    plan = plan_partitions(data.lengths, per_part)
    digest = program_sha256(prog)
    expected_base = {
        "format": f"{RELABEL_FORMAT}-part-{RELABEL_VERSION}",
        "program_sha256": digest,
        "dataset": data.identity,
        "batch_frames": batch_frames,
        "max_failures": max_failures,
        "subtasks": list(prog.names),
    }

    # earlier partitions: refused or kept, before any work
    done: dict[int, Path] = {}
    if parts.exists():
        if not parts.is_dir():
            raise RelabelError(str(parts), "exists and is not a folder; move it away")
        found = sorted(parts.glob("part*.npz"))
        if found and not resume:
            raise RelabelError(
                str(parts),
                f"holds {len(found)} finished partition(s) of an earlier run; pass --resume to "
                "keep them and compute only the rest, or delete the folder to start afresh",
            )
        by_name = {_part_path(parts, p.index).name: p for p in plan}
        for path in found:
            p = by_name.get(path.name)
            if p is None:
                raise RelabelError(
                    str(path),
                    f"this run has {len(plan)} partitions, so it cannot be one of them (another "
                    f"dataset or --partition-frames?); delete {parts} to start afresh",
                )
            _, meta = _load_part(path)
            _check_part(
                path,
                meta,
                {**expected_base, "episodes": list(p.episodes), "frames": list(p.frames)},
            )
            done[p.index] = path
        for stale in parts.glob(".part*.tmp*"):
            with contextlib.suppress(OSError):
                stale.unlink()

    # the executor: Ray connected and every node checked, or this machine checked
    ray_mod: Any = None
    ray_started = False
    hosts: list[str]
    if isolation is None:
        from sandbox.pool import strongest_isolation

        level: Isolation = "strict" if strongest_isolation()[0] == "strict" else "process"
    else:
        level = isolation
    if ray is not None:
        ray_mod, ray_started = connect_ray(ray, workers)
    try:
        if ray_mod is not None:
            hosts = check_nodes(ray_mod, level)
            cpus = int(ray_mod.cluster_resources().get("CPU", 1))
            in_flight = workers or max(1, cpus)
        else:
            missing = missing_layers(level) if isolation is not None else []
            if missing:
                raise NodeIsolationError(socket.gethostname(), level, missing)
            hosts = [socket.gethostname()]
            in_flight = 1
        parts.mkdir(parents=True, exist_ok=True)
        todo = [p for p in plan if p.index not in done]
        computed_meta = _run_partitions(
            prog,
            data,
            todo,
            parts,
            expected_base,
            level=level,
            timeout=checker_timeout,
            max_failures=max_failures,
            batch_frames=batch_frames,
            ray=ray_mod,
            in_flight=in_flight,
            progress=progress,
            initial=sum(p.n_frames for p in plan if p.index in done),
            total_parts=len(plan),
            finished=len(done),
        )
    finally:
        if ray_started:
            ray_mod.shutdown()
    run_seconds = time.perf_counter() - t_start

    # assembly
    arrays: dict[str, list[NDArray[Any]]] = {k: [] for k in (*_PART_ARRAYS, "original_rewards")}
    part_rows: list[dict[str, Any]] = []
    statuses: dict[str, dict[str, int]] = {}
    for p in plan:
        got, meta = _load_part(_part_path(parts, p.index))
        _check_part(
            _part_path(parts, p.index),
            meta,
            {**expected_base, "episodes": list(p.episodes), "frames": list(p.frames)},
        )
        for key in _PART_ARRAYS:
            arrays[key].append(got[key])
        if data.has_rewards:
            arrays["original_rewards"].append(got["original_rewards"])
        for name, per in meta.get("failure_statuses", {}).items():
            dst = statuses.setdefault(name, {})
            for status, count in per.items():
                dst[status] = dst.get(status, 0) + int(count)
        part_rows.append(
            {
                "index": p.index,
                "episodes": list(p.episodes),
                "frames": list(p.frames),
                "resumed": p.index in done,
                **{
                    k: meta.get(k)
                    for k in (
                        "hostname",
                        "pid",
                        "isolation",
                        "seconds",
                        "sandbox_start_seconds",
                        "evaluate_seconds",
                        "round_trip_seconds",
                    )
                },
            }
        )
    result: dict[str, Any] = {key: np.concatenate(arrays[key]) for key in _PART_ARRAYS}
    result["episode_starts"] = data.episode_starts
    result["subtasks"] = np.array(prog.names)
    if data.has_rewards:
        result["original_rewards"] = np.concatenate(arrays["original_rewards"])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(out_path, lambda f: np.savez(f, **result))

    computed = sorted(computed_meta)
    frames_done = sum(plan[i].n_frames for i in computed)
    summary = _summary(
        prog,
        program,
        data,
        result,
        statuses,
        part_rows,
        digest,
        out_path,
        run={
            "executor": "ray" if ray_mod is not None else "serial",
            "ray": ray,
            "workers": in_flight,
            "nodes": hosts,
            "isolation": level,
            "partition_frames": per_part,
            "batch_frames": batch_frames,
            "checker_timeout": checker_timeout,
            "max_failures": max_failures,
            "partitions": len(plan),
            "computed_partitions": len(computed),
            "resumed_partitions": len(done),
            "seconds": run_seconds,
            "frames_computed": frames_done,
            "frames_per_second": frames_done / run_seconds if run_seconds > 0 else 0.0,
        },
    )
    _write_atomically(
        sidecar, lambda f: f.write((json.dumps(summary, indent=2) + "\n").encode("utf-8"))
    )
    if not keep_parts:
        for p in plan:
            with contextlib.suppress(FileNotFoundError):
                _part_path(parts, p.index).unlink()
        with contextlib.suppress(OSError):
            parts.rmdir()
    return RelabelResult(
        out=out_path,
        sidecar=sidecar,
        episodes=data.n_episodes,
        frames=data.n_frames,
        partitions=len(plan),
        computed=computed,
        resumed=sorted(done),
        seconds=run_seconds,
        summary=summary,
    )


def _run_partitions(
    prog: RewardProgram,
    data: OfflineDataset,
    todo: list[Partition],
    parts: Path,
    expected_base: Mapping[str, Any],
    *,
    level: Isolation,
    timeout: float,
    max_failures: int | None,
    batch_frames: int,
    ray: Any,
    in_flight: int,
    progress: bool,
    initial: int,
    total_parts: int,
    finished: int,
) -> dict[int, dict[str, Any]]:
    """Compute the partitions in ``todo`` (serially, or on Ray); write each as it finishes."""
    metas: dict[int, dict[str, Any]] = {}
    rewards: dict[int, NDArray[np.float64] | None] = {}

    def job(p: Partition) -> PartitionJob:
        block = data.read(*p.episodes)
        rewards[p.index] = block.rewards
        return PartitionJob(
            index=p.index,
            names=prog.names,
            sources=prog.sources,
            scheme=prog.scheme,
            bonus=prog.bonus,
            gamma=prog.gamma,
            frames=block.frames,
            starts=block.starts,
            terminated=block.terminated,
            isolation=level,
            timeout=timeout,
            max_failures=max_failures,
            batch_frames=batch_frames,
        )

    def save(p: Partition, got: dict[str, Any], round_trip: float) -> None:
        original = rewards.pop(p.index)
        meta = {
            **expected_base,
            **got["meta"],
            "index": p.index,
            "episodes": list(p.episodes),
            "frames": list(p.frames),
            "round_trip_seconds": round_trip,
        }
        arrays = {key: got[key] for key in _PART_ARRAYS}
        if original is not None:
            arrays["original_rewards"] = original
        _save_part(_part_path(parts, p.index), arrays, meta)
        metas[p.index] = meta

    total = data.n_frames
    bar = _progress_bar(progress, total, initial)
    try:
        if ray is None:
            for p in todo:
                t0 = time.perf_counter()
                try:
                    got = relabel_partition(job(p), on_batch=bar.update)
                except (NodeIsolationError, KeyboardInterrupt):
                    raise
                except SandboxError as err:
                    raise PartitionError(
                        p.index, socket.gethostname(), str(err), str(parts)
                    ) from err
                save(p, got, time.perf_counter() - t0)
        else:
            _run_on_ray(ray, todo, job, save, bar, in_flight, str(parts))
    except KeyboardInterrupt:
        raise RelabelInterrupted(finished + len(metas), total_parts, str(parts)) from None
    finally:
        bar.close()
    return metas


def _run_on_ray(
    ray: Any,
    todo: list[Partition],
    job: Callable[[Partition], PartitionJob],
    save: Callable[[Partition, dict[str, Any], float], None],
    bar: Any,
    in_flight: int,
    parts: str,
) -> None:
    """Keep ``in_flight`` partition tasks running; write each result as it comes back."""
    task = ray.remote(num_cpus=1, max_retries=2)(_ray_partition)
    pending = list(todo)
    running: dict[Any, tuple[Partition, float]] = {}
    try:
        while pending or running:
            while pending and len(running) < in_flight:
                p = pending.pop(0)
                running[task.remote(job(p))] = (p, time.perf_counter())
            ready, _ = ray.wait(list(running), num_returns=1)
            ref = ready[0]
            p, t0 = running.pop(ref)
            try:
                got = ray.get(ref)
            except ray.exceptions.RayTaskError as err:
                cause = getattr(err, "cause", None)
                if isinstance(cause, NodeIsolationError):
                    raise cause from None
                detail = f"{type(cause).__name__}: {cause}" if cause is not None else str(err)
                raise PartitionError(p.index, "", detail, parts) from None
            except ray.exceptions.RayError as err:
                first = str(err).strip().splitlines()[0] if str(err).strip() else ""
                raise PartitionError(p.index, "", f"{type(err).__name__}: {first}", parts) from None
            save(p, got, time.perf_counter() - t0)
            bar.update(p.n_frames)
    finally:
        for ref in running:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)


def _summary(
    prog: RewardProgram,
    spec: object,
    data: OfflineDataset,
    result: Mapping[str, NDArray[Any]],
    statuses: Mapping[str, Mapping[str, int]],
    part_rows: list[dict[str, Any]],
    digest: str,
    out: Path,
    *,
    run: dict[str, Any],
) -> dict[str, Any]:
    """The sidecar: provenance, counts, how the run went."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        vlm_car = version("vlm-car")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        vlm_car = None
    starts = result["episode_starts"]
    ends = np.r_[starts[1:], len(result["flags"])] - 1
    flags, valid, completed = result["flags"], result["valid"], result["completed"]
    failures = result["failures"]
    shaped_returns = np.add.reduceat(result["shaped_reward"].astype(np.float64), starts)
    per: dict[str, Any] = {}
    for k, name in enumerate(prog.names):
        per[name] = {
            "fired_frames": int(flags[:, k].sum()),
            "fire_rate": float(flags[:, k].mean()) if len(flags) else 0.0,
            "latched_episodes": int(completed[ends, k].sum()),
            "failed_frames": int((~valid[:, k]).sum()),
            "episodes_with_failures": int((failures[:, k] > 0).sum()),
            "failure_statuses": dict(statuses.get(name, {})),
        }
    counts: dict[str, Any] = {
        "episodes": data.n_episodes,
        "frames": data.n_frames,
        "failed_checks": int((~valid).sum()),
        "shaped_return_mean": float(shaped_returns.mean()),
        "subtasks": per,
    }
    if "original_rewards" in result:
        counts["original_return_mean"] = float(
            np.add.reduceat(result["original_rewards"], starts).mean()
        )
    return {
        "format": RELABEL_FORMAT,
        "version": RELABEL_VERSION,
        "output": str(out),
        "layout": dict(OUTPUT_KEYS),
        "program": {
            "given_as": "<RewardProgram>" if isinstance(spec, RewardProgram) else str(spec),
            "sha256": digest,
            "env_id": prog.env_id,
            "task": prog.task,
            "scheme": prog.scheme,
            "bonus": prog.bonus,
            "gamma": prog.gamma,
            "subtasks": [{"name": s.name, "sha256": s.sha256} for s in prog.subtasks],
        },
        "dataset": {
            **data.identity,
            "given_as": data.source,
            "location": data.location,
            "has_rewards": data.has_rewards,
        },
        "counts": counts,
        "run": run,
        "partitions": part_rows,
        "vlm_car": vlm_car,
    }
