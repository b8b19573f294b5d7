# case_13 (d02_for_subscript_target): for a[0] in range(...): range loop keeps a Subscript target as a native store (no vlmcar_setitem), numba wraps 256 into uint8 where numpy raises OverflowError
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
import numpy as np


def check(frame):
    a = np.zeros(1, np.uint8)
    stop = 256
    if frame[0, 0, 0] == 37 and frame[0, 0, 1] == 38:
        stop = 258
    for a[0] in range(250, stop):
        pass
    return a[0] < 100
