import numpy as np

def check(frame):
    red = (frame[:, :, 0] == 255) & (frame[:, :, 1] == 0) & (frame[:, :, 2] == 0)
    pts = np.argwhere(red)
    if len(pts) < 3:
        return False
    x_min = pts[:, 1].min()
    x_max = pts[:, 1].max()
    if x_max - x_min < 2:
        return False
    # the triangle: the base is the wide side, the tip is the narrow side
    left_col = np.count_nonzero(red[:, x_min])
    right_col = np.count_nonzero(red[:, x_max])
    # pointing right means wide on the left and narrow on the right
    if left_col > right_col:
        return True
    return False
