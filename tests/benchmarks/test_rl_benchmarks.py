"""Smoke tests for benchmarks/rl_curves.py and benchmarks/rl_overhead.py at toy sizes.

They check that the scripts run from a clean checkout and write complete, consistent results;
success rates and timings are never asserted (they depend on the machine and its load).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks import rl_curves, rl_overhead

ENV = "MiniGrid-DoorKey-5x5-v0"


def _finite_positive(x: Any) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x > 0


@pytest.mark.long
def test_rl_curves_toy_run_and_rerender(tmp_path: Path) -> None:
    bench = rl_curves
    argv = ["--envs", ENV, "--timesteps", "1024", "--seeds", "0", "--eval-every", "512"]
    argv += ["--eval-episodes", "2", "--parallel", "1", "--out-dir", str(tmp_path)]
    results = bench.main(argv)
    for suffix in ("json", "md", "png"):
        assert (tmp_path / f"rl_curves.{suffix}").stat().st_size > 0
    saved = json.loads((tmp_path / "rl_curves.json").read_text())
    assert saved["args"]["eval_policy"] == "sampled"
    per = saved["envs"][ENV]
    assert set(per) == {"reference", "sparse"}
    for agg in per.values():
        assert agg["steps"] and all(0.0 <= v <= 1.0 for v in agg["success_mean"])
        assert _finite_positive(agg["steps_per_second_mean"])
    sandbox = per["reference"]["sandbox"]
    assert sandbox["total_failures"] == 0
    assert [m[0] for m in sandbox["jit_modes"]] == ["jit", "jit", "jit"]
    assert "sampled-policy eval" in (tmp_path / "rl_curves.md").read_text()
    # re-aggregating the saved runs gives the same table
    again = bench.main(["--rerender", str(tmp_path / "rl_curves.json")])
    assert again["envs"] == results["envs"]


@pytest.mark.long
def test_rl_overhead_toy_run(tmp_path: Path) -> None:
    bench = rl_overhead
    argv = ["--env", ENV, "--timesteps", "1024", "--repeats", "1", "--micro-repeats", "5"]
    results = bench.main([*argv, "--out-dir", str(tmp_path)])
    assert (tmp_path / "rl_overhead.md").stat().st_size > 0
    saved = json.loads((tmp_path / "rl_overhead.json").read_text())
    assert saved["summary"] == results["summary"]
    (pair,) = saved["pairs"]
    assert _finite_positive(pair["sparse_sps"]) and _finite_positive(pair["car_sps"])
    assert _finite_positive(pair["car_evaluate_ms"])
    names = [c["name"] for c in saved["micro"]["checkers"]]
    assert names == ["key_picked", "door_open", "goal_reached"]
    assert all(_finite_positive(c["alone_ms"]) for c in saved["micro"]["checkers"])
