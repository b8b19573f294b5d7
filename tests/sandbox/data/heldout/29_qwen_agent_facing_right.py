import numpy as np

def check(frame):
    # red agent triangle
    mask = (frame[:, :, 0] == 255) & (frame[:, :, 1] == 0) & (frame[:, :, 2] == 0)
    ys, xs = np.where(mask)
    if len(xs) < 3:
        return False
    x_min, x_max = xs.min(), xs.max()
    # triangle pointing right: left column is tall, right column is short
    left_col = mask[:, x_min].sum()
    right_col = mask[:, x_max].sum()
    y_span = ys.max() - ys.min() + 1
    x_span = x_max - x_min + 1
    if x_span < y_span * 0.5:
        return False
    return left_col > right_col * 2
