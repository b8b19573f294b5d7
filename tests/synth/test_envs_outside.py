"""``vlmcar synth -> verify -> train`` on three environments from three other packages, offline.

* ``MiniGrid-MultiRoom-N2-S4-v0`` (``minigrid``): two rooms, one closed door of a random colour,
  a green goal; demonstrations from the project's planner (``rl.experts:MiniGridPlanner``).
* ``ale_py:ALE/Freeway-v5`` (``ale-py``, whose wheel ships the ROMs): the chicken crosses the
  highway; demonstrations from "always UP" (:func:`tests.envs_outside.policies.freeway_up`);
  episodes cut at 100 steps with ``--env-kwargs '{"max_episode_steps": 100}'``.
* ``LunarLander-v3`` (gymnasium's Box2D envs, ``box2d``): land between the flags; demonstrations
  from gymnasium's own scripted controller (:func:`tests.envs_outside.policies.lunar_heuristic`).

The model is a *scripted stand-in* (``--script``, :class:`synth.scripted.ScriptedClient`): it does
not look at the images, it answers with the replies in ``tests/envs_outside/*_script.json``. Those
checkers were written against each env's real rendered frames. Everything else is real: the env
packages, rollouts, the sandbox (process isolation), fuzzing, verification on fresh rollouts, PPO.

Measured outside these tests against each env's privileged state (MiniGrid door states and agent
cell; Freeway's RAM: chicken height and score; LunarLander's leg positions), the checkers agree
with it: MultiRoom precision and recall 1.00 for both sub-tasks on 100 expert and 100 random
episodes, where a random agent really opens the door in about a third of 50-step rollouts (the
rooms are 2 x 2 cells); Freeway precision 0.96-1.00 and recall 0.99; LunarLander precision 0.96-1.00
and recall 0.88-1.00.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from rl.demos import read_png
from vlmcar.cli import main

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parents[1] / "envs_outside"
FAST = ["--fuzz-examples", "10", "--isolation", "process"]


@dataclass(frozen=True)
class Case:
    """One environment: how to run it and what the runs must show."""

    env: str
    package: str  # the module the env needs, and the pip requirement that brings it
    requirement: str
    script: str
    demos: str
    subtasks: tuple[str, str]
    frames: str  # the "reward frames:" line synth prints
    task: str | None = None  # None: the env's own (MiniGrid's mission)
    env_kwargs: str | None = None
    random_length: int = 50
    n_expert: int = 3
    n_random: int = 3  # random rollouts in synth
    verify_random: int = 8  # random rollouts in verify
    max_random_fire: tuple[float, float] = (0.0, 0.0)  # verify, per sub-task

    def env_args(self) -> list[str]:
        kwargs = ["--env-kwargs", self.env_kwargs] if self.env_kwargs else []
        return ["--env", self.env, *kwargs]


CASES = {
    "minigrid-multiroom": Case(
        env="MiniGrid-MultiRoom-N2-S4-v0",
        package="minigrid",
        requirement="minigrid",
        script="multiroom_script.json",
        demos="rl.experts:MiniGridPlanner",
        subtasks=("door_opened", "goal_reached"),
        frames="MiniGrid full-grid render, highlight off, 200x200x3",
        # a random agent in a 2 x 2 room really opens the door, in about a third of its
        # 50-step rollouts (the env's own door state says so too); it rarely reaches the goal
        max_random_fire=(0.75, 0.25),
    ),
    "atari-freeway": Case(
        env="ale_py:ALE/Freeway-v5",
        package="ale_py",
        requirement="ale-py>=0.10,<0.13",
        script="freeway_script.json",
        demos="tests.envs_outside.policies:freeway_up",
        subtasks=("chicken_past_median", "crossed"),
        frames="render() with render_mode='rgb_array', 210x160x3",
        task="get the chicken across the road to the top sidewalk",
        # the policy reads the 128-byte RAM (an MLP; pixels and a CNN work too, at 11 steps/s
        # here); the reward frames are render()'s pictures all the same
        env_kwargs='{"max_episode_steps": 100, "obs_type": "ram"}',
    ),
    "box2d-lunarlander": Case(
        env="LunarLander-v3",
        package="Box2D",
        requirement="box2d>=2.3.10,<2.4",
        script="lunarlander_script.json",
        demos="tests.envs_outside.policies:lunar_heuristic",
        subtasks=("descending_over_pad", "touched_down"),
        frames="render() with render_mode='rgb_array', 400x600x3",
        task="land the lander on the pad between the two flags",
        random_length=120,  # a random lander needs about 80-120 steps to reach the ground
        n_expert=2,  # 400 x 600 frames: 2 x 200 + 2 x 120 of them are 460 MB
        n_random=2,
        verify_random=3,
        max_random_fire=(0.67, 0.34),
    ),
}


def needs(case: Case) -> None:
    """Fail (not skip) with the install line when the env's package is missing."""
    try:
        importlib.import_module(case.package)
    except ImportError as err:
        pytest.fail(f"{case.env} needs {case.requirement!r} (pip install -e '.[dev]'): {err}")


#: One case runs under `make test`; the other two (ALE's and Box2D's bigger frames, ~60 s) under
#: `make test-long` (marker `long`), so the suite stays under 10 minutes on 2 cores.
IN_MAKE_TEST = "minigrid-multiroom"


@pytest.mark.parametrize(
    "name",
    [n if n == IN_MAKE_TEST else pytest.param(n, marks=pytest.mark.long) for n in CASES],
)
def test_synth_verify_train_outside_the_builtin_set(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    needs(case)
    bundle = tmp_path / "bundle"
    counts = ["--expert", str(case.n_expert), "--random", str(case.n_random)]
    counts += ["--random-length", str(case.random_length)]

    # synthesise from the recorded replies, with demonstrations from a policy
    argv = ["synth", *case.env_args(), "--demos", case.demos, "--script", str(HERE / case.script)]
    argv += ["--task", case.task] if case.task else []
    assert main([*argv, *counts, "--out", str(bundle), *FAST]) == 0
    out = capsys.readouterr().out
    assert f"reward frames: {case.frames}" in out
    for sub in case.subtasks:
        assert f"{sub} attempt 1: accepted (jit path)" in out  # the checkers compile to JIT
        assert f"| {sub} | 100% /" in out
    manifest = json.loads((bundle / "program.json").read_text())
    assert manifest["env_id"] == case.env
    assert [s["name"] for s in manifest["subtasks"]] == list(case.subtasks)
    extra = manifest["extra"]
    assert extra["model"] == "scripted" and extra["demonstrations"] == f"policy:{case.demos}"
    assert [r["stage"] for r in extra["transcript"]] == ["accepted"] * 3
    assert extra["env_kwargs"] == (json.loads(case.env_kwargs) if case.env_kwargs else {})

    # verify on fresh rollouts (other seeds), with the bundle's env kwargs, and look at them
    sheet = tmp_path / "sheet.png"
    argv = ["verify", str(bundle), "--demos", case.demos, "--json", "--show", str(sheet)]
    argv += ["--expert", str(case.n_expert), "--random", str(case.verify_random)]
    argv += ["--random-length", str(case.random_length)]
    assert main([*argv, "--isolation", "process"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["env_id"] == case.env and report["random_length"] == case.random_length
    assert report["expert_source"] == case.demos
    rows = report["subtasks"]
    assert [r["name"] for r in rows] == list(case.subtasks)
    for row, most in zip(rows, case.max_random_fire, strict=True):
        assert row["expert_fire_rate"] == 1.0 and row["first_frame_rate"] == 0.0
        assert row["random_fire_rate"] <= most and row["order_violations"] == 0.0
        assert row["problems"] == [] and row["precision"] is None  # no labels for these envs
    assert rows[0]["first_fire_step"] < rows[1]["first_fire_step"]
    assert read_png(sheet).shape[2] == 3

    # train PPO on the synthesised program (a few hundred steps: it runs and saves)
    run_dir = tmp_path / "train"
    argv = ["train", *case.env_args(), "--reward", str(bundle), "--timesteps", "256"]
    argv += ["--n-envs", "2", "--eval-every", "256", "--eval-episodes", "1"]
    argv += ["--isolation", "process", "--no-progress", "--out", str(run_dir)]
    assert main(argv) == 0
    assert f"reward frames: {case.frames.rsplit(',', 1)[0]}" in capsys.readouterr().out
    seed0 = run_dir / "seed0"
    assert (seed0 / "model.zip").is_file() and (seed0 / "program" / "program.json").is_file()
    result = json.loads((seed0 / "result.json").read_text())
    assert result["reward"] == "code" and result["program"]["subtasks"] == list(case.subtasks)
    assert result["timesteps"] >= 256 and result["sandbox"]["total_failures"] == 0
