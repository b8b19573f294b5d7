# corpus: style=qwen-vl; env=MiniGrid-DoorKey-8x8-v0; label=key_picked; idioms=mean-axis2,per-channel-and,np-sum
import numpy as np


def check(frame):
    # brightness of every pixel
    gray = frame.mean(axis=2)
    # the key is bright yellow: very bright and no blue
    key = (gray > 150) & (frame[:, :, 2] < 50)
    return bool(np.sum(key) < 3)
