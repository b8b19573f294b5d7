"""What training produced: the curves and :class:`TrainResult`.

Provides:
    EvalPoint / ReturnPoint: one point of the success curve / of the shaped-return curve.
    TrainResult: the curves, throughput, sandbox and diagnosis statistics of one job.
    steps_to_reach: env steps at which a success curve first reaches a threshold.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["EvalPoint", "ReturnPoint", "TrainResult", "steps_to_reach"]


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


def steps_to_reach(curve: Sequence[EvalPoint], threshold: float = 0.9) -> int | None:
    """Env steps of the first evaluation whose success rate is >= ``threshold``, or None."""
    for point in curve:
        if point.success_rate >= threshold:
            return point.steps
    return None


# ------------------------------------------------------------------------------------------------
# The training callback: periodic evaluation, training-return curve, progress bar, timing
# ------------------------------------------------------------------------------------------------
