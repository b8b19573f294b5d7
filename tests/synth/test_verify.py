"""synth.verify and synth.sheet: statistics without privileged labels, labelled frames, contact sheets."""

from __future__ import annotations

import numpy as np
import pytest

from rl.demos import LabelledFrames, load_demos, read_png
from rl.rollouts import rollouts
from synth.sheet import contact_sheet, draw_text, write_contact_sheet
from synth.verify import collect_rollouts, run_checkers, summarise, verify_sources
from tests.rl.custom_env import DOT

ON_TARGET = "def check(frame):\n    return count_color(frame, (0, 255, 0), 0) == 12\n"
MOVED = "def check(frame, first):\n    return bool((frame != first).any())\n"
ALWAYS = "def check(frame):\n    return frame.shape[0] > 0\n"
NAMES = ["moved", "on_target"]


@pytest.fixture(scope="module")
def dot_rollouts():
    expert = load_demos(DOT, "tests.rl.custom_env:dot_expert", n=4)
    random = rollouts(DOT, 4, "random", 100, length=40)
    return expert, random


def test_statistics_without_labels(dot_rollouts) -> None:
    expert, random = dot_rollouts
    report = verify_sources(DOT, NAMES, [MOVED, ON_TARGET], expert, random, isolation="process")
    moved, target = report.subtasks
    assert report.accepted and report.n_expert == 4 and report.random_length == 40
    assert report.expert_source == "tests.rl.custom_env:dot_expert"
    assert moved.precision is None and moved.truth is None  # no labeller, no labelled frames
    assert moved.expert_fire_rate == 1.0 and moved.first_frame_rate == 0.0
    assert moved.first_fire_step == 1.0  # the expert moves on its first step
    # on_target fires exactly on each expert episode's last frame
    assert target.first_fire_fraction == 1.0
    lengths = [len(t) - 1 for t in expert]
    assert target.first_fire_step == float(np.median(lengths))
    assert target.expert_frame_rate == pytest.approx(4 / sum(len(t) for t in expert))
    assert target.order_violations == 0.0
    text = report.markdown()
    assert "first fires at step" in text and "n/a (no labels: pass labelled frames)" in text


def test_a_checker_that_fires_at_reset_is_rejected_without_labels(dot_rollouts) -> None:
    expert, random = dot_rollouts
    report = verify_sources(DOT, ["always"], [ALWAYS], expert, random, isolation="process")
    (always,) = report.subtasks
    assert not report.accepted and always.first_frame_rate == 1.0
    assert any("reset frames" in p for p in always.problems)
    assert always.first_fire_step == 0.0


def test_labelled_frames_give_precision_and_recall(dot_rollouts) -> None:
    expert, random = dot_rollouts
    t = expert[0]
    frames = np.stack([t.frames[0], t.frames[1], t.frames[-1], t.frames[-1]])
    firsts = np.stack([t.frames[0]] * 4)
    labels = {
        "on_target": np.array([0, 0, 1, -1], np.int8),  # the last frame is left unlabelled
        "moved": np.array([0, 1, 1, 0], np.int8),  # a wrong label on the last frame
    }
    labelled = LabelledFrames(frames, firsts, labels, "test")
    report = verify_sources(
        DOT, NAMES, [MOVED, ON_TARGET], expert, random, isolation="process", labelled=labelled
    )
    moved, target = report.subtasks
    assert (target.precision, target.recall, target.truth) == (1.0, 1.0, "labelled frames")
    assert moved.recall == 1.0 and moved.precision == pytest.approx(2 / 3)
    assert not moved.accepted and any("precision" in p for p in moved.problems)
    assert report.n_labelled == 4 and "labelled frames" in report.markdown()


def test_labelled_frames_take_precedence_over_ground_truth() -> None:
    env = "MiniGrid-DoorKey-5x5-v0"
    expert, random = collect_rollouts(env, n_expert=2, n_random=2, random_length=20, seed=3)
    door = "def check(frame):\n    return bool(count_color(frame, (114, 114, 0), 10) == 0)\n"
    truth = verify_sources(env, ["door_open"], [door], expert, random, isolation="process")
    assert truth.subtasks[0].truth == "ground truth" and truth.subtasks[0].recall == 1.0
    frame = expert[0].frames[0]  # the door is still locked: a person labels it "open" (wrongly)
    labelled = LabelledFrames(frame[None], frame[None], {"door_open": np.array([1], np.int8)}, "x")
    human = verify_sources(
        env, ["door_open"], [door], expert, random, isolation="process", labelled=labelled
    )
    assert human.subtasks[0].truth == "labelled frames" and human.subtasks[0].recall == 0.0


def test_contact_sheet_shows_fired_and_missed_frames(dot_rollouts, tmp_path) -> None:
    expert, random = dot_rollouts
    never = "def check(frame):\n    return False\n"
    runs = run_checkers(["moved", "never"], [MOVED, never], expert, random, isolation="process")
    report = summarise(DOT, runs, expert, random)
    assert report.subtasks[1].expert_fire_rate == 0.0
    sheet = contact_sheet(runs, expert, random, title="dot", per_row=4, thumb_height=32)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3 and sheet.shape[2] == 3
    # the first thumbnail of "moved: fired on random" is random rollout 0's first firing frame,
    # scaled 32 -> 32 px (exact copy)
    res = runs.random[0][0][0] & runs.random[0][1][0]
    first = random[0].frames[int(np.argmax(res))]
    found = any(
        np.array_equal(sheet[y : y + 32, x : x + 32], first)
        for y in range(sheet.shape[0] - 31)
        for x in (6,)
    )
    assert found
    # "never" missed every expert episode: their last frames are on the sheet
    last = expert[0].frames[-1]
    assert any(
        np.array_equal(sheet[y : y + 32, x : x + 32], last)
        for y in range(sheet.shape[0] - 31)
        for x in range(0, sheet.shape[1] - 31, 2)
    )
    path = write_contact_sheet(tmp_path / "sheet.png", runs, expert, random, title="dot")
    np.testing.assert_array_equal(read_png(path), contact_sheet(runs, expert, random, title="dot"))


def test_draw_text_draws_inside_the_canvas_only() -> None:
    canvas = np.zeros((10, 30, 3), np.uint8)
    draw_text(canvas, "key_picked 100%?", 2, 2)  # longer than the canvas: cut off, no error
    assert canvas.any() and (canvas[:, :2] == 0).all()
