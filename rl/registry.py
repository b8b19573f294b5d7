"""The environment registry: one declaration per environment, any Gymnasium id resolved on demand.

Provides:
    EnvSpec: everything vlm-car knows about one environment, in one record (in the spirit of
        Gymnasium's ``EnvSpec``): how to make it, how to draw its reward frame, its task text and
        the notes the prompt states, where expert demonstrations come from, and optionally a
        symbolic observation, a ground-truth labeller and a reference program.
    MakeSettings: the knobs every ``make`` gets (tile size, frame size, step limit, env kwargs).
    SymbolicObservation: a Markov symbolic policy observation (space + encoder).
    Labeller: the protocol of a ground-truth labeller (privileged state -> ``{name: bool}``).
    register: add a spec (or replace one, with ``replace=True``).
    get_spec: the spec of an id: a registered one, or one built from Gymnasium's registry for any
        other id (``"CartPole-v1"``, ``"MiniGrid-LavaCrossingS9N1-v0"``, ``"my_pkg.envs:Maze-v0"``).
    registered_ids: the ids registered so far (the built-in ones first).
    default_is_success: the success rule used when a spec states none.
    parse_env_kwargs: ``--env-kwargs`` JSON text -> keyword arguments.
    EnvError, UnknownEnvError: what goes wrong looking an environment up.
    PROVIDERS: id prefix -> the module that registers such ids with Gymnasium.
    FAMILIES: how ids that are not registered here are adapted, by the class that creates them.

Resolving an id that is not registered here (:func:`get_spec`):

1. ``module:EnvId`` (Gymnasium's own form): ``module`` is imported first, so that it can register
   ``EnvId``; an import failure is an :class:`UnknownEnvError` saying so.
2. An id Gymnasium does not know yet is looked for after importing its provider
   (:data:`PROVIDERS`: ``MiniGrid-`` -> ``minigrid``, ``Panda`` -> ``panda_gym``).
3. Still unknown: :class:`UnknownEnvError` with the closest registered and Gymnasium ids.
4. Otherwise the spec is built from Gymnasium's entry: made with ``gym.make(EnvId,
   render_mode="rgb_array", **kwargs)`` when the environment class lists ``rgb_array`` among its
   ``metadata["render_modes"]`` (without a render mode otherwise), adapted by the first family of
   :data:`FAMILIES` whose class the creator is (MiniGrid: highlight-free full-grid frames and the
   full-grid symbolic observation); no expert, labeller or reference program.

Adding a built-in environment is one :class:`EnvSpec` in :data:`rl.envs.BUILTIN_SPECS` (plus its
expert, if it has one). At run time, :func:`register` adds one for this process, as
``gymnasium.register`` does.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from rl.errors import RLError

if TYPE_CHECKING:
    import gymnasium as gym
    import numpy as np

    from rl.program import RewardProgram

__all__ = [
    "FAMILIES",
    "PROVIDERS",
    "EnvError",
    "EnvSpec",
    "Family",
    "Labeller",
    "MakeSettings",
    "SymbolicObservation",
    "UnknownEnvError",
    "default_is_success",
    "get_spec",
    "parse_env_kwargs",
    "register",
    "registered_ids",
]


class EnvError(RLError, ValueError):
    """An environment cannot be looked up, made or used as asked.

    Attributes:
        env_id: the environment id as given.
        problem: what is wrong and what to do.
    """

    def __init__(self, env_id: str, problem: str) -> None:
        super().__init__(env_id, problem)
        self.env_id = env_id
        self.problem = problem

    def __str__(self) -> str:
        return f"environment {self.env_id!r}: {self.problem}"


class UnknownEnvError(EnvError):
    """No environment with this id is registered here or with Gymnasium.

    Attributes:
        env_id: the id as given.
        suggestions: the closest known ids (may be empty).
        reason: why it is unknown (e.g. the module of a ``module:EnvId`` failed to import).

    Example:
        >>> err = UnknownEnvError("MiniGrid-DorKey-5x5-v0", ("MiniGrid-DoorKey-5x5-v0",))
        >>> str(err).split(" (")[0]
        "unknown env id 'MiniGrid-DorKey-5x5-v0'; did you mean 'MiniGrid-DoorKey-5x5-v0'?"
    """

    def __init__(self, env_id: str, suggestions: Iterable[str] = (), reason: str = "") -> None:
        self.suggestions = tuple(suggestions)
        self.reason = reason
        super().__init__(env_id, reason or "not registered")

    def __str__(self) -> str:
        text = f"unknown env id {self.env_id!r}"
        if self.reason:
            text += f": {self.reason}"
        if self.suggestions:
            text += "; did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        return text + " (any Gymnasium id works, 'module:EnvId' imports module first)"


class Labeller(Protocol):
    """Ground-truth sub-task labels read from an environment's privileged state.

    One labeller serves one environment instance; :class:`rl.envs.RewardFrames` calls
    :meth:`start` after every reset and :meth:`labels` after every reset and step.
    """

    names: tuple[str, ...]

    def start(self, env: gym.Env[Any, Any]) -> None:
        """Record what the labels need from the episode's first state."""

    def labels(self, env: gym.Env[Any, Any]) -> dict[str, bool]:
        """The labels of the current state, ``{name: bool}`` in :attr:`names` order."""
        ...


@dataclass(frozen=True)
class MakeSettings:
    """What every :attr:`EnvSpec.make` is called with.

    Attributes:
        tile_size: MiniGrid pixels per cell of the reward frame (others ignore it).
        frame_size: side in pixels of rendered frames, for envs whose render size is a
            construction argument (PandaPush); others ignore it.
        max_steps: episode step limit; None keeps the environment's default.
        kwargs: extra keyword arguments for the environment's constructor (``--env-kwargs``).
    """

    tile_size: int = 8
    frame_size: int = 64
    max_steps: int | None = None
    kwargs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if type(self.tile_size) is not int or self.tile_size < 1:
            raise ValueError(f"tile_size={self.tile_size!r}: must be a positive int")
        if type(self.frame_size) is not int or self.frame_size < 8:
            raise ValueError(f"frame_size={self.frame_size!r}: must be an int >= 8")
        if self.max_steps is not None and (type(self.max_steps) is not int or self.max_steps < 1):
            raise ValueError(f"max_steps={self.max_steps!r}: must be a positive int or None")
        if not isinstance(self.kwargs, Mapping) or not all(isinstance(k, str) for k in self.kwargs):
            raise ValueError(f"kwargs={self.kwargs!r}: must be a mapping with str keys")
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))


@dataclass(frozen=True)
class SymbolicObservation:
    """A symbolic (non-image) policy observation that is Markov, unlike many envs' own.

    Attributes:
        space: the observation space, from the (unwrapped-readable) environment.
        encode: ``(env, the env's own observation) -> observation``.
        describe: one line saying what it is.
    """

    space: Callable[[gym.Env[Any, Any]], gym.Space[Any]]
    encode: Callable[[gym.Env[Any, Any], Any], np.ndarray]
    describe: str = ""


def default_is_success(reward: float, terminated: bool, info: Mapping[str, Any]) -> bool:
    """The success rule of a step that ends an episode, when a spec states none.

    ``info["is_success"]`` when the environment reports it, else: the episode *terminated* (not
    truncated) on a positive reward (MiniGrid's sparse success reward).

    Example:
        >>> default_is_success(0.8, True, {}), default_is_success(0.0, False, {"is_success": True})
        (True, True)
    """
    if "is_success" in info:
        return bool(info["is_success"])
    return bool(terminated) and float(reward) > 0.0


@dataclass(frozen=True, kw_only=True)
class EnvSpec:
    """Everything vlm-car knows about one environment.

    Attributes:
        id: the id users pass (``--env``); a Gymnasium id, ``module:EnvId``, or a name of its own.
        make: builds the raw environment (render mode ``rgb_array`` where it has one).
        frame: ``(env, settings) -> H x W x 3 uint8`` reward frame of the current state, for
            envs whose ``render()`` is not the frame to check (MiniGrid draws highlights); None:
            :class:`rl.envs.RewardFrames` takes ``render()`` or the observation (``frame_source``).
        frame_description: what :attr:`frame` draws, in a few words (say which source was chosen).
        symbolic: a Markov symbolic policy observation, or None.
        task: the task in words, as the prompt states it; None: the environment's ``mission``
            string after a reset (MiniGrid), else none (a caller must give one).
        notes: rendering facts the prompt states (exact colours, what is and is not drawn).
        label_names: the ground-truth labels, in task order (empty without a labeller).
        labeller: a factory of the ground-truth labeller, or None.
        expert: a factory ``env -> policy`` of a scripted expert (``policy(obs) -> action``, with an
            optional ``reset()``), or None.
        demos: the default source of expert demonstrations when there is no scripted expert (a
            Minari dataset id, an ``.npz``, an SB3 ``.zip`` or ``module:function``), or None.
        reference: builds the hand-written reference program, or None.
        is_success: ``(reward, terminated, info) -> bool`` for a step that ends an episode.
        family: the kind of environment (``minigrid``, ``panda``, ``gymnasium`` ...).
        builtin: shipped with vlm-car (False for resolved and user-registered specs).
        gym_id: the Gymnasium id behind it, when there is one.
    """

    id: str
    make: Callable[[MakeSettings], gym.Env[Any, Any]]
    frame: Callable[[gym.Env[Any, Any], MakeSettings], np.ndarray] | None = None
    frame_description: str = ""
    symbolic: SymbolicObservation | None = None
    task: str | None = None
    notes: str = ""
    label_names: tuple[str, ...] = ()
    labeller: Callable[[], Labeller] | None = None
    expert: Callable[[gym.Env[Any, Any]], Any] | None = None
    demos: str | None = None
    reference: Callable[[], RewardProgram] | None = None
    is_success: Callable[[float, bool, Mapping[str, Any]], bool] = default_is_success
    family: str = "gymnasium"
    builtin: bool = False
    gym_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError(f"EnvSpec id={self.id!r}: must be a non-empty string")
        if (self.labeller is None) != (not self.label_names):
            raise ValueError(
                f"EnvSpec {self.id!r}: give label_names and labeller together (or neither)"
            )


@dataclass(frozen=True)
class Family:
    """How ids that are not registered here are adapted, chosen by the class that creates them.

    Attributes:
        name: the family's name (:attr:`EnvSpec.family`).
        module: the module that defines :attr:`base` (only looked up when already imported).
        base: the class name whose subclasses belong to the family.
        adapt: ``(env_id, gym_id, creator) -> EnvSpec``.
    """

    name: str
    module: str
    base: str
    adapt: Callable[[str, str, Any], EnvSpec]

    def matches(self, creator: Any) -> bool:
        """Whether ``creator`` (a Gymnasium entry point) is a subclass of :attr:`base`."""
        module = sys.modules.get(self.module)
        cls = getattr(module, self.base, None) if module is not None else None
        return isinstance(cls, type) and isinstance(creator, type) and issubclass(creator, cls)


def _minigrid_family(env_id: str, gym_id: str, creator: Any) -> EnvSpec:
    from rl import envs

    return envs.minigrid_spec(env_id, gym_id=gym_id, builtin=False)


#: Adapters for unregistered ids, tried in order; the first whose class matches is used.
FAMILIES: tuple[Family, ...] = (
    Family("minigrid", "minigrid.minigrid_env", "MiniGridEnv", _minigrid_family),
)

#: Id prefix -> the module that registers such ids with Gymnasium (imported on demand).
PROVIDERS: Mapping[str, str] = MappingProxyType({"MiniGrid-": "minigrid", "Panda": "panda_gym"})

_REGISTERED: dict[str, EnvSpec] = {}
_RESOLVED: dict[str, EnvSpec] = {}


def _builtins() -> dict[str, EnvSpec]:
    if not _REGISTERED:
        from rl.envs import BUILTIN_SPECS

        for spec in BUILTIN_SPECS:
            _REGISTERED.setdefault(spec.id, spec)
    return _REGISTERED


def register(spec: EnvSpec, *, replace: bool = False) -> EnvSpec:
    """Register ``spec`` for this process; return it.

    Args:
        spec: the declaration.
        replace: allow replacing a spec registered under the same id.

    Raises:
        EnvError: the id is taken and ``replace`` is False.
    """
    table = _builtins()
    if spec.id in table and not replace:
        raise EnvError(spec.id, "already registered; pass replace=True to replace it")
    table[spec.id] = spec
    _RESOLVED.pop(spec.id, None)
    return spec


def registered_ids() -> tuple[str, ...]:
    """The ids registered so far, the built-in ones first, in declaration order."""
    return tuple(_builtins())


def _import_module(env_id: str, module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception as err:
        raise UnknownEnvError(
            env_id, reason=f"module {module!r} could not be imported ({type(err).__name__}: {err})"
        ) from None


def _gym_registry() -> Mapping[str, Any]:
    import gymnasium as gym

    return gym.registry


def _import_providers(name: str, *, all_cheap: bool = False) -> None:
    for prefix, module in PROVIDERS.items():
        if name.startswith(prefix) or (all_cheap and module == "minigrid"):
            try:
                importlib.import_module(module)
            except ImportError:
                continue


def _suggest(name: str) -> tuple[str, ...]:
    _import_providers(name, all_cheap=True)
    candidates = list(dict.fromkeys([*registered_ids(), *_gym_registry()]))
    return tuple(difflib.get_close_matches(name, candidates, n=3, cutoff=0.6))


def _renders_rgb(creator: Any) -> bool:
    metadata = getattr(creator, "metadata", None)
    modes = metadata.get("render_modes", ()) if isinstance(metadata, Mapping) else ()
    return "rgb_array" in tuple(modes or ())


def _generic_spec(env_id: str, gym_id: str, creator: Any) -> EnvSpec:
    rgb = _renders_rgb(creator)

    def make(settings: MakeSettings) -> gym.Env[Any, Any]:
        import gymnasium as gym

        kwargs: dict[str, Any] = dict(settings.kwargs)
        if rgb:
            kwargs.setdefault("render_mode", "rgb_array")
        if settings.max_steps is not None:
            kwargs["max_episode_steps"] = settings.max_steps
        return gym.make(gym_id, **kwargs)

    return EnvSpec(id=env_id, make=make, family="gymnasium", gym_id=gym_id)


def _resolve(env_id: str) -> EnvSpec:
    module, sep, name = env_id.partition(":")
    if sep:
        if not module or not name:
            raise UnknownEnvError(env_id, reason="use 'module:EnvId' with both parts")
        _import_module(env_id, module)
    else:
        name = env_id
    registry = _gym_registry()
    if name not in registry:
        _import_providers(name)
    if name not in registry:
        raise UnknownEnvError(env_id, _suggest(name))
    from gymnasium.envs.registration import load_env_creator

    entry = registry[name].entry_point
    try:
        creator = load_env_creator(entry) if isinstance(entry, str) else entry
    except Exception as err:
        raise EnvError(
            env_id, f"its entry point {entry!r} cannot be loaded ({type(err).__name__}: {err})"
        ) from None
    for family in FAMILIES:
        if family.matches(creator):
            return family.adapt(env_id, name, creator)
    return _generic_spec(env_id, name, creator)


def get_spec(env_id: str) -> EnvSpec:
    """Return the spec of ``env_id``: the registered one, else one resolved from Gymnasium.

    See the module docstring for how other ids are resolved. Resolved specs are cached.

    Raises:
        UnknownEnvError: neither registered here nor known to Gymnasium (close matches named).
        EnvError: Gymnasium knows the id but its entry point cannot be loaded.

    Example:
        >>> get_spec("MiniGrid-DoorKey-5x5-v0").label_names
        ('key_picked', 'door_open', 'goal_reached')
        >>> spec = get_spec("CartPole-v1")
        >>> spec.family, spec.builtin, spec.labeller is None
        ('gymnasium', False, True)
    """
    if not isinstance(env_id, str) or not env_id.strip():
        raise UnknownEnvError(str(env_id), reason="an env id is a non-empty string")
    table = _builtins()
    if env_id in table:
        return table[env_id]
    if env_id not in _RESOLVED:
        _RESOLVED[env_id] = _resolve(env_id)
    return _RESOLVED[env_id]


def parse_env_kwargs(text: str | None) -> dict[str, Any]:
    """Parse ``--env-kwargs``: a JSON object of constructor keyword arguments (None: ``{}``).

    Raises:
        ValueError: the text is not a JSON object.

    Example:
        >>> parse_env_kwargs('{"size": 7, "num_crossings": 1}')
        {'size': 7, 'num_crossings': 1}
    """
    import json

    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"--env-kwargs {text!r} is not JSON ({err.msg} at {err.pos})") from None
    if not isinstance(value, dict):
        raise ValueError(
            f"--env-kwargs {text!r} is a JSON {type(value).__name__}; give an object, "
            "e.g. '{\"size\": 7}'"
        )
    return value
