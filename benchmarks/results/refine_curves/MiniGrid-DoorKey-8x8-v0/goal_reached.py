# ruff: noqa
# mypy: ignore-errors
"""goal_reached: The agent stands on the green goal square.

Hand-written reference checker for MiniGrid-DoorKey-8x8-v0, written by rl/programs/reference.py.
Frames: MiniGrid full-grid renders with highlight off; any tile size of at least 8 pixels (a cell
is frame height / GRID_H pixels).
"""

import numpy as np

GRID_H = 8
GRID_W = 8


def tile(frame):
    # pixels per cell; 0 when the frame is no grid of GRID_H x GRID_W cells of 8 or more pixels
    t = frame.shape[0] // GRID_H
    if t < 8 or frame.shape[1] < t * GRID_W:
        return 0
    return t

GOAL = (0, 255, 0)
AGENT = (255, 0, 0)


def is_colour(frame, y, x, colour):
    return (
        frame[y, x, 0] == colour[0] and frame[y, x, 1] == colour[1] and frame[y, x, 2] == colour[2]
    )


def check(frame):
    # the agent's pure red triangle covers the centre of its cell, whichever way it points; on
    # the goal, the goal's green shows in the corners the triangle leaves free (at least two)
    t = tile(frame)
    if t == 0:
        return False
    m = t // 2
    e = t - 2
    for cy in range(GRID_H):
        for cx in range(GRID_W):
            y = cy * t
            x = cx * t
            if is_colour(frame, y + m, x + m, AGENT):
                return (
                    is_colour(frame, y + 1, x + 1, GOAL)
                    or is_colour(frame, y + 1, x + e, GOAL)
                    or is_colour(frame, y + e, x + 1, GOAL)
                    or is_colour(frame, y + e, x + e, GOAL)
                )
    return False
