# corpus: style=qwen-vl; env=MiniGrid-DoorKey-5x5-v0; label=goal_reached; idioms=nonzero,per-channel-and,min-max,slicing
import numpy as np


def check(frame):
    # red agent pixels
    red = (frame[:, :, 0] > 200) & (frame[:, :, 1] < 50) & (frame[:, :, 2] < 50)
    ys, xs = np.nonzero(red)
    if len(ys) == 0:
        return False
    # look at a small box around the agent
    y0 = max(int(ys.min()) - 2, 0)
    y1 = int(ys.max()) + 3
    x0 = max(int(xs.min()) - 2, 0)
    x1 = int(xs.max()) + 3
    box = frame[y0:y1, x0:x1]
    green = (box[:, :, 1] > 200) & (box[:, :, 0] < 50) & (box[:, :, 2] < 50)
    # agent is on the goal if there is green right next to it
    return bool(green.sum() > 0)
