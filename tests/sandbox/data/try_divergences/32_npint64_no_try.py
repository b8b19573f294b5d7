import numpy as np

def check(frame):
    x = np.sqrt(-1.0 * (frame[0, 0, 0] == 37))
    v = np.int64(x)
    return v > 5
