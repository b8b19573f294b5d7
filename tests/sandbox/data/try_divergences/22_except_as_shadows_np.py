import numpy as np

def check(frame):
    v = 0
    try:
        if frame[0, 0, 0] == 37:
            v = np.sum(frame[0, 0]) + 200
    except Exception as np:
        return False
    return v > 100
