import numpy as np

def check(frame):
    # find the red agent
    red = color_mask(frame, (255, 0, 0))
    ys, xs = np.where(red)
    if len(ys) < 3:
        return False
    h = frame.shape[0]
    # agent is in the lower rooms
    return bool(np.mean(ys) > h / 2)
