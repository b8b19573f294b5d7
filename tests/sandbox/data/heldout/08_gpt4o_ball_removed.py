import numpy as np

BLUE = (0, 0, 255)
TOLERANCE = 30


def check(frame, first):
    """Return True if the blue ball has been picked up or removed from view."""
    # Count blue ball pixels at the start and now
    mask_first = color_mask(first, BLUE, tol=TOLERANCE)
    mask_now = color_mask(frame, BLUE, tol=TOLERANCE)

    start_count = pixel_count(mask_first)
    if start_count == 0:
        return False

    # The ball counts as removed when less than 10% of it is still visible
    return pixel_count(mask_now) <= 0.1 * start_count
