"""Shared fixtures for the sandbox tests: the public attack sample and frame builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "security" / "attacks-public.jsonl"


def load_attacks() -> list[dict[str, Any]]:
    """The vendored copy of ../shared/security/attacks-public.jsonl (one dict per entry)."""
    lines = (DATA / "attacks-public.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


ATTACKS = [a for a in load_attacks() if a["category"] != "benign"]
BENIGN = [a for a in load_attacks() if a["category"] == "benign"]


def scene(
    h: int = 32, w: int = 32, *, background: tuple[int, int, int] = (0, 0, 0), rects: Any = ()
) -> np.ndarray:
    """A frame with a background colour and filled rectangles ``(y0, x0, y1, x1, rgb)``."""
    f = np.empty((h, w, 3), np.uint8)
    f[...] = background
    for y0, x0, y1, x1, rgb in rects:
        f[y0:y1, x0:x1] = rgb
    return f


@pytest.fixture
def noise_frame() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
