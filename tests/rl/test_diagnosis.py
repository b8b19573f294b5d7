"""Reward diagnosis (rl.diagnosis): stall and flooding alarms, the report, and the training wiring.

The alarm logic is fed synthetic episode records (seeded, nested completion: an episode that
latched sub-task k+1 also latched k, as under the ``ordered`` scheme). The callback then runs inside
real PPO training on a scripted env with real sandbox workers, and ``vlmcar train`` runs once on
MiniGrid end to end (``--scheme``/``--bonus`` included).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from matplotlib.image import imread
from stable_baselines3 import PPO
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from rl.callbacks import CodeRewardCallback, RewardDiagnosisCallback
from rl.cli_train import main as cli_main
from rl.diagnosis import (
    NO_STAGE,
    REPORT_FILES,
    SUCCESS_STAGE,
    DiagnosisConfig,
    EpisodeRecord,
    RewardDiagnosis,
    RewardDiagnosisWarning,
    end_stage,
    flood_span,
    flooding_condition,
    window_stats,
    write_report,
)
from rl.program import load_program
from rl.vec_env import CodeRewardVecEnv
from sandbox.pool import Sandbox
from tests.rl.test_vec_env import A, B, FrameEnv, make_program

NAMES = ("key", "door", "box")
W = 100  # the default window

Rates = Callable[[int], Sequence[float]]  # window index -> completion rate per sub-task
Level = Callable[[int], float]  # window index -> a rate or a return


def synthetic(
    windows: int,
    rates: Rates,
    success: Level = lambda w: 0.0,
    *,
    bonus_return: Level | None = None,
    seed: int = 0,
    steps_per_episode: int = 50,
) -> list[EpisodeRecord]:
    """``windows`` x 100 episodes; sub-task k latched with probability ``rates(w)[k]`` (nested).

    The code bonus of an episode is the number of latched sub-tasks (bonus 1, one-time schemes)
    unless ``bonus_return`` gives the window's mean bonus per episode (a per-frame payer).
    """
    rng = np.random.default_rng(seed)
    out: list[EpisodeRecord] = []
    for w in range(windows):
        r = rates(w)
        for _ in range(W):
            u = rng.random()
            latched = tuple(bool(u < p) for p in r)
            won = bool(u < success(w))
            env = 0.9 if won else 0.0
            extra = float(sum(latched)) if bonus_return is None else bonus_return(w)
            out.append(
                EpisodeRecord(
                    step=steps_per_episode * (len(out) + 1),
                    latched=latched,
                    shaped_return=env + extra,
                    env_return=env,
                    success=won,
                    length=steps_per_episode,
                    latch_steps=tuple(1 + k if x else None for k, x in enumerate(latched)),
                )
            )
    return out


def feed(records: Sequence[EpisodeRecord], **config: Any) -> RewardDiagnosis:
    diag = RewardDiagnosis(NAMES, DiagnosisConfig(**config))
    for r in records:
        diag.add(r)
    return diag


# ------------------------------------------------------------------------------------------------
# Stall
# ------------------------------------------------------------------------------------------------


def stalled(windows: int = 5) -> list[EpisodeRecord]:
    """The UnlockPickup shape: key in 95 % of episodes, door in 2 %, box and success never."""
    return synthetic(windows, lambda w: (0.95, 0.02, 0.0))


def test_stall_fires_after_the_stated_window():
    records = stalled(5)
    diag = RewardDiagnosis(NAMES)
    raised_at: list[int] = []
    for i, r in enumerate(records):
        if diag.add(r):
            raised_at.append(i + 1)
    assert raised_at == [3 * W]  # the third full window of 100 episodes, not before, once
    (alarm,) = diag.alarms
    assert (alarm.kind, alarm.subtask, alarm.next) == ("stall", "key", "door")
    assert alarm.step == records[3 * W - 1].step and alarm.episode == 3 * W and alarm.window == 2
    assert alarm.since_step == records[0].step
    assert alarm.values["key_rate"] >= 0.8 and alarm.values["door_rate"] <= 0.1
    assert alarm.cleared_step is None and diag.active == [alarm]
    assert "'key'" in alarm.message and "'door'" in alarm.message and "\n" not in alarm.message
    summary = diag.summary()
    assert summary["stall"] is True and summary["flooding"] is False
    assert summary["active"] == ["stall:key"]


def test_stall_quiet_on_a_healthy_progression():
    def rates(w: int) -> tuple[float, float, float]:
        key = min(1.0, 0.3 + 0.1 * w)
        door = max(0.0, key - 0.2)
        return key, door, max(0.0, door - 0.2)

    records = synthetic(12, rates, success=lambda w: rates(w)[2])
    diag = feed(records)
    assert len(diag.windows) == 12
    assert diag.alarms == []
    assert diag.windows[-1].rates["key"] == 1.0 and diag.windows[-1].success_rate > 0.5


def test_stall_clears_when_the_next_sub_task_comes():
    records = stalled(4) + synthetic(3, lambda w: (0.97, 0.6, 0.1), seed=1)
    records = [dataclasses.replace(r, step=50 * (i + 1)) for i, r in enumerate(records)]
    diag = feed(records)
    (alarm,) = diag.alarms
    assert alarm.kind == "stall" and alarm.step == records[3 * W - 1].step
    assert alarm.cleared_step == records[5 * W - 1].step  # the first window where door was 60 %
    assert diag.active == []


def test_stall_needs_consecutive_windows():
    # stalled, healthy, stalled, healthy ...: never three stalled windows in a row
    records = synthetic(8, lambda w: (0.95, 0.02 if w % 2 == 0 else 0.5, 0.0))
    assert feed(records).alarms == []
    assert [a.kind for a in feed(records, stall_windows=1).alarms] == ["stall"] * 4


# ------------------------------------------------------------------------------------------------
# Flooding
# ------------------------------------------------------------------------------------------------


def test_flooding_fires_on_a_checker_that_fires_every_frame_after_reset():
    """Every sub-task latches on the first step of every episode; the env's success stays 0."""
    records = synthetic(6, lambda w: (1.0, 1.0, 1.0))
    diag = feed(records)
    (alarm,) = diag.alarms  # no stall: nothing is rare; raised once, not once per window
    assert alarm.kind == "flooding" and alarm.subtask is None
    assert alarm.window == 0 and alarm.step == records[W - 1].step  # the first full window
    assert alarm.since_step == records[0].step
    assert alarm.values["saturated"] == 1.0 and alarm.values["rising"] == 0.0
    assert alarm.values["program_rate"] == 1.0 and alarm.values["success_rate"] == 0.0
    assert "the program says the task is done" in alarm.message
    assert "in 100 % of episodes but the env's own success is 0 %" in alarm.message
    assert "over the last 1 window of 100" in alarm.message and "\n" not in alarm.message
    assert diag.summary()["flooding"] is True and diag.active == [alarm]
    assert diag.windows[0].mean_latch_step == {"key": 1.0, "door": 2.0, "box": 3.0}


def test_flooding_level_rule_holds_for_the_stated_windows():
    records = synthetic(6, lambda w: (1.0, 1.0, 1.0))
    (alarm,) = feed(records, flood_level_windows=3).alarms
    assert alarm.window == 2 and alarm.since_step == records[0].step
    assert "over the last 3 windows" in alarm.message


def test_flooding_level_rule_needs_the_env_to_disagree():
    # a program complete in 90 % of episodes with the env's success 80 %: a gap of 0.1, quiet;
    # the same program with success 50 %: a gap of 0.4, flooding
    assert feed(synthetic(4, lambda w: (0.9, 0.9, 0.9), success=lambda w: 0.8)).alarms == []
    flooded = feed(synthetic(4, lambda w: (0.9, 0.9, 0.9), success=lambda w: 0.5, seed=1))
    assert [(a.kind, a.window) for a in flooded.alarms] == [("flooding", 0)]
    # a program complete in under half of the episodes is not "done" by the level rule
    assert feed(synthetic(4, lambda w: (1.0, 1.0, 0.4))).alarms == []


def test_flooding_clears_when_the_env_catches_up():
    records = synthetic(2, lambda w: (1.0, 1.0, 1.0)) + synthetic(
        2, lambda w: (1.0, 1.0, 1.0), success=lambda w: 0.9, seed=1
    )
    records = [dataclasses.replace(r, step=50 * (i + 1)) for i, r in enumerate(records)]
    (alarm,) = feed(records).alarms
    assert alarm.window == 0 and alarm.cleared_step == records[3 * W - 1].step


def test_flooding_fires_when_the_shaped_return_rises_and_success_is_flat():
    """A per-frame payer (0.5 per frame after the key) on episodes that grow longer."""
    records = synthetic(10, lambda w: (0.6, 0.3, 0.0), bonus_return=lambda w: 0.5 * (2 + 2 * w))
    diag = feed(records)
    (alarm,) = diag.alarms
    assert alarm.kind == "flooding" and alarm.window == 7  # 7 + 1 windows
    assert alarm.values["saturated"] == 0.0 and alarm.values["rising"] == 1.0
    assert alarm.values["bonus_rise"] == pytest.approx(7.0, abs=1e-9)  # 1.0 per window
    assert abs(alarm.values["success_rise"]) <= 0.05
    assert "the code bonus per episode rose by 7.00 over the last 8 windows" in alarm.message
    # a shorter span is a choice
    (short,) = feed(records, flood_windows=3).alarms
    assert short.window == 3 and short.values["bonus_rise"] == pytest.approx(3.0, abs=1e-9)


def test_flooding_quiet_when_success_rises_with_the_shaped_return():
    records = synthetic(
        10,
        lambda w: (0.6, 0.3, 0.0),
        success=lambda w: min(1.0, 0.1 * w),
        bonus_return=lambda w: 0.5 * (2 + 2 * w),
    )
    assert feed(records).alarms == []


def test_flooding_quiet_on_a_curriculum_whose_success_lags():
    """Measured shape (UnlockPickup, refined program): the bonus per episode rises by about 3 over
    four windows while success goes 1 % -> 4 %, then success follows (15 % four windows later)."""

    def success(w: int) -> float:
        return 0.01 * (w + 1) if w < 4 else 0.04 + 0.03 * (w - 3)

    def rates(w: int) -> tuple[float, float, float]:
        key = min(0.95, 0.4 + 0.1 * w)
        return key, min(key, 0.05 + 0.08 * w), success(w)

    records = synthetic(12, rates, success=success, bonus_return=lambda w: min(6.0, 1.0 + 0.75 * w))
    assert feed(records).alarms == []
    # the old span of four windows called the first four windows flooding
    (early,) = feed(records, flood_windows=3).alarms
    assert early.window == 3 and early.values["rising"] == 1.0


def test_flooding_quiet_when_the_env_says_the_task_is_solved():
    records = synthetic(10, lambda w: (1.0, 1.0, 1.0), success=lambda w: 0.95)
    assert feed(records).alarms == []


def test_flooding_quiet_on_a_constant_partial_bonus():
    records = synthetic(10, lambda w: (0.6, 0.3, 0.2))
    assert feed(records).alarms == []


def test_flooding_condition_evaluates_the_rules_that_fit_the_span():
    config = DiagnosisConfig()
    assert flood_span(config) == 8 and flooding_condition([], config) is None
    level = feed(synthetic(2, lambda w: (1.0, 1.0, 1.0))).windows
    flood = flooding_condition(level[:1], config)
    assert flood is not None and flood["saturated"] == 1.0 and flood["rising"] == 0.0
    rising = feed(
        synthetic(10, lambda w: (0.6, 0.3, 0.0), bonus_return=lambda w: 0.5 * (2 + 2 * w))
    ).windows
    assert flooding_condition(rising[:7], config) is None  # the trend needs 8 windows
    flood = flooding_condition(rising[:8], config)
    assert flood is not None and flood["rising"] == 1.0 and flood["saturated"] == 0.0


# ------------------------------------------------------------------------------------------------
# Windows, stages, validation
# ------------------------------------------------------------------------------------------------


def _rec(step: int, latched: tuple[bool, ...], success: bool = False, **kw: Any) -> EpisodeRecord:
    env = 1.0 if success else 0.0
    return EpisodeRecord(step, latched, env + sum(latched), env, success, **kw)


def test_window_stats_and_end_stages():
    records = [
        _rec(10, (False, False, False), latch_steps=(None, None, None)),
        _rec(20, (True, False, False), latch_steps=(4, None, None)),
        _rec(30, (True, True, False), latch_steps=(2, 9, None)),
        _rec(40, (True, True, True), success=True, latch_steps=(6, 7, 8)),
    ]
    assert [end_stage(r, NAMES) for r in records] == [NO_STAGE, "key", "door", SUCCESS_STAGE]
    w = window_stats(records, NAMES, index=3, first_episode=12)
    assert (w.index, w.first_episode, w.episodes, w.start_step, w.end_step) == (3, 12, 4, 10, 40)
    assert w.rates == {"key": 0.75, "door": 0.5, "box": 0.25}
    assert w.program_rate == 0.25 and w.success_rate == 0.25
    assert w.bonus_return == pytest.approx(1.5) and w.env_return == pytest.approx(0.25)
    assert w.mean_latch_step == {"key": 4.0, "door": 8.0, "box": 8.0}
    assert w.ends == {NO_STAGE: 1, "key": 1, "door": 1, SUCCESS_STAGE: 1}


def test_first_completion_and_ends_over_the_run():
    diag = RewardDiagnosis(NAMES, DiagnosisConfig(window_episodes=2))
    for r in [_rec(5, (False,) * 3), _rec(9, (True, False, False)), _rec(12, (True, True, False))]:
        diag.add(r)
    assert diag.first_completed_at == {"key": 9, "door": 12, "box": None}
    assert diag.ends == {NO_STAGE: 1, "key": 1, "door": 1}
    assert len(diag.windows) == 1 and [w.partial for w in diag.all_windows()] == [False, True]
    recent = diag.recent()
    assert recent is not None and recent.episodes == 2 and recent.rates["door"] == 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window_episodes": 0}, "window_episodes"),
        ({"stall_windows": 1.5}, "stall_windows"),
        ({"stall_high": 1.2}, "stall_high"),
        ({"stall_low": 0.9}, "stall_low"),
        ({"flood_min_rise": -1.0}, "flood_min_rise"),
        ({"flood_max_success_rise": math.nan}, "flood_max_success_rise"),
        ({"flood_gap": 1.5}, "flood_gap"),
        ({"flood_level_windows": 0}, "flood_level_windows"),
    ],
)
def test_config_refuses_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DiagnosisConfig(**kwargs)


def test_diagnosis_refuses_records_that_do_not_match_the_program():
    diag = RewardDiagnosis(NAMES)
    with pytest.raises(ValueError, match="2 latch flags for 3 sub-tasks"):
        diag.add(_rec(1, (True, False)))
    with pytest.raises(ValueError, match="unique"):
        RewardDiagnosis(("a", "a"))


# ------------------------------------------------------------------------------------------------
# The report
# ------------------------------------------------------------------------------------------------


def test_report_files_are_written_and_parse(tmp_path):
    diag = feed(stalled(4))
    paths = write_report(diag, tmp_path / "rep", title="UnlockPickup-like")
    assert set(paths) == {"md", "json", "png"}
    assert {p.name for p in paths.values()} == set(REPORT_FILES.values())
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["names"] == list(NAMES) and data["episodes"] == 4 * W
    assert data["title"] == "UnlockPickup-like"
    assert [(a["kind"], a["subtask"], a["next"]) for a in data["alarms"]] == [
        ("stall", "key", "door")
    ]
    assert data["alarms"][0]["step"] == diag.alarms[0].step
    assert len(data["windows"]) == 4 and sum(data["ends"].values()) == 4 * W
    assert data["config"]["stall_high"] == 0.8 and data["summary"]["stall"] is True
    text = paths["md"].read_text(encoding="utf-8")
    assert "# Reward report: UnlockPickup-like" in text
    assert "- **stall**: reward stall at step" in text and "Still active at the end." in text
    assert "## Where episodes end" in text and "| key |" in text
    assert "![completion rates and episode ends](reward_report.png)" in text
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(paths["png"])
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400
    assert float(image[..., :3].std()) > 0.01  # something was drawn


def test_report_of_a_short_run_says_no_alarm_could_be_evaluated(tmp_path):
    diag = RewardDiagnosis(NAMES)
    diag.add(_rec(3, (True, False, False)))
    paths = write_report(diag, tmp_path)
    text = paths["md"].read_text(encoding="utf-8")
    assert "Fewer episodes (1) than one window (100)" in text
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["windows"][0]["partial"] is True


# ------------------------------------------------------------------------------------------------
# The callback inside real PPO training (scripted env, real sandbox workers)
# ------------------------------------------------------------------------------------------------

NEVER = "def check(frame):\n    return bool(frame[0, 0, 0] >= 200)\n"


class NoReward(gym.RewardWrapper[Any, int]):
    """The env pays nothing, so its own success (env return > 0) never happens."""

    def reward(self, reward: Any) -> float:
        return 0.0


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """As ``vlmcar train`` does: unpinned, torch's threads fight the env loop on a small box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _ppo_with_diagnosis(
    sources: dict[str, str], folder: Path, config: DiagnosisConfig
) -> tuple[RewardDiagnosisCallback, list[dict[str, str]]]:
    program = make_program(sources)
    fns = [lambda j=j: Monitor(NoReward(FrameEnv(3, 50 * j))) for j in range(4)]
    with Sandbox(list(sources.values()), names=list(sources), isolation="process") as box:
        venv = CodeRewardVecEnv(DummyVecEnv(fns), program, sandbox=box)
        callback = RewardDiagnosisCallback(config, report_dir=folder / "report", title="FrameEnv")
        model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
        model.set_logger(configure(str(folder), ["csv"]))
        model.learn(total_timesteps=256, callback=[CodeRewardCallback(), callback])
        venv.close()
    with (folder / "progress.csv").open(newline="") as f:
        return callback, list(csv.DictReader(f))


def test_callback_raises_a_stall_during_training(tmp_path, one_torch_thread):
    config = DiagnosisConfig(window_episodes=8, stall_windows=2)
    with pytest.warns(RewardDiagnosisWarning, match=r"reward stall at step .*'a'.*'never'"):
        callback, rows = _ppo_with_diagnosis({"a": A, "never": NEVER}, tmp_path, config)
    diag = callback.diagnosis
    assert diag is not None and diag.names == ("a", "never")
    assert diag.episodes == 4 * (64 // 3)  # 4 envs x 64 steps, episodes of 3 steps
    (alarm,) = diag.alarms
    assert (alarm.kind, alarm.subtask, alarm.next, alarm.window) == ("stall", "a", "never", 1)
    assert diag.windows[0].mean_latch_step == {"a": 1.0, "never": None}  # A fires from step 1
    assert diag.first_completed_at["a"] == 12 and diag.first_completed_at["never"] is None
    last = rows[-1]
    assert float(last["diagnosis/stall"]) == 1 and float(last["diagnosis/alarms"]) == 1
    assert float(last["diagnosis/flooding"]) == 0
    assert float(last["diagnosis/a_rate"]) == 1.0 and float(last["diagnosis/never_rate"]) == 0.0
    assert float(last["diagnosis/a_first_step"]) == 12
    assert math.isnan(float(last["diagnosis/never_first_step"]))
    assert float(last["diagnosis/success_rate"]) == 0.0
    assert float(last["diagnosis/bonus_return"]) == 1.0
    # the report is written at the end of training
    data = json.loads((tmp_path / "report" / "reward_report.json").read_text(encoding="utf-8"))
    assert data["summary"]["stall"] is True and data["episodes"] == diag.episodes


def test_callback_raises_flooding_on_a_program_that_fires_every_frame_after_reset(
    tmp_path, one_torch_thread
):
    config = DiagnosisConfig(window_episodes=8, flood_level_windows=2)
    with pytest.warns(RewardDiagnosisWarning, match="reward flooding .* the program says"):
        callback, rows = _ppo_with_diagnosis({"a": A, "b": B}, tmp_path, config)
    diag = callback.diagnosis
    assert diag is not None
    assert [(a.kind, a.window) for a in diag.alarms] == [("flooding", 1)]
    assert diag.windows[0].mean_latch_step == {"a": 1.0, "b": 2.0}
    assert diag.windows[0].ends == {"b": 8}
    assert float(rows[-1]["diagnosis/flooding"]) == 1
    assert (tmp_path / "report" / "reward_report.png").is_file()


# ------------------------------------------------------------------------------------------------
# vlmcar train: on by default, --scheme/--bonus, result.json
# ------------------------------------------------------------------------------------------------

ENV = "MiniGrid-DoorKey-5x5-v0"


def _cli(out: Path, *extra: str) -> list[str]:
    return [
        "--env",
        ENV,
        "--reward",
        "reference",
        "--timesteps",
        "512",
        "--n-envs",
        "2",
        "--eval-every",
        "512",
        "--eval-episodes",
        "2",
        "--isolation",
        "process",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    ]


def test_vlmcar_train_writes_the_reward_report(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli_main(_cli(out, "--scheme", "any-order", "--bonus", "0.5")) == 0
    seed = out / "seed0"
    for name in REPORT_FILES.values():
        assert (seed / name).is_file(), name
    report = json.loads((seed / "reward_report.json").read_text(encoding="utf-8"))
    names = report["names"]
    assert names == ["key_picked", "door_open", "goal_reached"]
    assert report["bonus"] == 0.5 and report["episodes"] >= 1
    with (seed / "progress.csv").open(newline="") as f:
        header = next(csv.reader(f))
    for key in (
        "diagnosis/stall",
        "diagnosis/flooding",
        "diagnosis/alarms",
        "diagnosis/episodes",
        "diagnosis/success_rate",
        "diagnosis/bonus_return",
        *(f"diagnosis/{n}_rate" for n in names),
        *(f"diagnosis/{n}_first_step" for n in names),
    ):
        assert key in header, key
    result = json.loads((seed / "result.json").read_text(encoding="utf-8"))
    diag = result["diagnosis"]
    assert diag["alarms"] == [] and diag["stall"] is False and diag["flooding"] is False
    assert diag["episodes"] == report["episodes"]
    assert diag["report"]["md"] == str(seed / "reward_report.md")
    # --scheme/--bonus reached the wrapper, the result and the saved program
    assert (result["program"]["scheme"], result["program"]["bonus"]) == ("any_order", 0.5)
    assert (result["config"]["scheme"], result["config"]["bonus"]) == ("any_order", 0.5)
    saved = load_program(seed / "program", key=None)
    assert (saved.scheme, saved.bonus) == ("any_order", 0.5)
    assert "reward report (0 alarm(s))" in capsys.readouterr().out
    train_json = json.loads((out / "train.json").read_text(encoding="utf-8"))
    assert train_json["runs"][0]["diagnosis"]["report"] == diag["report"]


def test_vlmcar_train_no_diagnosis(tmp_path):
    out = tmp_path / "out"
    argv = _cli(out, "--no-diagnosis")
    argv[argv.index("512")] = "256"
    assert cli_main(argv) == 0
    seed = out / "seed0"
    assert not any((seed / name).exists() for name in REPORT_FILES.values())
    result = json.loads((seed / "result.json").read_text(encoding="utf-8"))
    assert result["diagnosis"] is None and result["config"]["diagnosis"] is False
    with (seed / "progress.csv").open(newline="") as f:
        assert not any(k.startswith("diagnosis/") for k in next(csv.reader(f)))
