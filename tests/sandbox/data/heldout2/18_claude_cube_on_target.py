import math
import numpy as np

CUBE_RGB = (30, 80, 220)
TARGET_RGB = (60, 200, 60)
TOL = 45
MIN_CUBE_PIXELS = 8
MAX_OFFSET = 3.0  # pixels, at 64x64


def check(frame):
    """True when the cube sits on the target marker (64x64 tabletop render)."""
    h, w = frame.shape[:2]
    scale = w / 64.0

    cube = color_mask(frame, CUBE_RGB, tol=TOL)
    n_cube = int(cube.sum())
    if n_cube < MIN_CUBE_PIXELS * scale * scale:
        return False

    target = color_mask(frame, TARGET_RGB, tol=TOL)
    n_target = int(target.sum())
    if n_target == 0:
        # Target completely hidden: only plausible if the cube is covering it.
        return True

    cy, cx = centroid(cube)
    ty, tx = centroid(target)
    if math.hypot(cy - ty, cx - tx) <= MAX_OFFSET * scale:
        return True

    # Partial occlusion: the visible part of the target hugs the cube's box.
    y0, x0, y1, x1 = bbox(cube)
    ty0, tx0, ty1, tx1 = bbox(target)
    overlap_y = min(y1, ty1) - max(y0, ty0)
    overlap_x = min(x1, tx1) - max(x0, tx0)
    return overlap_y > 0 and overlap_x > 0 and n_target < 0.5 * n_cube
