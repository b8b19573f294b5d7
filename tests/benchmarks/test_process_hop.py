"""Smoke test for benchmarks/process_hop.py: files, keys, positive numbers, agreement.

Timings are never asserted (the numbers depend on the machine and its load).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from types import ModuleType

import pytest

from benchmarks import process_hop
from benchmarks.common import field_docs
from sandbox.pool import strongest_isolation


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return process_hop


def _positive(value: object) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


def test_args_parse_and_have_docs(bench: ModuleType) -> None:
    args = bench.parse_args(["--quick", "--samples", "5", "--timeouts", "0.3", "--out-dir", "x"])
    assert args.quick is True and args.samples == 5 and args.out_dir == "x"
    assert args.timeouts == "0.3"
    defaults = bench.parse_args([])
    assert bench._int_list(defaults.batch_sizes) == [1, 8, 64]
    assert bench._float_list(defaults.timeouts) == [0.5, 1.0]
    assert defaults.runaway_repeats >= 5 and defaults.startup_repeats >= 5
    assert (defaults.height, defaults.width) == (84, 84)
    docs = field_docs(bench.Args)
    assert set(docs) == {f.name for f in dataclasses.fields(bench.Args)}


def test_balanced_order_is_balanced(bench: ModuleType) -> None:
    for items in (["a", "b"], ["a", "b", "c"]):
        k = len(items)
        orders = [bench.balanced_order(items, r) for r in range(2 * k)]
        assert all(sorted(o) == sorted(items) for o in orders)
        firsts = [o[0] for o in orders]
        assert all(firsts.count(x) == 2 for x in items)
        pairs = [(o[i], o[i + 1]) for o in orders for i in range(k - 1)]
        assert all(pairs.count((x, y)) == pairs.count((y, x)) for x in items for y in items)
        if k == 3:  # every ordered pair equally often
            assert all(pairs.count((x, y)) == 2 for x in items for y in items if x != y)


@pytest.mark.long
@pytest.mark.timeout(300)
def test_quick_run_writes_results(bench: ModuleType, tmp_path: Path) -> None:
    results = bench.main(
        [
            "--quick",
            "--samples",
            "5",
            "--scenes",
            "16",
            "--startup-repeats",
            "1",
            "--batch-sizes",  # two sizes and one timeout keep this smoke run near 50 s
            "1,8",
            "--timeouts",
            "0.3",
            "--out-dir",
            str(tmp_path),
        ]
    )

    for suffix in ("json", "md", "png"):
        path = tmp_path / f"process_hop.{suffix}"
        assert path.is_file() and path.stat().st_size > 0, path
    assert (tmp_path / "process_hop.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    data = json.loads((tmp_path / "process_hop.json").read_text())
    assert data == json.loads(json.dumps(results))
    assert {
        "benchmark",
        "args",
        "machine",
        "checkers",
        "levels",
        "sandboxes",
        "hop",
        "amortisation",
        "calibration",
        "runaway",
        "runaway_trials",
        "startup",
        "summary",
    } <= set(data)
    assert data["args"]["quick"] is True
    for key in ("python", "numpy", "cpu_count", "platform", "timestamp", "strongest_isolation"):
        assert data["machine"][key], key

    # the levels measured, and the level each sandbox really ran at
    levels = data["levels"]
    assert "process" in levels
    if strongest_isolation()[0] == "strict":
        assert "strict" in levels
    else:
        assert "strict" in data["skipped_levels"]
    for lv in levels:
        info = data["sandboxes"][lv]
        assert info["isolation"] == lv and info["layers"], lv
        assert info["respawns_during_timing"] == 0 and info["same_worker"], lv
        assert info["boxes"] == 4 * 2  # one round per checker set and batch size in quick mode

    # 1. per-batch cost: every set × batch size, positive numbers, agreement on every batch
    rows = data["hop"]
    assert {(r["set"], r["batch_size"]) for r in rows} == {
        (s, n) for s in ("color", "edge", "both", "null") for n in (1, 8)
    }
    for r in rows:
        where = (r["set"], r["batch_size"])
        for mode in ("inproc", *levels):
            for key in (f"{mode}_us", f"{mode}_us_per_frame", f"{mode}_fps"):
                assert _positive(r[key]), (*where, key)
            lo, hi = r[f"{mode}_us_iqr"]
            assert 0 < lo <= r[f"{mode}_us"] <= hi, (*where, mode)
            assert r["batches_checked"][mode] == data["args"]["samples"], (*where, mode)
            assert r["mismatches"][mode] == 0, (*where, mode)
        for lv in levels:
            assert _positive(r[f"{lv}_ratio"]), (*where, lv)
            assert isinstance(r[f"{lv}_hop_us"], float) and math.isfinite(r[f"{lv}_hop_us"])
        # the sandbox answered exactly what the same checker answers in process
        assert r["agree"] is True, where
        assert len(r["n_true"]) == len(r["checkers"])
        assert len(r["last_cpu"]) == r["box_rounds"] == 1
    assert data["summary"]["all_agree"] is True
    for key in ("hop_us_by_level_and_batch", "ratio_by_level_and_batch"):
        assert set(data["summary"][key]) == set(levels)
        for lv in levels:
            assert set(data["summary"][key][lv]) == {"1", "8"}
    assert all(
        _positive(v) for v in data["summary"]["ratio_by_level_and_batch"]["process"].values()
    )
    assert [a["batch_size"] for a in data["amortisation"]] == [1, 8]
    for a in data["amortisation"]:
        for lv in levels:
            assert _positive(a[f"{lv}_both_us"]) and _positive(a[f"{lv}_separate_us"])

    cal = data["calibration"]
    for mode in ("inproc", *levels):
        for label in ("back_to_back", "after_idle"):
            assert _positive(cal[f"{mode}_{label}_us"]), (mode, label)
    assert isinstance(data["summary"]["sandbox_source_changed_during_run"], bool)
    assert len(data["summary"]["sandbox_source_sha256"]) == 64

    # 2. runaway: the spinning checker timed out, the worker was replaced, the ok checker agreed
    combos = {(r["level"], r["timeout_s"], r["spare"]) for r in data["runaway"]}
    assert combos == {(lv, t, s) for lv in levels for t in (0.3,) for s in (True, False)}
    assert len(data["runaway_trials"]) == len(combos)
    for r in data["runaway"]:
        assert r["isolation"] == r["level"] and r["n"] == 1
        assert r["all_timed_out"] and r["all_ok_answered"] and r["ok_agree"] and r["all_replaced"]
        for key in ("timeout_call_s", "next_call_s", "detect_ready_s"):
            assert _positive(r[key]), (r["level"], key)
        # the call that times out cannot return before its deadline
        assert r["timeout_call_s"] >= r["timeout_s"]
        assert r["detect_ready_s"] >= r["timeout_call_s"]
    assert data["summary"]["runaway_all_ok"] is True
    for t in data["runaway_trials"]:
        assert t["first_statuses"] == ["ok", "timeout"] and t["next_statuses"][0] == "ok", t
        assert any("timeout" in d for d in t["details"])

    # 3. start-up
    assert {r["level"] for r in data["startup"]} == set(levels)
    for r in data["startup"]:
        assert r["isolation"] == r["level"] and r["n"] == data["args"]["startup_repeats"]
        assert _positive(r["startup_s"]) and _positive(r["startup_s_min"])

    md = (tmp_path / "process_hop.md").read_text()
    assert "Summary" in md and "Runaway" in md and "Start-up" in md
    assert all(f"| {r['set']} | {r['batch_size']} |" in md for r in rows)
