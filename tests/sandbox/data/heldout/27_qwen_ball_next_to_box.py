import numpy as np

def check(frame):
    ball = np.all(frame == np.array([0, 0, 255]), axis=-1)
    box = np.all(frame == np.array([112, 39, 195]), axis=-1)
    if ball.sum() == 0 or box.sum() == 0:
        return False
    by, bx = np.nonzero(ball)
    oy, ox = np.nonzero(box)
    # centers of the objects
    ball_c = (by.mean(), bx.mean())
    box_c = (oy.mean(), ox.mean())
    tile = 32 if frame.shape[1] >= 256 else 8
    gap = max(abs(ball_c[i] - box_c[i]) for i in range(2))
    # adjacent tiles: centers are about one tile apart
    return gap <= tile * 1.2
