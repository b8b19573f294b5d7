import numpy as np

DOOR_YELLOW = (255, 255, 0)
YELLOW_TOL = 15
CHANGE_TOL = 20
MIN_DOOR_PIXELS = 16


def check(frame, first):
    """Return True if the locked yellow door has changed state (unlocked/opened).

    Strategy: locate the door in the *first* frame (the yellow region), then
    measure how much of that region has changed since. An opened door keeps
    only its outline, so a large part of its box changes colour.
    """
    door_mask = color_mask(first, DOOR_YELLOW, tol=YELLOW_TOL)
    if largest_component(door_mask) < MIN_DOOR_PIXELS:
        # No door-sized yellow region to track
        return False

    y0, x0, y1, x1 = bbox(door_mask)
    try:
        change = region_change(frame, first, y0, x0, y1 + 1, x1 + 1, tol=CHANGE_TOL)
    except ValueError:
        # Shapes disagree or the box is invalid; treat as "not done"
        return False

    return change > 0.3
