"""`vlmcar train --ray` / `rl.training.run_jobs_on_ray` on a real local Ray instance.

Ray is started by the module fixture (``ray.init(num_cpus=2)``) and stopped after; every job
trains for real (tiny budgets) in Ray worker processes with its own sandbox workers.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from rl.cli_train import main as cli_main
from rl.training import RunFailure, TrainConfig, TrainResult, run_jobs, run_jobs_on_ray

pytestmark = pytest.mark.slow

ENV = "MiniGrid-DoorKey-5x5-v0"


@pytest.fixture(scope="module")
def ray_local() -> Any:
    import ray  # the dev extra installs it (vlm-car[ray])

    started = not ray.is_initialized()  # another module's fixture may hold one: share it
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    if started:
        ray.shutdown()


def _config(seed: int, log_dir: Path, **changes: Any) -> TrainConfig:
    base = TrainConfig(
        ENV,
        reward="reference",
        timesteps=256,
        n_envs=2,
        seed=seed,
        eval_every=256,
        eval_episodes=2,
        log_dir=log_dir / f"seed{seed}",
        isolation="process",
    )
    return dataclasses.replace(base, **changes)


def _same(a: TrainResult, b: TrainResult) -> None:
    assert [(p.steps, p.success_rate, p.mean_return) for p in a.curve] == [
        (p.steps, p.success_rate, p.mean_return) for p in b.curve
    ]
    assert repr(a.returns) == repr(b.returns)  # NaN where no episode ended: repr compares it
    assert a.final_success == b.final_success


@pytest.mark.long  # 30 s: make test-long (Ray stays in make test through relabel)
def test_seeds_on_ray_give_the_serial_results(ray_local: Any, tmp_path: Path) -> None:
    serial = run_jobs([_config(s, tmp_path / "serial") for s in (0, 1)])
    seen: list[int] = []
    on_ray = run_jobs_on_ray(
        [_config(s, tmp_path / "ray") for s in (0, 1)], on_done=lambda i, _: seen.append(i)
    )
    assert sorted(seen) == [0, 1]
    for a, b in zip(serial, on_ray, strict=True):
        assert isinstance(b, TrainResult)
        _same(a, b)
    for seed in (0, 1):  # the same files, written by the Ray workers
        for name in ("eval.csv", "result.json", "reward_report.json", "program/program.json"):
            assert (tmp_path / "ray" / f"seed{seed}" / name).is_file(), name
        curves = [
            [
                line.rsplit(",", 1)[0]
                for line in (d / f"seed{seed}" / "eval.csv").read_text().split()
            ]
            for d in (tmp_path / "ray", tmp_path / "serial")
        ]
        assert curves[0] == curves[1]  # every column but the last (wall seconds)


def test_a_failed_run_is_reported_and_keeps_the_others(ray_local: Any, tmp_path: Path) -> None:
    good = _config(0, tmp_path, reward="sparse")
    bad = _config(1, tmp_path, reward="sparse", env_kwargs={"no_such_argument": 1})
    results = run_jobs_on_ray([bad, good])
    assert isinstance(results[0], RunFailure) and "no_such_argument" in str(results[0])
    assert isinstance(results[1], TrainResult) and results[1].curve


def test_vlmcar_train_ray(
    ray_local: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    argv = ["--env", ENV, "--reward", "sparse", "--timesteps", "256", "--seeds", "0", "1"]
    argv += ["--n-envs", "2", "--eval-every", "256", "--eval-episodes", "2", "--no-progress"]
    assert cli_main([*argv, "--out", str(out), "--ray", "auto"]) == 0
    printed = capsys.readouterr().out
    assert "on Ray" in printed and "[2/2] seed" in printed
    runs = json.loads((out / "train.json").read_text())["runs"]
    assert [r["config"]["seed"] for r in runs] == [0, 1]
    # nothing answers at this address: exit 2, one line, before any run
    assert cli_main([*argv, "--out", str(tmp_path / "x"), "--ray", "127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "no Ray cluster answers there" in err and "Traceback" not in err
