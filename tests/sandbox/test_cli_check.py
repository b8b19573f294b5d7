"""End-to-end tests of `vlmcar check` and `vlmcar doctor` (sandbox/cli_check.py), real workers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sandbox.oslimits import LAYERS
from tests.sandbox.conftest import ATTACKS, BENIGN
from tests.sandbox.test_attacks import BENIGN_FRAMES, MAGIC, NEUTRALISED, STOPPED
from vlmcar.cli import main

pytestmark = pytest.mark.slow


def run_check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["check", *args])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


@pytest.fixture(scope="module")
def attack_frames(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("frames") / "frames.npy"
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    np.save(path, np.stack([noise, MAGIC]))
    return str(path)


@pytest.mark.parametrize("attack", STOPPED, ids=lambda a: a["id"])
def test_attack_never_returns_a_normal_result_under_strict(
    attack: dict[str, str], attack_frames: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "attack.py"
    src.write_text(attack["code"], encoding="utf-8")
    code, out = run_check(
        capsys, str(src), "--frames", attack_frames, "--isolation", "strict", "--timeout", "3"
    )
    assert code in (1, 3), out
    assert out["results"] is None
    assert out["status"] in {
        "rejected",
        "violation",
        "budget",
        "contract",
        "error",
        "timeout",
        "memory",
        "crash",
    }


@pytest.mark.parametrize("attack_id", sorted(NEUTRALISED))
def test_neutralised_attack_answers_plainly_under_strict(
    attack_id: str, attack_frames: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (attack,) = [a for a in ATTACKS if a["id"] == attack_id]
    src = tmp_path / "attack.py"
    src.write_text(attack["code"], encoding="utf-8")
    code, out = run_check(
        capsys, str(src), "--frames", attack_frames, "--isolation", "strict", "--timeout", "3"
    )
    assert code == 0 and out["status"] == "ok", out
    assert out["results"] == [NEUTRALISED[attack_id]] * 2  # the JIT path answers the same


@pytest.mark.parametrize("entry", BENIGN, ids=lambda a: a["id"])
def test_benign_checker_answers_under_strict(
    entry: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "benign.py"
    src.write_text(entry["code"], encoding="utf-8")
    frames = tmp_path / "frames.npy"
    np.save(frames, np.stack(BENIGN_FRAMES[entry["id"]]))
    code, out = run_check(capsys, str(src), "--frames", str(frames), "--isolation", "strict")
    assert code == 0, out
    assert out == {"results": [True, False], "isolation": "strict", "status": "ok", "detail": ""}


def test_first_frame_and_single_frame_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "c.py"
    src.write_text("def check(frame, first):\n    return changed_fraction(frame, first, 5) > 0.5\n")
    frame, first = tmp_path / "f.npy", tmp_path / "first.npy"
    np.save(frame, np.full((8, 8, 3), 200, np.uint8))
    np.save(first, np.zeros((8, 8, 3), np.uint8))
    code, out = run_check(capsys, str(src), "--frames", str(frame), "--first", str(first))
    assert code == 0 and out["results"] == [True]


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "c.py"
    src.write_text("def check(frame):\n    return True\n")
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 4), np.float32))
    assert main(["check", str(src), "--frames", str(tmp_path / "missing.npy")]) == 2
    assert main(["check", str(src), "--frames", str(bad)]) == 2
    assert main(["check", str(tmp_path / "nope.py"), "--frames", str(bad)]) == 2
    assert "uint8" in capsys.readouterr().err


def test_doctor_reports_every_layer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    names = [layer["name"] for layer in report["layers"]]
    assert names == [*LAYERS, "seal"]
    assert report["default_isolation"] == ("strict" if report["strict_available"] else "process")
    assert main(["doctor"]) == 0
    assert "strict isolation" in capsys.readouterr().out
