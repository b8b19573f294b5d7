"""Fuzzing ``check(frame, first)`` checkers: with real first frames, and refused without them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sandbox.cli_check import entry_arity
from sandbox.fuzz import fuzz_checker
from vlmcar.cli import main

pytestmark = pytest.mark.slow

CHANGED = "def check(frame, first):\n    return changed_fraction(frame, first, 5) > 0.3\n"


def test_first_frames_make_a_two_argument_checker_fire() -> None:
    """first = frame (the old behaviour) never fires; real first frames show what it does."""
    firsts = np.zeros((2, 24, 24, 3), np.uint8)
    alone = fuzz_checker(CHANGED, examples=15, isolation="process")
    paired = fuzz_checker(CHANGED, examples=15, first_frames=firsts, isolation="process")
    assert alone.fire_rate == 0.0 and any("never fired" in w for w in alone.warnings)
    assert paired.ok and paired.fire_rate > 0.3


def test_first_frames_must_match_the_real_frames() -> None:
    with pytest.raises(ValueError, match="one size"):
        fuzz_checker(
            CHANGED,
            examples=5,
            real_frames=np.zeros((3, 16, 16, 3), np.uint8),
            first_frames=np.zeros((1, 24, 24, 3), np.uint8),
        )
    with pytest.raises(ValueError, match="uint8"):
        fuzz_checker(CHANGED, examples=5, first_frames=np.zeros((1, 8, 8, 3), np.float32))


def test_cli_fuzz_takes_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "changed.py"
    src.write_text(CHANGED)
    first = tmp_path / "first.npy"
    np.save(first, np.zeros((24, 24, 3), np.uint8))
    argv = ["fuzz", "--examples", "10", "--json", "--isolation", "process", str(src)]
    assert main(argv) == 2
    assert "--first FIRST.npy" in capsys.readouterr().err
    assert main([*argv, "--first", str(first)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["ok"] and report["fire_rate"] > 0.3


def test_entry_arity_reads_the_signature_without_running_it() -> None:
    assert entry_arity("def check(frame):\n    return True\n") == 1
    assert entry_arity(CHANGED) == 2
    assert entry_arity("def helper(a, b):\n    return a\n\ndef check(f):\n    return True\n") == 1
    assert entry_arity("def go(frame, first):\n    return True\n", "go") == 2
