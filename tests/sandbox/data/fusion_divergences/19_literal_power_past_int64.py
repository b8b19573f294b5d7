"""-2**63: Python folds the literal arithmetic into 9223372036854775808 (uint64 in numba); the interpreter wraps each step."""


def check(frame, first):
    return -2**63 < 0
