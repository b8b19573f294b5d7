import numpy as np

def check(frame):
    # red color of agent
    red = np.array([255, 0, 0])
    mask = np.all(frame == red, axis=2)
    ys, xs = np.where(mask)
    if len(ys) == 0:
        return False
    h, w = frame.shape[0], frame.shape[1]
    # center of the agent
    cy = np.mean(ys)
    cx = np.mean(xs)
    # top-left room is the upper left quarter of the image
    if cy < h / 2 and cx < w / 2:
        return True
    else:
        return False
