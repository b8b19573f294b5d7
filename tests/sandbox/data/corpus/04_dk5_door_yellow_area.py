# corpus: style=gpt-4o; env=MiniGrid-DoorKey-5x5-v0; label=door_open; idioms=per-channel-and,first-frame,astype,np-sum
import numpy as np


def yellowish_area(img):
    # any shade of yellow: red and green high and close together, blue low
    img = img.astype(np.int16)
    r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
    mask = (r > 90) & (g > 90) & (b < 60) & (np.abs(r - g) < 30)
    return int(np.sum(mask))


def check(frame, first):
    # A locked door is a filled yellow square (~64 px at tile size 8); once opened
    # only a thin yellow outline remains, so the yellow area drops sharply.
    before = yellowish_area(first)
    after = yellowish_area(frame)
    return bool(before - after > 35)
