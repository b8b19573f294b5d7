import numpy as np

def check(frame):
    # blue ball
    blue = (frame[:, :, 0] < 50) & (frame[:, :, 1] < 50) & (frame[:, :, 2] > 200)
    num = np.count_nonzero(blue)
    tile = frame.shape[0] // 8
    # ball is gone from the floor
    if num < tile * tile * 0.1:
        return True
    return False
