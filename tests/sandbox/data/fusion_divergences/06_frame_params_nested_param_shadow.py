import numpy as np

def helper(img):
    return np.count_nonzero(img[..., 0] + img[..., 1] > 300)

def check(frame, first):
    def inner(frame):
        return helper(frame)
    return inner(first.astype(np.int16)) > 0
