import numpy as np

def check(frame, first):
    # red target marker
    red = np.array([255, 0, 0])
    tol = 40
    diff0 = np.abs(first.astype(np.int16) - red)
    diff1 = np.abs(frame.astype(np.int16) - red)
    m0 = np.all(diff0 < tol, axis=-1)
    m1 = np.all(diff1 < tol, axis=-1)
    n0 = np.count_nonzero(m0)
    n1 = np.count_nonzero(m1)
    if n0 == 0:
        return False
    ratio = n1 / n0
    # target is covered if most red pixels disappeared
    if ratio < 0.3:
        return True
    return False
