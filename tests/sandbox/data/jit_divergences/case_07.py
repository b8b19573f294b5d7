# case_07 (f04b_reversed_range_eval_order): reversed(range(a, b)) lowered to range(b-1, a-1, -1): b is evaluated before a (side effects via a nested function that mutates a captured array)
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
import numpy as np


def check(frame):
    a = np.zeros(1, np.int64)
    t = 0
    if frame[0, 0, 0] == 37 and frame[0, 0, 1] == 38:
        t = 1

    def bump():
        a[0] = a[0] + t
        return a[0]

    for i in reversed(range(bump(), bump() + 3)):
        return i == 4
    return False
