"""vlm-car's RL side: any environment with reward frames, demonstrations, reward composition, SB3.

Public API:
    make_env(env_id) -> gymnasium.Env            any id: info["frame"] (H x W x 3 uint8) (+ labels)
    EnvSpec, register, get_spec, ENV_IDS          the environment registry (one entry per env)
    SUBTASKS, ground_truth                        built-in tasks and their ground-truth labels
    ExpertPolicy, rollout, rollouts, Trajectory  scripted experts; expert / fixed-length random runs
    DemoSource, load_demos                        demonstrations: Minari, .npz, SB3 .zip, module:fn
    RewardProgram, SubTask, load_program, ...     ordered sub-task checkers + reward scheme, on disk
    RewardComposer                               ordered / any-order / potential-based latching
    CodeRewardVecEnv, CodeReward                  SB3 VecEnvWrapper (innermost) / Gymnasium wrapper
    CodeRewardCallback                           shaped return, sub-task rates, sandbox failures
    RewardDiagnosis, DiagnosisConfig, ...         sub-task completion over time, stall/flooding alarms
    RewardDiagnosisCallback                       the diagnosis during training, reward_report.md/.png
    RewardScheme, SCHEME_CLASSES                  reward schemes: one class each, one registry
    TrainConfig, train                           PPO with a code reward or the sparse reward
    relabel, RelabelResult                       an offline dataset -> per-frame flags, shaped reward

Checker code always runs in :class:`sandbox.Sandbox` workers, never in the trainer's process.
Importing ``rl`` loads neither torch nor stable-baselines3: the names that need them
(:class:`CodeRewardVecEnv`, :class:`CodeRewardCallback`, :func:`train` ...) are imported on first
use, as Gymnasium's ``gymnasium.wrappers`` does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rl.callbacks import CodeRewardCallback, RewardDiagnosisCallback
    from rl.demos import DemoSource, load_demos
    from rl.diagnosis import DiagnosisConfig, EpisodeRecord, RewardDiagnosis, write_report
    from rl.envs import ENV_IDS, RewardFrames, make_env
    from rl.experts import ExpertPolicy
    from rl.labels import SUBTASKS, ground_truth
    from rl.program import (
        ProgramError,
        RewardProgram,
        SubTask,
        load_program,
        save_program,
    )
    from rl.programs import reference_program
    from rl.registry import EnvSpec, UnknownEnvError, get_spec, register
    from rl.relabel import RelabelResult, relabel
    from rl.rewards import RewardComposer
    from rl.rollouts import Trajectory, rollout, rollouts
    from rl.schemes import SCHEME_CLASSES, RewardScheme
    from rl.training import TrainConfig, TrainResult, train
    from rl.vec_env import CodeRewardVecEnv
    from rl.wrappers import CodeReward

__all__ = [
    "ENV_IDS",
    "SCHEME_CLASSES",
    "SUBTASKS",
    "CodeReward",
    "CodeRewardCallback",
    "CodeRewardVecEnv",
    "DemoSource",
    "DiagnosisConfig",
    "EnvSpec",
    "EpisodeRecord",
    "ExpertPolicy",
    "ProgramError",
    "RelabelResult",
    "RewardComposer",
    "RewardDiagnosis",
    "RewardDiagnosisCallback",
    "RewardFrames",
    "RewardProgram",
    "RewardScheme",
    "SubTask",
    "TrainConfig",
    "TrainResult",
    "Trajectory",
    "UnknownEnvError",
    "get_spec",
    "ground_truth",
    "load_demos",
    "load_program",
    "make_env",
    "reference_program",
    "register",
    "relabel",
    "rollout",
    "rollouts",
    "save_program",
    "train",
    "write_report",
]

#: public name -> the module that defines it (imported on first access)
_HOMES = {
    "ENV_IDS": "rl.envs",
    "SCHEME_CLASSES": "rl.schemes",
    "SUBTASKS": "rl.labels",
    "CodeReward": "rl.wrappers",
    "CodeRewardCallback": "rl.callbacks",
    "CodeRewardVecEnv": "rl.vec_env",
    "DemoSource": "rl.demos",
    "DiagnosisConfig": "rl.diagnosis",
    "EnvSpec": "rl.registry",
    "EpisodeRecord": "rl.diagnosis",
    "ExpertPolicy": "rl.experts",
    "ProgramError": "rl.program",
    "RewardComposer": "rl.rewards",
    "RewardDiagnosis": "rl.diagnosis",
    "RewardDiagnosisCallback": "rl.callbacks",
    "RewardFrames": "rl.envs",
    "RewardProgram": "rl.program",
    "RewardScheme": "rl.schemes",
    "SubTask": "rl.program",
    "TrainConfig": "rl.training",
    "TrainResult": "rl.training",
    "Trajectory": "rl.rollouts",
    "UnknownEnvError": "rl.registry",
    "get_spec": "rl.registry",
    "ground_truth": "rl.labels",
    "load_demos": "rl.demos",
    "load_program": "rl.program",
    "make_env": "rl.envs",
    "reference_program": "rl.programs",
    "register": "rl.registry",
    "rollout": "rl.rollouts",
    "rollouts": "rl.rollouts",
    "save_program": "rl.program",
    "train": "rl.training",
    "write_report": "rl.diagnosis",
    "RelabelResult": "rl.relabel",
    "relabel": "rl.relabel",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rl' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
