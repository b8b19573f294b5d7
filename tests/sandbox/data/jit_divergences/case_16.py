# case_16 (d06_tuple_target_subscript): a[0], b = 300, 1: tuple-target subscript store bypasses vlmcar_setitem and wraps
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
import numpy as np


def check(frame):
    a = np.zeros(2, np.uint8)
    v = 3
    if frame[0, 0, 0] == 37 and frame[0, 0, 1] == 38:
        v = 300
    a[0], b = v, 1
    return a[0] == 44
