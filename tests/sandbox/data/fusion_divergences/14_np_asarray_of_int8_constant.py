"""np.asarray(NAME) of an int8 array constant: numpy keeps int8 (int8 - int8 wraps); fusion made it int64."""
import numpy as np

NEG = np.array([-128, 5, 127], dtype=np.int8)


def check(frame, first):
    return np.count_nonzero(frame.astype(np.int8) - np.asarray(NEG) > 100) > 0
