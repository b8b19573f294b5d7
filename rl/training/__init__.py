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

The package follows those ideas: :mod:`rl.training.config` (what to train and how a reward spec
becomes a program), :mod:`rl.training.setup` (envs, policy, seeding), :mod:`rl.training.evaluation`
(evaluation and the progress callback), :mod:`rl.training.results` (curves and results); this module
runs jobs. Importing it (or :mod:`rl`) does not import torch: SB3 and torch load when training
starts.

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
import dataclasses
import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rl.envs import FrameSourceError, make_env
from rl.program import RewardProgram, save_program
from rl.registry import EnvError
from rl.rewards import CheckerFailureError
from rl.training.config import TrainConfig, describe_reward, resolve_reward, with_overrides
from rl.training.evaluation import _make_callback, evaluate
from rl.training.results import EvalPoint, ReturnPoint, TrainResult, steps_to_reach
from rl.training.setup import (
    _policy_kwargs,
    _seed_everything,
    choose_policy,
    make_eval_env,
    make_train_env,
)

__all__ = [
    "EvalPoint",
    "ReturnPoint",
    "RunFailure",
    "TrainConfig",
    "TrainResult",
    "choose_policy",
    "evaluate",
    "make_eval_env",
    "make_train_env",
    "probe_config",
    "resolve_reward",
    "run_jobs",
    "run_jobs_on_ray",
    "steps_to_reach",
    "train",
    "with_overrides",
]


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
    from stable_baselines3.common.logger import Logger, configure

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
        # Without a logger of its own, SB3 makes an empty SB3-<time> directory in the system's
        # temporary directory on every learn(): a run without log_dir logs nowhere instead.
        model.set_logger(
            configure(str(log_dir), ["csv"]) if log_dir is not None else Logger(None, [])
        )
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
    with ProcessPoolExecutor(
        max_workers=parallel,
        mp_context=ctx,
        initializer=_exit_with_parent,
        initargs=(os.getpid(), _PARENT_POLL_S),
    ) as pool:
        return list(pool.map(_train_quietly, configs))


#: How often a ``run_jobs`` worker checks that the process that started it is still alive.
_PARENT_POLL_S = 1.0


def _exit_with_parent(parent: int, poll_s: float) -> None:
    """Pool initializer: end this worker when ``parent`` is gone.

    A pool's workers outlive a parent killed by a signal (SIGTERM, SIGKILL, a closed terminal):
    nothing tells them, and each goes on training (minutes of CPU) and writing into the run's
    directories. A daemon thread polls the parent process id and exits the worker at once
    (exit status 143, as for SIGTERM) when the worker has been handed to another parent.
    """
    import threading

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(143)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


@dataclass(frozen=True)
class RunFailure:
    """A job that raised instead of returning a result (on Ray, or while setting up).

    Attributes:
        config: the job.
        error: the exception's type name.
        message: its message, first line.
    """

    config: TrainConfig
    error: str
    message: str

    def __str__(self) -> str:
        return f"seed {self.config.seed}: {self.error}: {self.message}"


def run_jobs_on_ray(
    configs: Sequence[TrainConfig],
    *,
    address: str = "auto",
    on_done: Callable[[int, TrainResult | RunFailure], None] | None = None,
) -> list[TrainResult | RunFailure]:
    """Train each job as a Ray task; keep the order; a failed job does not lose the others.

    Each task asks Ray for ``torch_threads`` CPUs and builds its own envs and sandbox workers on
    the node that runs it, so the results are those of the same jobs run one after another
    (:func:`train` is seeded). Log directories are made absolute first (a Ray worker does not
    share the driver's working directory); on a cluster they must be on storage every node sees.
    Before any job starts, every alive node is probed for the isolation level the jobs ask for
    (the strongest this machine supports when they ask for none): a weaker node is refused by
    name (:class:`rl.errors.NodeIsolationError`) instead of training under weaker isolation.

    Args:
        configs: the jobs.
        address: ``"auto"`` or a cluster address (:func:`rl.cluster.connect_ray`).
        on_done: called as each job ends (index, result or failure), in completion order.

    Returns:
        One :class:`TrainResult` or :class:`RunFailure` per job, in the jobs' order.

    Raises:
        RayUnavailableError: Ray is not installed, or nothing answers at ``address``.
        NodeIsolationError: a node cannot provide the isolation level.
        KeyboardInterrupt: after cancelling the jobs still running (finished ones were passed
            to ``on_done``).
    """
    from rl.cluster import check_nodes, connect_ray
    from sandbox.pool import strongest_isolation

    level = strongest_isolation()[0]
    jobs = [
        dataclasses.replace(
            c,
            isolation=c.isolation or (level if c.reward != "sparse" else None),
            log_dir=Path(c.log_dir).resolve() if c.log_dir is not None else None,
        )
        for c in configs
    ]
    ray, started = connect_ray(address, None)
    try:
        for isolation in sorted({j.isolation for j in jobs if j.isolation is not None}):
            check_nodes(ray, isolation)
        task = ray.remote(_train_quietly)
        refs = [task.options(num_cpus=max(1, j.torch_threads)).remote(j) for j in jobs]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[TrainResult | RunFailure | None] = [None] * len(jobs)
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                i = index[ready[0]]
                try:
                    done: TrainResult | RunFailure = ray.get(ready[0])
                except Exception as err:  # RayTaskError wraps the job's own exception
                    cause = getattr(err, "cause", None) or err
                    text = str(cause).strip().splitlines()
                    done = RunFailure(jobs[i], type(cause).__name__, text[0] if text else "")
                results[i] = done
                if on_done is not None:
                    on_done(i, done)
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        return [r for r in results if r is not None]
    finally:
        if started:
            ray.shutdown()
