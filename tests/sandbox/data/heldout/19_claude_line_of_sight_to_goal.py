import numpy as np

WALL = (100, 100, 100)
AGENT = (255, 0, 0)
GOAL = (0, 255, 0)


def check(frame):
    """Return True if the agent and the goal share a row with no wall between them."""
    agent = color_mask(frame, AGENT)
    goal = color_mask(frame, GOAL)
    if not agent.any() or not goal.any():
        return False

    ay, ax = centroid(agent)
    gy, gx = centroid(goal)
    tile = 32 if frame.shape[0] >= 256 else 8
    if abs(ay - gy) > tile / 2:
        return False  # not on the same row of tiles

    row = int(round(ay))
    lo, hi = sorted((int(ax), int(gx)))
    wall_row = color_mask(frame, WALL)[row]

    # Any wall pixel between the two objects blocks the view
    return not bool(wall_row[lo:hi + 1].any())
