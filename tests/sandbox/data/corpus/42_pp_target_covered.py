# corpus: style=qwen-vl; env=PandaPush-v3; label=cube_at_target; idioms=per-channel-and,first-frame,np-sum
import numpy as np


def red_count(img):
    r = img[:, :, 0].astype(np.int32)
    g = img[:, :, 1].astype(np.int32)
    b = img[:, :, 2].astype(np.int32)
    return np.sum((r > 120) & (g < 60) & (b < 60))


def check(frame, first):
    # the cube covers the red target when it is on it
    return bool(red_count(frame) < 0.5 * red_count(first))
