# ruff: noqa
# mypy: ignore-errors
"""door_open: The locked door has been unlocked: no locked door's inner panel is drawn.

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

# MiniGrid's colours, and a locked door's inner panel in each colour (0.45 x the colour): no
# anti-aliased edge has these exact values, and the panel is gone for good once unlocked.
COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (112, 39, 195), (255, 255, 0), (100, 100, 100))
LOCKED_PANEL = ((114, 0, 0), (0, 114, 0), (0, 0, 114), (50, 17, 87), (114, 114, 0), (45, 45, 45))


def panel_at(frame, y, x):
    # index in LOCKED_PANEL of the colour of pixel (y, x), -1 when it is no panel colour
    r = frame[y, x, 0]
    g = frame[y, x, 1]
    b = frame[y, x, 2]
    for i in range(len(LOCKED_PANEL)):
        p = LOCKED_PANEL[i]
        if r == p[0] and g == p[1] and b == p[2]:
            return i
    return -1


def locked_door(frame):
    # index in COLOURS of the locked door's colour, -1 when no locked door is drawn. The panel
    # covers x and y 0.06-0.94 of the door's cell except the key hole (x 0.52-0.75, y 0.50-0.56):
    # two pixels in the cell's upper half (x about 0.25 and 0.7, y about 0.25) both show it
    t = tile(frame)
    if t == 0:
        return -1
    y = t // 4
    x0 = t // 4
    x1 = t - 1 - t // 4
    for cy in range(GRID_H):
        for cx in range(GRID_W):
            i = panel_at(frame, cy * t + y, cx * t + x0)
            if i >= 0 and panel_at(frame, cy * t + y, cx * t + x1) == i:
                return i
    return -1


def check(frame):
    return tile(frame) > 0 and locked_door(frame) < 0
