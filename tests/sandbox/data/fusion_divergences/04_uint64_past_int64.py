import numpy as np

def check(frame, first):
    x = frame[..., 0].astype(np.uint64)
    return np.count_nonzero(x * x * x * x * x * x * x * x > 5) > 0
