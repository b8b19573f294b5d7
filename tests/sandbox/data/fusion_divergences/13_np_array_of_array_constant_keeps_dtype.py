"""np.array(NAME) of a uint8 array constant: numpy keeps uint8 (frame - DOOR wraps); fusion made it int64."""
import numpy as np

DOOR = np.array([200, 120, 10], dtype=np.uint8)


def check(frame, first):
    return np.count_nonzero((frame - np.array(DOOR)).max(axis=-1) > 250) > 0
