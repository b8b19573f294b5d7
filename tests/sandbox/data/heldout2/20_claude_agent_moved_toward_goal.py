import numpy as np

AGENT_RGB = (255, 0, 0)
GOAL_RGB = (0, 255, 0)
MIN_PIXELS = 3  # fewer matching pixels than this is treated as "not visible"


def _cell(frame, rgb, tile):
    """Grid cell (row, col) of the centroid of `rgb`; raises ValueError if absent."""
    mask = color_mask(frame, rgb, tol=10)
    if pixel_count(mask) < MIN_PIXELS:
        raise ValueError("colour not found")
    cy, cx = centroid(mask)
    return int(cy // tile), int(cx // tile)


def check(frame, first):
    """True once the agent is at least two tiles closer to the goal than at the start."""
    tile = frame.shape[0] // 8
    if tile == 0:
        return False
    try:
        start = _cell(first, AGENT_RGB, tile)
        goal = _cell(first, GOAL_RGB, tile)
        now = _cell(frame, AGENT_RGB, tile)
    except ValueError:
        return False

    d_start = abs(start[0] - goal[0]) + abs(start[1] - goal[1])
    d_now = abs(now[0] - goal[0]) + abs(now[1] - goal[1])
    # Require real progress (or already being on the goal), not a one-step wobble.
    return d_now == 0 or d_now <= d_start - 2
