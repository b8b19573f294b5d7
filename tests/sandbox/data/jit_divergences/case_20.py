# case_20 (e04_index_bool): same unification: frame[True, 0, 0] is a boolean index in numpy (returns an array -> contract error), frame[1, 0, 0] in the kernel
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
def check(frame):
    k = 0
    if frame[0, 0, 0] == 37 and frame[0, 0, 1] == 38:
        k = True
    return frame[k, 0, 0] == 37
