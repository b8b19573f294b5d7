import numpy as np

K8 = np.array([-128, 0, 0], dtype=np.int8)

def check(frame, first):
    return np.count_nonzero(np.any(frame.astype(np.int16) == -K8, axis=-1)) > 0
