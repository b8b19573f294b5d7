# corpus: style=qwen-vl; env=MiniGrid-DoorKey-5x5-v0; label=key_picked; idioms=np-array-constant,np-all-axis,argwhere
import numpy as np

KEY_COLOR = np.array([255, 255, 0], dtype=np.uint8)


def check(frame):
    # find pixels that are exactly the key colour
    key_pixels = np.argwhere(np.all(frame == KEY_COLOR, axis=-1))
    # if no key pixels are left, the key was picked up
    return bool(len(key_pixels) == 0)
