"""benchmarks/scale.py: the training figures derived from measured rows (no timing asserted)."""

from __future__ import annotations

from benchmarks import scale


def _row(wall: float, runs: int, run_wall: float) -> dict[str, object]:
    return {
        "wall_seconds": wall,
        "runs": runs,
        "failed": [],
        "runs_per_hour": 3600 * runs / wall,
        "run_wall_seconds": [run_wall] * runs,
        "run_setup_seconds": [2.0] * runs,
        "run_train_seconds": [run_wall - 3.0] * runs,
        "steps_per_second": [500.0] * runs,
        "isolation": "strict",
        "curves_agree_with_serial": True,
    }


def test_training_figures_and_projection_follow_the_rows() -> None:
    training = {
        "env": scale.ENV,
        "runs": 4,
        "timesteps": 1024,
        "n_envs": 4,
        "modes": {"serial": _row(40, 4, 10), "ray1": _row(44, 4, 10.5), "ray2": _row(30, 4, 14)},
    }
    args = scale.Args(nodes="1,4", node_cpus="2")
    d = scale.derive_training(training, args)
    assert d["ray_cost_per_run_seconds"] == 1.0  # (44 - 40) / 4
    assert abs(d["two_cpu_efficiency"] - 44 / 60) < 1e-9  # (3600*4/30) / (2 * 3600*4/44)
    four = next(p for p in d["projection"] if p["nodes"] == 4)
    assert abs(four["runs_per_hour"] - 4 * 2 * 3600 / 10.5 * d["two_cpu_efficiency"]) < 1e-6
    md = "\n".join(
        scale.training_markdown({"training": training, "args": scale.dataclasses.asdict(args)})
    )
    assert "## Training runs per hour" in md and "| ray2 | 30.0 | 480 |" in md


def test_training_flags_parse_with_their_defaults() -> None:
    args = scale.parse_dataclass_args(scale.Args, ["--train-runs", "3"], scale.__doc__)
    assert args.train_runs == 3 and args.train_timesteps == 4096
