# case_03 (f08_helper_param_shadow_const_in_fold): parameter named like a module constant, read inside a folded generator: fold treats it as the constant (outside set) and the helper reads the constant
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
N = 2


def h(N):
    return sum(1 for i in range(N)) == 37


def check(frame):
    return h(frame[0, 0, 0])
