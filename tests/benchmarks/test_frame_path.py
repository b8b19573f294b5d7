"""benchmarks/frame_path.py: a smoke run (answers compared across the paths; timings never asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import frame_path


def test_frame_path_quick_run_agrees_across_the_paths(tmp_path: Path) -> None:
    results = frame_path.main(["--quick", "--out-dir", str(tmp_path)])
    assert (tmp_path / "frame_path_quick.md").stat().st_size > 0
    (row,) = results["rows"]
    assert row["n"] == 8 and row["agree"] is True
    assert set(frame_path.MODES) <= set(row)
    assert row["frame_bytes_per_step"] == 8 * 84 * 84 * 3


def test_bad_batch_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="positive numbers of envs"):
        frame_path.main(["--batch-sizes", "0", "--out-dir", str(tmp_path)])
