import numpy as np

DOOR = np.array([200, 120, 10], dtype=np.uint8)

def check(frame, first):
    return np.count_nonzero(np.max(DOOR, axis=-1) > 5) > 0 and np.count_nonzero(frame[..., 0] > 5) >= 0
