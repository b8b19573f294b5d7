import numpy as np


def check(frame, first):
    """Check if the purple box has been moved from its starting position."""
    purple = np.array([112, 39, 195], dtype=np.uint8)

    def box_position(img):
        # Pixel coordinates of the box
        ys, xs = np.nonzero(np.all(img == purple, axis=-1))
        if ys.size == 0:
            return None
        return ys.mean(), xs.mean()

    start = box_position(first)
    now = box_position(frame)

    if start is None:
        return False
    if now is None:
        # Box is no longer visible, e.g. the agent picked it up
        return True

    dy = abs(now[0] - start[0])
    dx = abs(now[1] - start[1])
    return bool(dy > 2 or dx > 2)
