# case_04 (f01_param_named_np): parameter named like the numpy alias: kernel calls numpy, interpreter uses the parameter (Denied)
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
import numpy as np


def h(np, t):
    if t:
        return np.sqrt(4.0) == 2.0
    return False


def check(frame):
    return h(frame[0, 0, 2], frame[0, 0, 0] == 37 and frame[0, 0, 1] == 38)
