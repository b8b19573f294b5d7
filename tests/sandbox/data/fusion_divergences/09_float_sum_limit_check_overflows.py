import numpy as np

def check(frame, first):
    big = frame[..., 0].astype(float) * 17592186044416 + frame[..., 1]
    return np.sum(big) > 9196895796858300000.0
