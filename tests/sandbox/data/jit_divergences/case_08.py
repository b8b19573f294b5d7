# case_08 (c05_range_overflow): range(INT64_MIN, INT64_MAX): numba's range length overflows, loop empty in kernel; Python iterates
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
def check(frame):
    a = 0
    b = 1
    if frame[0, 0, 0] == 37 and frame[0, 0, 1] == 38:
        a = -9223372036854775807 - 1
        b = 9223372036854775807
    for i in range(a, b):
        return True
    return False
