"""End-to-end training (rl.training) and the ``vlmcar train`` command (rl.cli_train).

Short real runs: DoorKey-5x5, 2 envs, 512 env steps (two PPO updates), real sandbox workers. Timings
and success rates are never asserted, only that the pieces are there and consistent.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from rl.cli_train import main as cli_main
from rl.program import RewardProgram, SubTask, load_program, reference_program, save_program
from rl.training import TrainConfig, TrainResult, steps_to_reach, train

ENV = "MiniGrid-DoorKey-5x5-v0"
STEPS = 512

# Fails at run time (writes into the read-only frame: a capability violation) whenever the agent
# stands in the top-left cell of the room, which a random policy visits on some steps, not all.
VIOLATES = (
    "def check(frame):\n"
    "    if frame[12, 12, 0] == 255 and frame[12, 12, 1] == 0:\n"
    "        frame[0, 0, 0] = 1\n"
    "    return False\n"
)
QUIET = "def check(frame):\n    return bool(frame[0, 0, 0] > 250)\n"


def _config(tmp: Path, reward: Any, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = {
        "env_id": ENV,
        "reward": reward,
        "timesteps": STEPS,
        "seed": 0,
        "n_envs": 2,
        "eval_every": 256,
        "eval_episodes": 2,
        "isolation": "process",
        "log_dir": tmp,
    }
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def sparse_run(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    return train(_config(tmp_path_factory.mktemp("sparse"), "sparse"), progress=False)


@pytest.fixture(scope="module")
def car_run(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    return train(_config(tmp_path_factory.mktemp("car"), "reference"), progress=False)


@pytest.fixture(scope="module")
def faulty_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    program = RewardProgram(
        env_id=ENV,
        task="test program whose second checker violates on some frames",
        subtasks=(SubTask("quiet", "never fires", QUIET), SubTask("bad", "violates", VIOLATES)),
    )
    directory = tmp_path_factory.mktemp("faulty") / "program"
    save_program(program, directory)
    load_program(directory)  # the audit accepts it: the violation only shows at run time
    return directory


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


def _check_common(result: TrainResult) -> None:
    assert result.timesteps == STEPS
    assert result.curve, "no evaluation point"
    assert [p.steps for p in result.curve] == sorted({p.steps for p in result.curve})
    assert result.curve[-1].steps == STEPS
    assert all(0.0 <= p.success_rate <= 1.0 and p.episodes == 2 for p in result.curve)
    assert result.final_success == result.curve[-1].success_rate
    assert result.steps_to_90 == steps_to_reach(result.curve, 0.9)
    assert result.steps_per_second > 0 and result.wall_seconds >= result.train_seconds > 0
    assert result.returns and result.stopped is None
    assert result.log_dir is not None
    log = Path(result.log_dir)
    for name in ("progress.csv", "eval.csv", "result.json", "monitor/0.monitor.csv"):
        assert (log / name).is_file(), name
    saved = json.loads((log / "result.json").read_text(encoding="utf-8"))
    assert saved["timesteps"] == STEPS and len(saved["curve"]) == len(result.curve)
    assert "eval/success_rate" in _csv_header(log / "progress.csv")
    assert result.model_path == str(log / "model.zip") and (log / "model.zip").is_file()
    assert not result.interrupted


def test_sparse_run(sparse_run: TrainResult) -> None:
    _check_common(sparse_run)
    assert sparse_run.reward == "sparse" and sparse_run.sandbox is None
    assert sparse_run.config["observation"] == "symbolic"


def test_reference_program_run(car_run: TrainResult) -> None:
    _check_common(car_run)
    assert car_run.reward == "code"
    assert car_run.program is not None
    assert car_run.program["subtasks"] == list(reference_program(ENV).names)
    box = car_run.sandbox
    assert box is not None
    assert box["steps"] == STEPS // 2 and box["frames"] == STEPS
    assert box["evaluate_ms"] > 0 and box["total_failures"] == 0
    header = _csv_header(Path(str(car_run.log_dir)) / "progress.csv")
    for key in (
        "reward/shaped_return",
        "reward/env_return",
        "reward/episodes",
        "sandbox/failures",
        "sandbox/evaluate_ms",
        "rollout/ep_rew_mean",
    ):
        assert key in header, key
    assert any(k.startswith("subtasks/") and k.endswith("_rate") for k in header)
    # the program it trained on is saved next to the model, and loads back unchanged
    assert car_run.program_path is not None
    assert load_program(car_run.program_path, key=None).sources == reference_program(ENV).sources
    # shaped >= env return: the bonus is never negative for the ordered scheme
    for point in car_run.returns:
        if point.episodes:
            assert point.shaped_return >= point.env_return - 1e-6


def test_violating_checker_is_counted_under_continue(faulty_dir: Path, tmp_path: Path) -> None:
    result = train(_config(tmp_path, str(faulty_dir)), progress=False)
    assert result.stopped is None and result.timesteps == STEPS
    box = result.sandbox
    assert box is not None
    assert box["total_failures"] > 0
    assert set(box["failures"]) == {"bad"}
    assert set(box["failures_by_status"]) == {"violation"}
    assert box["failures"]["bad"]["violation"] < box["steps"]  # only on some frames


def test_violating_checker_stops_under_stop_after(faulty_dir: Path, tmp_path: Path) -> None:
    result = train(
        _config(tmp_path, str(faulty_dir), failure_policy="stop_after:1"), progress=False
    )
    assert result.stopped is not None and "'bad'" in result.stopped
    assert "violation" in result.stopped
    assert result.timesteps < STEPS
    assert result.curve  # the partial model is still evaluated
    assert result.sandbox is not None and result.sandbox["total_failures"] == 1


def _cli(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--env",
        ENV,
        "--timesteps",
        str(STEPS),
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


def test_cli_unknown_env_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = _cli(tmp_path)
    argv[argv.index(ENV)] = "MiniGrid-DoorKey-5x5-v9"
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert "unknown env id 'MiniGrid-DoorKey-5x5-v9'" in err and f"did you mean '{ENV}'" in err
    assert not (tmp_path / "out").exists()


def test_cli_missing_program_dir_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-program"
    assert cli_main(_cli(tmp_path, "--reward", str(missing))) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "no such program directory" in err


def test_cli_unreadable_program_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "program.json").write_text("{not json", encoding="utf-8")
    assert cli_main(_cli(tmp_path, "--reward", str(broken))) == 2
    assert "cannot load the reward program" in capsys.readouterr().err


def test_cli_stop_after_exits_3(
    faulty_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli_main(
        _cli(
            tmp_path,
            "--reward",
            str(faulty_dir),
            "--failure-policy",
            "stop_after:1",
            "--seeds",
            "0",
            "1",
        )
    )
    assert code == 3
    captured = capsys.readouterr()
    assert "stopped" in captured.err and "'bad'" in captured.err
    data = json.loads((tmp_path / "out" / "train.json").read_text(encoding="utf-8"))
    assert data["summary"]["stopped_by_failure_policy"] is True
    assert len(data["runs"]) == 1  # the second seed is skipped
    assert "seed" in captured.out and "final success" in captured.out


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_run_jobs_workers_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    # A pool's workers outlive a parent killed by a signal; without the watchdog each goes on
    # training its job (here 10M steps) and writing into the run's directories.
    import os
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    root = Path(__file__).resolve().parents[2]
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(root)!r})
            from rl.training import TrainConfig, run_jobs
            configs = [
                TrainConfig(env_id="MiniGrid-DoorKey-5x5-v0", reward="sparse", seed=s,
                            timesteps=10_000_000, n_envs=1, eval_every=10_000_000,
                            eval_episodes=1, log_dir={str(tmp_path)!r} + f"/seed{{s}}")
                for s in (0, 1)
            ]
            if __name__ == "__main__":  # the spawned workers import this file too
                run_jobs(configs, parallel=2)
            """
        )
    )
    parent = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    kids: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(kids) < 2:
            time.sleep(0.2)
            kids = [k for k in _children(parent.pid) if "spawn_main" in _cmdline(k)]
        assert len(kids) == 2, "the pool's two workers never started"
        logs = [tmp_path / f"seed{s}" / "progress.csv" for s in (0, 1)]
        while time.monotonic() < deadline and not all(p.exists() for p in logs):
            time.sleep(0.2)  # both are training (SB3's logger is set up just before learn)
        assert all(p.exists() for p in logs), "the jobs never started training"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(k) for k in kids):
            time.sleep(0.2)
        assert not [k for k in kids if _alive(k)], "workers outlived their parent"
    finally:
        for pid in [parent.pid, *kids]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_run_without_log_dir_leaves_no_directory_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SB3 makes an empty SB3-<time> directory in the temporary directory on every learn() of a
    # model without a logger of its own; 90 of them had piled up in this machine's /tmp.
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = train(
        _config(tmp_path, "sparse", log_dir=None, timesteps=256, eval_every=10**6), progress=False
    )
    assert result.timesteps >= 256
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("SB3-")] == []
