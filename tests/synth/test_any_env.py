"""``vlmcar synth -> verify -> train`` on environments outside the built-in set, offline.

The model is a *scripted stand-in* (synth/scripted.py ScriptedClient, reported as model
"scripted"): it does not look at the images, it answers what its script says. Everything else is
real: rollouts, demonstrations (a planner policy, a Minari dataset built with Minari's
DataCollector, PNG start/goal images), the sandbox, fuzzing, verification, PPO.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rl.demos import read_png
from synth.vlm import encode_png
from tests.rl.custom_env import DOT
from vlmcar.cli import main

pytestmark = pytest.mark.slow

LAVA = "MiniGrid-LavaCrossingS9N1-v0"
MOVED = "```python\ndef check(frame, first):\n    return bool((frame != first).any())\n```"
LAVA_GOAL = (
    "```python\ndef check(frame, first):\n    start = count_color(first, (0, 255, 0), 10)\n"
    "    return start > 0 and count_color(frame, (0, 255, 0), 10) < start\n```"
)
DOT_TARGET = (
    "```python\ndef check(frame):\n    return count_color(frame, (0, 255, 0), 0) == 12\n```"
)
FAST = ["--expert", "3", "--random", "3", "--fuzz-examples", "10", "--isolation", "process"]


def script(path: Path, goal_name: str, goal_reply: str) -> Path:
    decompose = {
        "subtasks": [
            {"name": "agent_moved", "description": "The agent has left its start cell."},
            {"name": goal_name, "description": "The agent stands on the green goal."},
        ]
    }
    data = {
        "decompose": [json.dumps(decompose)],
        "checker:agent_moved": [MOVED],
        f"checker:{goal_name}": [goal_reply],
    }
    path.write_text(json.dumps(data))
    return path


def train_argv(env: str, reward: Path, out: Path) -> list[str]:
    return [
        "train",
        "--env",
        env,
        "--reward",
        str(reward),
        "--timesteps",
        "256",
        "--n-envs",
        "2",
        "--eval-every",
        "256",
        "--eval-episodes",
        "2",
        "--isolation",
        "process",
        "--no-progress",
        "--out",
        str(out),
    ]


def collect_minari(env_id: str, dataset_id: str) -> None:
    import minari

    from rl.envs import make_env
    from rl.experts import MiniGridPlanner

    collector = minari.DataCollector(make_env(env_id, observation="auto"), record_infos=True)
    for seed in range(100, 103):
        obs, _ = collector.reset(seed=seed)
        act = MiniGridPlanner(collector)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = collector.step(act(obs))
            done = terminated or truncated
    collector.create_dataset(
        dataset_id=dataset_id,
        algorithm_name="bfs planner",
        author="vlm-car tests",
        author_email="tests@vlm-car.invalid",
        code_permalink="tests/synth/test_any_env.py",
        description="LavaCrossing expert episodes",
        eval_env=env_id,
    )


@pytest.mark.long  # make test-long; test_envs_outside runs a MiniGrid env we do not ship
def test_minigrid_task_outside_the_builtin_set_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    bundle = tmp_path / "bundle"
    argv = ["synth", "--env", LAVA, "--demos", "rl.experts:MiniGridPlanner"]
    argv += ["--script", str(script(tmp_path / "s.json", "goal_reached", LAVA_GOAL))]
    assert main([*argv, "--out", str(bundle), *FAST]) == 0
    out = capsys.readouterr().out
    assert "reward frames: MiniGrid full-grid render, highlight off, 72x72x3" in out
    assert "| goal_reached | 100% /" in out
    manifest = json.loads((bundle / "program.json").read_text())
    extra = manifest["extra"]
    assert manifest["env_id"] == LAVA and extra["model"] == "scripted"
    assert extra["demonstrations"] == "policy:rl.experts:MiniGridPlanner"
    assert manifest["task"] == "avoid the lava and get to the green goal square"  # its mission

    # verify on expert episodes from a Minari dataset, with a few labelled frames, and look
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    collect_minari(LAVA, "vlmcar/lava/planner-v0")
    from rl.demos import load_demos

    episode = load_demos(LAVA, "minari:vlmcar/lava/planner-v0", n=1)[0]
    for name, frame in (("start", episode.frames[0]), ("end", episode.frames[-1])):
        (tmp_path / f"{name}.png").write_bytes(encode_png(frame))
    labels = {
        "first": "start.png",
        "frames": [
            {"frame": "start.png", "labels": {"goal_reached": False, "agent_moved": False}},
            {"frame": "end.png", "labels": {"goal_reached": True, "agent_moved": True}},
        ],
    }
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    sheet = tmp_path / "sheet.png"
    argv = ["verify", str(bundle), "--demos", "minari:vlmcar/lava/planner-v0", "--show", str(sheet)]
    argv += ["--labels", str(tmp_path / "labels.json"), "--isolation", "process"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "3 expert trajectories (minari:vlmcar/lava/planner-v0)" in out
    assert "2 labelled frames" in out and "Precision and recall: labelled frames." in out
    assert "| goal_reached | 100% /" in out and "| 100% | 100% | accepted |" in out
    picture = read_png(sheet)
    assert picture.shape[1] >= 72 and picture.shape[2] == 3

    # train on the synthesised program
    assert main(train_argv(LAVA, bundle, tmp_path / "train")) == 0
    run = tmp_path / "train" / "seed0"
    assert (run / "model.zip").is_file() and (run / "program" / "program.json").is_file()
    result = json.loads((run / "result.json").read_text())
    assert result["reward"] == "code" and result["program"]["subtasks"] == [
        "agent_moved",
        "goal_reached",
    ]


def test_custom_gymnasium_env_end_to_end(tmp_path: Path, capsys) -> None:
    from rl.demos import load_demos

    kwargs = '{"size": 40}'
    first = load_demos(DOT, "tests.rl.custom_env:dot_expert", n=1, env_kwargs={"size": 40})[0]
    (tmp_path / "start.png").write_bytes(encode_png(first.frames[0]))
    (tmp_path / "goal.png").write_bytes(encode_png(first.frames[-1]))
    bundle = tmp_path / "bundle"
    argv = ["synth", "--env", DOT, "--env-kwargs", kwargs, "--task", "walk onto the green square"]
    argv += ["--demos", "tests.rl.custom_env:dot_expert", "--notes", "A red dot, a green square."]
    argv += ["--start", str(tmp_path / "start.png"), "--goal", str(tmp_path / "goal.png")]
    argv += ["--script", str(script(tmp_path / "s.json", "on_target", DOT_TARGET))]
    assert main([*argv, "--out", str(bundle), *FAST]) == 0
    out = capsys.readouterr().out
    assert "reward frames: render() with render_mode='rgb_array', 40x40x3" in out
    extra = json.loads((bundle / "program.json").read_text())["extra"]
    assert extra["env_kwargs"] == {"size": 40} and extra["start_goal_images"] == "given"
    decompose = extra["transcript"][0]
    assert decompose["purpose"] == "decompose" and decompose["stage"] == "accepted"

    # verify: the bundle's env kwargs are used again (40 x 40 frames, else the checker misses)
    argv = ["verify", str(bundle), "--demos", "tests.rl.custom_env:dot_expert", "--json"]
    assert main([*argv, "--isolation", "process"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in report["subtasks"]] == ["agent_moved", "on_target"]
    assert report["subtasks"][1]["expert_fire_rate"] == 1.0
    assert report["subtasks"][1]["precision"] is None  # no labels for this env

    assert main([*train_argv(DOT, bundle, tmp_path / "train"), "--env-kwargs", kwargs]) == 0
    assert (tmp_path / "train" / "seed0" / "model.zip").is_file()


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return script(tmp_path_factory.mktemp("script") / "s.json", "on_target", DOT_TARGET)


def bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    (tmp / "file").write_text("keep me")
    (tmp / "not.png").write_bytes(b"nope")
    np.savez(tmp / "small.npz", frames=np.zeros((4, 8, 8, 3), np.uint8), episode_starts=[0])
    np.savez(tmp / "starts.npz", frames=np.zeros((4, 32, 32, 3), np.uint8), episode_starts=[0, 9])
    demos = ["--demos", "tests.rl.custom_env:dot_expert"]
    task = ["--task", "walk onto the green square"]
    return {
        "out-is-a-file": (["--env", DOT, *task, "--out", str(tmp / "file")], "existing file"),
        "unknown-env": (["--env", "MiniGrid-LavaCrosing-v0"], "did you mean"),
        "no-rgb": (["--env", "tests.rl.custom_env:VlmcarTest/NoRender-v0"], "cannot render RGB"),
        "bad-kwargs": (["--env", DOT, "--env-kwargs", "{size: 3}"], "is not JSON"),
        "no-task": (["--env", DOT, *demos], "states no task"),
        "no-demos": (["--env", DOT, *task], "no scripted expert"),
        "bad-png": ([
            "--env", DOT, *task, *demos, "--start", str(tmp / "not.png")], "not a PNG"),
        "frame-shape": (["--env", DOT, *task, "--demos", str(tmp / "small.npz")], "8x8x3 frames"),
        "starts": (["--env", DOT, *task, "--demos", str(tmp / "starts.npz")], "do not add up"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    [
        "out-is-a-file",
        "unknown-env",
        "no-rgb",
        "bad-kwargs",
        "no-task",
        "no-demos",
        "bad-png",
        "frame-shape",
        "starts",
    ],
)
def test_synth_bad_input_exits_2_with_a_message(tmp_path: Path, capsys, scripted, case) -> None:
    args, match = bad_inputs(tmp_path)[case]
    if "--out" not in args:
        args = [*args, "--out", str(tmp_path / "bundle")]
    assert main(["synth", *args, "--script", str(scripted), *FAST]) == 2
    err = capsys.readouterr().err
    assert "vlmcar synth: error:" in err and match in err and "Traceback" not in err
    assert not (tmp_path / "bundle").exists()
    assert (tmp_path / "file").read_text() == "keep me"
