import numpy as np


def check(frame, first):
    """
    Returns True if the cube has been pushed away from where it started.
    """
    # Pixel-wise difference between the current frame and the first frame
    diff = np.abs(frame.astype(int) - first.astype(int)).sum(axis=2)

    # Locate the cube in the first frame (blue object)
    cube_first = (first[:, :, 2] > 150) & (first[:, :, 0] < 100) & (first[:, :, 1] < 150)
    if cube_first.sum() == 0:
        return False

    # Mark pixels that changed significantly
    changed = np.where(diff > 60, 1, 0)

    # Fraction of the original cube area that has changed
    moved_fraction = changed[cube_first].mean()

    return bool(moved_fraction > 0.3)
