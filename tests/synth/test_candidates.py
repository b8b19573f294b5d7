"""Several candidates per sub-task (``synthesize(candidates=N)``, ``vlmcar synth --candidates``).

The scripted client is a stand-in for a real VLM (labelled as such in synth/scripted.py); every
other component is real: rollouts, sandbox workers, the fuzzer, verification, the local process
pool and a local Ray instance.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import synth.gate
from synth.bundle import load_bundle, write_bundle
from synth.candidates import rank_key
from synth.gate import GatePool
from synth.pipeline import SynthesisResult, synthesize
from synth.replay import RecordingClient, ReplayClient, ReplayStore
from synth.scripted import ScriptedClient
from vlmcar.cli import main

pytestmark = pytest.mark.slow

ENV = "MiniGrid-DoorKey-5x5-v0"
DEMO = json.loads((resources.files("synth") / "data" / "demo_script.json").read_text())
SMALL: dict[str, Any] = {"n_expert": 3, "n_random": 3, "fuzz_examples": 15}
FIRES_ALWAYS = "```python\ndef check(frame):\n    return count_color(frame, (0, 0, 0), 0) > 10\n```"
UNUSABLE = "I would rather describe the frame in words."


def malicious(marker: Path) -> str:
    return (
        "```python\nimport numpy as np\n\ndef check(frame):\n"
        f"    np.f2py.os.system('touch {marker}')\n    return True\n```"
    )


def script(marker: Path) -> dict[str, list[str]]:
    """Round 1 of key_picked: audit-refused, verification-refused, unusable; round 2: two good."""
    good_key = DEMO["refine:key_picked"][0]
    return {
        "decompose": DEMO["decompose"],
        "checker:key_picked#1": [malicious(marker)],
        "checker:key_picked#2": [FIRES_ALWAYS],
        "checker:key_picked#3": [UNUSABLE],
        "refine:key_picked#1": [FIRES_ALWAYS],
        "refine:key_picked#2": [good_key],
        "refine:key_picked#3": [good_key],
        "checker:door_open": [DEMO["refine:door_open"][0]] * 3,
        "checker:goal_reached": [DEMO["checker:goal_reached"][0]] * 3,
    }


SCRIPTED: dict[str, ScriptedClient] = {}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthesisResult, Path, Path]:
    """One recorded run with 3 candidates gated by 2 local processes: result, store, marker."""
    tmp = tmp_path_factory.mktemp("candidates")
    marker, store = tmp / "pwned", tmp / "recording.json"
    SCRIPTED["recorded"] = scripted = ScriptedClient(script(marker), model="scripted")
    client = RecordingClient(scripted, ReplayStore(store))
    with GatePool(2) as pool:
        result = synthesize(ENV, client, candidates=3, gate_pool=pool, **SMALL)
    return result, store, marker


def test_the_best_candidate_is_kept_and_the_best_refused_one_is_refined(
    recorded: tuple[SynthesisResult, Path, Path],
) -> None:
    result, _, marker = recorded
    assert result.ok, result.failed
    assert not marker.exists()  # the audit refused it; nothing ran it
    first = [c for c in result.candidates["key_picked"] if c.attempt == 1]
    assert [c.stage for c in first] == ["audit", "verify", "reply"]
    assert min(first, key=rank_key).index == 2  # verification is the furthest stage reached
    assert result.chosen["key_picked"] == (2, 2)  # round 2: #2 and #3 tie, the lower index wins
    assert [c.stage for c in result.candidates["key_picked"] if c.attempt == 2] == [
        "verify",
        "accepted",
        "accepted",
    ]
    assert result.program is not None
    kept = result.program.subtasks[0].source
    assert "count_color(frame, (0, 0, 0), 0)" not in kept
    rounds = [r for r in result.rounds if r.subtask == "key_picked"]
    assert [(r.attempt, r.candidate) for r in rounds] == [(a, k) for a in (1, 2) for k in (1, 2, 3)]
    assert rounds[0].purpose == "checker:key_picked#1"


def test_refinement_starts_from_the_best_refused_candidate(
    recorded: tuple[SynthesisResult, Path, Path],
) -> None:
    client = SCRIPTED["recorded"]  # every prompt the recorded run sent
    refine = client.prompts("refine:key_picked#1")
    assert len(refine) == 1
    assert "count_color(frame, (0, 0, 0), 0)" in refine[0]  # the verify-stage one, not the audit's
    assert "Candidate 1 of 3" in refine[0]
    assert "Candidate 3 of 3" in client.prompts("checker:goal_reached#3")[0]
    assert len(client.prompts("checker:")) == 9 and len(client.prompts("refine:")) == 3


def test_every_candidate_is_recorded_in_the_bundle(
    recorded: tuple[SynthesisResult, Path, Path], tmp_path: Path
) -> None:
    result, _, _ = recorded
    write_bundle(result, tmp_path / "b")
    _, provenance = load_bundle(tmp_path / "b")
    record = provenance["candidates"]
    assert record["n"] == 3
    key = record["subtasks"]["key_picked"]
    assert len(key) == 6 and [c["chosen"] for c in key].count(True) == 1
    assert next(c for c in key if c["chosen"])["candidate"] == 2
    assert key[0]["stage"] == "audit" and key[0]["expert_fire_rate"] is None
    assert key[2]["stage"] == "reply" and key[2]["source_sha256"] is None
    accepted = [c for c in key if c["stage"] == "accepted"]
    assert all(c["expert_fire_rate"] == 1.0 for c in accepted)
    assert all("us_per_frame" not in c for c in key)  # a timing: not in program.json
    assert len(record["subtasks"]["door_open"]) == 3
    assert len(provenance["transcript"]) == 1 + 6 + 3 + 3


@pytest.mark.long  # end to end; make test-long runs it (suite time, issue 12 stop)
def test_replay_gated_in_this_process_gives_the_recorded_bundle_byte_for_byte(
    recorded: tuple[SynthesisResult, Path, Path], tmp_path: Path
) -> None:
    result, store, _ = recorded
    synth.gate._CACHE.clear()  # judge every candidate again
    replayed = synthesize(ENV, ReplayClient(ReplayStore(store)), candidates=3, **SMALL)
    a, b = tmp_path / "a", tmp_path / "b"
    write_bundle(result, a)
    write_bundle(replayed, b)
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.long  # end to end; make test-long runs it (suite time, issue 12 stop)
def test_the_cli_gates_candidates_on_ray_with_the_same_verdicts(
    recorded: tuple[SynthesisResult, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result, store, _ = recorded
    pytest.importorskip("ray")  # the `ray` extra is part of `make test`
    out = tmp_path / "bundle"
    settings = ["--expert", "3", "--random", "3", "--fuzz-examples", "15", "--rounds", "3"]
    settings += ["--random-length", "50", "--seed", "0", "--candidates", "3", "--ray", "auto"]
    code = main(["synth", "--env", ENV, "--replay", str(store), "--out", str(out), *settings])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "gating candidates on Ray" in printed and "best is candidate 2" in printed
    _, provenance = load_bundle(out)
    on_ray = provenance["candidates"]["subtasks"]
    for name, drawn in result.candidates.items():  # Ray tasks judged each one as this process did
        assert [(c["stage"], c["summary"]) for c in on_ray[name]] == [
            (c.stage, c.summary) for c in drawn
        ]
    assert on_ray["key_picked"][4]["chosen"] is True
    timed = json.loads((out / "candidates.json").read_text())["subtasks"]["key_picked"]
    assert timed[4]["us_per_frame"] > 0 and timed[0]["us_per_frame"] is None


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--candidates", "0"], "--candidates"),
        (["--candidates", "2", "--workers", "2", "--ray"], "not allowed with argument"),
        (["--workers", "-1"], "--workers"),
        (["--ray"], "needs --candidates N with N > 1"),
        (["--workers", "2"], "needs --candidates N with N > 1"),
    ],
)
def test_bad_candidate_flags_are_usage_errors(
    flags: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "r.json"
    store.write_text("{}")
    argv = ["synth", "--env", ENV, "--replay", str(store), "--out", str(tmp_path / "o"), *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
