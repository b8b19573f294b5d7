import math
import numpy as np

CUBE_RGB = (30, 80, 220)    # blue cube, top face
TARGET_RGB = (60, 200, 60)  # green target disc
TOL = 40
MIN_PIXELS = 6
PROGRESS = 0.5  # fraction of the initial distance that must be closed


def _locate(frame, rgb):
    """Centroid (y, x) of the pixels near `rgb`, or None if too few are visible."""
    mask = color_mask(frame, rgb, tol=TOL)
    if mask.sum() < MIN_PIXELS:
        return None
    return centroid(mask)


def check(frame, first):
    """True once the cube has closed at least half of its distance to the target."""
    cube0 = _locate(first, CUBE_RGB)
    # Take the target from the first frame: later the cube may cover it.
    target = _locate(first, TARGET_RGB)
    if cube0 is None or target is None:
        return False

    d0 = math.hypot(cube0[0] - target[0], cube0[1] - target[1])
    if d0 < 1e-6:
        return True  # started on the target

    cube = _locate(frame, CUBE_RGB)
    if cube is None:
        # Cube not visible (probably occluded by the arm). Don't reward.
        return False

    d = math.hypot(cube[0] - target[0], cube[1] - target[1])
    return d <= (1.0 - PROGRESS) * d0
