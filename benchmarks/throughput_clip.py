"""Throughput experiment 2, (e): a CLIP ViT-B/32-shaped image tower in torch, seconds per frame.

Part of ``benchmarks/throughput.py`` (run that script); see its docstring for the whole.
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any

import numpy as np

from benchmarks.common import (
    summary,
    timed_call,
)
from benchmarks.throughput_setup import (
    Args,
    _int_list,
)

# --------------------------------------------------------------------------------------------
# 2. (e) CLIP ViT-B/32-shaped image tower
# --------------------------------------------------------------------------------------------

CLIP_SHAPE = {
    "image": 224,
    "patch": 32,
    "width": 768,
    "layers": 12,
    "heads": 12,
    "mlp": 3072,
    "embed": 512,
}


def clip_macs() -> int:
    """Multiply-accumulates of one ViT-B/32 image forward (convolution, blocks, projection)."""
    s = CLIP_SHAPE
    tokens = (s["image"] // s["patch"]) ** 2
    seq, d = tokens + 1, s["width"]
    conv = tokens * d * 3 * s["patch"] ** 2
    attn = seq * d * 3 * d + 2 * seq * seq * d + seq * d * d
    mlp = 2 * seq * d * s["mlp"]
    return conv + s["layers"] * (attn + mlp) + d * s["embed"]


def build_clip(torch: Any) -> Any:
    """The ViT-B/32 image tower (OpenAI CLIP shapes), random weights, from torch.nn modules."""
    nn = torch.nn
    s = CLIP_SHAPE

    class VisionTower(nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            d = s["width"]
            tokens = (s["image"] // s["patch"]) ** 2
            self.conv1 = nn.Conv2d(3, d, kernel_size=s["patch"], stride=s["patch"], bias=False)
            self.class_embedding = nn.Parameter(torch.randn(d) * d**-0.5)
            self.positional_embedding = nn.Parameter(torch.randn(tokens + 1, d) * d**-0.5)
            self.ln_pre = nn.LayerNorm(d)
            block = nn.TransformerEncoderLayer(
                d,
                s["heads"],
                s["mlp"],
                dropout=0.0,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            self.transformer = nn.TransformerEncoder(block, s["layers"], enable_nested_tensor=False)
            self.ln_post = nn.LayerNorm(d)
            self.proj = nn.Parameter(torch.randn(d, s["embed"]) * d**-0.5)

        def forward(self, x: Any) -> Any:
            x = self.conv1(x).flatten(2).transpose(1, 2)  # N, 49, 768
            cls = self.class_embedding.expand(x.shape[0], 1, -1)
            x = self.ln_pre(torch.cat([cls, x], dim=1) + self.positional_embedding)
            x = self.transformer(x)
            return self.ln_post(x[:, 0]) @ self.proj

    return VisionTower().eval()


def measure_clip(
    pools: dict[int, tuple[np.ndarray, np.ndarray]], args: Args
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Seconds per frame of resize + normalise + ViT-B/32 forward, per frame size and batch size."""
    import torch
    import torch.nn.functional as F

    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)
    try:
        t0 = time.perf_counter()
        model = build_clip(torch)
        build_s = time.perf_counter() - t0
        n_params = sum(p.numel() for p in model.parameters())
        mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
        std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
        size = CLIP_SHAPE["image"]

        def preprocess(frames: np.ndarray) -> Any:
            x = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)
            x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)
            return (x - mean) / std

        def encode(frames: np.ndarray) -> Any:
            with torch.inference_mode():
                return model(preprocess(frames))

        rows = []
        resize: dict[str, float] = {}
        clip_batches = _int_list(args.clip_batches)
        for side, (frames_all, _) in pools.items():
            # the resize alone (so that a size timed at batch 1 only can be compared fairly)
            n = max(clip_batches)
            part = np.ascontiguousarray(frames_all[:n])
            with torch.inference_mode():
                preprocess(part)
                times = [timed_call(lambda part=part: preprocess(part))[0] / 1e9 for _ in range(5)]
            resize[str(side)] = statistics.median(times) / part.shape[0]
            for n in clip_batches:
                if side != args.clip_size and args.clip_size in pools:
                    continue
                batches = [
                    np.ascontiguousarray(frames_all[i * n : (i + 1) * n])
                    for i in range(max(1, frames_all.shape[0] // n))
                ]
                out = encode(batches[0])  # warm-up (allocator, kernels)
                samples = []
                for r in range(args.clip_samples):
                    batch = batches[r % len(batches)]
                    ns, out = timed_call(lambda batch=batch: encode(batch))
                    samples.append(ns / 1e9)
                s = summary(samples)
                rows.append(
                    {
                        "size": side,
                        "batch_size": n,
                        "samples": len(samples),
                        "s_per_batch": s["median"],
                        "s_per_batch_iqr": [s["p25"], s["p75"]],
                        "s_per_frame": s["median"] / n,
                        "s_per_frame_best": min(samples) / n,
                        "fps": n / s["median"],
                        "fps_best": n / min(samples),
                        "gmac_per_s": clip_macs() * n / s["median"] / 1e9,
                        "output_shape": list(out.shape),
                    }
                )
                gc.collect()
        info = {
            "model": "ViT-B/32 image tower (OpenAI CLIP shapes), random weights, torch.nn",
            "shape": CLIP_SHAPE,
            "params": int(n_params),
            "gmac_per_frame": clip_macs() / 1e9,
            "build_s": build_s,
            "torch_threads": torch.get_num_threads(),
            "resize": "torch.nn.functional.interpolate(bicubic) to 224×224, CLIP mean/std",
            "resize_s_per_frame_by_size": resize,
            "timed_size": args.clip_size if args.clip_size in pools else "all",
            "torch": torch.__version__,
        }
    finally:
        torch.set_num_threads(threads_before)
    return rows, info
