import numpy as np

KEY = (255, 0, 0)

def check(frame, first):
    return np.count_nonzero(np.all(frame == KEY.astype(np.uint8), axis=-1)) >= 0
