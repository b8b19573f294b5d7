"""Tests for sandbox/fuzz.py and `vlmcar fuzz`: real Hypothesis runs against real workers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from sandbox import AuditError
from sandbox.fuzz import frames as frame_strategy
from sandbox.fuzz import fuzz_checker
from vlmcar.cli import main

pytestmark = pytest.mark.slow

GOOD = "def check(frame):\n    return count_color(frame, (255, 255, 0), 10) > 20\n"


@settings(max_examples=200, database=None, deadline=None)
@given(frame_strategy())
def test_frames_are_diverse_uint8_rgb(frame: np.ndarray) -> None:
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert 16 <= frame.shape[0] <= 96


def test_frames_are_not_near_constant() -> None:
    from hypothesis import find

    multi = find(frame_strategy(), lambda f: len(np.unique(f.reshape(-1, 3), axis=0)) >= 3)
    assert len(np.unique(multi.reshape(-1, 3), axis=0)) >= 3


def test_good_checker_passes() -> None:
    report = fuzz_checker(GOOD, examples=40)
    assert report.ok, [p.describe() for p in report.problems]
    assert 0 < report.fire_rate < 1 and report.us_per_frame > 0


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("def check(frame):\n    return bool(frame[40, 40, 0] > 3)\n", "exception"),
        ("def check(frame):\n    return frame.shape[0] > 0\n", "constant"),
        ("def check(frame):\n    return frame.mean()\n", "exception"),
        (
            "def check(frame):\n    vals = []\n    for y in range(frame.shape[0]):\n        for x in range(frame.shape[1]):\n            vals.append(frame[y, x, 0])\n    return sum(vals) > 10 ** 9\n",
            "too_slow",
        ),
    ],
    ids=["index-error-on-small-frames", "constant-true", "contract", "too-slow"],
)
def test_problems_are_found_with_a_counter_example(source: str, kind: str) -> None:
    report = fuzz_checker(source, examples=30, max_us_per_frame=300.0)
    assert kind in [p.kind for p in report.problems], report
    problem = next(p for p in report.problems if p.kind == kind)
    if kind == "exception":
        assert problem.frame is not None and problem.frame.shape[0] <= 41  # shrunk to a small frame
        assert "frame with colours" in problem.describe()


def test_never_firing_is_only_a_warning() -> None:
    report = fuzz_checker(
        "def check(frame):\n    return count_color(frame, (1, 2, 3), 0) > 10 ** 6\n", examples=20
    )
    assert report.ok and report.warnings


def test_audit_rejection_comes_first() -> None:
    with pytest.raises(AuditError):
        fuzz_checker("import os\ndef check(frame):\n    return True\n")


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text(GOOD)
    bad.write_text("def check(frame):\n    return frame.shape[0] > 0\n")
    assert main(["fuzz", "--examples", "20", "--json", str(good)]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["fuzz", "--examples", "20", str(bad)]) == 1
    assert "problem: constant" in capsys.readouterr().out
    assert main(["fuzz", str(tmp_path / "missing.py")]) == 2
