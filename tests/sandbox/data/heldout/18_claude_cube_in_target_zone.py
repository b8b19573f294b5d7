import numpy as np

CUBE = (0, 255, 0)
TARGET = (255, 0, 0)
TOL = 50
MARGIN = 2  # pixels of slack around the target


def check(frame, first):
    """Return True if the green cube now sits inside the target zone.

    The red target marker is located in the first frame (before the cube can
    cover it). Then we check that the mean colour of that zone in the current
    frame is dominated by green, i.e. the cube occupies it.
    """
    target = color_mask(first, TARGET, tol=TOL)
    if pixel_count(target) < 4 or count_color(frame, CUBE, tol=TOL) == 0:
        return False

    y0, x0, y1, x1 = bbox(target)
    h, w = frame.shape[:2]
    y0, x0 = max(0, y0 - MARGIN), max(0, x0 - MARGIN)
    y1, x1 = min(h, y1 + 1 + MARGIN), min(w, x1 + 1 + MARGIN)

    r, g, b = region_mean(frame, y0, x0, y1, x1)
    if r < 0:
        return False  # empty region

    # Green must clearly dominate the other two channels
    return g > 120 and g > 1.5 * r and g > 1.5 * b
