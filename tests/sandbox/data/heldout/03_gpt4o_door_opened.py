import numpy as np


def check(frame, first):
    """Detect whether the yellow door has been opened.

    A closed door is drawn as a filled yellow tile; an open door only keeps its
    outline, so the share of yellow pixels inside the door's bounding box drops.
    """
    yellow = np.array([255, 255, 0])
    door_first = color_mask(first, yellow, tol=10)
    if not door_first.any():
        return False

    y0, x0, y1, x1 = bbox(door_first)
    box_area = (y1 - y0 + 1) * (x1 - x0 + 1)

    # Yellow fill inside the same box, at the start and now
    fill_before = np.count_nonzero(door_first[y0:y1 + 1, x0:x1 + 1]) / box_area
    door_now = color_mask(frame, yellow, tol=10)
    fill_after = np.count_nonzero(door_now[y0:y1 + 1, x0:x1 + 1]) / box_area

    return fill_after < 0.6 * fill_before
