# case_09 (c07_unbound_local): name bound only in one branch: interpreter raises UnboundLocalError, numba reads an undefined (zero) value and answers
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
def check(frame):
    if frame[0, 0, 0] == 37 and frame[0, 0, 1] == 38:
        pass
    else:
        y = 1
    return y == 1
