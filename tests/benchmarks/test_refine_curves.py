"""benchmarks/refine_curves.py: its scripted replies, and a smoke run at toy size.

Success rates and timings are never asserted (they depend on the machine and its load).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import refine_curves
from rl.registry import get_spec
from synth.parse import extract_checker, parse_subtasks

ENVS = sorted(p.name for p in refine_curves.DATA.iterdir() if p.is_dir())


def test_every_benchmarked_env_has_scripted_replies() -> None:
    assert ENVS == ["MiniGrid-DoorKey-8x8-v0", "MiniGrid-UnlockPickup-v0"]
    assert "stand-in" in (refine_curves.DATA / "README.md").read_text()


@pytest.mark.parametrize("env_id", ENVS)
def test_scripted_replies_keep_the_reference_subtasks_word_for_word(env_id: str) -> None:
    # a kept sub-task keeps its checker only when its description is unchanged; otherwise the
    # refinement would ask the script for a checker it does not have
    script = refine_curves.script_for(env_id)
    subtasks = parse_subtasks(script["refine_training"][0])
    parent = {s.name: s.description for s in get_spec(env_id).reference().subtasks}
    names = [name for name, _ in subtasks]
    assert [n for n in names if n in parent] == list(parent)  # kept, and in the same order
    for name, description in subtasks:
        if name in parent:
            assert description == parent[name]
        else:  # a new sub-task: the script answers its checker prompt with a checker
            source = extract_checker(script[f"checker:{name}"][0])
            assert "def check(" in source and "GRID_H" in source
    assert set(script) == {"refine_training"} | {f"checker:{n}" for n in names if n not in parent}


def test_an_env_without_replies_is_refused_before_training(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no scripted replies"):
        refine_curves.main(["--envs", "MiniGrid-Empty-5x5-v0", "--out-dir", str(tmp_path)])


def test_flooding_budgets() -> None:
    envs = ["A-v0", "B-v0"]
    assert refine_curves.flooding_budgets("", envs) == {}
    assert refine_curves.flooding_budgets("  ", envs) == {}
    assert refine_curves.flooding_budgets("5000", envs) == {"A-v0": 5000, "B-v0": 5000}
    assert refine_curves.flooding_budgets("B-v0=7", envs) == {"B-v0": 7}  # only the named env


def test_an_unknown_retrain_kind_is_refused_before_training(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"--retrain 'floding'.*choose from sparse, reference"):
        refine_curves.main(["--retrain", "floding", "--out-dir", str(tmp_path)])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.long
def test_refine_curves_quick_run_then_reuse(tmp_path: Path) -> None:
    argv = ["--quick", "--out-dir", str(tmp_path), "--work-dir", str(tmp_path / "work")]
    results = refine_curves.main(argv)
    env = "MiniGrid-DoorKey-8x8-v0"
    for suffix in ("json", "md", "png"):
        assert (tmp_path / f"refine_curves_quick.{suffix}").stat().st_size > 0
    assert set(results["envs"][env]) == {"sparse", "reference", "refined", "flooding"}
    assert results["missing"] == []
    refined = results["refinements"][env]
    assert refined["after"].split(" → ") == [
        "key_picked",
        "at_door",
        "door_open",
        "through_door",
        "goal_reached",
    ]
    assert refined["lineage"]["version"] == 2
    copy = tmp_path / "refine_curves_quick" / env
    assert "kept" in (copy / "REFINEMENT.md").read_text()
    program = json.loads((copy / "program.json").read_text())
    assert "lineage" in json.dumps(program)
    runs = {r["reward_spec"]: r for r in results["runs"]}
    assert runs["refined"]["sandbox"]["total_failures"] == 0
    assert [m[0] for m in runs["refined"]["sandbox"]["jit_modes"]] == ["jit"] * 5
    # a second call trains nothing and refines nothing: it reuses the runs and the bundle
    again = refine_curves.main(argv)
    assert again["refinements"][env]["reused"] is True
    assert again["envs"] == results["envs"]
    # --report-only on an empty work dir trains nothing and lists what is missing
    empty = ["--quick", "--report-only", "--out-dir", str(tmp_path / "r"), "--work-dir"]
    nothing = refine_curves.main([*empty, str(tmp_path / "none")])
    assert len(nothing["missing"]) == 1 + 1 + 3  # reference, the refinement, three later runs
    assert "Not finished" in (tmp_path / "r" / "refine_curves_quick.md").read_text()
    # a fresh work dir with --reuse-from: nothing trained, every run borrowed, the bundle restored
    first = str(tmp_path / "refine_curves_quick.json")
    fresh = ["--quick", "--out-dir", str(tmp_path / "b"), "--work-dir", str(tmp_path / "work2")]
    borrowed = refine_curves.main([*fresh, "--reuse-from", first])
    assert all(r.get("borrowed_from", "").startswith(first) for r in borrowed["runs"])
    assert (tmp_path / "work2" / "bundles" / env / "program.json").is_file()
    assert borrowed["envs"] == results["envs"]
    # --retrain flooding: that kind alone is trained again
    retrained = refine_curves.main([*fresh, "--reuse-from", first, "--retrain", "flooding"])
    kinds = {r["reward_spec"]: "borrowed_from" in r for r in retrained["runs"]}
    assert kinds == {"sparse": True, "reference": True, "refined": True, "flooding": False}
