# corpus: style=qwen-vl; env=MiniGrid-KeyCorridorS3R1-v0; label=key_picked; idioms=nonzero,per-channel-and,first-frame,early-return
import numpy as np


def check(frame, first):
    # yellow key pixels at the start
    start = np.nonzero((first[:, :, 0] > 200) & (first[:, :, 1] > 200) & (first[:, :, 2] < 100))
    if len(start[0]) == 0:
        return False
    now = np.nonzero((frame[:, :, 0] > 200) & (frame[:, :, 1] > 200) & (frame[:, :, 2] < 100))
    return bool(len(now[0]) < len(start[0]) / 2)
