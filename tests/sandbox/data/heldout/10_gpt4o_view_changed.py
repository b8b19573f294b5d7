import numpy as np

CHANGE_TOL = 10
MIN_FRACTION = 0.01


def check(frame, first):
    """Return True if the agent has taken an action that changed the view.

    We compare the current observation to the first one. Small differences
    (compression or anti-aliasing) are ignored using a per-channel tolerance.
    """
    if frame.shape != first.shape:
        return False

    fraction = changed_fraction(frame, first, tol=CHANGE_TOL)
    if fraction < MIN_FRACTION:
        return False

    # Make sure the change is not just a global brightness flicker
    diff = np.abs(frame.astype(np.int32) - first.astype(np.int32)).max(axis=-1)
    changed_rows = np.count_nonzero(diff.max(axis=1) > CHANGE_TOL)
    return changed_rows < frame.shape[0]
