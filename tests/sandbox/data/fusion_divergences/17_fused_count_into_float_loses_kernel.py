"""A count moved into a float variable: np.count_nonzero is a "size" for the int-widening check,
the fused helper's result is not, so fusion costs this checker its kernel (unfused: jitted)."""
import numpy as np


def check(frame, first):
    n = np.count_nonzero(frame[..., 0] > 100)
    if n < 3:
        n = 0.5
    return n > 1
