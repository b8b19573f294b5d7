# ruff: noqa
# mypy: ignore-errors
"""goal_reached: The agent stands on the green goal square.

Hand-written reference checker for MiniGrid-DoorKey-5x5-v0, written by rl/programs/reference.py.
Frames: MiniGrid full-grid renders with highlight off; any tile size of at least 8 pixels (a cell
is frame height / GRID_H pixels).
"""

import numpy as np

GRID_H = 5
GRID_W = 5

GOAL = (0, 255, 0)
AGENT = (255, 0, 0)


def check(frame):
    # the agent's red triangle is drawn on top of the green goal tile
    goal = color_mask(frame, GOAL, 0)
    agent = color_mask(frame, AGENT, 0)
    if pixel_count(goal) == 0 or pixel_count(agent) == 0:
        return False
    y0, x0, y1, x1 = bbox(goal)
    cy, cx = centroid(agent)
    return y0 <= cy <= y1 and x0 <= cx <= x1
