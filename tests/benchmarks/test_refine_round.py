"""benchmarks/refine_round.py: the scripted replies of rounds 2 and 3, refusals, smoke runs.

Success rates and timings are never asserted (they depend on the machine and its load).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import refine_curves, refine_round
from synth.parse import parse_subtasks

ENV = "MiniGrid-UnlockPickup-v0"
PARENT = refine_round.REPO / "benchmarks" / "results" / "refine_curves" / ENV


def test_round2_keeps_round1_subtasks_word_for_word_and_drops_box_picked() -> None:
    # a kept sub-task keeps its checker only when its description is unchanged; the round asks
    # the script for no new checker, so every sub-task must be one round 1 already has
    script = refine_round.script_for(ENV, 2)
    assert set(script) == {"refine_training"}
    round2 = parse_subtasks(script["refine_training"][0])
    round1 = parse_subtasks(refine_curves.script_for(ENV)["refine_training"][0])
    assert [n for n, _ in round1][-1] == "box_picked"
    assert round2 == [s for s in round1 if s[0] != "box_picked"]
    reply = json.loads((refine_curves.DATA / ENV / "round2" / "decomposition.json").read_text())
    assert "box_picked" in reply["changes"] and "toggl" in reply["changes"]


def test_round2_parent_is_the_kept_round1_bundle() -> None:
    program = json.loads((PARENT / "program.json").read_text())
    names = [s["name"] for s in program["subtasks"]]
    round1 = parse_subtasks(refine_curves.script_for(ENV)["refine_training"][0])
    assert names == [n for n, _ in round1]


def test_round3_keeps_round2_subtasks_word_for_word_and_adds_facing_box() -> None:
    script = refine_round.script_for(ENV, 3)
    assert set(script) == {"refine_training", "checker:facing_box"}  # one new checker
    round3 = parse_subtasks(script["refine_training"][0])
    round2 = parse_subtasks(refine_round.script_for(ENV, 2)["refine_training"][0])
    assert round3[:-1] == round2
    assert round3[-1][0] == "facing_box"
    assert "def check(frame, first)" in script["checker:facing_box"][0]


def test_round3_parent_defaults_to_the_kept_round2_bundle() -> None:
    program = json.loads(
        (refine_round.REPO / "benchmarks/results/refine_round2/bundle/program.json").read_text()
    )
    names = [s["name"] for s in program["subtasks"]]
    assert names == [
        n for n, _ in parse_subtasks(refine_round.script_for(ENV, 2)["refine_training"][0])
    ]


@pytest.mark.parametrize("round_", ["1", "10"])
def test_a_round_out_of_range_is_refused(tmp_path: Path, round_: str) -> None:
    with pytest.raises(SystemExit, match=f"--round {round_}: give a round from 2"):
        refine_round.main(["--round", round_, "--out-dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_an_env_without_round2_replies_is_refused_before_training(tmp_path: Path) -> None:
    argv = ["--env", "MiniGrid-DoorKey-8x8-v0", "--out-dir", str(tmp_path)]
    with pytest.raises(SystemExit, match="no scripted round-2 replies"):
        refine_round.main([*argv, "--work-dir", str(tmp_path / "work")])
    assert list(tmp_path.iterdir()) == []


def test_a_parent_without_a_program_is_refused(tmp_path: Path) -> None:
    argv = ["--parent", str(tmp_path / "nowhere"), "--out-dir", str(tmp_path / "out")]
    with pytest.raises(SystemExit, match=r"no program\.json there"):
        refine_round.main(argv)


def test_a_diagnose_run_without_a_report_is_refused(tmp_path: Path) -> None:
    argv = ["--diagnose-run", str(tmp_path), "--out-dir", str(tmp_path / "out")]
    with pytest.raises(SystemExit, match=r"no reward_report\.json there"):
        refine_round.main([*argv, "--work-dir", str(tmp_path / "work")])


@pytest.mark.long
def test_refine_round2_quick_run(tmp_path: Path) -> None:
    argv = ["--quick", "--out-dir", str(tmp_path), "--work-dir", str(tmp_path / "work")]
    results = refine_round.main(argv)
    for suffix in ("json", "md", "png"):
        assert (tmp_path / f"refine_round2_quick.{suffix}").stat().st_size > 0
    info = results["refinement"]
    assert info["exit_code"] == 0
    assert info["after"].split(" → ") == [
        "key_picked",
        "at_door",
        "door_open",
        "key_dropped",
        "through_door",
        "next_to_box",
    ]
    copy = tmp_path / "refine_round2_quick"
    assert (copy / "bundle" / "program.json").is_file()
    assert (copy / "diagnosis_reward_report.json").is_file()
    assert [r["kind"] for r in results["runs"]].count("refined-2") == 1
    assert info["lineage"]["version"] == 3  # round 1 was version 2
    assert info["before"].split(" → ")[-1] == "box_picked"


@pytest.mark.long
def test_refine_round3_quick_run(tmp_path: Path) -> None:
    # round 3 from the kept round-2 bundle: the new checker goes through the gate and the
    # report names round 3; the round-2 runs are borrowed from refine_round2_quick.json when
    # a quick round 2 ran into the same out dir (here it did not: round 3 is reported alone)
    argv = [
        "--quick",
        "--round",
        "3",
        "--out-dir",
        str(tmp_path),
        "--work-dir",
        str(tmp_path / "w"),
    ]
    results = refine_round.main(argv)
    info = results["refinement"]
    assert info["exit_code"] == 0
    assert info["after"].split(" → ")[-2:] == ["next_to_box", "facing_box"]
    assert info["before"].split(" → ")[-1] == "next_to_box"
    assert [r["kind"] for r in results["runs"]].count("refined-3") == 1
    text = (tmp_path / "refine_round3_quick.md").read_text()
    assert "# Refinement round 3" in text and "## What round 3 changed" in text
    assert (tmp_path / "refine_round3_quick" / "bundle" / "facing_box.py").is_file()
