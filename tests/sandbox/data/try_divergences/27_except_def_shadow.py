import numpy as np

def helper(x):
    return x + 200

def check(frame):
    v = 0
    try:
        if frame[0, 0, 0] == 37:
            v = helper(frame[0, 0, 1])
    except Exception:
        def helper(x):
            return 0
        return False
    return v > 100
