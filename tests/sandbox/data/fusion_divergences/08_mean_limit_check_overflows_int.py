import numpy as np

def check(frame, first):
    return np.mean(frame[..., 0].astype(np.int64) * 4503599627370496) > 0
