import numpy as np

WALL = np.array([100, 100, 100])
AGENT = np.array([255, 0, 0])


def _divider_columns(frame):
    """Pixel columns of interior vertical walls (columns that are mostly wall grey)."""
    wall = np.all(frame == WALL, axis=-1)
    h, w = wall.shape
    tile = max(1, w // 8)
    frac = wall.mean(axis=0)
    cols = np.nonzero(frac > 0.6)[0]
    # Ignore the outer border walls.
    return sorted(int(x) for x in cols if tile <= x < w - tile)


def _agent_x(frame):
    ys, xs = np.nonzero(np.all(frame == AGENT, axis=-1))
    if xs.size == 0:
        return None
    return float(xs.mean())


def _room_index(x, dividers):
    """Number of dividing walls to the left of x."""
    return sum(1 for d in dividers if x > d)


def check(frame, first):
    """True once the agent is in a different room than the one it started in."""
    dividers = _divider_columns(first)
    if not dividers:
        return False  # single-room layout: there is nothing to leave

    x0 = _agent_x(first)
    x1 = _agent_x(frame)
    if x0 is None or x1 is None:
        return False

    return _room_index(x1, dividers) != _room_index(x0, dividers)
