# corpus: style=gpt-4o; env=PandaPush-v3; label=cube_at_target; idioms=nonzero,mean,first-frame,np-sqrt,module-helper,tuple-return,early-return
import numpy as np


def blob_center(mask):
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None
    return float(np.mean(ys)), float(np.mean(xs))


def check(frame, first):
    img = frame.astype(np.int32)
    green = (img[:, :, 1] > 100) & (img[:, :, 0] < 80) & (img[:, :, 2] < 80)
    cube = blob_center(green)
    if cube is None:
        return False
    # The target can be hidden under the cube, so take its position from the first frame.
    ref = first.astype(np.int32)
    red = (ref[:, :, 0] > 100) & (ref[:, :, 1] < 80) & (ref[:, :, 2] < 80)
    target = blob_center(red)
    if target is None:
        return False
    dist = np.sqrt((cube[0] - target[0]) ** 2 + (cube[1] - target[1]) ** 2)
    return bool(dist < 4.0)
