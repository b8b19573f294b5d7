"""Training on environments outside the built-in set: policies, saved models, Ctrl-C, bad input.

Tiny real runs (a few hundred env steps, real sandbox workers, real PPO); success rates are never
asserted, only what was built and written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces

from rl.cli_train import main as cli_main
from rl.program import RewardProgram, SubTask, load_program, save_program
from rl.registry import EnvError
from rl.training import TrainConfig, choose_policy, train
from tests.rl.custom_env import DOT

LAVA = "MiniGrid-LavaCrossingS9N1-v0"
ON_TARGET = "def check(frame):\n    return count_color(frame, (0, 255, 0), 0) == 12\n"
MOVED = "def check(frame, first):\n    return bool((frame != first).any())\n"


def small(env_id: str, tmp: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = {
        "timesteps": 256,
        "n_envs": 2,
        "n_steps": 64,
        "batch_size": 64,
        "eval_every": 256,
        "eval_episodes": 2,
        "isolation": "process",
        "log_dir": tmp,
    }
    base.update(kw)
    return TrainConfig(env_id, **base)


def dot_program(directory: Path) -> Path:
    program = RewardProgram(
        env_id=DOT,
        task="walk the red dot onto the green square",
        subtasks=(
            SubTask("moved", "left its cell", MOVED),
            SubTask("on_target", "on it", ON_TARGET),
        ),
    )
    save_program(program, directory)
    return directory


def test_choose_policy_by_observation_space():
    image = spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert choose_policy(image, spaces.Discrete(3)) == "CnnPolicy"
    assert choose_policy(spaces.Box(-1, 1, (4,)), spaces.MultiDiscrete([2, 3])) == "MlpPolicy"
    assert choose_policy(spaces.Dict({"a": image}), spaces.Discrete(2)) == "MultiInputPolicy"
    with pytest.raises(EnvError, match="PPO cannot act in"):
        choose_policy(image, spaces.Tuple((spaces.Discrete(2),)))
    with pytest.raises(EnvError, match="cannot read"):
        choose_policy(spaces.Dict({"m": spaces.Text(8)}), spaces.Discrete(2))


def test_code_reward_on_a_custom_env_saves_model_and_program(tmp_path: Path) -> None:
    program_dir = dot_program(tmp_path / "program")
    result = train(small(DOT, tmp_path / "run", reward=str(program_dir)), progress=False)
    assert result.reward == "code" and result.timesteps == 256 and not result.interrupted
    assert result.config["observation"] == "native" and result.config["frame_source"] == "auto"
    assert result.frame_source == "render() with render_mode='rgb_array', 32x32x3"
    assert result.sandbox is not None and result.sandbox["frames"] == 256
    from stable_baselines3 import PPO

    model = PPO.load(result.model_path, device="cpu")
    assert type(model.policy).__name__ == "ActorCriticPolicy"  # MlpPolicy: vector observations
    assert model.observation_space.shape == (4,)
    saved = load_program(result.program_path, key=None)
    assert saved.names == ("moved", "on_target")
    on_disk = json.loads((tmp_path / "run" / "result.json").read_text())
    assert on_disk["model_path"] == result.model_path
    # the CLI names each checker that ran on the interpreter, and only those
    from rl.cli_train import format_paths

    modes = result.sandbox["jit_modes"]
    lines = format_paths([on_disk])
    interpreted = [n for n, (mode, _) in zip(saved.names, modes, strict=True) if mode != "jit"]
    assert [line.split(":")[0] for line in lines] == [f"checker {n}" for n in interpreted]


def test_the_cli_names_the_checkers_left_on_the_interpreter() -> None:
    from rl.cli_train import format_paths

    row = {
        "program": {"subtasks": ["near_key", "door_open"]},
        "sandbox": {
            "jit_modes": [["jit", ""], ["interpreter", "line 3: np.float32 is outside\nmore"]]
        },
    }
    assert format_paths([{"program": None, "sandbox": None}, row]) == [
        "checker door_open: on the interpreter (same reward, slower): line 3: np.float32 is outside"
    ]
    assert format_paths([{"program": None, "sandbox": None}]) == []


def test_unregistered_minigrid_env_trains_on_its_symbolic_grid(tmp_path: Path) -> None:
    result = train(small(LAVA, tmp_path, env_kwargs={"size": 7}), progress=False)
    assert result.config["observation"] == "symbolic" and result.config["env_kwargs"] == {"size": 7}
    assert result.frame_source.endswith("56x56x3")  # 7 x 7 cells of 8 px
    from stable_baselines3 import PPO

    model = PPO.load(result.model_path, device="cpu")
    assert model.observation_space.shape == (7 * 7 * 3 + 2,)
    assert type(model.policy.features_extractor).__name__ == "GridConvFeatures"


def test_image_observations_get_a_cnn(tmp_path: Path) -> None:
    result = train(small(LAVA, tmp_path, observation="image", timesteps=128), progress=False)
    from stable_baselines3 import PPO

    model = PPO.load(result.model_path, device="cpu")
    assert type(model.policy.features_extractor).__name__ == "NatureCNN"


@pytest.mark.filterwarnings("ignore:the reward program was written for")
def test_sparse_run_of_an_env_that_cannot_draw_trains_without_frames(tmp_path: Path) -> None:
    env_id = "tests.rl.custom_env:VlmcarTest/NoRender-v0"
    with pytest.warns(UserWarning, match="draws no reward frames"):
        result = train(small(env_id, tmp_path), progress=False)
    assert result.config["frame_source"] == "none" and result.timesteps == 256
    with pytest.raises(EnvError, match="cannot render RGB"):
        train(small(env_id, tmp_path, reward=str(dot_program(tmp_path / "p"))), progress=False)


def cli(tmp_path: Path, env: str, *extra: str) -> list[str]:
    return [
        "--env",
        env,
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
        str(tmp_path / "out"),
        *extra,
    ]


def test_ctrl_c_writes_the_results_then_exits_130(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    from tests.rl import custom_env

    # Ctrl-C as a terminal delivers it to a Python program: the default handler (an earlier test
    # in this worker process may have left another one installed)
    monkeypatch.setattr(custom_env.InterruptEnv, "steps", 0)  # SIGINT on the env's 300th step
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _ctrl_c_run(tmp_path, capsys)
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c_run(tmp_path: Path, capsys) -> None:
    env_id = "tests.rl.custom_env:VlmcarTest/Interrupt-v0"
    argv = cli(tmp_path, env_id, "--timesteps", "4096", "--seeds", "0", "1")
    assert cli_main(argv) == 130
    captured = capsys.readouterr()
    assert "interrupted (Ctrl-C)" in captured.err and "Traceback" not in captured.err
    data = json.loads((tmp_path / "out" / "train.json").read_text())
    assert data["summary"]["interrupted"] is True and len(data["runs"]) == 1  # seed 1 skipped
    run = data["runs"][0]
    assert run["interrupted"] and 0 < run["timesteps"] < 4096
    assert Path(run["model_path"]).is_file()
    assert (tmp_path / "out" / "seed0" / "result.json").is_file()


@pytest.mark.parametrize(
    ("env", "extra", "match"),
    [
        ("CartPol-v1", (), "did you mean 'CartPole-v1'"),
        (DOT, ("--env-kwargs", "[1, 2]"), "--env-kwargs"),
        (DOT, ("--env-kwargs", '{"bogus": 1}'), "cannot be made with env kwargs"),
        (
            "tests.rl.custom_env:VlmcarTest/NoRender-v0",
            ("--reward", "PROGRAM"),
            "cannot render RGB",
        ),
        (DOT, ("--reward", "reference"), "no reference program"),
    ],
    ids=["unknown-id", "kwargs-not-object", "kwargs-refused", "no-frames-for-code", "no-reference"],
)
@pytest.mark.filterwarnings("ignore:the reward program was written for")
def test_bad_input_exits_2_before_any_training(tmp_path: Path, capsys, env, extra, match) -> None:
    program = str(dot_program(tmp_path / "program"))
    argv = cli(tmp_path, env, *(program if e == "PROGRAM" else e for e in extra))
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vlmcar train: error:") and match in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_out_that_is_a_file_is_refused_first(tmp_path: Path, capsys) -> None:
    (tmp_path / "out").write_text("keep me")
    assert cli_main(cli(tmp_path, "CartPol-v1")) == 2  # before even looking the env up
    assert "is an existing file" in capsys.readouterr().err
    assert (tmp_path / "out").read_text() == "keep me"
