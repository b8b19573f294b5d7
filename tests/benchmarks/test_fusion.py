"""benchmarks/fusion.py: every idiom is fused, and a smoke run agrees (timings never asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import fusion
from sandbox.jit import kernel_source


@pytest.mark.parametrize("idiom", sorted(fusion.IDIOMS))
def test_every_idiom_gets_a_fused_reduction(idiom: str) -> None:
    text = kernel_source(fusion.IDIOMS[idiom].lstrip("\n"))
    assert "def _vlmcar_fz" in text


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--size at least 8"):
        fusion.main(["--size", "4", "--out-dir", str(tmp_path)])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.long
def test_fusion_quick_run_agrees_on_every_frame(tmp_path: Path) -> None:
    results = fusion.main(["--quick", "--out-dir", str(tmp_path)])
    assert (tmp_path / "fusion_quick.md").stat().st_size > 0
    assert results["summary"]["all_agree"] is True
    assert all(r["fused_reductions"] >= 1 for r in results["rows"])
