# corpus: style=gpt-4o; env=MiniGrid-DoorKey-5x5-v0; label=key_picked; idioms=per-channel-and,first-frame,tuple-constant,count_nonzero,astype
import numpy as np

# The key is drawn in bright yellow (255, 255, 0). The door is a darker yellow, so a
# tight threshold on all three channels picks out the key only.
KEY_RGB = (255, 255, 0)
TOL = 40


def yellow_pixels(img):
    r = img[:, :, 0].astype(np.int32)
    g = img[:, :, 1].astype(np.int32)
    b = img[:, :, 2].astype(np.int32)
    mask = (
        (np.abs(r - KEY_RGB[0]) <= TOL)
        & (np.abs(g - KEY_RGB[1]) <= TOL)
        & (np.abs(b - KEY_RGB[2]) <= TOL)
    )
    return np.count_nonzero(mask)


def check(frame, first):
    start = yellow_pixels(first)
    now = yellow_pixels(frame)
    if start == 0:
        # no key visible at the start of the episode: nothing to pick up
        return False
    # the key has been picked up when most of its pixels are gone
    return bool(now < 0.3 * start)
