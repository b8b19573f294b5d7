"""len(np.argwhere(...)) is a size (len) unfused; the fused count is a plain int64, and
max(0.5, count) is then refused ("min/max hands back a 64-bit int as a float")."""
import numpy as np


def check(frame, first):
    best = 0.5
    best = max(best, len(np.argwhere(frame[..., 0] > 100)))
    return best > 1
