"""End-to-end tests of the synthesis pipeline with scripted stand-in VLMs (no network).

The scripted client is a stand-in for a real VLM (labelled as such in synth/scripted.py); every
other component is real: rollouts, the sandbox workers, the fuzzer, verification, bundles.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

from rl.program import ProgramError
from synth.bundle import load_bundle, write_bundle
from synth.pipeline import SynthesisResult, synthesize
from synth.replay import RecordingClient, ReplayClient, ReplayStore
from synth.scripted import ScriptedClient

pytestmark = pytest.mark.slow

ENV = "MiniGrid-DoorKey-5x5-v0"
SCRIPT = json.loads((resources.files("synth") / "data" / "demo_script.json").read_text())
SMALL = {"n_expert": 3, "n_random": 3, "fuzz_examples": 15}


def good(purpose: str) -> str:
    return SCRIPT[purpose][0]


def code(reply: str) -> str:
    match = re.search(r"```python\n(.*?)```", reply, re.S)
    assert match
    return match.group(1)


def run(script: dict[str, list[str]], **kwargs: object) -> tuple[SynthesisResult, ScriptedClient]:
    client = ScriptedClient(script, model="scripted-test-vlm")
    return synthesize(ENV, client, **{**SMALL, **kwargs}), client  # type: ignore[arg-type]


def test_malicious_code_is_rejected_fed_back_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    malicious = (
        "```python\nimport numpy as np\n\ndef check(frame):\n"
        f"    np.f2py.os.system('touch {marker}')\n    return True\n```"
    )
    script = {
        "decompose": SCRIPT["decompose"],
        "checker:key_picked": [malicious],
        "refine:key_picked": [good("refine:key_picked")],
        "checker:door_open": [good("refine:door_open")],
        "checker:goal_reached": [good("checker:goal_reached")],
    }
    result, client = run(script)
    assert result.ok
    first = next(r for r in result.rounds if r.subtask == "key_picked")
    assert first.stage == "audit" and "A504" in first.summary
    refine = next(c for c in client.calls if c.purpose == "refine:key_picked")
    prompt = json.dumps([str(m) for m in refine.messages])
    assert "A504" in prompt and "f2py" in prompt  # the finding went back to the model
    assert not marker.exists()


@pytest.mark.parametrize(
    ("bad", "stage"),
    [
        (
            "```python\ndef check(frame):\n    return count_color(frame, (114, 114, 0), 10) >= 0\n```",
            "fuzz",
        ),
        ("```python\ndef check(frame):\n    return frame.mean() > 0\n```", "fuzz"),
        (
            "```python\ndef check(frame):\n    return count_color(frame, (0, 0, 0), 0) > 10\n```",
            "verify",
        ),
    ],
    ids=["constant-true", "non-bool", "fires-on-most-frames"],
)
def test_degenerate_checkers_are_caught(bad: str, stage: str) -> None:
    script = {
        "decompose": SCRIPT["decompose"],
        "checker:key_picked": [good("refine:key_picked")],
        "checker:door_open": [bad],
        "refine:door_open": [good("refine:door_open")],
        "checker:goal_reached": [good("checker:goal_reached")],
    }
    result, _ = run(script)
    rejected = next(r for r in result.rounds if r.subtask == "door_open")
    assert rejected.stage == stage, rejected.summary
    assert result.ok


MALFORMED = [
    "I would check whether the door is open by looking at the yellow pixels.",
    "```python\ndef is_open(frame):\n    return True\n```",
    "```python\ndef check(frame, first, extra):\n    return True\n```",
    "```python\ndef check(frame):\n    return count_color(frame,",
    "",
]


def test_malformed_replies_get_a_clear_error_and_a_retry() -> None:
    # prose only, no check(), wrong signature, truncated, empty: then a good reply.
    script = {
        "decompose": SCRIPT["decompose"],
        "checker:key_picked": [good("refine:key_picked")],
        "checker:door_open": [MALFORMED[0]],
        "refine:door_open": [*MALFORMED[1:], good("refine:door_open")],
        "checker:goal_reached": [good("checker:goal_reached")],
    }
    result, client = run(script, max_rounds=len(MALFORMED) + 1)
    rounds = [r for r in result.rounds if r.subtask == "door_open"]
    assert [r.stage for r in rounds] == ["reply"] * len(MALFORMED) + ["accepted"]
    assert all(r.summary.startswith("unusable") for r in rounds[:-1])
    refines = [c for c in client.calls if c.purpose == "refine:door_open"]
    assert all(
        "previous reply" in json.dumps([str(m) for m in c.messages]).lower() for c in refines
    )
    assert result.ok


def test_unusable_decomposition_is_retried() -> None:
    script = {
        "decompose": ["Sure! First get the key.", *SCRIPT["decompose"]],
        "checker:key_picked": [good("refine:key_picked")],
        "checker:door_open": [good("refine:door_open")],
        "checker:goal_reached": [good("checker:goal_reached")],
    }
    result, _ = run(script)
    assert [r.stage for r in result.rounds if r.purpose == "decompose"] == ["reply", "accepted"]
    assert result.ok


def test_a_subtask_that_never_passes_leaves_no_program() -> None:
    bad = "```python\ndef check(frame):\n    return frame.shape[0] > 0\n```"
    script = {
        "decompose": SCRIPT["decompose"],
        "checker:key_picked": [bad],
        "refine:key_picked": [bad, bad],
        "checker:door_open": [good("refine:door_open")],
        "checker:goal_reached": [good("checker:goal_reached")],
    }
    result, _ = run(script, max_rounds=2)
    assert not result.ok and result.failed == ["key_picked"]
    with pytest.raises(Exception, match="key_picked"):
        write_bundle(result, "/nonexistent")


def test_replay_reproduces_the_recorded_bundle_byte_for_byte(tmp_path: Path) -> None:
    store = tmp_path / "recording.json"
    recorded = synthesize(
        ENV,
        RecordingClient(ScriptedClient(SCRIPT, model="scripted-demo-vlm"), ReplayStore(store)),
        **SMALL,
    )  # type: ignore[arg-type]
    import synth.gate

    synth.gate._CACHE.clear()  # judge every candidate again: a true re-run, not a cache hit
    replayed = synthesize(ENV, ReplayClient(ReplayStore(store)), **SMALL)  # type: ignore[arg-type]
    a, b = tmp_path / "a", tmp_path / "b"
    write_bundle(recorded, a)
    write_bundle(replayed, b)
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted(p.name for p in b.iterdir())
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    program, provenance = load_bundle(b)
    assert provenance["model"] == "scripted-demo-vlm"
    assert program.names == ("key_picked", "door_open", "goal_reached")
    assert len(provenance["transcript"]) == len(recorded.rounds)


def test_tampered_bundle_is_refused(tmp_path: Path) -> None:
    script = {
        "decompose": SCRIPT["decompose"],
        "checker:key_picked": [good("refine:key_picked")],
        "checker:door_open": [good("refine:door_open")],
        "checker:goal_reached": [good("checker:goal_reached")],
    }
    result, _ = run(script)
    write_bundle(result, tmp_path / "b")
    checker = tmp_path / "b" / "door_open.py"
    checker.write_text(checker.read_text() + "\n# harmless-looking edit\n")
    with pytest.raises(ProgramError, match="sha256"):
        load_bundle(tmp_path / "b")
    # A checker swapped for one the current audit rejects is refused even with a matching hash.
    manifest = json.loads((tmp_path / "b" / "program.json").read_text())
    evil = "import os\ndef check(frame):\n    return True\n"
    checker.write_text(evil)
    import hashlib

    for item in manifest["subtasks"]:
        if item["name"] == "door_open":
            item["sha256"] = hashlib.sha256(evil.encode()).hexdigest()
    (tmp_path / "b" / "program.json").write_text(json.dumps(manifest))
    with pytest.raises(ProgramError, match="I301"):
        load_bundle(tmp_path / "b")


def test_demo_quick_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vlmcar.cli import main

    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "rejected and regenerated" in out and "frames/s" in out
    for name in ("bundle/program.json", "demo_curves.png", "demo_summary.json"):
        assert (tmp_path / name).exists(), name
