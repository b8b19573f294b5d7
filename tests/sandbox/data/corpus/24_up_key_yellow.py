# corpus: style=qwen-vl; env=MiniGrid-UnlockPickup-v0; label=key_picked; idioms=np-all-axis,tuple-constant,np-sum
import numpy as np

KEY = (255, 255, 0)


def check(frame):
    # count yellow key pixels
    key = np.all(frame == KEY, axis=-1)
    # no key pixels: the agent has the key
    return bool(np.sum(key) == 0)
