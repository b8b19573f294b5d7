"""SB3 ``VecEnvWrapper`` that adds a sandboxed code reward to every env of a ``VecEnv``.

Provides:
    CodeRewardVecEnv: one batched ``Sandbox.evaluate`` per step for all envs and sub-tasks; the
        reward is the env's reward plus the program's bonus (:mod:`rl.rewards`).
    find_code_reward: the :class:`CodeRewardVecEnv` inside a chain of VecEnv wrappers, or None.
    check_stack: refuse or warn about a stacking of SB3 wrappers that gives wrong rewards.

Placement (the SB3 stacking rules; the ones marked *enforced* are checked when the wrapper is built):

1. Wrap **innermost**, directly on the ``DummyVecEnv``/``SubprocVecEnv`` (what ``make_vec_env``
   returns), below ``VecTransposeImage``, ``VecFrameStack`` and ``VecNormalize``: they rewrite
   observations and ``terminal_observation`` (with ``frame_source="obs"`` the frames then fail the
   (H, W, 3) uint8 check at ``reset``).
2. *Enforced*: never on top of ``VecNormalize`` (:class:`rl.errors.RewardStackError`): it rescales the
   env reward the bonus is added to, so the bonus would be out of scale and ``env_return`` would not
   be the env's. Put it outside: ``VecNormalize(CodeRewardVecEnv(venv, program))``.
3. *Enforced*: one code reward per VecEnv: a second ``CodeRewardVecEnv`` would pay every bonus twice.
4. *Warned* (:class:`rl.errors.RewardStackWarning`): a ``Monitor`` inside each env (or a
   ``VecMonitor`` below this wrapper). ``make_vec_env`` adds one; a ``DummyVecEnv`` built by hand
   around :func:`rl.envs.make_env` needs ``Monitor(make_env(...))`` (``make_env`` itself adds none,
   so that the info of every step has the same keys, as Minari's ``DataCollector`` requires). Then
   ``Monitor`` (SB3's ``rollout/ep_rew_mean``, ``evaluate_policy``, ``EvalCallback``) reports the env's
   own return, the true success curve, while :class:`rl.callbacks.CodeRewardCallback` logs the shaped
   return next to it. Without it those SB3 tools sum the shaped reward and call it the env's return.
5. ``potential`` shaping: the program's ``gamma`` must be the learner's (``CodeRewardCallback``
   warns when they differ).

Frames (``frame_source``):
    ``info``: ``info["frame"]`` of every step, which the env wrapper captures *before* the VecEnv
        auto-resets (so for a done env it is the terminal frame); the first frame of an episode is
        ``reset_infos[i]["frame"]``. Works with any policy observation (e.g. symbolic).
    ``obs``: the observation, which must be an (H, W, 3) uint8 image; for a done env the frame is
        ``infos[i]["terminal_observation"]`` (the returned observation is already the reset one) and
        the next episode's first frame is the returned observation.
    ``auto``: ``info`` when the reset infos carry ``"frame"`` (those are the project's reward frames,
        rendered with ``highlight=False``), else ``obs`` when the observation is an HWC uint8 image.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecMonitor, VecNormalize
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from rl.errors import RewardStackError, RewardStackWarning
from rl.program import RewardProgram, Scheme
from rl.rewards import (
    EngineWrapperMixin,
    FrameSource,
    RewardEngine,
    check_frame_source,
    is_image_space,
)
from sandbox.errors import FrameError
from sandbox.pool import Isolation, Sandbox

__all__ = ["CodeRewardVecEnv", "FrameSource", "check_stack", "find_code_reward"]


class CodeRewardVecEnv(EngineWrapperMixin, VecEnvWrapper):
    """Add a sandboxed, per-sub-task code reward to a ``VecEnv``.

    Each ``step_wait`` makes **one** ``Sandbox.evaluate`` call over every env's new frame (the
    terminal frame for envs that just finished) with every sub-task checker, latches sub-tasks per
    env (:class:`rl.rewards.RewardComposer`) and returns ``env reward + bonus``. Checker failures
    never crash training under ``failure_policy="continue"``: the failing checker's flags are
    ignored for that step and the failure is counted in :attr:`stats`.

    Each info dict gets ``env_reward`` (the env's own reward), ``code_bonus``, ``subtasks`` (name ->
    latched so far this episode, including this step), ``subtask_fired`` (name -> checker fired on
    this frame), ``checker_status`` (name -> status, only for checkers that failed on this step) and,
    when the episode ends, ``code_reward_episode`` (``shaped_return``, ``env_return``, ``length``,
    ``subtasks``).

    Example:
        >>> import gymnasium as gym, numpy as np
        >>> from stable_baselines3.common.monitor import Monitor
        >>> from stable_baselines3.common.vec_env import DummyVecEnv
        >>> class Flat(gym.Env):
        ...     observation_space = gym.spaces.Box(0, 255, (16, 16, 3), np.uint8)
        ...     action_space = gym.spaces.Discrete(2)
        ...     def reset(self, *, seed=None, options=None):
        ...         return np.zeros((16, 16, 3), np.uint8), {}
        ...     def step(self, action):
        ...         return np.full((16, 16, 3), 200 * action, np.uint8), 0.0, False, False, {}
        >>> src = "def check(frame):\\n    return bool(frame.mean() > 100)\\n"
        >>> venv = CodeRewardVecEnv(DummyVecEnv([lambda: Monitor(Flat())]), [src], isolation="process")
        >>> _ = venv.reset()
        >>> venv.step(np.array([1]))[1].tolist()
        [1.0]
        >>> venv.close()

    Args:
        venv: the VecEnv to wrap (innermost; see the stacking rules in the module docstring).
        program: a :class:`rl.program.RewardProgram` or checker sources.
        sandbox: a running Sandbox over the same sources (shared, not closed here); None starts
            one that this wrapper owns and closes in :meth:`close`.
        isolation: isolation of the sandbox this wrapper starts (None: strongest available).
        timeout: per-checker deadline per batch, seconds, of the sandbox this wrapper starts.
        frame_source: ``auto``, ``obs`` or ``info`` (see the module docstring).
        failure_policy: ``continue``, ``raise`` or ``stop_after:N``.
        bonus: override of the program's bonus.
        scheme: override of the program's scheme.
        gamma: override of the program's gamma (``potential`` only; use the learner's gamma).
        names: sub-task names when ``program`` is a list of sources.
    """

    def __init__(
        self,
        venv: VecEnv,
        program: RewardProgram | Sequence[str],
        *,
        sandbox: Sandbox | None = None,
        isolation: Isolation | None = None,
        timeout: float = 5.0,
        frame_source: FrameSource = "auto",
        failure_policy: str = "continue",
        bonus: float | None = None,
        scheme: Scheme | None = None,
        gamma: float | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        check_frame_source(frame_source)
        check_stack(venv, type(self).__name__)  # before any sandbox worker starts
        super().__init__(venv)
        self.engine = RewardEngine(
            venv.num_envs,
            program,
            sandbox=sandbox,
            isolation=isolation,
            timeout=timeout,
            failure_policy=failure_policy,
            bonus=bonus,
            scheme=scheme,
            gamma=gamma,
            names=names,
            owner=type(self).__name__,
        )
        self.requested_frame_source: FrameSource = frame_source
        self.frame_source: Literal["obs", "info"] | None = None
        self._closed = False

    # -- public state ------------------------------------------------------------------------------

    @property
    def completed(self) -> NDArray[np.bool_]:
        """(n_envs, K) what each env's current episode has latched."""
        return self.engine.composer.completed.copy()

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox the checkers run in."""
        return self.engine.sandbox

    # -- frames ------------------------------------------------------------------------------------

    def _resolve_source(self, reset_infos: Sequence[dict[str, Any]]) -> Literal["obs", "info"]:
        has_frame = bool(reset_infos) and all("frame" in info for info in reset_infos)
        space = self.venv.observation_space
        image_obs = is_image_space(space)
        if self.requested_frame_source == "info" or (
            self.requested_frame_source == "auto" and has_frame
        ):
            if not has_frame:
                raise FrameError(
                    "info['frame']",
                    "frame_source='info' but the reset infos carry no 'frame'; wrap each env so "
                    "that it puts the reward frame in info['frame'] on reset and every step "
                    "(rl.envs.make_env does), or use frame_source='obs' with image observations",
                )
            return "info"
        if self.requested_frame_source == "auto" and not image_obs:
            raise FrameError(
                "frame_source='auto'",
                f"no reward frames: the observation space is {space} (not an (H, W, 3) uint8 "
                "image) and the reset infos carry no 'frame'; wrap each env so that it puts the "
                "reward frame in info['frame'] (rl.envs.make_env does), or wrap innermost so the "
                "observations are still HWC images",
            )
        return "obs"

    def _reset_frames(self, obs: VecEnvObs, reset_infos: Sequence[dict[str, Any]]) -> Any:
        if self.frame_source == "info":
            return np.stack([np.asarray(info["frame"]) for info in reset_infos])
        if not isinstance(obs, np.ndarray):
            raise FrameError(
                "frame_source='obs'",
                f"observations are {type(obs).__name__}, not an image array; use "
                "frame_source='info' with an env that puts the reward frame in info['frame']",
            )
        return obs

    def _step_frames(
        self, obs: VecEnvObs, dones: NDArray[np.bool_], infos: Sequence[dict[str, Any]]
    ) -> Any:
        """This step's frames, written straight into the engine's frame slots (one copy)."""
        if self.frame_source == "info":
            return write_info_frames(self.engine, infos)
        frames = obs
        if not isinstance(frames, np.ndarray):
            raise FrameError("frame_source='obs'", f"observations are {type(obs).__name__}")
        if frames.dtype != np.uint8 or frames.shape[1:] != self.engine.frame_shape:
            return self._obs_frames_copied(frames, dones, infos)  # the engine says what is wrong
        slots = self.engine.frame_slots()
        slots[...] = frames
        for i in np.flatnonzero(dones).tolist():
            _write_frame(self.engine, slots, i, self._terminal(i, infos), "terminal_observation")
        return slots

    def _terminal(self, i: int, infos: Sequence[dict[str, Any]]) -> Any:
        terminal = infos[i].get("terminal_observation")
        if terminal is None:
            raise FrameError(
                "terminal_observation",
                f"env {i} is done but its info has no 'terminal_observation'; wrap "
                "CodeRewardVecEnv directly around a DummyVecEnv/SubprocVecEnv",
            )
        return terminal

    def _obs_frames_copied(
        self, frames: NDArray[Any], dones: NDArray[np.bool_], infos: Sequence[dict[str, Any]]
    ) -> NDArray[Any]:
        if dones.any():
            frames = frames.copy()
            for i in np.flatnonzero(dones).tolist():
                frames[i] = self._terminal(i, infos)
        return frames

    def _where(self) -> str:
        return "info['frame']" if self.frame_source == "info" else "observation"

    # -- VecEnv API --------------------------------------------------------------------------------

    def reset(self) -> VecEnvObs:
        """Reset every env, record each episode's first frame and clear the latches."""
        obs = self.venv.reset()
        reset_infos = list(getattr(self.venv, "reset_infos", []) or [])
        self.reset_infos = reset_infos
        if self.frame_source is None:
            self.frame_source = self._resolve_source(reset_infos)
        frames = self._reset_frames(obs, reset_infos)
        self.engine.begin_episodes(range(self.num_envs), frames, self._where())
        return obs

    def step_wait(self) -> VecEnvStepReturn:
        """Step every env, evaluate every checker on every new frame once, and add the bonus."""
        obs, rewards, dones, infos = self.venv.step_wait()
        dones = np.asarray(dones, dtype=np.bool_)
        frames = self._step_frames(obs, dones, infos)
        truncated = np.array([bool(info.get("TimeLimit.truncated", False)) for info in infos])
        terminated = dones & ~truncated
        shaped = self.engine.step(frames, rewards, dones, terminated, infos, self._where())
        if dones.any():
            idx = np.flatnonzero(dones).tolist()
            if self.frame_source == "info":
                reset_infos = self.venv.reset_infos
                self.reset_infos = list(reset_infos)
                try:
                    firsts = np.stack([np.asarray(reset_infos[i]["frame"]) for i in idx])
                except KeyError:
                    raise FrameError(
                        "reset_infos[i]['frame']",
                        "an auto-reset info has no 'frame'; the env wrapper must put the reward "
                        "frame in info['frame'] on reset too",
                    ) from None
            else:
                assert isinstance(obs, np.ndarray)
                firsts = obs[idx]
            self.engine.begin_episodes(idx, firsts, self._where())
        return obs, shaped, dones, infos

    def close(self) -> None:
        """Close the wrapped envs and the sandbox this wrapper started (not a shared one)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.venv.close()
        finally:
            self.engine.close()


def write_info_frames(engine: RewardEngine, infos: Sequence[dict[str, Any]]) -> NDArray[np.uint8]:
    """Each step info's ``frame`` written into ``engine.frame_slots()``; the slots, for ``step``.

    Raises:
        FrameError: an info without ``frame``, or a frame of the wrong dtype or shape (naming the
            env).
    """
    slots = engine.frame_slots()
    if len(infos) != len(slots):
        raise FrameError("info['frame']", f"{len(infos)} step infos for {len(slots)} envs")
    for i, info in enumerate(infos):
        try:
            frame = info["frame"]
        except KeyError:
            raise FrameError(
                "info['frame']",
                f"the step info of env {i} has no 'frame' (frame_source='info'); the env "
                "wrapper must put the reward frame in info['frame'] on every step, before "
                "the auto-reset",
            ) from None
        _write_frame(engine, slots, i, frame, "info['frame']")
    return slots


def _write_frame(
    engine: RewardEngine, slots: NDArray[np.uint8], i: int, frame: Any, where: str
) -> None:
    """``slots[i] = frame`` once ``frame`` is a uint8 (H, W, 3) array of the run's shape."""
    arr = frame if isinstance(frame, np.ndarray) else np.asarray(frame)
    if arr.dtype != np.uint8 or arr.shape != slots.shape[1:]:
        engine.check_frames(arr[None], f"{where} of env {i}")  # raises, saying what is wrong
        raise FrameError(f"{where} of env {i}", f"shape {arr.shape} is not {slots.shape[1:]}")
    slots[i] = arr


def _chain(venv: VecEnv) -> list[VecEnv]:
    """``venv`` and every VecEnv it wraps, outermost first (the base VecEnv last)."""
    chain: list[VecEnv] = [venv]
    while isinstance(chain[-1], VecEnvWrapper):
        chain.append(chain[-1].venv)
    return chain


def check_stack(venv: VecEnv, wrapper: str = "CodeRewardVecEnv") -> None:
    """Refuse stackings that give wrong rewards; warn when SB3 would report shaped returns.

    See the module docstring for the rules. Called by :class:`CodeRewardVecEnv` before it starts
    a sandbox.

    Args:
        venv: the VecEnv a code-reward wrapper is about to wrap.
        wrapper: the wrapper's name, for messages.

    Raises:
        RewardStackError: ``venv`` is or wraps a ``VecNormalize`` or another code-reward wrapper.

    Warns:
        RewardStackWarning: neither a ``VecMonitor`` below nor a ``Monitor`` in every env.
    """
    chain = _chain(venv)
    for env in chain:
        if isinstance(env, VecNormalize):
            raise RewardStackError(
                wrapper,
                "VecNormalize",
                "VecNormalize rescales the env reward the bonus is added to (the bonus would be "
                "out of scale, and env_return and the sub-task statistics would not be the "
                "env's own)",
                f"VecNormalize({wrapper}(venv, program))",
            )
        if isinstance(env, CodeRewardVecEnv):
            raise RewardStackError(
                wrapper,
                "CodeRewardVecEnv",
                "that VecEnv already adds a code reward, so every bonus would be paid twice",
                "one code-reward wrapper per VecEnv, holding every sub-task of the program",
            )
    if any(isinstance(env, VecMonitor) for env in chain):
        return
    try:
        monitored = all(chain[-1].env_is_wrapped(Monitor))
    except (AttributeError, NotImplementedError):  # a VecEnv that cannot tell
        return
    if not monitored:
        warnings.warn(
            RewardStackWarning(
                f"{wrapper}: the envs carry no Monitor, so SB3's evaluate_policy, EvalCallback "
                "and rollout/ep_rew_mean would report the shaped return (env reward + bonus) as "
                "the env's return; wrap each env in stable_baselines3.common.monitor.Monitor "
                "(make_vec_env does; for a hand-built DummyVecEnv use Monitor(make_env(...))) or put "
                "a VecMonitor directly below "
                f"{wrapper}"
            ),
            stacklevel=3,
        )


def find_code_reward(venv: VecEnv) -> CodeRewardVecEnv | None:
    """Return the :class:`CodeRewardVecEnv` in ``venv``'s wrapper chain, or None."""
    env: Any = venv
    while env is not None:
        if isinstance(env, CodeRewardVecEnv):
            return env
        env = getattr(env, "venv", None) if isinstance(env, VecEnvWrapper) else None
    return None
