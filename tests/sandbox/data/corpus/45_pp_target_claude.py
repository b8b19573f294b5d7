# corpus: style=claude; env=PandaPush-v3; label=cube_at_target; idioms=vision-helpers,centroid,pixel_count,largest_component,math-dist,first-frame,module-helper,docstring,early-return
# ruff: noqa: F821
import math

import numpy as np

CUBE_MIN_PIXELS = 5
TARGET_RADIUS_PX = 3.5


def dominant(frame, channel):
    """Pixels where one channel exceeds both others by a wide margin."""
    img = frame.astype(np.int32)
    others = [c for c in range(3) if c != channel]
    return (img[..., channel] - np.maximum(img[..., others[0]], img[..., others[1]])) > 60


def check(frame, first):
    """The cube is on the target when its centre is within a few pixels of the target's.

    The target's position is read from the first frame: once the cube sits on the
    target it hides the red marker, so the current frame cannot show where it is.
    """
    cube = dominant(frame, 1)
    if pixel_count(cube) < CUBE_MIN_PIXELS or largest_component(cube, 8) < CUBE_MIN_PIXELS:
        return False
    target = dominant(first, 0)
    if pixel_count(target) == 0:
        return False
    return math.dist(centroid(cube), centroid(target)) < TARGET_RADIUS_PX
