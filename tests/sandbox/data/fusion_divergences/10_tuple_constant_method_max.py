import numpy as np

KEY = (255, 0, 0)

def check(frame, first):
    return np.count_nonzero(frame[..., 0] >= KEY.max(axis=-1)) >= 0
