# case_17 (e01_invert_bool): ~ on a Python bool: interpreter -2 (int invert), numba logical not (False)
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
def check(frame):
    b = frame[0, 0, 0] == 37
    return ~b == -2
