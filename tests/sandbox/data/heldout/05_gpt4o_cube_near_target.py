import numpy as np
import math

CUBE_RGB = (0, 255, 0)
TARGET_RGB = (255, 0, 0)
COLOR_TOL = 40
DIST_THRESHOLD = 0.08  # fraction of the image diagonal


def check(frame):
    """Return True if the green cube is close to the red target marker."""
    cube_mask = color_mask(frame, CUBE_RGB, tol=COLOR_TOL)
    target_mask = color_mask(frame, TARGET_RGB, tol=COLOR_TOL)

    # Both objects must be visible
    if pixel_count(cube_mask) < 5 or pixel_count(target_mask) < 5:
        return False

    cy, cx = centroid(cube_mask)
    ty, tx = centroid(target_mask)
    distance = math.hypot(cy - ty, cx - tx)

    h, w = frame.shape[:2]
    diagonal = math.hypot(h, w)
    return distance < DIST_THRESHOLD * diagonal
