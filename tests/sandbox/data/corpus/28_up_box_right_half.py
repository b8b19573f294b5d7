# corpus: style=qwen-vl; env=MiniGrid-UnlockPickup-v0; label=box_picked; idioms=first-frame,np-any,np-sum,slicing
import numpy as np


def count_objects(img):
    # pixels that are not black and not grey
    r = img[:, :, 0].astype(np.int32)
    g = img[:, :, 1].astype(np.int32)
    b = img[:, :, 2].astype(np.int32)
    grey = (np.abs(r - g) < 10) & (np.abs(g - b) < 10)
    return np.sum(~grey)


def check(frame, first):
    half = frame.shape[1] // 2
    now = count_objects(frame[:, half:])
    start = count_objects(first[:, half:])
    # the box is gone from the right room
    return bool(now < start * 0.5)
