# ruff: noqa
# mypy: ignore-errors
"""door_open: The locked door has been unlocked: no locked door's inner panel is drawn.

Hand-written reference checker for MiniGrid-Unlock-v0, written by rl/programs/reference.py.
Frames: MiniGrid full-grid renders with highlight off; any tile size of at least 8 pixels (a cell
is frame height / GRID_H pixels).
"""

import numpy as np

GRID_H = 6
GRID_W = 11

# MiniGrid's colours, and a locked door's inner panel in each colour (0.45 x the colour): no
# anti-aliased edge has these exact values, and the panel is gone for good once unlocked.
COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (112, 39, 195), (255, 255, 0), (100, 100, 100))
LOCKED_PANEL = ((114, 0, 0), (0, 114, 0), (0, 0, 114), (50, 17, 87), (114, 114, 0), (45, 45, 45))


def locked_door(frame):
    # index in COLOURS of the locked door's colour, -1 when no locked door is drawn
    t = frame.shape[0] // GRID_H
    for i in range(len(LOCKED_PANEL)):
        if count_color(frame, LOCKED_PANEL[i], 0) * 4 >= t * t:
            return i
    return -1


def check(frame):
    return locked_door(frame) < 0
