import numpy as np

GOAL_GREEN = (0, 255, 0)
MIN_AREA = 16


def check(frame):
    """Return True if a green goal tile is visible in the agent's view.

    A goal tile is a solid green square, so we look for a connected green
    region that is roughly square and fills most of its bounding box.
    """
    mask = color_mask(frame, GOAL_GREEN, tol=20)
    if np.count_nonzero(mask) < MIN_AREA:
        return False

    labels, n = connected_components(mask)
    for label in range(1, n + 1):
        region = labels == label
        area = int(region.sum())
        if area < MIN_AREA:
            continue
        y0, x0, y1, x1 = bbox(region)
        h, w = y1 - y0 + 1, x1 - x0 + 1
        fill = area / float(h * w)
        aspect = min(h, w) / max(h, w)
        if fill > 0.8 and aspect > 0.7:
            return True
    return False
