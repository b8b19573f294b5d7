# ruff: noqa
# mypy: ignore-errors
"""through_door: the agent stands in the open doorway or beyond it, in the box's room."""

import numpy as np

GRID_H = 6
GRID_W = 11


def tile(frame):
    # pixels per cell; 0 when the frame is no grid of GRID_H x GRID_W cells of 8 or more pixels
    t = frame.shape[0] // GRID_H
    if t < 8 or frame.shape[1] < t * GRID_W:
        return 0
    return t


# MiniGrid colours and a locked door's inner panel in each (0.45 x the colour)
COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (112, 39, 195), (255, 255, 0), (100, 100, 100))
LOCKED_PANEL = ((114, 0, 0), (0, 114, 0), (0, 0, 114), (50, 17, 87), (114, 114, 0), (45, 45, 45))


def panel_at(frame, y, x):
    for i in range(len(LOCKED_PANEL)):
        p = LOCKED_PANEL[i]
        if frame[y, x, 0] == p[0] and frame[y, x, 1] == p[1] and frame[y, x, 2] == p[2]:
            return i
    return -1


def locked_door_cell(frame):
    # (colour index, row, column) of the locked door, or (-1, -1, -1) when none is drawn
    t = tile(frame)
    if t == 0:
        return -1, -1, -1
    q = t // 4
    for cy in range(GRID_H):
        for cx in range(GRID_W):
            i = panel_at(frame, cy * t + q, cx * t + q)
            if i >= 0 and panel_at(frame, cy * t + q, cx * t + t - 1 - q) == i:
                return i, cy, cx
    return -1, -1, -1


def red_pixels(frame, y0, x0, t):
    n = 0
    for y in range(y0, y0 + t):
        for x in range(x0, x0 + t):
            if frame[y, x, 0] == 255 and frame[y, x, 1] == 0 and frame[y, x, 2] == 0:
                n += 1
    return n


def agent_cell(frame):
    # the agent is the red triangle over its cell's centre; a red key or box can also show red
    # there, but with fewer pure red pixels than the triangle, so keep the reddest such cell
    t = tile(frame)
    if t == 0:
        return -1, -1
    m = t // 2
    best = 0
    ay = -1
    ax = -1
    for cy in range(GRID_H):
        for cx in range(GRID_W):
            y = cy * t
            x = cx * t
            if (
                frame[y + m, x + m, 0] == 255
                and frame[y + m, x + m, 1] == 0
                and frame[y + m, x + m, 2] == 0
            ):
                n = red_pixels(frame, y, x, t)
                if n > best:
                    best = n
                    ay = cy
                    ax = cx
    return ay, ax


def check(frame, first):
    # the door sits in the wall between the agent's start side and the other side: the agent is
    # through once it stands in the open doorway or right of it (the door's column is read from
    # the episode's first frame)
    d, dy, dx = locked_door_cell(first)
    if d < 0:
        return False
    ay, ax = agent_cell(frame)
    return ax >= dx
