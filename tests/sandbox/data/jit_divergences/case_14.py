# case_14 (d04_chained_assign_subscript): a[0] = b = v: _store only routes single-target subscript stores through vlmcar_setitem; the chained store wraps silently
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
import numpy as np


def check(frame):
    a = np.zeros(2, np.uint8)
    v = 3
    if frame[0, 0, 0] == 37 and frame[0, 0, 1] == 38:
        v = 300
    a[0] = b = v
    return a[0] == 44 and b > 0
