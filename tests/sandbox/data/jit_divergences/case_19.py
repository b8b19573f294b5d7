# case_19 (e03_enumerate_bool_start): same unification: enumerate(seq, True) refused by the interpreter guard, accepted by the kernel
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
def check(frame):
    s = 1
    if frame[0, 0, 0] == 37 and frame[0, 0, 1] == 38:
        s = True
    for i, v in enumerate((4, 5), s):
        return i == 1
    return False
