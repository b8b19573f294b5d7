# case_15 (d05_ellipsis_store): a[..., 0] = 300: stores through ... stay native and wrap where numpy raises OverflowError
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
import numpy as np


def check(frame):
    a = np.zeros((2, 2), np.uint8)
    v = 3
    if frame[0, 0, 0] == 37 and frame[0, 0, 1] == 38:
        v = 300
    a[..., 0] = v
    return a[0, 0] == 44
