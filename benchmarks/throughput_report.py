"""Throughput results: derived numbers (ratios against CLIP and memory), targets, Markdown, plot.

Part of ``benchmarks/throughput.py`` (run that script); see its docstring for the whole.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.throughput_compile import (
    COMPILE_SCENARIOS,
)
from benchmarks.throughput_setup import (
    HEADLINE,
    MODES,
    _int_list,
)

# --------------------------------------------------------------------------------------------
# Derived numbers: (e), (f), ratios, targets
# --------------------------------------------------------------------------------------------


def clip_for(
    clip: list[dict[str, Any]], info: dict[str, Any], side: int, n: int
) -> tuple[dict[str, Any] | None, float]:
    """The CLIP row that pairs with a checker row (batch 1 for batch 1, else the largest batch),
    and the seconds per frame to add for this frame size's resize.

    The forward is timed on one frame size (``--clip-size``); for the other sizes the resize of
    their frames, timed separately, replaces that of the timed size (small next to the forward).
    """
    if not clip:
        return None, 0.0
    same = [c for c in clip if c["size"] == side] or [
        c for c in clip if c["size"] == clip[0]["size"]
    ]
    want = 1 if n == 1 else max(c["batch_size"] for c in same)
    pick = [c for c in same if c["batch_size"] == want] or same
    row = pick[0]
    resize = info.get("resize_s_per_frame_by_size", {})
    adjust = resize.get(str(side), 0.0) - resize.get(str(row["size"]), 0.0)
    return row, adjust


def derive(
    rows: list[dict[str, Any]],
    checkers: dict[str, dict[str, Any]],
    clip: list[dict[str, Any]],
    clip_info: dict[str, Any],
    memory: dict[str, Any],
) -> None:
    """Add (e), (f) and the ratios (frames/s over frames/s) to every row, in place."""
    for r in rows:
        c, adjust = clip_for(clip, clip_info, r["size"], r["batch_size"])
        r["clip_batch"] = c["batch_size"] if c else None
        r["clip_timed_size"] = c["size"] if c else None
        r["clip_resize_adjust_s"] = adjust
        r["clip_s_per_frame"] = c["s_per_frame"] + adjust if c else None
        r["clip_fps"] = 1.0 / (c["s_per_frame"] + adjust) if c else None
        r["clip_fps_best"] = 1.0 / (c["s_per_frame_best"] + adjust) if c else None
        arity = checkers[r["checker"]]["arity"]
        r["bytes_read_per_frame"] = r["size"] * r["size"] * 3 * arity
        r["mem_bound_fps"] = memory["read_gbps"] * 1e9 / r["bytes_read_per_frame"]
        r["mem_bound_s_per_frame"] = 1.0 / r["mem_bound_fps"]
        r["jit_mode"] = checkers[r["checker"]]["jit_mode"]
        r["jit_reason"] = checkers[r["checker"]]["jit_reason"]
        a = r["raw_fps"]
        r["ratio_restricted_raw"] = r["restricted_fps"] / a
        r["ratio_sandbox_raw"] = r["sandbox_fps"] / a
        r["ratio_jit_raw"] = r["jit_fps"] / a
        r["ratio_jit_clip"] = r["jit_fps"] / r["clip_fps"] if r["clip_fps"] else None
        r["ratio_jit_clip_best"] = r["jit_fps"] / r["clip_fps_best"] if r["clip_fps"] else None
        r["ratio_jit_membound"] = r["jit_fps"] / r["mem_bound_fps"]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The brief's targets at 84×84, batch 64: value, whether reached, and what bounds it."""
    rows = [r for r in results["rows"] if r["size"] == 84 and r["batch_size"] == 64]
    head = next((r for r in rows if r["checker"] == HEADLINE), None)
    bounds = results.get("bounds", {})
    b64 = next((b for b in bounds.get("rows", []) if b["batch_size"] == 64), None)
    out: list[dict[str, Any]] = []
    if head is not None:
        note = ""
        if head["jit_fps"] < 500_000 and b64 is not None:
            reach = [
                b["batch_size"]
                for b in bounds["rows"]
                if b["color_box_fps"] >= 500_000 and b["mismatches"] == 0
            ]
            parts = []
            if b64["kernel_fps"] < 500_000:
                parts.append(
                    f"first by the kernel itself: the worker's kernel alone takes "
                    f"{b64['kernel_us']:.0f} µs per 64 frames ({b64['kernel_fps']:,.0f} frames/s, "
                    f"{b64['kernel_gbps']:.1f} GB/s) where a flat kernel without bounds checks "
                    f"takes {b64['ref_kernel_us']:.0f} µs ({b64['ref_kernel_fps']:,.0f} frames/s, "
                    f"{b64['ref_kernel_gbps']:.1f} GB/s; memory-read bound "
                    f"{head['mem_bound_fps']:,.0f} frames/s)"
                )
            parts.append(
                f"{'then ' if parts else ''}by the per-batch hop: the sandbox adds "
                f"{b64['hop_us']:.0f} µs per batch; a `return True` checker costs "
                f"{b64['null_box_us']:.0f} µs per batch (ceiling {b64['null_box_fps']:,.0f} "
                f"frames/s for any checker at batch 64), of which the copy into shared memory is "
                f"{b64['shm_copy_us']:.0f} µs and the rest (validation, socket round trip, worker "
                f"wake-up, result decode) {b64['ipc_us']:.0f} µs"
            )
            parts.append(
                f"with the reference kernel and the same hop (d) would be about "
                f"{b64['projected_fps_ref_kernel']:,.0f} frames/s at batch 64"
            )
            parts.append(
                f"(d) reaches 500k from batch {min(reach)}"
                if reach
                else "(d) reaches 500k at none of the measured batch sizes "
                f"({', '.join(str(b['batch_size']) for b in bounds['rows'])})"
            )
            note = "bound " + "; ".join(parts)
        out.append(
            {
                "target": "(d) colour count ≥ 500,000 frames/s incl. the process hop",
                "threshold": 500_000.0,
                "value": head["jit_fps"],
                "met": head["jit_fps"] >= 500_000,
                "note": note,
            }
        )
    jitable = [r for r in rows if r["jit_mode"] == "jit"]
    for r in jitable:
        ratio = r["ratio_jit_raw"]
        note = ""
        if ratio < 1.0:
            hop_per_frame = (b64["null_box_us"] / 64) if b64 else math.nan
            note = (
                f"raw {r['raw_us_per_frame']:.2f} µs/frame, JIT in process "
                f"{r['jit_inproc_us_per_frame']:.2f}, sandbox + JIT {r['jit_us_per_frame']:.2f}: "
                "raw calls the same Numba vision kernels (through their Python wrappers), so the "
                "JIT only removes Python overhead, and the hop adds "
                f"{hop_per_frame:.2f} µs/frame (a `return True` box at batch 64)"
            )
        out.append(
            {
                "target": f"(d)/(a) ≥ 1.0, {r['checker']}",
                "threshold": 1.0,
                "value": ratio,
                "met": ratio >= 1.0,
                "note": note,
            }
        )
    for r in rows:
        ratio = r["ratio_sandbox_raw"]
        note = ""
        if ratio < 0.5 and r["ratio_restricted_raw"] < 0.5:
            note = (
                f"(b)/(a) is {r['ratio_restricted_raw']:.2f} already in process: the run-time "
                "guards (every subscript, attribute, iteration and arithmetic step goes through a "
                "guard and the budget meter), not the process hop"
            )
        elif ratio < 0.5:
            lo, hi = r["sandbox_fps_iqr"]
            note = (
                f"(b)/(a) is {r['ratio_restricted_raw']:.2f} in process, so the worker side costs "
                f"the rest: (c) − (b) = {r['sandbox_us_per_frame'] - r['restricted_us_per_frame']:.1f}"
                f" µs/frame; (c) IQR {fmt_fps(lo)}–{fmt_fps(hi)} frames/s (a wide IQR means CPU "
                "contention on the worker's CPU)"
            )
        out.append(
            {
                "target": f"(c)/(a) ≥ 0.5, {r['checker']}",
                "threshold": 0.5,
                "value": ratio,
                "met": ratio >= 0.5,
                "note": note,
            }
        )
    if head is not None and head["ratio_jit_clip_best"] is not None:
        out.append(
            {
                "target": "(d)/(e) ≥ 20,000 (colour count vs CLIP ViT-B/32 per frame)",
                "threshold": 20_000.0,
                "value": head["ratio_jit_clip_best"],
                "met": head["ratio_jit_clip_best"] >= 20_000,
                "note": f"against CLIP's fastest sample (conservative) at batch {head['clip_batch']}, "
                f"{results['clip_info']['torch_threads']} torch threads; against its median "
                f"{fmt_ratio(head['ratio_jit_clip'])}",
            }
        )
    comp = results.get("compile", {})
    if comp.get("cold", {}).get("ok"):
        out.append(
            {
                "target": "first-call compile ≤ 1 s (empty VLMCAR_CACHE_DIR, fresh process)",
                "threshold": 1.0,
                "value": comp["cold"]["compile_s"],
                "met": comp["cold"]["compile_s"] <= 1.0,
                "note": (
                    "build_kernel + first call; nothing cached at all (NUMBA_CACHE_DIR empty "
                    f"too): {comp['cold_all']['compile_s']:.2f} s"
                    if comp.get("cold_all", {}).get("ok")
                    else ""
                ),
            }
        )
    if comp.get("warm", {}).get("ok"):
        note = "build_kernel + first call, the first Numba work of the process"
        init = comp.get("warm_init", {})
        if comp["warm"]["compile_s"] > 0.2 and init.get("ok"):
            note += (
                f"; bound by Numba's one-off runtime initialisation: after it (vision.warm_up(), "
                f"{init['warm_up_s']:.3f} s, which every sandbox worker runs first anyway) the "
                f"cached load takes {init['compile_s']:.3f} s"
            )
        out.append(
            {
                "target": "cached load ≤ 0.2 s (same VLMCAR_CACHE_DIR, fresh process)",
                "threshold": 0.2,
                "value": comp["warm"]["compile_s"],
                "met": comp["warm"]["compile_s"] <= 0.2,
                "note": note,
            }
        )
    if comp.get("warm_init", {}).get("ok"):
        out.append(
            {
                "target": "cached load ≤ 0.2 s in a worker (fresh process after vision.warm_up())",
                "threshold": 0.2,
                "value": comp["warm_init"]["compile_s"],
                "met": comp["warm_init"]["compile_s"] <= 0.2,
                "note": "build_kernel + first call",
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def fmt_fps(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_ratio(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}"


def markdown(results: dict[str, Any]) -> str:
    a, m, s = results["args"], results["machine"], results["summary"]
    ci = results["clip_info"]
    mem = results["memory"]
    lines = [
        "# Reward throughput",
        "",
        f"Frames/s (medians over balanced, interleaved samples; IQR in the JSON) of reward checkers "
        f"on structured scenes. (a) raw = `load_unsafe` (plain `exec`, no sandbox) called per "
        f"frame; (b) = `compile_checker(src).batch` (RestrictedPython, in process); (c) = "
        f"`Sandbox(isolation='{results['isolation']}', jit=False).evaluate`; (d) = the same with "
        f"`jit=True` (the worker's Numba kernel, or the interpreter with the reason); (e) = CLIP "
        f"ViT-B/32-shaped image tower in torch ({ci['params'] / 1e6:.1f}M random parameters, "
        f"{ci['gmac_per_frame']:.2f} GMAC per frame, {ci['torch_threads']} threads, bicubic "
        f"resize to 224; forward timed on {ci['timed_size']} px frames, other sizes swap in "
        f"their own resize time), batch 1 for batch-1 rows and batch "
        f"{max(_int_list(a['clip_batches']))} otherwise; (f) = bytes read per frame ÷ "
        f"single-thread read bandwidth "
        f"({mem['read_gbps']:.1f} GB/s, {mem['read_kernel']} Numba loop over "
        f"{mem['buffer_mib']} MiB, best of 5; a batch that fits in cache can exceed it). Ratios "
        f"are frames/s over frames/s. {m['platform']}, Python {m['python']}, numpy {m['numpy']}, "
        f"numba {m['numba']}, torch {m['torch']}, {m['cpu_count']} CPUs, {m['timestamp']}"
        f"{' (QUICK: rough numbers)' if a['quick'] else ''}.",
        "",
        "## Targets (84×84, batch 64)",
        "",
        "| target | value | reached | what bounds it |",
        "|---|---:|---|---|",
    ]
    for t in results["targets"]:
        value = t["value"]
        shown = f"{value:.3f} s" if "s (" in t["target"] else fmt_ratio(value)
        if t["threshold"] >= 1000:
            shown = f"{value:,.0f}"
        lines.append(
            f"| {t['target']} | {shown} | {'yes' if t['met'] else '**no**'} | {t['note']} |"
        )
    lines += [
        "",
        f"**Headline** ({HEADLINE}, 84×84, batch 64): {s['headline']}",
        "",
        f"Answers of (a)–(d) and the in-process JIT agree on every frame: "
        f"{'yes' if s['all_agree'] else '**NO**'} ({s['frames_compared']:,} frame answers "
        f"compared).",
        "",
        "## Frames/s per checker × size × batch",
        "",
        "| checker | px | batch | (d) path | (a) raw | (b) restricted | (c) sandbox | "
        "(d) sandbox+JIT | JIT in process | (e) CLIP | (f) mem bound | c/a | d/a | d/e | d/f "
        "| agree |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["rows"]:
        path = "JIT" if r["jit_mode"] == "jit" else f"interpreter ({r['jit_reason']})"
        lines.append(
            f"| {r['checker']} | {r['size']} | {r['batch_size']} | {path} | {fmt_fps(r['raw_fps'])} | "
            f"{fmt_fps(r['restricted_fps'])} | {fmt_fps(r['sandbox_fps'])} | {fmt_fps(r['jit_fps'])} | "
            f"{fmt_fps(r['jit_inproc_fps'])} | {fmt_fps(r['clip_fps'])} | {fmt_fps(r['mem_bound_fps'])} | "
            f"{fmt_ratio(r['ratio_sandbox_raw'])} | {fmt_ratio(r['ratio_jit_raw'])} | "
            f"{fmt_ratio(r['ratio_jit_clip'])} | {fmt_ratio(r['ratio_jit_membound'])} | "
            f"{'yes' if r['agree'] else 'NO'} |"
        )
    b = results["bounds"]
    if b.get("rows"):
        lines += [
            "",
            f"## Bounds of the headline ({HEADLINE}, 84×84, {b['isolation']} isolation)",
            "",
            "µs per batch (medians). reference = a flat, branch-free Numba kernel without bounds "
            "checks (research §5.2), for scale; kernel = the worker's Numba batch kernel called "
            "directly on read-only memory; JIT in process = `compile_checker(src, jit=True).batch` (adds the "
            "immutable copy); shm copy = the parent's copy of the batch into shared memory; null "
            "box = `return True` behind the sandbox (the fixed cost of one batch: copy, "
            "validation, socket round trip, worker wake-up); colour box = (d). hop = colour box − "
            "kernel; rest = null box − shm copy.",
            "",
            "| batch | reference | kernel | JIT in process | shm copy | null box | colour box | hop "
            "| rest | kernel GB/s | kernel frames/s | null box frames/s (ceiling) | colour box "
            "frames/s | agree |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for x in b["rows"]:
            lines.append(
                f"| {x['batch_size']} | {x['ref_kernel_us']:.1f} | {x['kernel_us']:.1f} | "
                f"{x['jit_inproc_us']:.1f} | "
                f"{x['shm_copy_us']:.1f} | {x['null_box_us']:.1f} | {x['color_box_us']:.1f} | "
                f"{x['hop_us']:.1f} | {x['ipc_us']:.1f} | {x['kernel_gbps']:.1f} | "
                f"{fmt_fps(x['kernel_fps'])} | "
                f"{fmt_fps(x['null_box_fps'])} | {fmt_fps(x['color_box_fps'])} | "
                f"{'yes' if x['mismatches'] == 0 else 'NO'} |"
            )
    lines += [
        "",
        "## CLIP ViT-B/32 image tower (e)",
        "",
        "| frame px | batch | s per frame (median) | fastest sample | frames/s | GMAC/s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for c in results["clip"]:
        lines.append(
            f"| {c['size']} | {c['batch_size']} | {c['s_per_frame'] * 1e3:.1f} ms | "
            f"{c['s_per_frame_best'] * 1e3:.1f} ms | {c['fps']:.2f} | {c['gmac_per_s']:.1f} |"
        )
    lines += [
        "",
        "Resize + normalise alone, per frame: "
        + ", ".join(
            f"{side} px {v * 1e3:.2f} ms" for side, v in ci["resize_s_per_frame_by_size"].items()
        )
        + f". {ci['torch_threads']} torch threads on {m['cpu_count']} CPUs are very sensitive to "
        "other load (OpenMP barriers spin); (d)/(e) in the targets uses CLIP's fastest sample.",
    ]
    comp = results["compile"]
    lines += [
        "",
        f"## Memory (f)\n\nSingle-thread read {mem['read_words_gbps']:.1f} GB/s (uint64 words), "
        f"{mem['read_bytes_gbps']:.1f} GB/s (uint8 bytes); `np.copyto` {mem['copy_gbps']:.1f} "
        f"GB/s copied ({mem['buffer_mib']} MiB, best of 5).",
        "",
        f"## JIT compile ({comp['checker']}, fresh subprocess each, {comp['repeats']} repeat(s), "
        "medians)",
        "",
        "| scenario | warm_up s | build_kernel s | of which numba s | first call | "
        "build + first call s | whole process s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, (label, _) in COMPILE_SCENARIOS.items():
        if key not in comp:
            continue
        c = comp[key]
        if c.get("ok"):
            lines.append(
                f"| {label} | {c['warm_up_s']:.3f} | {c['build_s']:.3f} | "
                f"{c['kernel_seconds']:.3f} | {c['first_call_s'] * 1e3:.2f} ms | "
                f"{c['compile_s']:.3f} | {c['process_wall_s']:.2f} |"
            )
        else:
            lines.append(f"| {label} | failed: {c.get('reason', '?')} | | | | | |")
    lines += [
        "",
        "Checkers: "
        + "; ".join(
            f"`{cid}`: {c['description']} "
            f"({'JIT' if c['jit_mode'] == 'jit' else 'interpreter: ' + c['jit_reason']})"
            for cid, c in results["checkers"].items()
        )
        + ".",
        "",
        f"Sandbox sources sha256 {s['sandbox_source_sha256'][:12]} (commit "
        f"{(s['git_commit'] or '?')[:12]}, working tree may differ); changed during the run: "
        f"{'**YES (numbers tainted)**' if s['sandbox_source_changed_during_run'] else 'no'}.",
        "",
        f"Elapsed {s['elapsed_s']:.0f} s ("
        + ", ".join(f"{k} {v:.0f} s" for k, v in s["section_s"].items())
        + f"). Load average (1 min) {results['load_avg_at_start'][0]:.1f} at the start and "
        f"{m['load_avg'][0]:.1f} at the end on {m['cpu_count']} CPUs: above the CPU count, other "
        "processes competed for the CPUs, which widens the IQRs and slows the two-process modes "
        "(c) and (d) most."
        if results.get("load_avg_at_start") and m.get("load_avg")
        else f"Elapsed {s['elapsed_s']:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 5.6), gridspec_kw={"width_ratios": [1.2, 1]})
    rows = sorted(
        (r for r in results["rows"] if r["checker"] == HEADLINE and r["size"] == 84),
        key=lambda r: r["batch_size"],
    )
    styles = {
        "raw": ("tab:gray", "o", "-"),
        "restricted": ("tab:blue", "s", "-"),
        "sandbox": ("tab:orange", "^", "-"),
        "jit": ("tab:green", "D", "-"),
        "jit_inproc": ("tab:olive", "v", ":"),
    }
    xs = [r["batch_size"] for r in rows]
    for m, label in MODES.items():
        ys = [r[f"{m}_fps"] for r in rows]
        if not ys or any(y is None for y in ys):
            continue
        lo = [r[f"{m}_fps"] - r[f"{m}_fps_iqr"][0] for r in rows]
        hi = [r[f"{m}_fps_iqr"][1] - r[f"{m}_fps"] for r in rows]
        color, marker, ls = styles[m]
        ax1.errorbar(
            xs, ys, yerr=[lo, hi], color=color, marker=marker, ls=ls, capsize=2, label=label
        )
    b = [x for x in results["bounds"].get("rows", [])]
    if b:
        bx = [x["batch_size"] for x in b]
        ax1.plot(
            bx, [x["kernel_fps"] for x in b], "g--", lw=1, label="worker's kernel alone (no hop)"
        )
        ax1.plot(
            bx,
            [x["ref_kernel_fps"] for x in b],
            color="tab:cyan",
            ls="--",
            lw=1,
            label="reference kernel, no bounds checks",
        )
        ax1.plot(bx, [x["null_box_fps"] for x in b], "k--", lw=1, label="`return True` box ceiling")
        ax1.plot(
            bx,
            [x["color_box_fps"] for x in b],
            color="tab:green",
            ls="-.",
            lw=1,
            alpha=0.6,
            label="(d), bounds section",
        )
    clip = [c for c in results["clip"] if c["size"] == 84]
    if clip:
        ax1.plot(
            [c["batch_size"] for c in clip],
            [c["fps"] for c in clip],
            color="tab:red",
            marker="x",
            label="(e) CLIP ViT-B/32",
        )
    if rows:
        ax1.axhline(
            rows[0]["mem_bound_fps"], color="tab:purple", ls=":", label="(f) memory-read bound"
        )
    ax1.axhline(500_000, color="k", lw=0.6, alpha=0.4, label="500k target")
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax1.set_xlabel("batch size (frames)")
    ax1.set_ylabel("frames/s (median, IQR bars; log)")
    ax1.set_title(f"{HEADLINE}, 84×84 frames")
    ax1.grid(which="both", alpha=0.3)
    ax1.legend(fontsize=7, loc="lower right")

    sel = [r for r in results["rows"] if r["size"] == 84 and r["batch_size"] == 64]
    x = np.arange(len(sel))
    width = 0.2
    for i, m in enumerate(("raw", "restricted", "sandbox", "jit")):
        ax2.bar(
            x + (i - 1.5) * width,
            [r[f"{m}_fps"] for r in sel],
            width,
            color=styles[m][0],
            label=MODES[m],
        )
    ax2.set_yscale("log")
    ax2.set_xticks(
        x,
        [r["checker"] + ("" if r["jit_mode"] == "jit" else "\n(no JIT)") for r in sel],
        rotation=25,
        ha="right",
        fontsize=8,
    )
    ax2.set_ylabel("frames/s (median, log)")
    ax2.set_title("All checkers, 84×84, batch 64")
    ax2.grid(axis="y", which="both", alpha=0.3)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
