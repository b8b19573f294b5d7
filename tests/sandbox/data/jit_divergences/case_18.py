# case_18 (e02_range_bool): name bound to int in one branch and to True in another: numba unifies to int64; interpreter's range() refuses bool
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
def check(frame):
    n = 2
    if frame[0, 0, 0] == 37 and frame[0, 0, 1] == 38:
        n = True
    c = 0
    for i in range(n):
        c += 1
    return c > 0
