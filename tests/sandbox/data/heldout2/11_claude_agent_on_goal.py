import numpy as np

# MiniGrid palette
AGENT_RGB = (255, 0, 0)
GOAL_RGB = (0, 255, 0)
GRID_SIZE = 8  # tiles per side in the rendered view


def _mask(frame, rgb, tol=8):
    """Pixels within `tol` of `rgb` in every channel."""
    diff = np.abs(frame.astype(np.int16) - np.array(rgb, dtype=np.int16))
    return np.all(diff <= tol, axis=-1)


def _cells(mask, tile):
    """Set of (row, col) grid cells that contain at least one pixel of the mask."""
    ys, xs = np.nonzero(mask)
    return {(int(y) // tile, int(x) // tile) for y, x in zip(ys, xs)}


def check(frame):
    """True when the agent is standing on the green goal tile."""
    h, w = frame.shape[:2]
    tile = max(1, min(h, w) // GRID_SIZE)

    agent = _mask(frame, AGENT_RGB)
    if agent.sum() == 0:
        return False  # agent not rendered; can't claim success

    goal = _mask(frame, GOAL_RGB)
    if goal.sum() == 0:
        # The goal tile is drawn under the agent. If it is fully hidden we
        # cannot tell the two cases apart, so be conservative.
        return False

    # The agent triangle sits inside a single tile: success when that tile
    # is also (partly) green, i.e. the agent is standing on the goal.
    ay, ax = np.argwhere(agent).mean(axis=0)
    agent_cell = (int(ay) // tile, int(ax) // tile)
    return agent_cell in _cells(goal, tile)
