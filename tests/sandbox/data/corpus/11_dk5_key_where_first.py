# corpus: style=qwen-vl; env=MiniGrid-DoorKey-5x5-v0; label=key_picked; idioms=np-where,first-frame,per-channel-and,slicing,early-return
import numpy as np


def check(frame, first):
    # locate the key in the first frame
    mask = (first[:, :, 0] > 200) & (first[:, :, 1] > 200) & (first[:, :, 2] < 80)
    ys, xs = np.where(mask)
    if len(ys) == 0:
        return False
    y0, y1 = ys.min(), ys.max() + 1
    x0, x1 = xs.min(), xs.max() + 1
    # check whether the key is still at the same place
    patch = frame[y0:y1, x0:x1]
    still = (patch[:, :, 0] > 200) & (patch[:, :, 1] > 200) & (patch[:, :, 2] < 80)
    return bool(still.sum() < 3)
