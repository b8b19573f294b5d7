"""Tests of ``vlmcar doctor`` (:func:`sandbox.cli_check.run_doctor`), in text and JSON.

A row per layer and one for the seal, the Landlock ABI, the uid drop and what ``strict`` requires.
"""

from __future__ import annotations

import json

import pytest

from sandbox.landlock import default_read_paths
from sandbox.oslimits import LAYERS
from sandbox.privileges import uid_drop_blocker
from vlmcar.cli import main


def test_doctor_json_names_every_layer_and_what_strict_needs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {layer["name"]: layer for layer in report["layers"]}
    assert list(rows) == [*LAYERS, "seal"]
    assert all(isinstance(r["available"], bool) and r["detail"] for r in rows.values())
    required = report["strict_requires"]
    assert {"netns", "no_new_privs", "rlimits", "seccomp", "seal"} <= set(required)
    for name in ("ipcns", "landlock", "privileges"):
        assert (name in required) == rows[name]["available"], name
    assert report["strict_missing"] == [n for n in required if not rows[n]["available"]]
    assert report["strict_available"] == (not report["strict_missing"])
    assert report["default_isolation"] == ("strict" if report["strict_available"] else "process")
    if rows["landlock"]["available"]:
        assert f"ABI {report['landlock_abi']}" in rows["landlock"]["detail"]
    blocker = uid_drop_blocker(default_read_paths())
    assert report["uid_drop"] == {"possible": blocker is None, "uid": 65534, "reason": blocker}


def test_doctor_text_has_a_row_per_layer_and_the_verdict(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    names = [line[6:].split()[0] for line in text.splitlines() if line.startswith("  [")]
    assert names == [*LAYERS, "seal"]
    assert "Landlock: " in text
    assert "uid drop: " in text
    assert "strict requires here: " in text
    assert "strict isolation is" in text
