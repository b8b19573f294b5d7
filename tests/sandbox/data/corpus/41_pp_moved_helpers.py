# corpus: style=claude; env=PandaPush-v3; label=cube_moved; idioms=vision-helpers,centroid,pixel_count,math-hypot,module-helper,early-return,docstring,import-math
# ruff: noqa: F821
import math

import numpy as np

MIN_PIXELS = 6  # fewer than this: the cube is (mostly) hidden behind the arm
MOVE_PX = 1.5


def cube_mask(frame):
    """Green cube pixels: green clearly dominates red and blue."""
    img = frame.astype(np.int32)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return (g - np.maximum(r, b)) > 60


def check(frame, first):
    """True when the cube's centre has moved away from where it started.

    When the gripper hides most of the cube the centroid is unreliable, so the frame is
    treated as "not moved" rather than guessing.
    """
    now, start = cube_mask(frame), cube_mask(first)
    if pixel_count(now) < MIN_PIXELS or pixel_count(start) < MIN_PIXELS:
        return False
    cy, cx = centroid(now)
    sy, sx = centroid(start)
    return math.hypot(cy - sy, cx - sx) > MOVE_PX
