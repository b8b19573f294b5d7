"""Refinement from training (`synth.refine`, `vlmcar refine`) with a scripted stand-in VLM.

The scripted client is a stand-in for a real VLM (it does not look at the prompt's images or
numbers); everything else is real: the reward report comes from `rl.diagnosis` fed with episode
records, and the revised program goes through the same gate (rollouts, sandbox workers, fuzzer,
verification) as any synthesised one.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from rl.diagnosis import DiagnosisConfig, EpisodeRecord, RewardDiagnosis, write_report
from rl.program import RewardProgram, SubTask, save_program
from synth.bundle import load_bundle
from synth.errors import ScriptExhausted
from synth.refine import EvidenceError, load_evidence, refine_from_training
from synth.scripted import ScriptedClient
from tests.synth.test_pipeline import code
from vlmcar.cli import main

pytestmark = pytest.mark.slow

ENV = "MiniGrid-DoorKey-5x5-v0"
SCRIPT = json.loads((resources.files("synth") / "data" / "demo_script.json").read_text())
SMALL = {"n_expert": 3, "n_random": 3, "fuzz_examples": 15}
KEY = "The agent has picked up the yellow key (it is no longer drawn on the floor), or the door is already unlocked."
GOAL = "The red agent stands on the green goal square."
DOOR = "The locked yellow door has been unlocked and opened: its dark inner panel is gone."


def _parent() -> RewardProgram:
    """A coarse program: key, then goal (nothing for the door in between)."""
    return RewardProgram(
        ENV,
        "use the key to open the door and then get to the goal",
        (
            SubTask("key_picked", KEY, code(SCRIPT["refine:key_picked"][0])),
            SubTask("goal_reached", GOAL, code(SCRIPT["checker:goal_reached"][0])),
        ),
        extra={"env_kwargs": {}},
    )


def _stalled_run(root: Path) -> Path:
    """A seed directory as `vlmcar train` leaves it: the program and a report with a stall."""
    seed = root / "seed0"
    save_program(_parent(), seed / "program", key=None)
    diag = RewardDiagnosis(
        ("key_picked", "goal_reached"), DiagnosisConfig(window_episodes=10, stall_windows=2)
    )
    for i in range(40):  # the key in every episode, the goal in none
        diag.add(
            EpisodeRecord(
                step=100 * (i + 1),
                latched=(True, False),
                shaped_return=1.0,
                env_return=0.0,
                success=False,
            )
        )
    write_report(diag, seed)
    return seed


def _reply(changes: str = "inserted door_open between the key and the goal") -> str:
    subtasks = [
        {"name": "key_picked", "description": KEY},
        {"name": "door_open", "description": DOOR},
        {"name": "goal_reached", "description": GOAL},
    ]
    return json.dumps({"subtasks": subtasks, "changes": changes})


def test_a_stall_becomes_a_new_milestone_kept_checkers_cost_no_call(tmp_path: Path) -> None:
    seed = _stalled_run(tmp_path / "run")
    evidence, parent, _ = load_evidence(seed)
    assert evidence.stalled and "stall" in evidence.text()
    # Kept sub-tasks make no model call: the script has no checker for them, and would run out.
    client = ScriptedClient(
        {"refine_training": [_reply()], "checker:door_open": [SCRIPT["refine:door_open"][0]]},
        model="scripted-test-vlm",
    )
    result, _ = refine_from_training(seed, client, **SMALL)
    assert result.ok and result.program is not None
    assert result.program.names == ("key_picked", "door_open", "goal_reached")
    assert [c.purpose for c in client.calls] == ["refine_training", "checker:door_open"]
    kept = {r.subtask: r.stage for r in result.rounds if r.purpose.startswith("kept:")}
    assert kept == {"key_picked": "accepted", "goal_reached": "accepted"}
    # The prompt carried the evidence: the stall and the rates.
    prompt = client.calls[0].text
    assert (
        "`key_picked` completed in 100 %" in prompt and "`goal_reached` completed in 0 %" in prompt
    )
    assert "alarm:" in prompt and "refine_training_v1" in prompt
    lineage = result.program.extra["lineage"]
    assert lineage["parent_subtasks"] == list(parent.names) and lineage["version"] == 2
    assert lineage["reports_sha256"] == [evidence.seeds[0].sha256]


def test_a_kept_checker_the_gate_refuses_goes_back_to_the_model(tmp_path: Path) -> None:
    seed = _stalled_run(tmp_path / "run")
    broken = _parent()
    always = "def check(frame):\n    return True\n"  # constant: the fuzzer refuses it
    save_program(
        RewardProgram(
            ENV, broken.task, (broken.subtasks[0], SubTask("goal_reached", GOAL, always)), extra={}
        ),
        seed / "program",
        key=None,
    )
    client = ScriptedClient(
        {
            "refine_training": [_reply()],
            "checker:door_open": [SCRIPT["refine:door_open"][0]],
            "refine:goal_reached": [SCRIPT["checker:goal_reached"][0]],
        }
    )
    result, _ = refine_from_training(seed, client, **SMALL)
    assert result.ok
    goal = [r for r in result.rounds if r.subtask == "goal_reached"]
    assert goal[0].purpose == "kept:goal_reached" and goal[0].stage != "accepted"
    assert goal[1].purpose == "refine:goal_reached" and goal[1].stage == "accepted"
    assert "return True" in next(c for c in client.calls if c.purpose.startswith("refine:")).text


def test_unusable_runs_are_refused_before_any_model_call(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match=r"no reward_report\.json"):
        load_evidence(tmp_path)
    seed = _stalled_run(tmp_path / "run")
    report = seed / "reward_report.json"
    data = json.loads(report.read_text())
    data["names"] = ["other"]
    report.write_text(json.dumps(data))
    with pytest.raises(EvidenceError, match="one training run"):
        load_evidence(seed)
    report.write_text("{not json")
    with pytest.raises(EvidenceError, match="cannot read the reward report"):
        load_evidence(seed)
    with pytest.raises(ScriptExhausted):  # a good run and an empty script: the model is asked
        refine_from_training(_stalled_run(tmp_path / "again"), ScriptedClient([]), **SMALL)


def test_vlmcar_refine_writes_a_versioned_bundle_with_its_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stalled_run(tmp_path / "run")
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            {"refine_training": [_reply()], "checker:door_open": [SCRIPT["refine:door_open"][0]]}
        )
    )
    out = tmp_path / "v2"
    small = ["--expert", "3", "--random", "3", "--fuzz-examples", "15"]
    code_ = main(
        ["refine", str(tmp_path / "run"), "--script", str(script), "--out", str(out), *small]
    )
    printed = capsys.readouterr()
    assert code_ == 0, printed.err
    program, provenance = load_bundle(out)
    assert program.names == ("key_picked", "door_open", "goal_reached")
    assert provenance["lineage"]["run"] == str(tmp_path / "run")
    note = (out / "REFINEMENT.md").read_text()
    assert "new: door_open" in note and "inserted door_open" in note
    assert "kept: key_picked" in printed.out
    # bad inputs: exit 2 with the reason, no traceback
    assert main(["refine", str(tmp_path), "--script", str(script), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no reward_report.json" in err and "Traceback" not in err
