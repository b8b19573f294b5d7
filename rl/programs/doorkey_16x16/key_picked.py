# ruff: noqa
# mypy: ignore-errors
"""key_picked: The agent carries the key or the door is already unlocked: no key-shaped object of
the locked door's colour is drawn, or no locked door is drawn.

Hand-written reference checker for MiniGrid-DoorKey-16x16-v0, written by rl/programs/reference.py.
Frames: MiniGrid full-grid renders with highlight off; any tile size of at least 8 pixels (a cell
is frame height / GRID_H pixels).
"""

import numpy as np

GRID_H = 16
GRID_W = 16

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


def coverage(frame, colour):
    # per pixel, how much of it is `colour` drawn over black (tiles are anti-aliased on black)
    r, g, b = colour
    f = frame.astype(np.float32)
    s = np.maximum(np.maximum(f[:, :, 0], f[:, :, 1]), f[:, :, 2]) / max(r, g, b)
    err = np.maximum(
        np.maximum(np.abs(f[:, :, 0] - s * r), np.abs(f[:, :, 1] - s * g)),
        np.abs(f[:, :, 2] - s * b),
    )
    return np.where(err <= 2.5, np.minimum(s, 1.0), 0.0)


def cell_blocks(cov, t):
    # (GRID_H, GRID_W, 4, 4): mean coverage of a 4 x 4 split of every cell, leaving out the grid
    # line MiniGrid draws on each cell's first row and column; the outer block columns never
    # reach into x 0.25-0.75 of the cell, whatever the tile size
    cuts = (1, t // 4, t // 2, (3 * t + 3) // 4, t)
    cells = cov[: GRID_H * t, : GRID_W * t].reshape(GRID_H, t, GRID_W, t)
    rows = []
    for i in range(4):
        y0 = cuts[i]
        y1 = cuts[i + 1]
        row = []
        for j in range(4):
            x0 = cuts[j]
            x1 = cuts[j + 1]
            row.append(cells[:, y0:y1, :, x0:x1].sum(axis=(1, 3)) / ((y1 - y0) * (x1 - x0)))
        rows.append(np.stack(row, axis=-1))
    return np.stack(rows, axis=-2)


def key_visible(frame, colour):
    # a key is the only object drawn entirely within the two middle block columns of its cell,
    # heavier on the right (ring and shaft) than on the left (teeth)
    t = frame.shape[0] // GRID_H
    b = cell_blocks(coverage(frame, colour), t)
    side = b[:, :, :, 0].sum(axis=2) + b[:, :, :, 3].sum(axis=2)
    left = b[:, :, :, 1].sum(axis=2)
    right = b[:, :, :, 2].sum(axis=2)
    return bool(((side < 0.05) & (left > 0.4) & (right > left + 0.4)).any())


def check(frame):
    door = locked_door(frame)
    if door < 0:
        return True  # the door is unlocked: the key has been used
    return not key_visible(frame, COLOURS[door])
