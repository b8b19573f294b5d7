# ruff: noqa
# mypy: ignore-errors
"""box_picked: The agent picked up the box: the box's starting cell has changed.

Hand-written reference checker for MiniGrid-UnlockPickup-v0, written by rl/programs/reference.py.
Frames: MiniGrid full-grid renders with highlight off; any tile size of at least 8 pixels (a cell
is frame height / GRID_H pixels).
"""

import numpy as np

GRID_H = 6
GRID_W = 11


def tile(frame):
    # pixels per cell; 0 when the frame is no grid of GRID_H x GRID_W cells of 8 or more pixels
    t = frame.shape[0] // GRID_H
    if t < 8 or frame.shape[1] < t * GRID_W:
        return 0
    return t

ROOM = (6, 1, 9, 4)  # x0, y0, x1, y1 (cells, inclusive): the room the box is placed in


def object_cell(first, t):
    # the box's cell in the episode's first frame: the brightest cell interior of ROOM (the
    # rest of that room is empty floor when the episode starts)
    best = -1.0
    where = (ROOM[1], ROOM[0])
    for cy in range(ROOM[1], ROOM[3] + 1):
        for cx in range(ROOM[0], ROOM[2] + 1):
            r, g, b = region_mean(first, cy * t + 1, cx * t + 1, (cy + 1) * t, (cx + 1) * t)
            if r + g + b > best:
                best = r + g + b
                where = (cy, cx)
    return where


def check(frame, first):
    # the box never moves until it is picked up (which ends the episode): has its cell changed?
    t = tile(frame)
    if t == 0 or tile(first) != t:
        return False
    cy, cx = object_cell(first, t)
    changed = region_change(frame, first, cy * t + 1, cx * t + 1, (cy + 1) * t, (cx + 1) * t, 30)
    return changed > 0.05
