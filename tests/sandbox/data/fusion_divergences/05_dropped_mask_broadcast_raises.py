import numpy as np

def check(frame, first):
    mask = frame[0:2, :, 0] > frame[0:3, :, 0]
    if frame.shape[0] > 100:
        return bool(mask.any())
    return True
