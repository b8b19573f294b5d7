"""Smoke test for benchmarks/throughput.py and ``vlmcar bench``: files, keys, positivity, agreement.

Timings are never asserted (the numbers depend on the machine and its load).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import math
from pathlib import Path
from types import ModuleType

import pytest

from benchmarks import throughput, throughput_clip
from benchmarks.common import balanced_order, field_docs
from sandbox import cli_bench

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "throughput.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return throughput


def _positive(value: object) -> bool:
    return isinstance(value, float | int) and math.isfinite(value) and value > 0


def test_args_parse_and_have_docs(bench: ModuleType) -> None:
    args = bench.parse_args(["--quick", "--samples", "5", "--sizes", "32", "--out-dir", "x"])
    assert args.quick is True and args.samples == 5 and args.out_dir == "x"
    defaults = bench.parse_args([])
    assert bench._int_list(defaults.sizes) == [64, 84, 256]
    assert bench._int_list(defaults.batch_sizes) == [1, 8, 64]
    assert bench._int_list(defaults.clip_batches) == [1, 16]
    assert defaults.mem_mib >= 256 and defaults.torch_threads == 2
    assert defaults.checkers == "" and defaults.compile_probe == ""
    docs = field_docs(bench.Args)
    assert set(docs) == {f.name for f in dataclasses.fields(bench.Args)}


def test_checkers_cover_the_brief(bench: ModuleType, tmp_path: Path) -> None:
    import sandbox
    from sandbox.jit import build_kernel, jit_refusal

    assert len(bench.CHECKERS) >= 6
    assert "count_color(frame, (255, 255, 0), 10) > 20" in bench.CHECKERS[bench.HEADLINE][0]
    refused = []
    for cid, (source, _) in bench.CHECKERS.items():
        assert sandbox.audit(source).ok, cid
        if jit_refusal(ast.parse(source)) is not None:
            refused.append(cid)
    assert refused == []  # every checker's syntax is in the JIT subset, and
    # exactly one is refused at typing: sorted() of floats (numba's sort is not stable)
    reason = build_kernel(bench.CHECKERS["sorted_means"][0], cache_dir=tmp_path)
    assert isinstance(reason, str) and "sorted()" in reason, reason
    assert set(bench.QUICK_CHECKERS) <= set(bench.CHECKERS)
    assert "sorted_means" in bench.QUICK_CHECKERS and bench.HEADLINE in bench.QUICK_CHECKERS


def test_balanced_order_is_balanced(bench: ModuleType) -> None:
    for items in (["a", "b", "c", "d"], ["a", "b", "c", "d", "e"]):
        k = len(items)
        orders = [balanced_order(items, r) for r in range(2 * k)]
        assert all(sorted(o) == sorted(items) for o in orders)
        firsts = [o[0] for o in orders]
        assert all(firsts.count(x) == 2 for x in items)


def test_clip_macs_match_vit_b32(bench: ModuleType) -> None:
    # open_clip's model profile gives 4.41 GMAC for the ViT-B/32 image tower
    assert abs(throughput_clip.clip_macs() / 1e9 - 4.41) < 0.05


def test_cli_bench_arguments() -> None:
    parser = argparse.ArgumentParser()
    cli_bench.configure(parser)
    args = parser.parse_args(["--quick", "--json", "out.json"])
    assert args.quick and args.json == "out.json" and args.out_dir is None
    assert cli_bench.benchmark_argv(args, "d") == ["--quick", "--out-dir", "d"]
    full = parser.parse_args([])
    assert cli_bench.benchmark_argv(full, "d") == ["--out-dir", "d"]
    assert cli_bench.script_path() == SCRIPT
    module = cli_bench.load_benchmark()
    assert callable(module.main) and callable(module.parse_args)


def test_cli_bench_missing_script(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        cli_bench.load_benchmark(tmp_path / "nope.py")


@pytest.mark.long
@pytest.mark.timeout(300)
def test_quick_run_writes_results(bench: ModuleType, tmp_path: Path) -> None:
    results = bench.main(
        [
            "--quick",
            "--samples",
            "5",
            "--min-samples",
            "2",
            "--cell-seconds",
            "0.2",
            "--scenes",
            "16",
            "--out-dir",
            str(tmp_path),
        ]
    )

    for suffix in ("json", "md", "png"):
        path = tmp_path / f"throughput.{suffix}"
        assert path.is_file() and path.stat().st_size > 0, path
    assert (tmp_path / "throughput.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    data = json.loads((tmp_path / "throughput.json").read_text())
    assert data == json.loads(json.dumps(results))
    assert {
        "benchmark",
        "args",
        "machine",
        "isolation",
        "modes",
        "checkers",
        "rows",
        "clip",
        "clip_info",
        "memory",
        "bounds",
        "compile",
        "targets",
        "summary",
    } <= set(data)
    assert data["benchmark"] == "throughput" and data["args"]["quick"] is True
    for key in ("python", "numpy", "numba", "torch", "cpu_count", "platform", "timestamp"):
        assert data["machine"][key], key

    # the checkers: three in quick mode, one of them on the interpreter path with its reason
    assert set(data["checkers"]) == {"color_count", "changed", "sorted_means"}
    assert data["checkers"]["color_count"]["jit_mode"] == "jit"
    assert data["checkers"]["sorted_means"]["jit_mode"] == "interpreter"
    assert "sorted()" in data["checkers"]["sorted_means"]["jit_reason"]
    for c in data["checkers"].values():
        assert set(c["respawns"].values()) == {0} and all(c["same_worker"].values())
        assert c["isolation"]["sandbox"] == c["isolation"]["jit"] == data["isolation"]

    # every checker × 84 px × batch 64 and 1; positive frames/s for (a)–(f); agreement
    rows = data["rows"]
    assert {(r["checker"], r["size"], r["batch_size"]) for r in rows} == {
        (c, 84, n) for c in ("color_count", "changed", "sorted_means") for n in (64, 1)
    }
    for r in rows:
        where = (r["checker"], r["batch_size"])
        for key in ("raw_fps", "restricted_fps", "sandbox_fps", "jit_fps", "clip_fps"):
            assert _positive(r[key]), (*where, key)
        assert _positive(r["mem_bound_fps"]) and _positive(r["clip_s_per_frame"])
        for key in ("ratio_sandbox_raw", "ratio_jit_raw", "ratio_jit_clip"):
            assert _positive(r[key]), (*where, key)
        for mode in ("raw", "restricted", "sandbox", "jit"):
            lo, hi = r[f"{mode}_us_iqr"]
            assert 0 < lo <= r[f"{mode}_us"] <= hi, (*where, mode)
            # every frame of the pool was checked at least once, and every answer agreed
            assert r["frames_checked"][mode] >= r["n_frames"], (*where, mode)
            assert r["mismatches"][mode] == 0, (*where, mode)
            assert r["failed_calls"][mode] == 0, (*where, mode)
        assert r["agree"] is True, where
        assert 0 <= r["n_true"] <= r["n_frames"]
        if r["jit_mode"] == "jit":
            assert _positive(r["jit_inproc_fps"]), where
        else:
            assert r["jit_inproc_fps"] is None
    assert data["summary"]["all_agree"] is True
    assert data["summary"]["frames_compared"] > 0
    assert isinstance(data["summary"]["sandbox_source_changed_during_run"], bool)
    assert len(data["summary"]["sandbox_source_sha256"]) == 64
    # the answers are not all the same (the agreement check would be vacuous)
    assert any(0 < r["n_true"] < r["n_frames"] for r in rows)

    # (e), (f), bounds and compile
    assert [c["batch_size"] for c in data["clip"]] == [1]
    assert data["clip_info"]["torch_threads"] == 2 and data["clip_info"]["params"] > 80e6
    assert _positive(data["memory"]["read_gbps"]) and data["memory"]["buffer_mib"] >= 256
    brows = data["bounds"]["rows"]
    assert [b["batch_size"] for b in brows] == [1, 64]
    for b in brows:
        for key in ("ref_kernel_us", "kernel_us", "shm_copy_us", "null_box_us", "color_box_us"):
            assert _positive(b[key]), (b["batch_size"], key)
        assert b["mismatches"] == 0
    comp = data["compile"]
    for scenario in ("cold", "warm", "warm_init"):
        assert comp[scenario]["ok"], (scenario, comp["trials"][scenario])
        assert _positive(comp[scenario]["compile_s"])
    assert comp["trials"]["warm"][0]["cache_index_files"] > 0

    # the targets are reported (met or not), never asserted
    names = [t["target"] for t in data["targets"]]
    assert any("500,000" in n for n in names) and any("20,000" in n for n in names)
    assert any("compile" in n for n in names) and any("cached load" in n for n in names)
    for t in data["targets"]:
        assert isinstance(t["met"], bool) and math.isfinite(t["value"])

    md = (tmp_path / "throughput.md").read_text()
    assert "Targets" in md and "Bounds" in md and "CLIP" in md and "compile" in md
    assert all(f"| {r['checker']} | 84 | {r['batch_size']} |" in md for r in rows)
    # the checker stays on the interpreter, and the table says why (sorted() of floats)
    reason = data["checkers"]["sorted_means"]["jit_reason"]
    assert f"interpreter ({reason}" in md and "sorted()" in reason
