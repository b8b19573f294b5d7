# case_01 (c01_param_shadows_const): helper parameter named like a module constant: kernel reads the constant (_Rebuild.name checks constants before locals)
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
N = 5


def helper(N):
    return N == 37


def check(frame):
    return helper(frame[0, 0, 0])
