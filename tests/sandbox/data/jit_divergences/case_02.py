# case_02 (c02_lambda_param_shadows_const): lambda/nested-function parameter named like a module constant: kernel reads the constant
# trigger frame: pixel [0,0] == (37, 38, 39) (any background); kernel attached after probe agreement
N = 5


def check(frame):
    f = lambda N: N == 37
    return f(frame[0, 0, 0])
