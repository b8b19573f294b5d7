"""Train PPO on any environment with the sparse env reward or a code reward (CaR).

Provides:
    TrainConfig: what to train (env, reward, budget, seed, PPO hyper-parameters, evaluation).
    TrainResult: the success-rate curve, throughput, sandbox statistics and the shaped-return curve.
    EvalPoint / ReturnPoint: one point of each curve.
    train: run one training job and return its :class:`TrainResult`.
    evaluate: deterministic evaluation of a policy on the env's own success criterion.
    resolve_reward: ``"sparse"`` / ``"reference"`` / a program directory / a program -> program.
    make_train_env / make_eval_env: the vectorised envs :func:`train` builds.
    probe_config: check a job before any work (env, frames, spaces, program) and resolve ``auto``.
    choose_policy: which SB3 policy an observation space gets (CNN, multi-input or MLP).

Construction (what :func:`train` builds, in order):

1. **Seeding**: ``random``, ``numpy`` and ``torch`` (SB3's ``set_random_seed``), PPO's ``seed`` (its
   action space and the training envs' first resets: env ``i`` resets with ``seed + i``), and
   ``torch.set_num_threads(torch_threads)`` (restored afterwards). Pinning torch to one thread
   matters on small machines: torch's OpenMP pool competes with the env loop and the sandbox
   worker, and unpinned PPO throughput swung 111 -> 1,950 steps/s between identical runs on the
   2-core CI box (docs/research ecosystem notes, section 5.4).
2. **Training envs**, like SB3's ``make_vec_env``: ``n_envs`` x :func:`rl.envs.make_env` (any
   registered or Gymnasium id, with ``env_kwargs``; the reward frame is rendered into
   ``info["frame"]`` on every step, for sparse runs too, so sparse and code-reward throughput are
   compared on the same work; a sparse run of an env that cannot draw frames runs without them),
   each wrapped in SB3's ``Monitor``
   (which therefore logs the env's *own* reward: SB3's ``rollout/ep_rew_mean`` is the true
   return), in a ``DummyVecEnv``; for a code reward a :class:`rl.vec_env.CodeRewardVecEnv`
   goes around it (innermost VecEnv wrapper, frames from ``info["frame"]``), so the policy learns
   from env reward + bonus.
3. **PPO** with ``CnnPolicy`` for image observations (the reward frame, or an env's own
   H x W x C uint8 pictures), ``MultiInputPolicy`` for dict observations and ``MlpPolicy``
   otherwise (MiniGrid's symbolic grid with the features of :attr:`TrainConfig.features`), the
   hyper-parameters of :class:`TrainConfig`; any action space PPO supports (``Discrete``,
   ``Box``, ``MultiDiscrete``, ``MultiBinary``).
4. **Callbacks**: :class:`rl.callbacks.CodeRewardCallback` (code rewards: shaped/env returns,
   sub-task rates, sandbox failures and evaluate time into the SB3 logger),
   :class:`rl.callbacks.RewardDiagnosisCallback` (code rewards, unless ``diagnosis=False``:
   per sub-task completion over windows of episodes, stall and flooding alarms as ``diagnosis/*``
   keys and one-line warnings, see :mod:`rl.diagnosis`), and this module's
   evaluation/progress callback: every ``eval_every`` env steps (and at the end) a deterministic
   evaluation of ``eval_episodes`` episodes on fixed evaluation seeds (the same layouts every
   time), scored by the env's own success criterion (MiniGrid: the episode's env return > 0, since
   MiniGrid pays ``1 - 0.9 * steps / max_steps`` only on success; envs that report
   ``info["is_success"]``, e.g. PandaPush, use that). Evaluation time is excluded from the
   reported steps/s.
5. **Logs** in ``log_dir`` (when given): SB3's ``progress.csv`` (every rollout: SB3's keys, the
   callback's ``reward/*``, ``subtasks/*``, ``sandbox/*`` and this module's ``eval/*``),
   ``eval.csv`` (the success curve), ``monitor/<i>.monitor.csv`` (one per training env),
   ``result.json``, the trained model ``model.zip`` (``PPO.load`` reads it; ``--demos`` rolls it
   out) and, for a code reward, ``program/``: the reward program it trained on (with the
   ``scheme``/``bonus`` overrides applied), and the reward report ``reward_report.md``,
   ``reward_report.json`` and ``reward_report.png`` (:func:`rl.diagnosis.write_report`; its alarm
   summary is also ``result.json``'s ``diagnosis``).

**Ctrl-C** (``KeyboardInterrupt``) during learning stops training without a traceback: the model
and the program are saved, ``result.json`` is written with the curve so far (no final
evaluation), and the result says ``interrupted``; ``vlmcar train`` then exits 130.

Checker failures follow ``failure_policy`` (:func:`rl.rewards.parse_failure_policy`): under
``continue`` they are counted and training goes on; when a ``raise``/``stop_after:N`` budget is used
up, the :class:`rl.rewards.CheckerFailureError` stops training, the model is still evaluated, and
the result says why (``stopped``).

PPO defaults (symbolic observations): ``n_envs=8``, ``n_steps=128``, ``gamma=0.99``,
``gae_lambda=0.95``, ``clip_range=0.2`` and ``n_epochs=10`` follow RL-Baselines3-Zoo's
``hyperparams/ppo.yml`` entry for ``MiniGrid-DoorKey-5x5-v0`` (itself following
lcswillems/rl-starter-files); the learning rate, minibatch size, entropy bonus and the policy's
input features (one-hot cells and two small convolutions) were chosen by measurement on this
project's 2-vCPU machines, see :class:`TrainConfig` for each value and why.

Example:
    >>> from rl.training import TrainConfig, train
    >>> result = train(TrainConfig("MiniGrid-DoorKey-5x5-v0", timesteps=256, n_envs=2,
    ...                            eval_every=256, eval_episodes=2), progress=False)
    >>> result.curve[-1].steps, 0.0 <= result.final_success <= 1.0, result.steps_per_second > 0
    (256, True, True)
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import random
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rl.envs import FrameSource, FrameSourceError, Observation, make_env
from rl.program import ProgramError, RewardProgram, load_program, save_program
from rl.programs import reference_program
from rl.registry import EnvError, get_spec
from rl.rewards import CheckerFailureError, parse_failure_policy
from rl.schemes import canonical_scheme
from sandbox.pool import Isolation

__all__ = [
    "EvalPoint",
    "ReturnPoint",
    "TrainConfig",
    "TrainResult",
    "choose_policy",
    "evaluate",
    "make_eval_env",
    "make_train_env",
    "probe_config",
    "resolve_reward",
    "run_jobs",
    "steps_to_reach",
    "train",
    "with_overrides",
]

RewardSpec = str | Path | RewardProgram
_ISOLATIONS = ("strict", "process", "inprocess")

#: Offset of the evaluation envs' seeds from the training seed (evaluation layouts never coincide
#: with the first training layouts).
EVAL_SEED_OFFSET = 1_000_000


@dataclass
class TrainConfig:
    """One training job.

    Attributes:
        env_id: any environment id (:func:`rl.registry.get_spec`: built-in, Gymnasium,
            ``module:EnvId``).
        reward: ``"sparse"`` (the env's own reward), ``"reference"`` (the reference program of
            ``env_id``, :func:`rl.program.reference_program`), a :class:`RewardProgram`, or the
            path of a program directory (:func:`rl.program.load_program`).
        timesteps: env steps to train for (summed over the ``n_envs`` envs).
        seed: seed of everything (see the module docstring).
        n_envs: parallel training envs (``DummyVecEnv``).
        observation: what the policy sees: ``"auto"`` (default: the entry's symbolic encoding
            when it has one, e.g. MiniGrid's full grid, else the env's own observation),
            ``"symbolic"``, ``"native"`` (the env's own) or ``"image"`` (the reward frame, SB3's
            ``CnnPolicy``/NatureCNN). Measured on DoorKey-8x8, 8 envs, one torch thread, 2-vCPU
            box: symbolic 950-1,260 env steps/s (conv / one-hot features) against 262 for image
            + NatureCNN. The checkers see the rendered frame either way.
        env_kwargs: extra keyword arguments for the environment's constructor.
        frame_source: where reward frames come from (:func:`rl.envs.make_env`); ``"auto"``
            falls back to no frames for a sparse run of an env that cannot draw them.
        tile_size: MiniGrid pixels per cell of the reward frame (and of image observations).
        max_episode_steps: episode step limit; None keeps the env's default.
        learning_rate: Adam step size. 7e-4 (between RL-Zoo's 2.5e-4 and rl-starter-files'
            1e-3): on DoorKey-5x5 (sparse, 60k steps) 2.5e-4 never got a deterministic success
            with any batch size or entropy bonus tried, 7e-4 reached 0.4-0.8.
        n_steps: rollout length per env per update (RL-Zoo MiniGrid: 128).
        batch_size: minibatch size. 256 (4 minibatches of the 1,024-step rollout, as
            rl-starter-files) rather than RL-Zoo's 64: a quarter of the optimiser steps, measured
            25-40 % more env steps/s, and no loss of sample efficiency with ``ent_coef=0.01``.
        n_epochs: optimisation epochs per update (RL-Zoo MiniGrid: 10).
        gamma: discount (RL-Zoo MiniGrid: 0.99).
        gae_lambda: GAE lambda (RL-Zoo MiniGrid: 0.95).
        clip_range: PPO clip (RL-Zoo MiniGrid: 0.2).
        ent_coef: entropy bonus. 0.01 (rl-starter-files; RL-Zoo uses 0.0): with one-hot
            features on DoorKey-5x5 (sparse, 60k steps) deterministic success reached 1.0 with
            0.01 and 0.12 with 0.0.
        vf_coef: value-loss weight (SB3 default 0.5).
        max_grad_norm: gradient clipping (SB3 default 0.5).
        net_arch: hidden layers of the policy and value MLPs (SB3 default 64, 64).
        features: how MiniGrid symbolic observations enter the MLP: ``"conv"`` (default; each
            cell one-hot encoded, two 3x3 convolutions over the grid, plus the carried object),
            ``"onehot"`` (every entry one-hot, flattened) or ``"raw"`` (the integers as they
            are). On DoorKey-6x6 after 100k steps, deterministic success with conv / one-hot was
            0.69 / 0.00 (CaR) and 0.19 / 0.00 (sparse), for 13 % fewer env steps/s; raw integers
            learned slowest. Ignored for image observations and PandaPush.
        eval_every: env steps between deterministic evaluations (rounded up to whole VecEnv steps).
        eval_episodes: episodes per evaluation (on the same seeds every time).
        eval_deterministic: evaluate the greedy (argmax) policy. In MiniGrid the greedy policy
            lags the stochastic one by a wide margin early on: one state whose argmax is a no-op
            (``forward`` into a wall, ``pickup`` on nothing) repeats forever, so an episode the
            stochastic policy finishes in 20 steps runs to the time limit. False evaluates the
            sampled policy instead. The training episodes' success rate (stochastic) is in
            :attr:`ReturnPoint.success_rate` either way.
        failure_policy: checker failures: ``continue``, ``raise`` or ``stop_after:N``.
        isolation: sandbox isolation for the checkers; None: the strongest this machine supports.
        checker_timeout: seconds one checker may take over one batch.
        torch_threads: ``torch.set_num_threads`` during training (1: no oversubscription).
        log_dir: where CSV logs, ``result.json``, ``model.zip`` and ``program/`` go; None
            writes nothing.
        save_model: write ``model.zip`` (and the program) into ``log_dir``.
        scheme: override of the program's reward scheme (any spelling
            :func:`rl.schemes.canonical_scheme` accepts: ``ordered``, ``any_order``/``any-order``,
            ``potential``); None keeps the program's. Code rewards only.
        bonus: override of the program's bonus per sub-task (finite); None keeps the program's.
            Code rewards only.
        diagnosis: run :class:`rl.callbacks.RewardDiagnosisCallback` (code rewards) and write the
            reward report into ``log_dir``.
    """

    env_id: str
    reward: RewardSpec = "sparse"
    timesteps: int = 200_000
    seed: int = 0
    n_envs: int = 8
    observation: Observation = "auto"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    frame_source: FrameSource = "auto"
    tile_size: int = 8
    max_episode_steps: int | None = None
    learning_rate: float = 7e-4
    n_steps: int = 128
    batch_size: int = 256
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: tuple[int, ...] = (64, 64)
    features: Literal["conv", "onehot", "raw"] = "conv"
    eval_every: int = 10_000
    eval_episodes: int = 20
    eval_deterministic: bool = True
    failure_policy: str = "continue"
    isolation: Isolation | None = None
    checker_timeout: float = 5.0
    torch_threads: int = 1
    log_dir: str | Path | None = None
    save_model: bool = True
    scheme: str | None = None
    bonus: float | None = None
    diagnosis: bool = True

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field.

        An unknown environment raises :class:`rl.registry.UnknownEnvError` (a ``ValueError``).
        """
        get_spec(self.env_id)
        if self.features not in ("conv", "onehot", "raw"):
            raise ValueError(f"features={self.features!r}: choose 'conv', 'onehot' or 'raw'")
        if self.observation not in ("auto", "symbolic", "image", "native"):
            raise ValueError(
                f"observation={self.observation!r}: choose 'auto', 'symbolic', 'image' or 'native'"
            )
        if self.frame_source not in ("auto", "render", "obs", "none"):
            raise ValueError(
                f"frame_source={self.frame_source!r}: choose 'auto', 'render', 'obs' or 'none'"
            )
        if not isinstance(self.env_kwargs, dict) or not all(
            isinstance(k, str) for k in self.env_kwargs
        ):
            raise ValueError(f"env_kwargs={self.env_kwargs!r}: must be a dict with str keys")
        if self.isolation is not None and self.isolation not in _ISOLATIONS:
            raise ValueError(f"isolation={self.isolation!r}: choose one of {_ISOLATIONS}")
        positive = (
            "timesteps",
            "n_envs",
            "n_steps",
            "batch_size",
            "n_epochs",
            "eval_every",
            "eval_episodes",
            "torch_threads",
            "tile_size",
        )
        for name in positive:
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"{name}={value!r}: must be a positive int")
        for name in ("learning_rate", "clip_range", "checker_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name}={value!r}: must be a positive number")
        parse_failure_policy(self.failure_policy)
        if self.scheme is not None:
            canonical_scheme(self.scheme)  # UnknownSchemeError (a ValueError) names the choices
        if self.bonus is not None and not (
            isinstance(self.bonus, int | float)
            and not isinstance(self.bonus, bool)
            and math.isfinite(self.bonus)
        ):
            raise ValueError(f"bonus={self.bonus!r}: must be a finite number")
        if (self.scheme is not None or self.bonus is not None) and describe_reward(
            self.reward
        ) == "sparse":
            raise ValueError(
                "scheme=/bonus= change how a code reward pays; the sparse reward has none: give "
                "reward='reference' or a reward-program directory, or drop them"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (a program is shown by its env id and sub-task names)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["reward"] = describe_reward(self.reward)
        out["net_arch"] = list(self.net_arch)
        out["log_dir"] = str(self.log_dir) if self.log_dir is not None else None
        return out


@dataclass(frozen=True)
class EvalPoint:
    """One deterministic evaluation.

    Attributes:
        steps: training env steps at the evaluation.
        success_rate: fraction of the episodes that succeeded (the env's own criterion).
        mean_return: mean env return (the env's own reward, no bonus).
        mean_length: mean episode length.
        episodes: episodes evaluated.
    """

    steps: int
    success_rate: float
    mean_return: float
    mean_length: float
    episodes: int


@dataclass(frozen=True)
class ReturnPoint:
    """Training returns over the episodes that finished since the previous point.

    Attributes:
        steps: training env steps at the point.
        episodes: episodes that finished in the interval.
        env_return: their mean env return.
        shaped_return: their mean shaped return (env reward + code bonus; the env return for
            sparse runs).
        success_rate: the fraction of those episodes that succeeded by the env's own criterion
            (the *stochastic* training policy, exploration included).
        subtask_rates: per sub-task, the fraction of those episodes that latched it (code rewards).
    """

    steps: int
    episodes: int
    env_return: float
    shaped_return: float
    success_rate: float = math.nan
    subtask_rates: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainResult:
    """What one training job produced.

    Attributes:
        config: :meth:`TrainConfig.to_dict` of the job.
        reward: ``"sparse"`` or ``"code"``.
        program: the program's env id, scheme and sub-task names (code rewards), else None.
        curve: the deterministic evaluations, in order (always includes one at the end).
        returns: the shaped-return curve (one point per evaluation interval).
        final_success: success rate of the last evaluation.
        steps_to_90: env steps of the first evaluation with success >= 0.9, or None.
        timesteps: env steps actually trained (less than asked when training stopped early).
        steps_per_second: training env steps per second of training time (excluding setup and
            evaluation).
        train_seconds: time in ``PPO.learn`` minus evaluation time.
        eval_seconds: time spent evaluating.
        setup_seconds: envs, sandbox start-up and model construction.
        wall_seconds: the whole job.
        sandbox: the code-reward wrapper's statistics (``steps``, ``frames``, ``evaluate_ms``
            per VecEnv step, ``evaluate_seconds``, ``failures`` per sub-task and status,
            ``failures_by_status``, ``total_failures``, ``last_failure``, ``isolation``,
            ``jit_modes``), or None for sparse runs.
        stopped: why training stopped before ``timesteps`` (the checker-failure message, or the
            interruption), or None.
        log_dir: where the logs went, or None.
        interrupted: training was stopped by Ctrl-C (``KeyboardInterrupt``).
        model_path: the saved model (``model.zip``), or None.
        program_path: the saved reward program's directory, or None.
        frame_source: where the training envs' reward frames came from, in words.
        diagnosis: the reward diagnosis' alarm summary (:meth:`rl.diagnosis.RewardDiagnosis.summary`
            plus ``report``: kind -> path of the report files), or None (sparse runs,
            ``diagnosis=False``).
    """

    config: dict[str, Any]
    reward: Literal["sparse", "code"]
    program: dict[str, Any] | None
    curve: list[EvalPoint]
    returns: list[ReturnPoint]
    final_success: float
    steps_to_90: int | None
    timesteps: int
    steps_per_second: float
    train_seconds: float
    eval_seconds: float
    setup_seconds: float
    wall_seconds: float
    sandbox: dict[str, Any] | None
    stopped: str | None
    log_dir: str | None
    interrupted: bool = False
    model_path: str | None = None
    program_path: str | None = None
    frame_source: str = ""
    diagnosis: dict[str, Any] | None = None

    @property
    def stopped_by_failure_policy(self) -> bool:
        """True when a checker-failure policy stopped training."""
        return self.stopped is not None and not self.interrupted

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN becomes None)."""
        out: dict[str, Any] = _finite(dataclasses.asdict(self))
        return out


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


# ------------------------------------------------------------------------------------------------
# Reward resolution
# ------------------------------------------------------------------------------------------------


def describe_reward(reward: RewardSpec) -> str:
    """A short text for a reward spec (``sparse``, ``reference``, a path, ``program:<env>``)."""
    if isinstance(reward, RewardProgram):
        return f"program:{reward.env_id}:{','.join(reward.names)}"
    return str(reward)


def resolve_reward(reward: RewardSpec, env_id: str) -> RewardProgram | None:
    """Turn a reward spec into a program (None for the sparse env reward).

    Args:
        reward: ``"sparse"``, ``"reference"``, a :class:`RewardProgram` or a program directory.
        env_id: the environment (for ``"reference"`` and the env-id check).

    Returns:
        The program, or None for ``"sparse"``.

    Raises:
        ProgramError: the program directory (or the reference program) is missing, malformed,
            tampered with or rejected by the audit.
    """
    if isinstance(reward, RewardProgram):
        program = reward
    elif str(reward) == "sparse":
        return None
    elif str(reward) == "reference":
        program = reference_program(env_id)
    else:
        path = Path(reward)
        if not path.is_dir():
            raise ProgramError(
                str(path),
                "not a directory; pass 'sparse', 'reference' or a reward-program directory",
            )
        program = load_program(path)
    if program.env_id != env_id:
        warnings.warn(
            f"the reward program was written for {program.env_id!r} but trains on {env_id!r}",
            UserWarning,
            stacklevel=3,
        )
    return program


def with_overrides(program: RewardProgram, config: TrainConfig) -> RewardProgram:
    """``program`` with the config's ``scheme`` and ``bonus`` overrides applied (if any).

    Example:
        >>> from rl.programs import reference_program
        >>> p = reference_program("MiniGrid-DoorKey-5x5-v0")
        >>> q = with_overrides(p, TrainConfig(p.env_id, "reference", scheme="any-order", bonus=0.5))
        >>> (q.scheme, q.bonus, q.names == p.names)
        ('any_order', 0.5, True)
    """
    changes: dict[str, Any] = {}
    if config.scheme is not None:
        changes["scheme"] = canonical_scheme(config.scheme)
    if config.bonus is not None:
        changes["bonus"] = float(config.bonus)
    return dataclasses.replace(program, **changes) if changes else program


# ------------------------------------------------------------------------------------------------
# Envs
# ------------------------------------------------------------------------------------------------


def _env_factory(
    config: TrainConfig, seed: int, monitor_file: str | None, *, frames: bool = True
) -> Callable[[], Any]:
    from stable_baselines3.common.monitor import Monitor

    def build() -> Any:
        env = make_env(
            config.env_id,
            seed=seed,
            tile_size=config.tile_size,
            observation=config.observation,
            max_steps=config.max_episode_steps,
            env_kwargs=config.env_kwargs,
            frame_source=config.frame_source,
        )
        if not frames:
            env.frame = _no_frame  # type: ignore[method-assign]
        return Monitor(env, filename=monitor_file)

    return build


def make_train_env(config: TrainConfig, program: RewardProgram | None) -> Any:
    """The training VecEnv: ``Monitor`` inside each env, the code-reward wrapper (if any) on top.

    The :class:`rl.vec_env.CodeRewardVecEnv` sits directly on the ``DummyVecEnv`` (the innermost
    VecEnv wrapper; SB3 adds ``VecTransposeImage`` above it for image observations).

    Args:
        config: the job.
        program: the reward program, or None for the sparse env reward; the config's ``scheme``
            and ``bonus`` overrides are applied to it (:func:`with_overrides`).

    Returns:
        A ``DummyVecEnv``, or a :class:`rl.vec_env.CodeRewardVecEnv` around one (which owns and
        closes its sandbox).
    """
    from stable_baselines3.common.vec_env import DummyVecEnv

    monitor_dir = Path(config.log_dir) / "monitor" if config.log_dir is not None else None
    if monitor_dir is not None:
        monitor_dir.mkdir(parents=True, exist_ok=True)
    fns = [
        _env_factory(
            config,
            config.seed + i,
            str(monitor_dir / str(i)) if monitor_dir is not None else None,
        )
        for i in range(config.n_envs)
    ]
    venv = DummyVecEnv(fns)
    if program is None:
        return venv
    program = with_overrides(program, config)
    from rl.vec_env import CodeRewardVecEnv
    from sandbox.pool import Sandbox

    box: Sandbox | None = None
    try:
        box = Sandbox(
            program.sources,
            names=program.names,
            isolation=config.isolation,
            timeout=config.checker_timeout,
            jit=True,
        )
        wrapped = CodeRewardVecEnv(
            venv,
            program,
            sandbox=box,
            frame_source="info",
            failure_policy=config.failure_policy,
        )
    except BaseException:
        venv.close()
        if box is not None:
            box.close()
        raise
    wrapped.engine.owns_sandbox = True  # closed with the VecEnv
    return wrapped


_NO_FRAME = np.zeros((1, 1, 3), dtype=np.uint8)


def _no_frame() -> np.ndarray:
    return _NO_FRAME


def make_eval_env(config: TrainConfig) -> Any:
    """The evaluation VecEnv: ``min(n_envs, eval_episodes)`` Monitor-wrapped envs, no bonus.

    With symbolic observations the evaluation envs skip drawing the reward frame (nothing reads
    it there; drawing is most of a MiniGrid step's cost), so evaluating is ~4x cheaper. Training
    envs always draw it, for sparse runs too.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv

    n = min(config.n_envs, config.eval_episodes)
    base = config.seed + EVAL_SEED_OFFSET
    frames = config.observation == "image" or config.frame_source == "obs"
    fns = [_env_factory(config, base + i, None, frames=frames) for i in range(n)]
    return DummyVecEnv(fns)


# ------------------------------------------------------------------------------------------------
# Policy input
# ------------------------------------------------------------------------------------------------


#: Category counts of MiniGrid's symbolic encoding: object index (0-10, "agent" is 10), colour
#: index (0-5), state (door 0-2, or the agent's direction 0-3).
_DEPTHS = (11, 6, 4)


def _feature_extractors() -> dict[str, type]:
    import torch
    from gymnasium import spaces
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    def one_hot(x: torch.Tensor, depth: int) -> torch.Tensor:
        return torch.nn.functional.one_hot(x.clamp(0, depth - 1), depth).float()

    class OneHotFeatures(BaseFeaturesExtractor):
        """One-hot encode every entry of MiniGrid's symbolic observation (values 0..15).

        Fed raw to an MLP, a cell's "door" (4) would sit between "key" (5) and "wall" (2); one-hot
        features make every category its own input.
        """

        def __init__(self, observation_space: spaces.Box, depth: int = 16) -> None:
            size = int(np.prod(observation_space.shape)) * depth
            super().__init__(observation_space, features_dim=size)
            self.depth = depth

        def forward(self, observations: torch.Tensor) -> torch.Tensor:
            return one_hot(observations.long().flatten(1), self.depth).flatten(1)

    class GridConvFeatures(BaseFeaturesExtractor):
        """Two 3x3 convolutions over the one-hot grid, plus the one-hot carried object.

        The observation is MiniGrid's full grid (``H x W`` cells of object, colour, state),
        row-major, then the carried object's (object, colour). Each cell becomes 21 one-hot
        channels; the convolutions are translation-equivariant, so what the policy learns about
        "key next to the agent" holds wherever the layout puts them.
        """

        def __init__(
            self, observation_space: spaces.Box, grid: tuple[int, int], channels: int = 32
        ) -> None:
            h, w = grid
            if int(np.prod(observation_space.shape)) != h * w * 3 + 2:
                raise ValueError(f"observation {observation_space.shape} is not a {h}x{w} grid")
            super().__init__(observation_space, features_dim=channels * h * w + 17)
            self.h, self.w = h, w
            self.conv = torch.nn.Sequential(
                torch.nn.Conv2d(sum(_DEPTHS), channels // 2, 3, padding=1),
                torch.nn.ReLU(),
                torch.nn.Conv2d(channels // 2, channels, 3, padding=1),
                torch.nn.ReLU(),
                torch.nn.Flatten(),
            )

        def forward(self, observations: torch.Tensor) -> torch.Tensor:
            x = observations.long()
            n = x.shape[0]
            grid = x[:, : self.h * self.w * 3].reshape(n, self.h, self.w, 3)
            cells = torch.cat([one_hot(grid[..., i], d) for i, d in enumerate(_DEPTHS)], dim=-1)
            carried = torch.cat([one_hot(x[:, -2], 11), one_hot(x[:, -1], 6)], dim=-1)
            return torch.cat([self.conv(cells.permute(0, 3, 1, 2)), carried], dim=1)

    return {"onehot": OneHotFeatures, "conv": GridConvFeatures}


def _policy_kwargs(
    config: TrainConfig, observation_space: Any, grid: tuple[int, int] | None
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"net_arch": list(config.net_arch)}
    minigrid_symbolic = (
        config.observation == "symbolic"
        and grid is not None
        and observation_space.dtype == np.uint8
        and len(observation_space.shape) == 1
    )
    if not minigrid_symbolic or config.features == "raw":
        return kwargs
    extractors = _feature_extractors()
    kwargs["features_extractor_class"] = extractors[config.features]
    if config.features == "conv":
        kwargs["features_extractor_kwargs"] = {"grid": grid}
    return kwargs


_ACTION_SPACES = ("Discrete", "Box", "MultiDiscrete", "MultiBinary")


def choose_policy(observation_space: Any, action_space: Any, *, env_id: str = "") -> str:
    """The SB3 policy for these spaces: ``CnnPolicy``, ``MultiInputPolicy`` or ``MlpPolicy``.

    ``CnnPolicy`` for image observations (SB3's ``is_image_space``: uint8 H x W x C or C x H x W
    with 1, 3 or 4 channels), ``MultiInputPolicy`` for dict observations, ``MlpPolicy`` otherwise.

    Raises:
        EnvError: an action space PPO cannot act in, or an observation PPO cannot read.

    Example:
        >>> from gymnasium import spaces
        >>> choose_policy(spaces.Box(0, 255, (64, 64, 3), np.uint8), spaces.Discrete(3))
        'CnnPolicy'
        >>> choose_policy(spaces.Box(-1, 1, (4,)), spaces.Box(-1, 1, (2,)))
        'MlpPolicy'
    """
    from gymnasium import spaces
    from stable_baselines3.common.preprocessing import is_image_space

    if type(action_space).__name__ not in _ACTION_SPACES:
        raise EnvError(
            env_id,
            f"PPO cannot act in {action_space}: it supports {', '.join(_ACTION_SPACES)} action "
            "spaces",
        )
    if isinstance(observation_space, spaces.Dict):
        for key, sub in observation_space.spaces.items():
            if not isinstance(sub, spaces.Box | spaces.Discrete | spaces.MultiDiscrete):
                raise EnvError(
                    env_id,
                    f"observation {key!r} is {sub}, which PPO cannot read; use "
                    "observation='image' (the reward frame) or 'symbolic' where the env offers one",
                )
        return "MultiInputPolicy"
    if not isinstance(
        observation_space, spaces.Box | spaces.Discrete | spaces.MultiDiscrete | spaces.MultiBinary
    ):
        raise EnvError(
            env_id,
            f"PPO cannot read observations {observation_space}; use observation='image'",
        )
    if is_image_space(observation_space):
        return "CnnPolicy"
    return "MlpPolicy"


# ------------------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------------------


def evaluate(
    model: Any, venv: Any, episodes: int, *, seed: int | None = None, deterministic: bool = True
) -> tuple[float, float, float, int]:
    """Run ``episodes`` episodes and score them by the env's own criterion.

    Episodes are spread evenly over the VecEnv's envs (as SB3's ``evaluate_policy`` does). An
    episode succeeds when its last info says ``is_success`` (when the env reports it) or else
    when its env return is positive (MiniGrid's sparse success reward).

    Args:
        model: anything with SB3's ``predict(obs, deterministic=True)``.
        venv: the evaluation VecEnv (no code reward).
        episodes: number of episodes.
        seed: reseed the envs first (env ``i`` resets with ``seed + i``), so that every evaluation
            sees the same layouts.
        deterministic: the greedy policy (True) or the sampled one.

    Returns:
        ``(success_rate, mean_return, mean_length, episodes)``.
    """
    n = venv.num_envs
    targets = [(episodes + i) // n for i in range(n)]
    counts = [0] * n
    ret = np.zeros(n, dtype=np.float64)
    length = np.zeros(n, dtype=np.int64)
    successes: list[bool] = []
    returns: list[float] = []
    lengths: list[int] = []
    if seed is not None:
        venv.seed(seed)
    obs = venv.reset()
    while any(c < t for c, t in zip(counts, targets, strict=True)):
        actions, _ = model.predict(obs, deterministic=deterministic)
        obs, rewards, dones, infos = venv.step(actions)
        ret += rewards
        length += 1
        for i in np.flatnonzero(dones).tolist():
            if counts[i] < targets[i]:
                info = infos[i]
                success = bool(info["is_success"]) if "is_success" in info else bool(ret[i] > 0.0)
                successes.append(success)
                returns.append(float(ret[i]))
                lengths.append(int(length[i]))
                counts[i] += 1
            ret[i] = 0.0
            length[i] = 0
    total = len(successes)
    return (
        float(np.mean(successes)) if total else 0.0,
        float(np.mean(returns)) if total else 0.0,
        float(np.mean(lengths)) if total else 0.0,
        total,
    )


def steps_to_reach(curve: Sequence[EvalPoint], threshold: float = 0.9) -> int | None:
    """Env steps of the first evaluation whose success rate is >= ``threshold``, or None."""
    for point in curve:
        if point.success_rate >= threshold:
            return point.steps
    return None


# ------------------------------------------------------------------------------------------------
# The training callback: periodic evaluation, training-return curve, progress bar, timing
# ------------------------------------------------------------------------------------------------


def _make_callback(
    config: TrainConfig, eval_env: Any, progress: bool, csv_path: Path | None
) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class _EvalCallback(BaseCallback):
        """Evaluate every ``eval_every`` steps, collect training returns, drive the progress bar."""

        def __init__(self) -> None:
            super().__init__(verbose=0)
            self.curve: list[EvalPoint] = []
            self.returns: list[ReturnPoint] = []
            self.eval_seconds = 0.0
            self.next_eval = config.eval_every
            self._env_r: list[float] = []
            self._shaped_r: list[float] = []
            self._subtasks: list[dict[str, bool]] = []
            self._success: list[bool] = []
            self._bar: Any = None
            self._csv: Any = None
            self._writer: Any = None

        def _on_training_start(self) -> None:
            enabled = progress and sys.stderr.isatty()
            if enabled:
                from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

                self._bar = tqdm(
                    total=config.timesteps,
                    unit="step",
                    desc=f"{config.env_id} {describe_reward(config.reward)} s{config.seed}",
                    dynamic_ncols=True,
                    leave=False,
                )
            if csv_path is not None:
                self._csv = csv_path.open("w", newline="", encoding="utf-8")
                self._writer = csv.writer(self._csv)
                self._writer.writerow(
                    [
                        "steps",
                        "success_rate",
                        "mean_return",
                        "mean_length",
                        "episodes",
                        "train_env_return",
                        "train_shaped_return",
                        "train_success_rate",
                        "seconds",
                    ]
                )

        def _on_step(self) -> bool:
            infos: list[dict[str, Any]] = self.locals.get("infos", [])
            dones = self.locals.get("dones")
            if dones is not None:
                for i in np.flatnonzero(np.asarray(dones)).tolist():
                    info = infos[i]
                    episode = info.get("code_reward_episode")
                    if episode is not None:
                        env_r = float(episode["env_return"])
                        self._shaped_r.append(float(episode["shaped_return"]))
                        self._subtasks.append(dict(episode["subtasks"]))
                    elif "episode" in info:
                        env_r = float(info["episode"]["r"])
                        self._shaped_r.append(env_r)
                    else:
                        continue
                    self._env_r.append(env_r)
                    self._success.append(
                        bool(info["is_success"]) if "is_success" in info else env_r > 0.0
                    )
            if self._bar is not None:
                self._bar.update(self.training_env.num_envs)
            if self.num_timesteps >= self.next_eval:
                self.run_eval()
                while self.next_eval <= self.num_timesteps:
                    self.next_eval += config.eval_every
            return True

        def run_eval(self) -> None:
            if self.curve and self.curve[-1].steps == self.num_timesteps:
                return
            t0 = time.perf_counter()
            rate, mean_r, mean_l, n = evaluate(
                self.model,
                eval_env,
                config.eval_episodes,
                seed=config.seed + EVAL_SEED_OFFSET,
                deterministic=config.eval_deterministic,
            )
            self.eval_seconds += time.perf_counter() - t0
            point = EvalPoint(self.num_timesteps, rate, mean_r, mean_l, n)
            self.curve.append(point)
            names = sorted({k for d in self._subtasks for k in d})
            ret = ReturnPoint(
                steps=self.num_timesteps,
                episodes=len(self._env_r),
                env_return=float(np.mean(self._env_r)) if self._env_r else math.nan,
                shaped_return=float(np.mean(self._shaped_r)) if self._shaped_r else math.nan,
                success_rate=float(np.mean(self._success)) if self._success else math.nan,
                subtask_rates={
                    k: float(np.mean([bool(d.get(k, False)) for d in self._subtasks]))
                    for k in names
                },
            )
            self.returns.append(ret)
            self._env_r, self._shaped_r, self._subtasks, self._success = [], [], [], []
            self.logger.record("eval/success_rate", rate)
            self.logger.record("eval/mean_return", mean_r)
            self.logger.record("eval/mean_length", mean_l)
            if self._writer is not None:
                self._writer.writerow(
                    [
                        point.steps,
                        f"{rate:.6g}",
                        f"{mean_r:.6g}",
                        f"{mean_l:.6g}",
                        n,
                        f"{ret.env_return:.6g}",
                        f"{ret.shaped_return:.6g}",
                        f"{ret.success_rate:.6g}",
                        f"{self.eval_seconds:.3f}",
                    ]
                )
                self._csv.flush()
            if self._bar is not None:
                self._bar.set_postfix(success=f"{rate:.2f}", refresh=False)

        def close(self) -> None:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            if self._csv is not None:
                self._csv.close()
                self._csv = None

    return _EvalCallback()


# ------------------------------------------------------------------------------------------------
# train
# ------------------------------------------------------------------------------------------------


def _seed_everything(seed: int) -> None:
    from stable_baselines3.common.utils import set_random_seed

    random.seed(seed)
    np.random.seed(seed)
    set_random_seed(seed)  # python, numpy, torch (CPU and CUDA)


def _sandbox_stats(venv: Any) -> dict[str, Any] | None:
    from rl.vec_env import find_code_reward

    wrapper = find_code_reward(venv)
    if wrapper is None:
        return None
    stats = wrapper.stats
    out: dict[str, Any] = {
        "steps": stats.steps,
        "frames": stats.frames,
        "evaluate_seconds": stats.evaluate_seconds,
        "evaluate_ms": stats.evaluate_ms,
        "failures": {k: dict(v) for k, v in stats.failures.items()},
        "failures_by_status": stats.failures_by_status,
        "total_failures": stats.total_failures,
        "last_failure": list(stats.last_failure) if stats.last_failure else None,
    }
    with contextlib.suppress(Exception):  # the sandbox may already be closed
        box = wrapper.sandbox
        out["isolation"] = box.isolation
        out["jit_modes"] = [list(m) for m in box.jit_modes]
        out["respawns"] = getattr(box, "respawns", None)
    return out


def _probe(
    config: TrainConfig, program: RewardProgram | None
) -> tuple[TrainConfig, tuple[tuple[int, int] | None, str]]:
    """Make one env as the job will: resolve ``auto`` choices, fail fast on a bad env.

    Returns the config with the observation and frame source resolved, and ``(grid, frames)``:
    the MiniGrid grid ``(height, width)`` of symbolic observations (None for other envs) and
    where the reward frames come from, in words.
    """
    frame_source = config.frame_source
    kwargs: dict[str, Any] = {
        "tile_size": config.tile_size,
        "observation": config.observation,
        "max_steps": config.max_episode_steps,
        "env_kwargs": config.env_kwargs,
    }
    try:
        env = make_env(config.env_id, frame_source=frame_source, **kwargs)
    except FrameSourceError:
        if program is not None or frame_source != "auto":
            raise
        warnings.warn(
            f"{config.env_id} draws no reward frames; training with the sparse reward without "
            "them (frame_source='none')",
            UserWarning,
            stacklevel=3,
        )
        frame_source = "none"
        env = make_env(config.env_id, frame_source=frame_source, **kwargs)
    try:
        env.reset(seed=config.seed)  # draws the first frame: a bad render fails here, not later
        if program is not None and env.frame_source == "none":
            raise EnvError(config.env_id, "a code reward needs reward frames (frame_source='none')")
        choose_policy(env.observation_space, env.action_space, env_id=config.env_id)
        grid = None
        if env.entry.family == "minigrid" and env.observation_kind == "symbolic":
            u: Any = env.unwrapped
            grid = (int(u.height), int(u.width))
        resolved = dataclasses.replace(
            config, observation=env.observation_kind, frame_source=frame_source
        )
        return resolved, (grid, env.frame_description)
    finally:
        env.close()


def probe_config(config: TrainConfig) -> TrainConfig:
    """Check a job before any work and return it with ``auto`` observation and frames resolved.

    Validates the fields, loads the reward program, and makes and resets one environment as
    training will (so an unknown id, an env that cannot draw the frames a code reward needs, and
    spaces PPO cannot handle are refused here).

    Raises:
        ValueError, EnvError, ProgramError: as :func:`train`.
    """
    config.validate()
    program = resolve_reward(config.reward, config.env_id)
    return _probe(config, program)[0]


def train(config: TrainConfig, *, progress: bool = True) -> TrainResult:
    """Train PPO as ``config`` says and return the curves and statistics.

    Args:
        config: the job.
        progress: show a tqdm progress bar (only when stderr is a terminal).

    Returns:
        The :class:`TrainResult` (also written to ``log_dir/result.json`` when ``log_dir`` is
        set, with ``model.zip`` and ``program/``); after Ctrl-C, the partial result
        (``interrupted``).

    Raises:
        ValueError: a bad config (bad numbers, bad failure policy).
        EnvError: an unknown environment, one without reward frames for a code reward, or spaces
            PPO cannot handle.
        ProgramError: the reward program cannot be loaded.
    """
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import CallbackList
    from stable_baselines3.common.logger import configure

    from rl.callbacks import CodeRewardCallback, RewardDiagnosisCallback

    t_start = time.perf_counter()
    config.validate()
    program = resolve_reward(config.reward, config.env_id)
    if program is not None:
        program = with_overrides(program, config)
    config, (grid, frame_description) = _probe(config, program)
    log_dir = Path(config.log_dir) if config.log_dir is not None else None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)

    threads_before = torch.get_num_threads()
    torch.set_num_threads(config.torch_threads)
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    _seed_everything(config.seed)

    venv: Any = None
    eval_env: Any = None
    callback: Any = None
    diagnosis: RewardDiagnosisCallback | None = None
    diagnosis_summary: dict[str, Any] | None = None
    model: Any = None
    stopped: str | None = None
    interrupted = False
    sandbox_stats: dict[str, Any] | None = None
    model_path: Path | None = None
    program_path: Path | None = None
    learn_seconds = eval_before_final = 0.0
    trained = 0
    setup_seconds = 0.0
    try:
        venv = make_train_env(config, program)
        eval_env = make_eval_env(config)
        policy = choose_policy(venv.observation_space, venv.action_space, env_id=config.env_id)
        model = PPO(
            policy,
            venv,
            learning_rate=config.learning_rate,
            n_steps=config.n_steps,
            batch_size=config.batch_size,
            n_epochs=config.n_epochs,
            gamma=config.gamma,
            gae_lambda=config.gae_lambda,
            clip_range=config.clip_range,
            ent_coef=config.ent_coef,
            vf_coef=config.vf_coef,
            max_grad_norm=config.max_grad_norm,
            policy_kwargs=_policy_kwargs(config, venv.observation_space, grid),
            seed=config.seed,
            device="cpu",
            verbose=0,
        )
        if log_dir is not None:
            model.set_logger(configure(str(log_dir), ["csv"]))
        callback = _make_callback(
            config, eval_env, progress, log_dir / "eval.csv" if log_dir is not None else None
        )
        callbacks: list[Any] = [callback]
        if program is not None:
            callbacks.insert(0, CodeRewardCallback())
            if config.diagnosis:
                diagnosis = RewardDiagnosisCallback(
                    title=f"{config.env_id}, {describe_reward(config.reward)} ({program.scheme}, "
                    f"bonus {program.bonus:g}), seed {config.seed}"
                )
                callbacks.insert(1, diagnosis)
        setup_seconds = time.perf_counter() - t_start
        t_learn = time.perf_counter()
        try:
            model.learn(config.timesteps, callback=CallbackList(callbacks), progress_bar=False)
        except CheckerFailureError as err:
            stopped = str(err)
        except KeyboardInterrupt:
            interrupted = True
        learn_seconds = time.perf_counter() - t_learn
        trained = int(model.num_timesteps)
        eval_before_final = callback.eval_seconds
        if interrupted:
            stopped = f"interrupted (Ctrl-C) after {trained:,} of {config.timesteps:,} env steps"
        else:
            callback.num_timesteps = trained
            callback.run_eval()  # the end-of-training evaluation (skipped if one just ran)
        if log_dir is not None:
            with contextlib.suppress(Exception):
                model.logger.dump(trained)
            if config.save_model:
                model_path = log_dir / "model.zip"
                model.save(model_path)
                if program is not None:
                    program_path = log_dir / "program"
                    save_program(program, program_path)
        sandbox_stats = _sandbox_stats(venv)
        if diagnosis is not None:
            diagnosis_summary = _diagnosis_summary(diagnosis, log_dir)
    finally:
        if callback is not None:
            callback.close()
        if venv is not None:
            with contextlib.suppress(Exception):
                venv.close()
        if eval_env is not None:
            with contextlib.suppress(Exception):
                eval_env.close()
        torch.set_num_threads(threads_before)

    train_seconds = max(learn_seconds - eval_before_final, 1e-9)
    curve: list[EvalPoint] = callback.curve
    result = TrainResult(
        config=config.to_dict(),
        reward="sparse" if program is None else "code",
        program=(
            None
            if program is None
            else {
                "env_id": program.env_id,
                "scheme": program.scheme,
                "bonus": program.bonus,
                "gamma": program.gamma,
                "subtasks": list(program.names),
            }
        ),
        curve=curve,
        returns=callback.returns,
        final_success=curve[-1].success_rate if curve else 0.0,
        steps_to_90=steps_to_reach(curve, 0.9),
        timesteps=trained,
        steps_per_second=trained / train_seconds,
        train_seconds=train_seconds,
        eval_seconds=callback.eval_seconds,
        setup_seconds=setup_seconds,
        wall_seconds=time.perf_counter() - t_start,
        sandbox=sandbox_stats,
        stopped=stopped,
        log_dir=str(log_dir) if log_dir is not None else None,
        interrupted=interrupted,
        model_path=str(model_path) if model_path is not None else None,
        program_path=str(program_path) if program_path is not None else None,
        frame_source=frame_description,
        diagnosis=diagnosis_summary,
    )
    if log_dir is not None:
        (log_dir / "result.json").write_text(
            json.dumps(result.to_dict(), indent=2, default=_json_default) + "\n", encoding="utf-8"
        )
    return result


def _diagnosis_summary(callback: Any, log_dir: Path | None) -> dict[str, Any]:
    """The diagnosis' alarm summary, after writing the reward report into ``log_dir`` (if set).

    A report that cannot be written (a full disk, a broken matplotlib) is warned about and noted in
    the summary; it never costs the trained model or the results.
    """
    diag = callback.diagnosis
    out: dict[str, Any] = (
        dict(diag.summary())
        if diag is not None  # None: no step of the code reward was ever seen
        else {"episodes": 0, "windows": 0, "stall": False, "flooding": False, "alarms": []}
    )
    out["report"] = {}
    if log_dir is not None:
        try:
            out["report"] = {k: str(v) for k, v in callback.write_report(log_dir).items()}
        except Exception as err:  # reported, never fatal to the run
            out["report_error"] = f"{type(err).__name__}: {err}"
            warnings.warn(
                f"the reward report could not be written to {log_dir}: {out['report_error']}",
                UserWarning,
                stacklevel=2,
            )
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _train_quietly(config: TrainConfig) -> TrainResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return train(config, progress=False)


def run_jobs(configs: Sequence[TrainConfig], *, parallel: int = 1) -> list[TrainResult]:
    """Train several jobs, ``parallel`` at a time in fresh (spawned) processes; keep the order.

    Each job pins its own torch threads (``torch_threads``), so ``parallel`` x ``torch_threads``
    should not exceed the CPUs. With ``parallel=1`` the jobs run here, one after the other.
    """
    if parallel < 1:
        raise ValueError(f"parallel={parallel!r}: must be >= 1")
    if parallel == 1 or len(configs) <= 1:
        return [_train_quietly(c) for c in configs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=parallel, mp_context=ctx) as pool:
        return list(pool.map(_train_quietly, configs))
