"""Smoke test for benchmarks/sandbox_overhead.py: files, keys, positive numbers, agreement.

Timings are never asserted (the numbers depend on the machine and its load).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from types import ModuleType

import pytest

from benchmarks import sandbox_overhead
from benchmarks.common import field_docs


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return sandbox_overhead


def test_args_parse_and_have_docs(bench: ModuleType) -> None:
    args = bench.parse_args(["--quick", "--batch-size", "8", "--out-dir", "x"])
    assert args.quick is True and args.batch_size == 8 and args.out_dir == "x"
    defaults = bench.parse_args([])
    assert defaults.repeats >= 20 and defaults.batch_size == 64
    assert (defaults.height, defaults.width) == (84, 84)
    docs = field_docs(bench.Args)
    assert set(docs) == {f.name for f in dataclasses.fields(bench.Args)}


@pytest.mark.long
def test_quick_run_writes_results(bench: ModuleType, tmp_path: Path) -> None:
    results = bench.main(["--quick", "--out-dir", str(tmp_path)])

    for suffix in ("json", "md", "png"):
        path = tmp_path / f"sandbox_overhead.{suffix}"
        assert path.is_file() and path.stat().st_size > 0, path
    assert (tmp_path / "sandbox_overhead.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    data = json.loads((tmp_path / "sandbox_overhead.json").read_text())
    assert data == json.loads(json.dumps(results))
    assert {"benchmark", "args", "machine", "checkers", "skipped", "calibration", "summary"} <= set(
        data
    )
    assert data["args"]["quick"] is True
    for key in ("python", "numpy", "cpu_count", "platform", "timestamp"):
        assert data["machine"][key], key

    rows = data["checkers"]
    ids = {r["id"] for r in rows}
    assert sum(r["origin"] == "benign" for r in rows) >= 5
    assert {"example:agent_at_goal", "example:key_picked_up", "example:red_blob_right_half"} <= ids
    assert "example:malicious_numpy_escape" not in ids
    assert "example:malicious_numpy_escape" in {s["id"] for s in data["skipped"]}
    assert not any(i.startswith("example:_") for i in ids)

    numbers = ("audit_ms", "compile_ms", "raw_us", "call_us", "batch_us")
    for r in rows:
        for key in (*numbers, "call_ratio", "batch_ratio"):
            assert isinstance(r[key], float) and math.isfinite(r[key]) and r[key] > 0, (
                r["id"],
                key,
            )
        # the sandboxed answer equals the raw answer on every frame used, call and batch alike
        assert r["n_frames"] == data["args"]["batch_size"] == len(r["raw_answers"])
        assert r["agree_call"] and r["agree_batch"] and r["agree"], r["id"]
    assert data["summary"]["all_agree"] is True
    assert data["summary"]["n_checkers"] == len(rows)
    for key in (
        "audit_ms_median",
        "compile_ms_median",
        "call_ratio_geomean",
        "batch_ratio_geomean",
    ):
        assert data["summary"][key] > 0
    for key in ("raw_us", "call_us", "batch_us", "frame_prep_us", "errstate_us"):
        assert data["calibration"][key] > 0

    md = (tmp_path / "sandbox_overhead.md").read_text()
    assert all(r["id"] in md for r in rows) and "Summary" in md
