"""vlm-car's RL side: environments with reward frames, experts, reward composition, SB3 wrappers.

Public API:
    make_env(env_id) -> gymnasium.Env            info["frame"] (H x W x 3 uint8) + info["labels"]
    ENV_IDS, SUBTASKS, ground_truth               built-in tasks and their ground-truth labels
    ExpertPolicy, rollout, rollouts, Trajectory  scripted experts; expert / fixed-length random runs
    RewardProgram, SubTask, load_program, ...     ordered sub-task checkers + reward scheme, on disk
    RewardComposer                               ordered / any-order / potential-based latching
    CodeRewardVecEnv, CodeReward                  SB3 VecEnvWrapper (innermost) / Gymnasium wrapper
    CodeRewardCallback                           shaped return, sub-task rates, sandbox failures
    TrainConfig, train                           PPO with a code reward or the sparse reward (rl.training)

Checker code always runs in :class:`sandbox.Sandbox` workers, never in the trainer's process.
"""

from rl.callbacks import CodeRewardCallback
from rl.envs import ENV_IDS, RewardFrames, make_env
from rl.experts import ExpertPolicy
from rl.labels import SUBTASKS, ground_truth
from rl.program import (
    ProgramError,
    RewardProgram,
    SubTask,
    load_program,
    reference_program,
    save_program,
)
from rl.rewards import RewardComposer
from rl.rollouts import Trajectory, rollout, rollouts
from rl.training import TrainConfig, TrainResult, train
from rl.vec_env import CodeRewardVecEnv
from rl.wrappers import CodeReward

__all__ = [
    "ENV_IDS",
    "SUBTASKS",
    "CodeReward",
    "CodeRewardCallback",
    "CodeRewardVecEnv",
    "ExpertPolicy",
    "ProgramError",
    "RewardComposer",
    "RewardFrames",
    "RewardProgram",
    "SubTask",
    "TrainConfig",
    "TrainResult",
    "Trajectory",
    "ground_truth",
    "load_program",
    "make_env",
    "reference_program",
    "rollout",
    "rollouts",
    "save_program",
    "train",
]
