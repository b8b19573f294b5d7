import numpy as np

def check(frame, first):
    return np.count_nonzero(np.sqrt(frame[..., 0]) > 11.3130) > 0
