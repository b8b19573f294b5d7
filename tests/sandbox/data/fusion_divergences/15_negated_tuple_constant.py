"""-KEY of a tuple: Python raises TypeError (bad operand type for unary -); fusion negates it."""
import numpy as np

KEY = (255, 0, 0)


def check(frame, first):
    return np.count_nonzero(frame.astype(int) + -KEY > 0) > 5
