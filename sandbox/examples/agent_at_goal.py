"""Example checker: no green goal tile is visible any more (the red agent stands on it)."""

import numpy as np

GREEN = (0, 255, 0)


def check(frame):
    g = frame.astype(np.int16)
    green = (g[..., 1] > 200) & (g[..., 0] < 60) & (g[..., 2] < 60)
    return bool(green.sum() == 0)
