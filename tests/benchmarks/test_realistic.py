"""benchmarks/realistic.py: refusals, and a smoke run (answers compared; timings never asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import realistic


def test_an_env_outside_the_corpus_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"--envs: MiniGrid-Empty-5x5-v0 not in the corpus"):
        realistic.main(["--envs", "MiniGrid-Empty-5x5-v0", "--out-dir", str(tmp_path)])
    assert list(tmp_path.iterdir()) == []


def test_geomean_ignores_what_is_not_a_positive_number() -> None:
    assert realistic.geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert realistic.geomean([0.0, float("inf")]) is None


@pytest.mark.long
def test_realistic_quick_run_agrees_on_every_frame(tmp_path: Path) -> None:
    results = realistic.main(["--quick", "--out-dir", str(tmp_path)])
    assert (tmp_path / "realistic_quick.md").stat().st_size > 0
    assert results["summary"]["checkers"] == 3
    assert results["summary"]["all_agree"] is True
    assert {r["path"] for r in results["rows"]} <= {"jit", "interpreter"}
