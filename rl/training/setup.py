"""PPO set-up: the training and evaluation envs, the policy, the feature extractors, seeding.

Provides:
    make_train_env / make_eval_env: the vectorised envs :func:`rl.training.train` builds.
    choose_policy: which SB3 policy an observation space gets (CNN, multi-input or MLP).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rl.envs import make_env
from rl.program import RewardProgram
from rl.registry import EnvError
from rl.training.config import (
    EVAL_SEED_OFFSET,
    TrainConfig,
    with_overrides,
)

__all__ = ["choose_policy", "make_eval_env", "make_train_env"]


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


def _seed_everything(seed: int) -> None:
    from stable_baselines3.common.utils import set_random_seed

    random.seed(seed)
    np.random.seed(seed)
    set_random_seed(seed)  # python, numpy, torch (CPU and CUDA)
