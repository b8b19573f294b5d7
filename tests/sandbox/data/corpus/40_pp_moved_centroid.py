# corpus: style=gpt-4o; env=PandaPush-v3; label=cube_moved; idioms=per-channel-and,argwhere,mean-axis0,linalg-norm,first-frame,early-return,astype
import numpy as np


def green_mask(img):
    img = img.astype(np.int32)
    r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
    return (g > 100) & (r < 80) & (b < 80)


def check(frame, first):
    cur = np.argwhere(green_mask(frame))
    start = np.argwhere(green_mask(first))
    # cube not visible (e.g. hidden by the gripper): cannot tell
    if len(cur) == 0 or len(start) == 0:
        return False
    shift = np.linalg.norm(cur.mean(axis=0) - start.mean(axis=0))
    # the cube moved if its centre shifted by more than 2 pixels
    return bool(shift > 2.0)
