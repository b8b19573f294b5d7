# case_12 (e08_fold_mutating_nested): same as c10 inside any(<genexpr>) with a nested function that mutates the captured array
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
import numpy as np


def check(frame):
    a = np.zeros(3, np.int64)
    t = frame[0, 0, 1] == 38

    def f(x):
        if t:
            a[1] = 7
        return x == 7

    return any(f(x) for x in a)
