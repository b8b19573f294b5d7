"""Reward diagnosis while training: completion per sub-task, stall and flooding alarms, a report.

Provides:
    DiagnosisConfig: window sizes and alarm thresholds (a frozen dataclass; defaults documented).
    EpisodeRecord: one finished training episode as the diagnosis sees it.
    WindowStats: the statistics of one window of consecutive episodes.
    Alarm: a raised stall or flooding alarm (kind, step, sub-task, the values behind it).
    RewardDiagnosis: feed it :class:`EpisodeRecord` s; it closes windows, raises and clears alarms
        and summarises (pure: no SB3, no torch, testable on synthetic records).
    window_stats, stall_condition, flooding_condition, flood_span, end_stage: the pure pieces it is
        built from.
    write_report: ``reward_report.md``, ``reward_report.json`` and ``reward_report.png``.
    RewardDiagnosisWarning: the warning category of alarms (a ``UserWarning``; defined in
        :mod:`rl.errors`, re-exported here).
    RewardDiagnosisCallback: the SB3 callback that feeds a :class:`RewardDiagnosis` from the
        code-reward wrapper's infos (defined in :mod:`rl.callbacks`, which imports SB3; it is
        loaded from here on first access, so importing this module loads neither torch nor SB3).

Definitions (sub-tasks ``0..K-1`` in the program's order; a window is ``window_episodes``
consecutive finished episodes, counted over all training envs; alarms are evaluated when a window
closes, on full windows only):

* **completion rate** of sub-task ``k`` in a window: the fraction of its episodes that had latched
  ``k`` when they ended (``info["code_reward_episode"]["subtasks"]``).
* **first completion**: the training step at which an episode that latched ``k`` first ended, and,
  per window, the mean step *within the episode* at which ``k`` latched.
* **where episodes end**: the stage an episode reached: ``success`` when the env's own criterion
  says so (``info["is_success"]`` where the env reports it, else an env return > 0, MiniGrid's
  sparse success reward), else the last sub-task in program order it latched, else ``(none)``.
* **stall** of sub-task ``k``: in each of the last ``stall_windows`` windows, ``k`` was completed in
  at least ``stall_high`` of the episodes and ``k + 1`` in at most ``stall_low`` (defaults: 0.8,
  0.1, 3 windows of 100 episodes). Progress stops between two sub-tasks: the reward for ``k + 1``
  is not reached by exploration, or its checker never fires.
* **flooding**: the shaping pays without the task getting done, seen in one of two ways.

  - *The program says done, the env disagrees* (a level, fast): in each of the last
    ``flood_level_windows`` windows (default 1) the program was complete (every sub-task
    latched) in at least ``flood_saturated`` of the episodes (0.5) and the env's own success rate
    was at least ``flood_gap`` (0.25) below that. The program's last sub-task is the task, so for
    a correct program the two rates agree (DoorKey-8x8 with the refined program: equal in every
    window); a gap of a quarter of the episodes is a checker firing where the task is not done.
    One that fires on every frame after reset reaches it in the first window; one the agent can
    trick reaches it once the agent has learned the trick (UnlockPickup: toggling the box
    destroys it, and a frame-only ``box_picked`` checker cannot tell that from a pick-up; see
    :mod:`rl.labels`). It needs one window, not a trend, because a flooded run's episodes run to
    the time limit and few windows close (DoorKey-8x8: about 150 episodes in 100k steps).
  - *The bonus rises, success stays flat* (a trend, slow): over the last ``flood_windows + 1``
    windows (default 8) the env's own success stayed flat (its least-squares rise over the span
    at most ``flood_max_success_rise``, its mean at most ``flood_max_success``) while the code
    bonus per episode (shaped return minus env return) rose by at least ``flood_min_rise`` x the
    program's bonus: for example a per-frame payer the agent learns to farm. The span is long
    because in a healthy run the sub-task rates rise first and success follows some windows
    later (measured on UnlockPickup with the refined program: the bonus rose by 3 over 400
    episodes while success went from 1 % to 4 %, and to 15 % over 800).

An alarm is raised when its condition becomes true and cleared (``cleared_step``) when it stops
holding; it can be raised again later. Each raise is logged (``diagnosis/*`` keys) and warned
(:class:`RewardDiagnosisWarning`, one line).

Example:
    >>> diag = RewardDiagnosis(("key", "door"), DiagnosisConfig(window_episodes=10))
    >>> for e in range(30):
    ...     alarms = diag.add(EpisodeRecord(step=100 * e, latched=(True, e % 20 == 0),
    ...                                     shaped_return=1.0, env_return=0.0, success=False))
    >>> [(a.kind, a.subtask, a.next, a.step) for a in diag.alarms]
    [('stall', 'key', 'door', 2900)]
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from rl.errors import RewardDiagnosisWarning

if TYPE_CHECKING:
    from rl.callbacks import RewardDiagnosisCallback

__all__ = [
    "NO_STAGE",
    "REPORT_FILES",
    "SUCCESS_STAGE",
    "Alarm",
    "DiagnosisConfig",
    "EpisodeRecord",
    "RewardDiagnosis",
    "RewardDiagnosisCallback",
    "RewardDiagnosisWarning",
    "WindowStats",
    "end_stage",
    "flood_span",
    "flooding_condition",
    "stall_condition",
    "window_stats",
    "write_report",
]

#: the stage of an episode that latched nothing and did not succeed
NO_STAGE = "(none)"
#: the stage of an episode that succeeded by the env's own criterion
SUCCESS_STAGE = "success"
#: what :func:`write_report` writes, by kind
REPORT_FILES: Mapping[str, str] = MappingProxyType(
    {"md": "reward_report.md", "json": "reward_report.json", "png": "reward_report.png"}
)
REPORT_SCHEMA = 1

AlarmKind = Literal["stall", "flooding"]


@dataclass(frozen=True)
class DiagnosisConfig:
    """Windows and thresholds of the diagnosis.

    Attributes:
        window_episodes: finished episodes per window (100, SB3's ``stats_window_size``). Rates
            are logged over the last this many episodes; alarms are evaluated per full window.
        stall_high: sub-task ``k`` counts as done "in most episodes" at this completion rate (0.8).
        stall_low: sub-task ``k + 1`` counts as "rare" at or below this rate (0.1).
        stall_windows: consecutive windows both must hold before a stall is raised (3, i.e. 300
            episodes with the default window).
        flood_level_windows: the "program says done, env disagrees" rule must hold in each of this
            many consecutive windows (1).
        flood_saturated: ... the program complete (every sub-task latched) in at least this
            fraction of a window's episodes (0.5) ...
        flood_gap: ... and the env's own success rate at least this far below it (0.25).
        flood_windows: the rising-bonus span is this many windows back from the current one (7:
            the rise is fitted over 8 windows, 800 episodes).
        flood_min_rise: the least-squares rise of the code bonus per episode over the span that
            counts as "rising", in units of the program's bonus (1.0: one more sub-task's bonus
            per episode).
        flood_max_success_rise: the env's success counts as "flat" when its fitted rise over the
            span is at most this (0.05) ...
        flood_max_success: ... and its mean over the span at most this (0.5; a task the env says is
            mostly solved is not flooded).
    """

    window_episodes: int = 100
    stall_high: float = 0.8
    stall_low: float = 0.1
    stall_windows: int = 3
    flood_level_windows: int = 1
    flood_saturated: float = 0.5
    flood_gap: float = 0.25
    flood_windows: int = 7
    flood_min_rise: float = 1.0
    flood_max_success_rise: float = 0.05
    flood_max_success: float = 0.5

    def __post_init__(self) -> None:
        for name in ("window_episodes", "stall_windows", "flood_windows", "flood_level_windows"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"DiagnosisConfig.{name}={value!r}: must be an int >= 1")
        for name in (
            "stall_high",
            "stall_low",
            "flood_saturated",
            "flood_gap",
            "flood_max_success",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ValueError(f"DiagnosisConfig.{name}={value!r}: must be a rate in [0, 1]")
        for name in ("flood_min_rise", "flood_max_success_rise"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"DiagnosisConfig.{name}={value!r}: must be a number >= 0")
        if self.stall_low >= self.stall_high:
            raise ValueError(
                f"DiagnosisConfig: stall_low={self.stall_low} must be below "
                f"stall_high={self.stall_high}"
            )


@dataclass(frozen=True)
class EpisodeRecord:
    """One finished training episode.

    Attributes:
        step: training env steps (all envs) when it ended (SB3's ``num_timesteps``).
        latched: per sub-task, in program order, whether it was latched at the end.
        shaped_return: env return + code bonus.
        env_return: the env's own return (Monitor's ``info["episode"]["r"]``).
        success: the env's own success criterion.
        length: env steps of the episode (0: unknown).
        latch_steps: per sub-task, the step within the episode (1-based) at which it latched, or
            None; empty when not tracked.
    """

    step: int
    latched: tuple[bool, ...]
    shaped_return: float
    env_return: float
    success: bool
    length: int = 0
    latch_steps: tuple[int | None, ...] = ()

    @property
    def bonus_return(self) -> float:
        """The code bonus of the episode: shaped return minus env return."""
        return self.shaped_return - self.env_return


def end_stage(record: EpisodeRecord, names: Sequence[str]) -> str:
    """Where ``record`` ended: ``success``, else its last latched sub-task, else ``(none)``.

    Example:
        >>> r = EpisodeRecord(step=1, latched=(True, False), shaped_return=1, env_return=0,
        ...                   success=False)
        >>> end_stage(r, ("key", "door"))
        'key'
    """
    if record.success:
        return SUCCESS_STAGE
    last = NO_STAGE
    for name, done in zip(names, record.latched, strict=True):
        if done:
            last = name
    return last


@dataclass(frozen=True)
class WindowStats:
    """Statistics of one window of consecutive episodes.

    Attributes:
        index: the window's number, from 0.
        first_episode: the index of its first episode in the run, from 0.
        episodes: episodes in the window (``window_episodes`` unless ``partial``).
        start_step, end_step: training steps at which its first and last episodes ended.
        rates: sub-task name -> completion rate.
        program_rate: fraction of episodes that latched every sub-task.
        success_rate: fraction that succeeded by the env's own criterion.
        shaped_return, env_return, bonus_return: means per episode.
        mean_latch_step: sub-task -> mean step within the episode at which it latched (None when
            no episode latched it or steps were not tracked).
        ends: stage -> episodes that ended there (:func:`end_stage`).
        partial: the run ended before the window was full (never used for alarms).
    """

    index: int
    first_episode: int
    episodes: int
    start_step: int
    end_step: int
    rates: dict[str, float]
    program_rate: float
    success_rate: float
    shaped_return: float
    env_return: float
    bonus_return: float
    mean_latch_step: dict[str, float | None] = field(default_factory=dict)
    ends: dict[str, int] = field(default_factory=dict)
    partial: bool = False


def _check_record(record: EpisodeRecord, k: int) -> None:
    if len(record.latched) != k:
        raise ValueError(
            f"EpisodeRecord at step {record.step} has {len(record.latched)} latch flags for "
            f"{k} sub-tasks; give one per sub-task, in the program's order"
        )
    if record.latch_steps and len(record.latch_steps) != k:
        raise ValueError(
            f"EpisodeRecord at step {record.step} has {len(record.latch_steps)} latch steps for "
            f"{k} sub-tasks"
        )


def window_stats(
    records: Sequence[EpisodeRecord],
    names: Sequence[str],
    *,
    index: int = 0,
    first_episode: int = 0,
    partial: bool = False,
) -> WindowStats:
    """Summarise ``records`` (one window, at least one episode) as a :class:`WindowStats`.

    Raises:
        ValueError: no records, or a record whose flags do not match ``names``.
    """
    if not records:
        raise ValueError("window_stats needs at least one episode record")
    k = len(names)
    for r in records:
        _check_record(r, k)
    latched = np.array([r.latched for r in records], dtype=np.bool_).reshape(len(records), k)
    rates = latched.mean(axis=0) if k else np.zeros(0)
    mean_steps: dict[str, float | None] = {}
    for j, name in enumerate(names):
        steps = [r.latch_steps[j] for r in records if r.latch_steps]
        known = [s for s in steps if s is not None]
        mean_steps[name] = float(np.mean(known)) if known else None
    ends = Counter(end_stage(r, names) for r in records)
    order = [NO_STAGE, *names, SUCCESS_STAGE]
    return WindowStats(
        index=index,
        first_episode=first_episode,
        episodes=len(records),
        start_step=int(records[0].step),
        end_step=int(records[-1].step),
        rates={name: float(rates[j]) for j, name in enumerate(names)},
        program_rate=float(latched.all(axis=1).mean()),
        success_rate=float(np.mean([r.success for r in records])),
        shaped_return=float(np.mean([r.shaped_return for r in records])),
        env_return=float(np.mean([r.env_return for r in records])),
        bonus_return=float(np.mean([r.bonus_return for r in records])),
        mean_latch_step=mean_steps,
        ends={stage: ends[stage] for stage in order if ends[stage]},
        partial=partial,
    )


def stall_condition(
    window: WindowStats, names: Sequence[str], k: int, config: DiagnosisConfig
) -> bool:
    """Whether sub-task ``k`` is done in most of ``window``'s episodes and ``k + 1`` is rare."""
    return (
        window.rates[names[k]] >= config.stall_high
        and window.rates[names[k + 1]] <= config.stall_low
    )


def _rise(values: Sequence[float]) -> float:
    """The least-squares slope of ``values`` against 0, 1, ... times the span (last index)."""
    y = np.asarray(values, dtype=np.float64)
    if len(y) < 2:
        return 0.0
    x = np.arange(len(y), dtype=np.float64)
    slope = float(np.polyfit(x, y, 1)[0])
    return slope * (len(y) - 1)


def flood_span(config: DiagnosisConfig) -> int:
    """How many of the last full windows :func:`flooding_condition` looks at."""
    return max(config.flood_windows + 1, config.flood_level_windows)


def _undone(window: WindowStats, config: DiagnosisConfig) -> bool:
    """The program complete in most of ``window``'s episodes while the env says the task is not."""
    return (
        window.program_rate >= config.flood_saturated
        and window.program_rate - window.success_rate >= config.flood_gap
    )


def flooding_condition(
    span: Sequence[WindowStats], config: DiagnosisConfig, *, bonus: float = 1.0
) -> dict[str, float] | None:
    """The values behind a flooding alarm over ``span`` (oldest window first), or None.

    Args:
        span: consecutive full windows, the current one last (:func:`flood_span` of them; with
            fewer, only the rules that fit are evaluated).
        config: the thresholds.
        bonus: the program's bonus per sub-task (the unit of ``flood_min_rise``).

    Returns:
        ``{"saturated", "rising", "program_rate", "success_rate", "bonus_rise", "success_rise",
        "success_mean", "env_return_rise"}`` (flags as 0.0/1.0, rates of the current window,
        rises and means over the rising span or the windows there are) when either rule of the
        module docstring holds, else None.
    """
    if not span:
        return None
    level = span[-config.flood_level_windows :]
    saturated = len(level) == config.flood_level_windows and all(_undone(w, config) for w in level)
    trend = span[-(config.flood_windows + 1) :]
    success = [w.success_rate for w in trend]
    success_rise = _rise(success)
    success_mean = float(np.mean(success))
    bonus_rise = _rise([w.bonus_return for w in trend])
    rising = (
        len(trend) == config.flood_windows + 1
        and success_rise <= config.flood_max_success_rise
        and success_mean <= config.flood_max_success
        and bonus_rise > 0
        and bonus_rise >= config.flood_min_rise * abs(bonus)
    )
    if not (saturated or rising):
        return None
    return {
        "saturated": float(saturated),
        "rising": float(rising),
        "program_rate": span[-1].program_rate,
        "success_rate": span[-1].success_rate,
        "bonus_rise": bonus_rise,
        "success_rise": success_rise,
        "success_mean": success_mean,
        "env_return_rise": _rise([w.env_return for w in trend]),
    }


@dataclass(frozen=True)
class Alarm:
    """A raised alarm.

    Attributes:
        kind: ``stall`` or ``flooding``.
        step: training step at which it was raised (the end of the window that completed it).
        episode: finished episodes at that point.
        window: the index of that window.
        since_step: training step at which the span the condition held over began.
        subtask: the stalled sub-task ``k`` (stall), or None.
        next: sub-task ``k + 1`` that stays rare (stall), or None.
        values: the numbers behind it (rates, rises).
        message: one line, for warnings and the report.
        cleared_step: training step of the first window where the condition no longer held, or
            None while it still holds.
    """

    kind: AlarmKind
    step: int
    episode: int
    window: int
    since_step: int
    subtask: str | None
    next: str | None
    values: dict[str, float]
    message: str
    cleared_step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dataclasses.asdict(self)


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


class RewardDiagnosis:
    """Accumulate finished episodes into windows; raise and clear stall and flooding alarms.

    Pure bookkeeping: feed it :class:`EpisodeRecord` s in the order the episodes ended (as
    :class:`RewardDiagnosisCallback` does during training, or synthetic ones in tests).

    Args:
        names: sub-task names in the program's order.
        config: windows and thresholds.
        bonus: the program's bonus per sub-task (the unit of ``flood_min_rise``).

    Attributes:
        windows: the full windows so far, in order.
        alarms: every alarm raised, in order (cleared ones keep their ``cleared_step``).
        episodes: finished episodes so far.
        first_completed_at: sub-task -> training step of the first episode that latched it.
        ends: stage -> episodes over the whole run (:func:`end_stage`).
    """

    def __init__(
        self, names: Sequence[str], config: DiagnosisConfig | None = None, *, bonus: float = 1.0
    ) -> None:
        if not names:
            raise ValueError("RewardDiagnosis needs at least one sub-task name")
        if len(set(names)) != len(names):
            raise ValueError(f"sub-task names must be unique, got {list(names)}")
        if not math.isfinite(bonus):
            raise ValueError(f"bonus={bonus!r}: must be a finite number")
        self.names: tuple[str, ...] = tuple(names)
        self.config = config if config is not None else DiagnosisConfig()
        self.bonus = float(bonus)
        self.windows: list[WindowStats] = []
        self.alarms: list[Alarm] = []
        self.episodes = 0
        self.last_step = 0
        self.first_completed_at: dict[str, int | None] = {n: None for n in self.names}
        self.ends: Counter[str] = Counter()
        self._current: list[EpisodeRecord] = []
        self._recent: deque[EpisodeRecord] = deque(maxlen=self.config.window_episodes)
        self._open: dict[tuple[str, str | None], int] = {}  # alarm key -> index in alarms

    # -- feeding -----------------------------------------------------------------------------------

    def add(self, record: EpisodeRecord) -> list[Alarm]:
        """Count one finished episode; return the alarms raised by it (when it closed a window).

        Raises:
            ValueError: the record's flags do not match the sub-tasks.
        """
        _check_record(record, len(self.names))
        self.episodes += 1
        self.last_step = max(self.last_step, int(record.step))
        for name, done in zip(self.names, record.latched, strict=True):
            if done and self.first_completed_at[name] is None:
                self.first_completed_at[name] = int(record.step)
        self.ends[end_stage(record, self.names)] += 1
        self._recent.append(record)
        self._current.append(record)
        if len(self._current) < self.config.window_episodes:
            return []
        window = window_stats(
            self._current,
            self.names,
            index=len(self.windows),
            first_episode=self.episodes - len(self._current),
        )
        self._current = []
        self.windows.append(window)
        return self._evaluate()

    # -- alarms ------------------------------------------------------------------------------------

    def _raise(self, key: tuple[str, str | None], alarm: Alarm) -> Alarm:
        self._open[key] = len(self.alarms)
        self.alarms.append(alarm)
        return alarm

    def _clear(self, key: tuple[str, str | None], step: int) -> None:
        i = self._open.pop(key, None)
        if i is not None:
            self.alarms[i] = dataclasses.replace(self.alarms[i], cleared_step=step)

    def _evaluate(self) -> list[Alarm]:
        """Raise or clear alarms after a window closed; return the ones raised."""
        raised = [a for k in range(len(self.names) - 1) if (a := self._check_stall(k))]
        flood = self._check_flooding()
        return [*raised, flood] if flood is not None else raised

    def _check_stall(self, k: int) -> Alarm | None:
        cfg, names, windows = self.config, self.names, self.windows
        w, key = windows[-1], ("stall", names[k])
        if not stall_condition(w, names, k, cfg):
            self._clear(key, w.end_step)
            return None
        span = windows[-cfg.stall_windows :]
        held = len(span) == cfg.stall_windows and all(
            stall_condition(x, names, k, cfg) for x in span
        )
        if not held or key in self._open:
            return None
        done, rare = names[k], names[k + 1]
        message = (
            f"reward stall at step {w.end_step:,}: sub-task {done!r} completed in "
            f"{_pct(w.rates[done])} of episodes but {rare!r} in only {_pct(w.rates[rare])}, for "
            f"{cfg.stall_windows} windows of {cfg.window_episodes} episodes (since step "
            f"{span[0].start_step:,}); the reward for {rare!r} is not being reached: consider an "
            f"intermediate sub-task between them or check that the checker of {rare!r} can fire"
        )
        alarm = Alarm(
            kind="stall",
            step=w.end_step,
            episode=self.episodes,
            window=w.index,
            since_step=span[0].start_step,
            subtask=done,
            next=rare,
            values={
                f"{done}_rate": w.rates[done],
                f"{rare}_rate": w.rates[rare],
                "success_rate": w.success_rate,
            },
            message=message,
        )
        return self._raise(key, alarm)

    def _check_flooding(self) -> Alarm | None:
        cfg, windows = self.config, self.windows
        w, key = windows[-1], ("flooding", None)
        span = windows[-flood_span(cfg) :]
        flood = flooding_condition(span, cfg, bonus=self.bonus)
        if flood is None:
            self._clear(key, w.end_step)
            return None
        if key in self._open:
            return None
        if flood["saturated"]:
            span = span[-cfg.flood_level_windows :]
            n = len(span)
            message = (
                f"reward flooding at step {w.end_step:,}: the program says the task is done "
                f"(every sub-task latched) in {_pct(flood['program_rate'])} of episodes but the "
                f"env's own success is {_pct(flood['success_rate'])}, over the last {n} "
                f"window{'s' if n > 1 else ''} of {cfg.window_episodes} episodes (since step "
                f"{span[0].start_step:,}); a checker fires where the task is not done: check the "
                "checkers on frames of episodes that failed (or the env reports no success: "
                "give it info['is_success'])"
            )
        else:
            span = span[-(cfg.flood_windows + 1) :]
            message = (
                f"reward flooding at step {w.end_step:,}: the code bonus per episode rose by "
                f"{flood['bonus_rise']:.2f} over the last {len(span)} windows of "
                f"{cfg.window_episodes} episodes (since step {span[0].start_step:,}) while the "
                f"env's own success stayed flat at {_pct(flood['success_mean'])}; the shaping "
                "pays without the task getting done: check the checkers on frames where it is "
                "not done"
            )
        alarm = Alarm(
            kind="flooding",
            step=w.end_step,
            episode=self.episodes,
            window=w.index,
            since_step=span[0].start_step,
            subtask=None,
            next=None,
            values=flood,
            message=message,
        )
        return self._raise(key, alarm)

    # -- views -------------------------------------------------------------------------------------

    @property
    def active(self) -> list[Alarm]:
        """The alarms whose condition still held at the last full window."""
        return [self.alarms[i] for i in sorted(self._open.values())]

    def recent(self) -> WindowStats | None:
        """Statistics of the last ``window_episodes`` episodes (rolling), or None before any."""
        if not self._recent:
            return None
        return window_stats(
            list(self._recent),
            self.names,
            index=-1,
            first_episode=self.episodes - len(self._recent),
            partial=len(self._recent) < self.config.window_episodes,
        )

    def all_windows(self) -> list[WindowStats]:
        """The full windows plus the partial one in progress (if it has episodes)."""
        out = list(self.windows)
        if self._current:
            out.append(
                window_stats(
                    self._current,
                    self.names,
                    index=len(self.windows),
                    first_episode=self.episodes - len(self._current),
                    partial=True,
                )
            )
        return out

    def summary(self) -> dict[str, Any]:
        """The alarm summary (for ``result.json``): counts, flags and each alarm's key facts."""
        return {
            "episodes": self.episodes,
            "windows": len(self.windows),
            "stall": any(a.kind == "stall" for a in self.alarms),
            "flooding": any(a.kind == "flooding" for a in self.alarms),
            "active": [f"{a.kind}:{a.subtask}" if a.subtask else a.kind for a in self.active],
            "alarms": [
                {
                    "kind": a.kind,
                    "subtask": a.subtask,
                    "next": a.next,
                    "step": a.step,
                    "cleared_step": a.cleared_step,
                    "message": a.message,
                }
                for a in self.alarms
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (the content of ``reward_report.json``)."""
        recent = self.recent()
        return {
            "schema": REPORT_SCHEMA,
            "names": list(self.names),
            "config": dataclasses.asdict(self.config),
            "bonus": self.bonus,
            "episodes": self.episodes,
            "steps": self.last_step,
            "first_completed_at": dict(self.first_completed_at),
            "ends": {s: self.ends[s] for s in [NO_STAGE, *self.names, SUCCESS_STAGE]},
            "recent": dataclasses.asdict(recent) if recent is not None else None,
            "windows": [dataclasses.asdict(w) for w in self.all_windows()],
            "alarms": [a.to_dict() for a in self.alarms],
            "summary": self.summary(),
        }


# ------------------------------------------------------------------------------------------------
# The report
# ------------------------------------------------------------------------------------------------


def _finite_json(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_json(v) for v in obj]
    return obj


def _sampled(windows: list[WindowStats], limit: int) -> list[WindowStats]:
    """At most ``limit`` windows, evenly spaced, always keeping the first and the last."""
    if len(windows) <= limit:
        return windows
    idx = sorted({round(i * (len(windows) - 1) / (limit - 1)) for i in range(limit)})
    return [windows[i] for i in idx]


def _markdown(diag: RewardDiagnosis, title: str, png: str | None, png_note: str) -> str:
    cfg = diag.config
    names = diag.names
    lines = [f"# Reward report: {title}", ""]
    lines.append(
        f"{diag.episodes:,} training episodes over {diag.last_step:,} env steps; sub-tasks in "
        f"order: {', '.join(f'`{n}`' for n in names)}; windows of {cfg.window_episodes} "
        f"episodes ({len(diag.windows)} full)."
    )
    lines += ["", "## Alarms", ""]
    if diag.alarms:
        for a in diag.alarms:
            state = (
                f" Cleared at step {a.cleared_step:,}."
                if a.cleared_step is not None
                else " Still active at the end."
            )
            lines.append(f"- **{a.kind}**: {a.message}.{state}")
    else:
        lines.append(
            f"None. Stall: a sub-task done in >= {_pct(cfg.stall_high)} of episodes while the next "
            f"stays <= {_pct(cfg.stall_low)} for {cfg.stall_windows} windows. Flooding: every "
            f"sub-task latched in >= {_pct(cfg.flood_saturated)} of episodes with the env's "
            f"success >= {_pct(cfg.flood_gap)} below that, for {cfg.flood_level_windows} "
            f"window(s); or the code bonus rising by >= {cfg.flood_min_rise:g} x bonus over "
            f"{cfg.flood_windows + 1} windows while success rises by <= "
            f"{cfg.flood_max_success_rise:g} and stays <= {_pct(cfg.flood_max_success)}."
        )
    if diag.episodes < cfg.window_episodes:
        lines.append("")
        lines.append(
            f"Fewer episodes ({diag.episodes}) than one window ({cfg.window_episodes}): no alarm "
            "could be evaluated; the rates below are over the episodes there were."
        )
    lines += ["", "## Completion rate per window", ""]
    head = ["window", "steps", "episodes", *names, "success", "shaped", "env", "bonus"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join("---" for _ in head) + "|")
    windows = diag.all_windows()
    for w in _sampled(windows, 30):
        cells = [
            f"{w.index}{' (partial)' if w.partial else ''}",
            f"{w.start_step:,}-{w.end_step:,}",
            str(w.episodes),
            *(f"{w.rates[n]:.2f}" for n in names),
            f"{w.success_rate:.2f}",
            f"{w.shaped_return:.3f}",
            f"{w.env_return:.3f}",
            f"{w.bonus_return:.3f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if len(windows) > 30:
        lines.append(f"\n({len(windows)} windows; 30 shown, evenly spaced; all in the JSON.)")
    lines += ["", "## Where episodes end", ""]
    lines.append(
        "The last stage reached: `success` (the env's own), else the last latched sub-task."
    )
    lines += [
        "",
        "| stage | episodes (all) | share (all) | share (last window) |",
        "|---|---|---|---|",
    ]
    recent = diag.recent()
    for stage in [NO_STAGE, *names, SUCCESS_STAGE]:
        count = diag.ends[stage]
        share = count / diag.episodes if diag.episodes else 0.0
        last = recent.ends.get(stage, 0) / recent.episodes if recent else 0.0
        lines.append(f"| {stage} | {count:,} | {_pct(share)} | {_pct(last)} |")
    lines += ["", "## First completion", ""]
    lines += ["| sub-task | first completed at step | mean step in episode (last window) |"]
    lines += ["|---|---|---|"]
    for n in names:
        first = diag.first_completed_at[n]
        mean = recent.mean_latch_step.get(n) if recent else None
        lines.append(
            f"| {n} | {f'{first:,}' if first is not None else 'never'} | "
            f"{f'{mean:.1f}' if mean is not None else '-'} |"
        )
    lines += ["", "## Plot", ""]
    lines.append(f"![completion rates and episode ends]({png})" if png else png_note)
    return "\n".join(lines) + "\n"


def _plot(diag: RewardDiagnosis, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    windows = diag.all_windows()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    try:
        x = [w.end_step for w in windows]
        for n in diag.names:
            left.plot(x, [w.rates[n] for w in windows], marker="o", ms=3, label=n)
        left.plot(x, [w.success_rate for w in windows], "k--", marker="s", ms=3, label="success")
        for a in diag.alarms:
            colour = "tab:red" if a.kind == "stall" else "tab:orange"
            left.axvline(a.step, color=colour, lw=1, alpha=0.7)
            end = a.cleared_step if a.cleared_step is not None else diag.last_step
            left.axvspan(a.since_step, end, color=colour, alpha=0.08)
            left.annotate(
                a.kind if a.subtask is None else f"{a.kind}: {a.subtask}",
                (a.step, 1.02),
                color=colour,
                fontsize=7,
                rotation=90,
                va="bottom",
            )
        left.set_ylim(-0.02, 1.12)
        left.set_xlabel("training env steps (end of window)")
        left.set_ylabel(f"completion rate per window of {diag.config.window_episodes} episodes")
        left.legend(fontsize=8, loc="center left")
        left.grid(alpha=0.3)
        stages = [NO_STAGE, *diag.names, SUCCESS_STAGE]
        counts = [diag.ends[s] for s in stages]
        right.bar(range(len(stages)), counts, color="tab:blue")
        right.set_xticks(range(len(stages)), stages, rotation=30, ha="right", fontsize=8)
        right.set_ylabel("episodes")
        right.set_title("where episodes end (last stage reached)", fontsize=9)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


def write_report(
    diag: RewardDiagnosis, directory: str | Path, *, title: str = "training"
) -> dict[str, Path]:
    """Write ``reward_report.md``, ``.json`` and ``.png`` into ``directory``; return their paths.

    The PNG needs matplotlib (Agg backend); without it the Markdown says so and the other two
    files are still written.

    Args:
        diag: the diagnosis to report.
        directory: where to write (created if missing).
        title: what the run was, for the headings.

    Returns:
        kind (``md``, ``json``, ``png``) -> the path written.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    png: str | None = None
    note = ""
    try:
        _plot(diag, out / REPORT_FILES["png"], title)
    except ImportError:
        note = "No plot: matplotlib is not installed (`pip install matplotlib`)."
    else:
        png = REPORT_FILES["png"]
        written["png"] = out / png
    data = diag.to_dict()
    data["title"] = title
    path = out / REPORT_FILES["json"]
    path.write_text(json.dumps(_finite_json(data), indent=2) + "\n", encoding="utf-8")
    written["json"] = path
    path = out / REPORT_FILES["md"]
    path.write_text(_markdown(diag, title, png, note), encoding="utf-8")
    written["md"] = path
    return {k: written[k] for k in ("md", "json", "png") if k in written}


def __getattr__(name: str) -> Any:
    if name == "RewardDiagnosisCallback":  # needs SB3 (and torch): loaded on first use
        from rl.callbacks import RewardDiagnosisCallback

        return RewardDiagnosisCallback
    raise AttributeError(f"module 'rl.diagnosis' has no attribute {name!r}")
