"""+red of a local tuple literal: Python raises TypeError (bad operand type for unary +); fusion passes it."""
import numpy as np


def check(frame, first):
    red = (255, 0, 0)
    return np.count_nonzero(np.all(frame == +red, axis=-1)) > 5
