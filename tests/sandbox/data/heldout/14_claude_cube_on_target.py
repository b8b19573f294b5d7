import numpy as np

CUBE_GREEN = np.array([0, 255, 0], dtype=np.int16)
TARGET_RED = np.array([255, 0, 0], dtype=np.int16)
TOLERANCE = 60      # max per-channel distance to count as the colour
COVER_RATIO = 0.5   # fraction of the marker that must be hidden


def check(frame, first):
    """Return True when the green cube rests on the red target marker.

    The marker is fully visible in the first frame. Once the cube is placed on
    it, most of the marker's pixels are occluded and cube pixels overlap the
    marker's original footprint.
    """
    cur = frame.astype(np.int16)
    ref = first.astype(np.int16)

    def close_to(img, color):
        return np.abs(img - color).max(axis=-1) <= TOLERANCE

    target_start = close_to(ref, TARGET_RED)
    n_target = int(target_start.sum())
    if n_target == 0:
        return False

    still_red = close_to(cur, TARGET_RED) & target_start
    hidden = 1.0 - still_red.sum() / n_target
    cube_over = (close_to(cur, CUBE_GREEN) & target_start).sum()
    return hidden >= COVER_RATIO and cube_over > 0.25 * n_target
