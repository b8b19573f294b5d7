# corpus: style=gpt-4o; env=PandaPush-v3; label=cube_moved; idioms=vision-helpers,bbox,generator-expression,builtin-max,abs,first-frame,early-return
# ruff: noqa: F821
import numpy as np


def cube_box(img):
    img = img.astype(np.int32)
    mask = (
        (img[:, :, 1] > 2 * img[:, :, 0]) & (img[:, :, 1] > 2 * img[:, :, 2]) & (img[:, :, 1] > 90)
    )
    return bbox(mask)


def check(frame, first):
    now = cube_box(frame)
    start = cube_box(first)
    if now[0] < 0 or start[0] < 0:
        return False
    # largest shift of any side of the cube's bounding box, in pixels
    shift = max(abs(now[i] - start[i]) for i in range(4))
    return shift >= 2
