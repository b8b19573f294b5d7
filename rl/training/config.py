"""What to train: :class:`TrainConfig`, and how a reward spec becomes a program.

Provides:
    TrainConfig: one training job (env, reward, budget, seed, PPO hyper-parameters, evaluation).
    describe_reward / resolve_reward / with_overrides: a reward spec as text, as a program, and
        with the job's scheme and bonus overrides.
    EVAL_SEED_OFFSET: offset of the evaluation seeds from the training seed.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rl.envs import FrameSource, Observation
from rl.program import ProgramError, RewardProgram, load_program
from rl.programs import reference_program
from rl.registry import get_spec
from rl.rewards import parse_failure_policy
from rl.schemes import canonical_scheme
from sandbox.pool import Isolation

__all__ = [
    "EVAL_SEED_OFFSET",
    "RewardSpec",
    "TrainConfig",
    "describe_reward",
    "resolve_reward",
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
